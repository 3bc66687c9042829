"""Numba versions of the special functions generated code calls (``_rt.erf``, ``_rt.lgamma``,
``_rt.polygamma``...), for scalars and arrays of any ndim.

The NumPy backend calls SciPy's ``scipy.special`` (:mod:`chainrule.runtime`); Numba cannot call
SciPy's ufuncs, so ``erf erfc lgamma gamma`` use ``math`` elementwise and ``polygamma`` (whose
order 0 is the digamma function) is computed here: the recurrence
``psi_n(x) = psi_n(x + 1) + (-1) ** (n + 1) * n! / x ** (n + 1)`` shifts ``x`` to at least ``20 + n`` and an asymptotic
series with ten Bernoulli terms finishes (relative error below 1e-14 for ``n <= 10``).
Poles (non-positive integers) give what SciPy gives: ``-inf`` for digamma at 0, ``nan`` at the
negative integers, ``+-inf`` for higher orders.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import types
from numba.extending import overload

njit = numba.njit(cache=True, nogil=True)

# B_2, B_4, ..., B_20
_BERNOULLI = np.array([1.0 / 6.0, -1.0 / 30.0, 1.0 / 42.0, -1.0 / 30.0, 5.0 / 66.0,
                       -691.0 / 2730.0, 7.0 / 6.0, -3617.0 / 510.0, 43867.0 / 798.0,
                       -174611.0 / 330.0])


@njit
def polygamma_scalar(x, n):
    """The ``n``-th derivative of the digamma function at the float ``x``."""
    if math.isnan(x):
        return x
    if x <= 0.0 and x == math.floor(x):
        if n == 0:
            return -math.inf if x == 0.0 else math.nan
        return math.inf if n % 2 == 1 else -math.inf
    nfact = math.gamma(n + 1.0)
    sign = 1.0 if n % 2 == 1 else -1.0  # (-1) ** (n + 1)
    acc = 0.0
    bound = 20.0 + n
    while x < bound:
        if n == 0:
            acc -= 1.0 / x
        else:
            acc += sign * nfact / x ** (n + 1)
        x += 1.0
    inv = 1.0 / x
    inv2 = inv * inv
    if n == 0:
        series = 0.0
        p = inv2
        for k in range(1, 11):
            series += _BERNOULLI[k - 1] / (2 * k) * p
            p *= inv2
        return acc + math.log(x) - 0.5 * inv - series
    total = math.gamma(float(n)) * inv ** n + 0.5 * nfact * inv ** (n + 1)
    coeff = nfact  # (2k + n - 1)! / (2k)!, updated per k
    p = inv ** (n + 2)
    for k in range(1, 11):
        # (2k + n - 1)! / (2k)! from (2k + n - 3)! / (2k - 2)!
        if k == 1:
            coeff = math.gamma(n + 2.0) / 2.0
        else:
            coeff *= (2 * k + n - 2) * (2 * k + n - 1) / ((2 * k - 1) * (2 * k))
        total += _BERNOULLI[k - 1] * coeff * p
        p *= inv2
    return acc + sign * total


@njit
def _erf(x):
    return math.erf(x)


@njit
def _erfc(x):
    return math.erfc(x)


@njit
def _lgamma(x):
    return math.lgamma(x)


@njit
def _gamma(x):
    if x <= 0.0 and x == math.floor(x):  # SciPy's value at the poles
        return math.inf if x == 0.0 else math.nan
    return math.gamma(x)


def _float_of(x):
    dt = x.dtype if hasattr(x, "dtype") else x
    return dt if isinstance(dt, types.Float) else types.float64


def _unary(scalar):
    """A Numba-overloadable stub applying the njit-ed ``scalar`` to a scalar or an array."""

    def stub(x):
        raise NotImplementedError

    @overload(stub, jit_options={"cache": True})
    def _impl(x):
        if not hasattr(x, "ndim"):
            return lambda x: scalar(float(x))
        out_dt = _float_of(x)

        def impl(x):
            xc = np.ascontiguousarray(x)
            out = np.empty(xc.shape, dtype=out_dt)
            xf = xc.reshape(xc.size)
            of = out.reshape(out.size)
            for k in range(xf.size):
                of[k] = scalar(float(xf[k]))
            return out

        return impl

    return stub


erf = _unary(_erf)
erfc = _unary(_erfc)
lgamma = _unary(_lgamma)
gamma = _unary(_gamma)


def polygamma(x, n):
    raise NotImplementedError


@overload(polygamma, jit_options={"cache": True})
def _polygamma_impl(x, n):
    if not hasattr(x, "ndim"):
        return lambda x, n: polygamma_scalar(float(x), n)
    out_dt = _float_of(x)

    def impl(x, n):
        xc = np.ascontiguousarray(x)
        out = np.empty(xc.shape, dtype=out_dt)
        xf = xc.reshape(xc.size)
        of = out.reshape(out.size)
        for k in range(xf.size):
            of[k] = polygamma_scalar(float(xf[k]), n)
        return out

    return impl
