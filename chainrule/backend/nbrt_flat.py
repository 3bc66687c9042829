"""Whole-array elementwise helpers of the Numba runtime, run as one flat loop where they can.

Generated Numba code calls these (through :mod:`.nbrt`, as ``_rt.add``, ``_rt.iadd``, ...) for
``a + b``, ``a - b`` and ``a * b`` on arrays of two or more dimensions, for the adjoint updates
``x += v``, ``x[...] = v`` and ``x[...] = c``, and for the zero-safe product ``zmul``. Numba
compiles such expressions on an n-d array as n nested loops with an index computation per
element; when every array operand is C-contiguous (a compile-time fact of its Numba type) and
the shapes agree (checked at run time) the same result comes from one loop over the flat data,
which the compiler vectorises.

Every other case takes the general path, which is the NumPy expression itself (broadcasting,
Fortran-ordered arrays and strided views, mixed dtypes, integer arrays): the flat path is only
ever a faster way to compute the same numbers. In-place updates whose source overlaps the
target's memory (other than being the very same elements) copy the source first, as NumPy does.
"""

from __future__ import annotations

import numba
import numpy as np
from numba.core import types
from numba.extending import overload

_JIT = {"cache": True}


def _c_array(t) -> bool:
    return isinstance(t, types.Array) and t.layout == "C" and t.ndim >= 1


def _real_scalar(t) -> bool:
    return isinstance(t, (types.Float, types.Integer)) and not isinstance(t, types.Boolean)


def _flat_pair(a, b) -> bool:
    """Two arrays the flat path handles: C-contiguous, same ndim, same float dtype."""
    return (_c_array(a) and _c_array(b) and a.ndim == b.ndim and a.dtype == b.dtype
            and isinstance(a.dtype, types.Float))


def _flat_with_scalar(arr, s) -> bool:
    """An array and a scalar the flat path handles: the result dtype is the array's
    (float64 with any real scalar; float32 only with float32)."""
    if not (_c_array(arr) and _real_scalar(s)):
        return False
    if arr.dtype == types.float64:
        return True
    return arr.dtype == types.float32 and s == types.float32


@numba.njit(cache=True, nogil=True)
def _flat(a):
    return a.reshape(a.size)


@numba.njit(cache=True, nogil=True)
def _overlaps(x, v):
    """Whether ``v``'s memory overlaps ``x``'s without being exactly the same elements."""
    xs = x.ctypes.data
    vs = v.ctypes.data
    if xs == vs:
        return False
    return xs < vs + v.size * v.itemsize and vs < xs + x.size * x.itemsize


# -- a + b, a - b, a * b ----------------------------------------------------------------------
def add(a, b):
    """``a + b`` (one flat loop when the arrays are C-contiguous and of one shape)."""
    raise NotImplementedError


def sub(a, b):
    """``a - b`` (one flat loop when the arrays are C-contiguous and of one shape)."""
    raise NotImplementedError


def mul(a, b):
    """``a * b`` (one flat loop when the arrays are C-contiguous and of one shape)."""
    raise NotImplementedError


@overload(add, jit_options=_JIT)
def _add_impl(a, b):
    if _flat_pair(a, b):
        def arrays(a, b):
            if a.shape != b.shape:
                return a + b
            out = np.empty(a.shape, dtype=a.dtype)
            of, af, bf = _flat(out), _flat(a), _flat(b)
            for k in range(of.size):
                of[k] = af[k] + bf[k]
            return out
        return arrays
    if _flat_with_scalar(a, b):
        def array_scalar(a, b):
            out = np.empty(a.shape, dtype=a.dtype)
            of, af = _flat(out), _flat(a)
            for k in range(of.size):
                of[k] = af[k] + b
            return out
        return array_scalar
    if _flat_with_scalar(b, a):
        def scalar_array(a, b):
            out = np.empty(b.shape, dtype=b.dtype)
            of, bf = _flat(out), _flat(b)
            for k in range(of.size):
                of[k] = a + bf[k]
            return out
        return scalar_array
    return lambda a, b: a + b


@overload(sub, jit_options=_JIT)
def _sub_impl(a, b):
    if _flat_pair(a, b):
        def arrays(a, b):
            if a.shape != b.shape:
                return a - b
            out = np.empty(a.shape, dtype=a.dtype)
            of, af, bf = _flat(out), _flat(a), _flat(b)
            for k in range(of.size):
                of[k] = af[k] - bf[k]
            return out
        return arrays
    if _flat_with_scalar(a, b):
        def array_scalar(a, b):
            out = np.empty(a.shape, dtype=a.dtype)
            of, af = _flat(out), _flat(a)
            for k in range(of.size):
                of[k] = af[k] - b
            return out
        return array_scalar
    if _flat_with_scalar(b, a):
        def scalar_array(a, b):
            out = np.empty(b.shape, dtype=b.dtype)
            of, bf = _flat(out), _flat(b)
            for k in range(of.size):
                of[k] = a - bf[k]
            return out
        return scalar_array
    return lambda a, b: a - b


