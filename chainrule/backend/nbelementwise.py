"""Numba helpers for elementwise operations on arrays, one per primitive.

Generated code on the Numba backend calls ``_rt.ew_mul(a, b)`` where an operand is an array
instead of writing ``a * b`` in place: Numba lowers every array expression into the function that
contains it (a broadcasting loop nest, optimised again by LLVM), about 0.2-0.4 s of compilation
per statement, while a call of a helper that is already compiled costs about 10 ms. Each helper is
compiled once per argument types and kept in Numba's disk cache, so later compilations (in any
process) only link it. Each body is the NumPy expression the NumPy backend writes for the
primitive, so both backends compute the same thing.
"""

from __future__ import annotations

import numba
import numpy as np

njit = numba.njit(cache=True, nogil=True)

@njit
def ew_add(a, b):
    return a + b

@njit
def ew_sub(a, b):
    return a - b

@njit
def ew_mul(a, b):
    return a * b

@njit
def ew_div(a, b):
    return a / b

@njit
def ew_pow(a, b):
    return a ** b

@njit
def ew_floordiv(a, b):
    return a // b

@njit
def ew_mod(a, b):
    return a % b

@njit
def ew_lt(a, b):
    return a < b

@njit
def ew_le(a, b):
    return a <= b

@njit
def ew_gt(a, b):
    return a > b

@njit
def ew_ge(a, b):
    return a >= b

@njit
def ew_eq(a, b):
    return a == b

@njit
def ew_ne(a, b):
    return a != b

@njit
def ew_logical_and(a, b):
    return np.logical_and(a, b)

@njit
def ew_logical_or(a, b):
    return np.logical_or(a, b)

@njit
def ew_maximum(a, b):
    return np.maximum(a, b)

@njit
def ew_minimum(a, b):
    return np.minimum(a, b)

@njit
def ew_arctan2(a, b):
    return np.arctan2(a, b)

@njit
def ew_hypot(a, b):
    return np.hypot(a, b)

@njit
def ew_neg(a):
    return -a

@njit
def ew_logical_not(a):
    return np.logical_not(a)

@njit
def ew_reciprocal(a):
    return np.divide(1.0, a)

@njit
def ew_round(a):
    return np.round(a)

@njit
def ew_sin(a):
    return np.sin(a)

@njit
def ew_cos(a):
    return np.cos(a)

@njit
def ew_tan(a):
    return np.tan(a)

@njit
def ew_arcsin(a):
    return np.arcsin(a)

@njit
def ew_arccos(a):
    return np.arccos(a)

@njit
def ew_arctan(a):
    return np.arctan(a)

@njit
def ew_sinh(a):
    return np.sinh(a)

@njit
def ew_cosh(a):
    return np.cosh(a)

@njit
def ew_tanh(a):
    return np.tanh(a)

@njit
def ew_arcsinh(a):
    return np.arcsinh(a)

@njit
def ew_arccosh(a):
    return np.arccosh(a)

@njit
def ew_arctanh(a):
    return np.arctanh(a)

@njit
def ew_exp(a):
    return np.exp(a)

@njit
def ew_expm1(a):
    return np.expm1(a)

@njit
def ew_log(a):
    return np.log(a)

@njit
def ew_log1p(a):
    return np.log1p(a)

@njit
def ew_log2(a):
    return np.log2(a)

@njit
def ew_log10(a):
    return np.log10(a)

@njit
def ew_sqrt(a):
    return np.sqrt(a)

@njit
def ew_cbrt(a):
    return np.cbrt(a)

@njit
def ew_square(a):
    return np.square(a)

@njit
def ew_abs(a):
    return np.abs(a)

@njit
def ew_sign(a):
    return np.sign(a)

@njit
def ew_floor(a):
    return np.floor(a)

@njit
def ew_ceil(a):
    return np.ceil(a)

@njit
def ew_where(c, a, b):
    return np.where(c, a, b)


@njit
def ew_clip(x, lo, hi):
    return np.minimum(np.maximum(x, lo), hi)


# One helper per record given one by rules/common.compiled_helper (tests/test_numba_backend.py).
__all__ = [name for name in dir() if name.startswith("ew_")]
