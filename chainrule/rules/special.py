"""Special functions: ``erf erfc lgamma gamma`` and ``polygamma`` (order ``n``, a static
parameter; order 0 is the digamma function ``psi``).

Emission calls ``_rt.<name>``: SciPy's ufuncs on the NumPy backend, the implementations of
``backend/nbspecial.py`` on the Numba backend. Derivatives stay in the family:
``lgamma' = psi``, ``gamma' = gamma * psi``, ``polygamma(n)' = polygamma(n + 1)``, so every
order of every mode is available. Poles (the non-positive integers) are documented kinks.
"""

from __future__ import annotations

import math

from . import taylor as T
from .common import float_type, unary, zmul
from .registry import DOMAIN, Kink, Primitive

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _pole(b, x):
    return b.logical_and(b.le(x, 0.0), b.eq(x, b.floor(x)))


def _poles(value: str) -> Kink:
    return Kink(DOMAIN, "x a non-positive integer (a pole)",
                f"nan or +-inf (the value is {value} there)",
                mask=lambda b, args, out, **_: _pole(b, args[0]))


def _gauss(b, x):
    """``2 / sqrt(pi) * exp(-x^2)``, the derivative of erf."""
    return b.mul(b.exp(b.neg(b.square(x))), _TWO_OVER_SQRT_PI)


def _polygamma_emit(srcs, n=0, **_):
    return f"_rt.polygamma({srcs[0]}, {int(n)})"


def _polygamma_infer(types, n=0, **_):
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"polygamma needs a non-negative integer order, got {n!r}")
    return float_type(types)


def _polygamma_jvp(b, args, tans, out, n=0, **_):
    t = tans[0]
    return None if t is None else b.mul(t, b.polygamma(args[0], n=n + 1))


def _polygamma_vjp(b, args, out, g, n=0, **_):
    return [zmul(b, g, b.polygamma(args[0], n=n + 1))]


PRIMS = [
    unary("erf", "_rt.erf({0})", lambda b, x, y: _gauss(b, x), doc="the error function"),
    unary("erfc", "_rt.erfc({0})", lambda b, x, y: b.neg(_gauss(b, x)),
          doc="1 - erf(x), accurate for large x"),
    unary("lgamma", "_rt.lgamma({0})", lambda b, x, y: b.polygamma(x, n=0),
          doc="log |gamma(x)| (math.lgamma, scipy.special.gammaln)",
          kinks=_poles("+inf")),
    unary("gamma", "_rt.gamma({0})", lambda b, x, y: b.mul(y, b.polygamma(x, n=0)),
          doc="the gamma function", kinks=_poles("+-inf or nan")),
    Primitive("polygamma", _polygamma_infer, _polygamma_emit, _polygamma_jvp, _polygamma_vjp,
              doc="polygamma(x, n=k): the k-th derivative of digamma (n=0: digamma, psi)",
              kinks=_poles("+-inf or nan")),
]


# -- Taylor rules (rules/taylor.py) ------------------------------------------------------------


def _polygamma_series(b, x, n: int, m: int, value=None) -> list:
    """The series of ``polygamma(x(t), n)`` to order m: ``y' = polygamma(x, n + 1) x'``."""
    y0 = b.polygamma(x[0], n=n) if value is None else value
    if m == 0:
        return [y0]
    return T.of_derivative(b, x, _polygamma_series(b, x, n + 1, m - 1), m, y0)


def _erf_series(sign: float):
    def series(b, x, out, K):
        minus_sq = [T.sscale(b, c, -1.0) for c in T.square_series(b, x, K - 1)]
        g = T.exp_series(b, minus_sq, b.exp(minus_sq[0]), K - 1)
        return T.of_derivative(b, x, [T.sscale(b, c, sign * _TWO_OVER_SQRT_PI) for c in g],
                               K, out)

    return T.unary_rule(series)


def _gamma_series(b, x, out, K):
    """``y' = y psi(x) x'``: coefficient k integrates the series of ``y psi``."""
    psi = _polygamma_series(b, x, 0, K - 1)
    xt = T.tilde(b, x)
    y, g = [out], []
    for k in range(1, K + 1):
        g.append(T.cauchy(b, y, psi, k - 1))
        y.append(T.integrate(b, xt, g, k))
    return y


T.attach(PRIMS, rules={
    "erf": _erf_series(1.0),
    "erfc": _erf_series(-1.0),
    "lgamma": T.unary_rule(lambda b, x, out, K: T.of_derivative(
        b, x, _polygamma_series(b, x, 0, K - 1), K, out)),
    "gamma": T.unary_rule(_gamma_series),
    "polygamma": T.unary_rule(lambda b, x, out, K, n=0: _polygamma_series(b, x, n, K, out)),
})

__all__ = ["PRIMS"]