@overload(mul, jit_options=_JIT)
def _mul_impl(a, b):
    if _flat_pair(a, b):
        def arrays(a, b):
            if a.shape != b.shape:
                return a * b
            out = np.empty(a.shape, dtype=a.dtype)
            of, af, bf = _flat(out), _flat(a), _flat(b)
            for k in range(of.size):
                of[k] = af[k] * bf[k]
            return out
        return arrays
    if _flat_with_scalar(a, b):
        def array_scalar(a, b):
            out = np.empty(a.shape, dtype=a.dtype)
            of, af = _flat(out), _flat(a)
            for k in range(of.size):
                of[k] = af[k] * b
            return out
        return array_scalar
    if _flat_with_scalar(b, a):
        def scalar_array(a, b):
            out = np.empty(b.shape, dtype=b.dtype)
            of, bf = _flat(out), _flat(b)
            for k in range(of.size):
                of[k] = a * bf[k]
            return out
        return scalar_array
    return lambda a, b: a * b


# -- in-place whole-array updates ---------------------------------------------------------------
def iadd(x, v):
    """``x += v`` in place."""
    raise NotImplementedError


@overload(iadd, jit_options=_JIT)
def _iadd_impl(x, v):
    if _c_array(x) and _real_scalar(v) and isinstance(x.dtype, types.Float):
        def scalar(x, v):
            xf = _flat(x)
            for k in range(xf.size):
                xf[k] += v
        return scalar
    if _flat_pair(x, v):
        def arrays(x, v):
            if x.shape != v.shape:
                x += v
                return
            if _overlaps(x, v):
                v = v.copy()
            xf, vf = _flat(x), _flat(v)
            for k in range(xf.size):
                xf[k] += vf[k]
        return arrays

    def general(x, v):
        x += v
    return general


def fill(x, v):
    """``x[...] = v`` for a scalar ``v``."""
    raise NotImplementedError


@overload(fill, jit_options=_JIT)
def _fill_impl(x, v):
    if _c_array(x):
        def flat(x, v):
            xf = _flat(x)
            for k in range(xf.size):
                xf[k] = v
        return flat

    def general(x, v):
        x[...] = v
    return general


def assign(x, v):
    """``x[...] = v`` for an array ``v`` (broadcast as NumPy does)."""
    raise NotImplementedError


@overload(assign, jit_options=_JIT)
def _assign_impl(x, v):
    if _flat_pair(x, v):
        def arrays(x, v):
            if x.shape != v.shape:
                x[...] = v
                return
            if _overlaps(x, v):
                v = v.copy()
            xf, vf = _flat(x), _flat(v)
            for k in range(xf.size):
                xf[k] = vf[k]
        return arrays

    def general(x, v):
        x[...] = v
    return general


# -- the zero-safe product on arrays ------------------------------------------------------------
def zmul_array(a, b):
    """``a * b`` with every element exactly zero where ``a`` is zero (at least one array)."""
    raise NotImplementedError


@overload(zmul_array, jit_options=_JIT)
def _zmul_array_impl(a, b):
    if _flat_pair(a, b):
        def arrays(a, b):
            if a.shape != b.shape:
                return _zmul_general(a, b)
            out = np.empty(a.shape, dtype=a.dtype)
            of, af, bf = _flat(out), _flat(a), _flat(b)
            for k in range(of.size):
                ak = af[k]
                of[k] = 0.0 if ak == 0 else ak * bf[k]
            return out
        return arrays
    if _flat_with_scalar(a, b):
        def array_scalar(a, b):
            out = np.empty(a.shape, dtype=a.dtype)
            of, af = _flat(out), _flat(a)
            for k in range(of.size):
                ak = af[k]
                of[k] = 0.0 if ak == 0 else ak * b
            return out
        return array_scalar
    if _flat_with_scalar(b, a):
        def scalar_array(a, b):
            out = np.empty(b.shape, dtype=b.dtype)
            of, bf = _flat(out), _flat(b)
            for k in range(of.size):
                of[k] = 0.0 if a == 0 else a * bf[k]
            return out
        return scalar_array
    return lambda a, b: _zmul_general(a, b)


@numba.njit(cache=True, nogil=True)
def _zmul_general(a, b):
    p = a * b
    if np.isfinite(np.sum(b)):
        return p
    out = np.asarray(p).copy()
    az = np.broadcast_to(np.asarray(a) == 0, out.shape)
    for k in range(out.size):
        if az.flat[k]:
            out.flat[k] = 0.0
    return out
