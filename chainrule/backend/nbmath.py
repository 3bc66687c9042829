"""Scalar ``exp``, ``expm1``, ``tanh`` and division for the fused loop nests (rules/fused.py).

Numba evaluates ``np.exp(x)`` on a float by a call of the C library's ``exp``, one value at a
time (about 6 ns; ``tanh`` about 15 ns), while NumPy's and XLA's array kernels evaluate several
values per instruction (under 1 ns). These functions are straight-line code (range reduction,
a polynomial, the power of two put together from its bits, selects for the special cases),
compiled with NumPy's error model (a division by zero gives inf or nan, no test and raise), so
LLVM inlines them and vectorises the loop that calls them. Accuracy against NumPy: ``fexp``
within 1 unit in the last place on the whole range (subnormal results included), ``fexpm1``
and ``tanh_from`` within 4; ``inf``, ``-inf``, ``nan``, overflow, signed zeros as NumPy
(tests/test_fusion.py).
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

_njit = numba.njit(cache=True, nogil=True, error_model="numpy")


@intrinsic
def _bits_to_float(typingctx, i):
    sig = types.float64(types.int64)

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


@_njit
def _pow2(k):
    """2.0 ** k for an integer-valued float k in [-1022, 1023]."""
    return _bits_to_float((np.int64(k) + 1023) << 52)


@_njit
def _expm1_poly(r):
    """exp(r) - 1 for |r| <= 0.35: Taylor series to r**13 (truncation below 2e-17 |r|)."""
    p = 1.6059043836821613e-10
    p = 2.08767569878681e-09 + r * p
    p = 2.505210838544172e-08 + r * p
    p = 2.755731922398589e-07 + r * p
    p = 2.7557319223985893e-06 + r * p
    p = 2.48015873015873e-05 + r * p
    p = 0.0001984126984126984 + r * p
    p = 0.001388888888888889 + r * p
    p = 0.008333333333333333 + r * p
    p = 0.041666666666666664 + r * p
    p = 0.16666666666666666 + r * p
    p = 0.5 + r * p
    return r * (1.0 + r * p)  # (keeps the sign of a zero r)


@_njit
def fexp(x):
    """np.exp(x) of a float64."""
    xc = min(max(x, -746.0), 710.0)
    k = np.floor(xc * 1.4426950408889634 + 0.5)
    r = (xc - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10
    p = 1.0 + _expm1_poly(r)
    k1 = np.floor(k * 0.5)
    v = p * _pow2(k1) * _pow2(k - k1)
    if x != x:
        v = x
    return v


@_njit
def fexpm1(x):
    """np.expm1(x) of a float64 (both branches computed, then one chosen: no jump)."""
    near = _expm1_poly(min(max(x, -0.3465), 0.3465))
    far = fexp(x) - 1.0
    return near if abs(x) <= 0.3465 else far


@_njit
def fdiv(a, b):
    """a / b of floats as NumPy divides arrays: inf or nan at b == 0, never an exception."""
    return a / b


@_njit
def tanh_from(e, x):
    """tanh(x) from e = expm1(-2 min(|x|, 40)): -e / (2 + e) with the sign of x."""
    t = -e / (2.0 + e)
    t = -t if x < 0 else t
    return x if x == 0 or x != x else t




# Whole float64 arrays (any layout, any number of dimensions), for the unfused code: the
# records of exp, expm1 and tanh emit these under Numba (rules/elementwise.py).
_arrays = numba.njit(cache=True, nogil=True, error_model="numpy")


@_arrays
def map_exp(a):
    src = np.ascontiguousarray(a).reshape(-1)
    out = np.empty(src.size, dtype=np.float64)
    for i in range(src.size):
        out[i] = fexp(src[i])
    return out.reshape(a.shape)


@_arrays
def map_expm1(a):
    src = np.ascontiguousarray(a).reshape(-1)
    out = np.empty(src.size, dtype=np.float64)
    for i in range(src.size):
        out[i] = fexpm1(src[i])
    return out.reshape(a.shape)


@_arrays
def map_tanh(a):
    src = np.ascontiguousarray(a).reshape(-1)
    out = np.empty(src.size, dtype=np.float64)
    for i in range(src.size):
        v = src[i]
        out[i] = tanh_from(fexpm1(-2.0 * min(abs(v), 40.0)), v)
    return out.reshape(a.shape)


__all__ = ["fdiv", "fexp", "fexpm1", "map_exp", "map_expm1", "map_tanh", "tanh_from"]
