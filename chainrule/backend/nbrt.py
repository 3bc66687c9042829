"""Numba versions of the run-time helpers generated code calls as ``_rt.name``.

Each function has the meaning of its namesake in :mod:`chainrule.runtime` and is compiled with
``numba.njit``; they work for any ndim because they walk arrays through flat views.
"""

from __future__ import annotations

import numba
import numba.np.numpy_support
import numpy as np
from numba.extending import overload

from ..errors import BatchError
from ..runtime import opaque_call as opaque_call_py  # noqa: F401  (run in object mode)
from .nbrt_flat import add, assign, fill, iadd, mul, sub, zmul_array  # noqa: F401  (flat loops)

njit = numba.njit(cache=True, nogil=True)
kernel = njit  # generated code's fused loop nests: ``@_rt.kernel`` (rules/fused.py)
objmode = numba.objmode  # generated code: ``with _rt.objmode(out="float64[::1]"): ...``


@numba.njit(numba.types.unicode_type(numba.types.unicode_type), cache=True, nogil=True)
def text(message):
    """A message as a plain string, not a literal one: ``check`` and ``index_error`` are then
    compiled once for all messages (``str(literal)`` in generated code did that too, at the cost
    of compiling Numba's ``str`` and ``repr`` in every process, about 5 s)."""
    return message


@njit
def check(cond, message):
    if not cond:
        raise AssertionError(message)
    return 0


@njit
def check_bound(bound, message):
    if not bound:
        raise UnboundLocalError(message)
    return 0


@njit
def check_domain(ok, message):
    if not ok:
        raise ValueError(message)
    return 0


@njit
def check_batch_size(m, n, where, what, first):
    if m != n:
        raise BatchError(where + ": vmap: " + what + " has batch size " + str(m) + ", but "
                         + first + " has " + str(n))
    return 0


# (one signature: literal indices and axes in generated code do not each compile a version)
@numba.njit(numba.types.int64(numba.types.int64, numba.types.int64, numba.types.int64,
                              numba.types.unicode_type), cache=True, nogil=True)
def index_error(i, n, axis, where):
    """Raise the IndexError of a failed bounds check (typed as returning the index)."""
    if n >= 0:
        raise IndexError(where + ": index " + str(i) + " is out of bounds for axis "
                         + str(axis) + " with size " + str(n))
    return i


@njit
def check_index_array(idx, n, axis, where):
    for i in idx.ravel():
        if i < -n or i >= n:
            index_error(i, n, axis, where)
    return 0


@njit
def materialize(a, like):
    if a.shape != like.shape:
        return np.zeros(like.shape, dtype=a.dtype)
    return a


@njit
def dematerialize(g, like):
    if g.shape == like.shape:
        return g
    return np.zeros(like.shape, dtype=g.dtype)


@njit
def _unbroadcast_flat(g, out):
    gc = np.ascontiguousarray(g)
    gf = gc.reshape(gc.size)
    of = out.reshape(out.size)
    gshape = np.array(gc.shape)
    oshape = np.array(out.shape)
    extra = gshape.size - oshape.size
    ostrides = np.ones(oshape.size, dtype=np.int64)
    for k in range(oshape.size - 2, -1, -1):
        ostrides[k] = ostrides[k + 1] * oshape[k + 1]
    for flat in range(gf.size):
        rem = flat
        off = 0
        for k in range(gshape.size - 1, -1, -1):
            idx = rem % gshape[k]
            rem //= gshape[k]
            j = k - extra
            if j >= 0 and oshape[j] != 1:
                off += idx * ostrides[j]
        of[off] += gf[flat]
    return out


def unbroadcast(g, like):
    raise NotImplementedError


@overload(unbroadcast, jit_options={"cache": True})
def _unbroadcast_impl(g, like):
    """Sum ``g`` over the axes along which ``like`` was broadcast."""
    if g.ndim == like.ndim:
        def same_ndim(g, like):
            if g.shape == like.shape:
                return g
            return _unbroadcast_flat(g, np.zeros(like.shape, dtype=g.dtype))
        return same_ndim

    def impl(g, like):
        return _unbroadcast_flat(g, np.zeros(like.shape, dtype=g.dtype))

    return impl


@njit
def broadcast_as(g, like):
    # (contiguous on both paths, so the result keeps a C-layout type: no copy when g is one)
    if g.shape == like.shape:
        return np.ascontiguousarray(g)
    return np.ascontiguousarray(np.broadcast_to(g, like.shape))


@njit
def broadcast_like(g, like):
    return np.broadcast_to(g, like.shape).copy()


@njit
def add_at(x, idx, v):
    """``np.add.at(x, (idx,), v)`` for a 1-D integer index array on the first axis."""
    vb = np.broadcast_to(v, (idx.size,) + x.shape[1:])
    for k in range(idx.size):
        x[idx[k]] += vb[k]


# -- reductions over one axis, matmul, squeeze: NumPy functions Numba lacks (or lacks options of)
from numba.np.unsafe.ndarray import to_fixed_tuple  # noqa: E402


def _reducer(op: str):
    """A Python stub plus a Numba overload reducing ``x`` over a run-time ``axis``."""
    is_arg = op in ("argmax", "argmin")

    def stub(x, axis):
        raise NotImplementedError

    @overload(stub, jit_options={"cache": True})
    def _impl(x, axis):
        nd = x.ndim
        out_nd = nd - 1
        # NumPy's result dtype for integer and bool arrays: sums and products int64, max/min
        # the input's dtype; indices int64; float results (and means) float64 as before
        exact = isinstance(x.dtype, (numba.types.Integer, numba.types.Boolean))
        if is_arg or (exact and op in ("sum", "prod")):
            out_dtype = np.int64
        elif exact and op in ("max", "min"):
            out_dtype = numba.np.numpy_support.as_dtype(x.dtype)
        else:
            out_dtype = np.float64

        def impl(x, axis):
            shp = np.array(x.shape)
            n = shp[axis]
            outer = 1
            for i in range(axis):
                outer *= shp[i]
            inner = 1
            for i in range(axis + 1, nd):
                inner *= shp[i]
            xc = np.ascontiguousarray(x).reshape(x.size)
            out = np.empty(outer * inner, dtype=out_dtype)
            zero = np.zeros(1, dtype=out_dtype)[0]  # (the accumulator's type)
            for o in range(outer):
                for j in range(inner):
                    base = o * n * inner + j
                    out[o * inner + j] = _reduce_line(xc, base, inner, n, zero)
            oshape = np.empty(out_nd, dtype=np.int64)
            k = 0
            for i in range(nd):
                if i != axis:
                    oshape[k] = shp[i]
                    k += 1
            return out.reshape(to_fixed_tuple(oshape, out_nd))

        return impl

    @njit
    def _reduce_line(xc, base, stride, n, zero):
        if op == "sum" or op == "mean":
            acc = zero
            for t in range(n):
                acc += xc[base + t * stride]
            return acc / n if op == "mean" else acc
        if op == "prod":
            acc = zero + 1
            for t in range(n):
                acc *= xc[base + t * stride]
            return acc
        best = xc[base]
        arg = 0
        for t in range(1, n):
            v = xc[base + t * stride]
            if (op == "max" or op == "argmax") and v > best:
                best = v
                arg = t
            elif (op == "min" or op == "argmin") and v < best:
                best = v
                arg = t
        return arg if is_arg else best

    return stub


sum_axis = _reducer("sum")
mean_axis = _reducer("mean")
prod_axis = _reducer("prod")
max_axis = _reducer("max")
min_axis = _reducer("min")
argmax_axis = _reducer("argmax")
argmin_axis = _reducer("argmin")


def keepdims(y, x, axis):
    raise NotImplementedError


@overload(keepdims, jit_options={"cache": True})
def _keepdims_impl(y, x, axis):
    nd = x.ndim

    def impl(y, x, axis):
        shp = np.array(x.shape)
        shp[axis] = 1
        return np.ascontiguousarray(y).reshape(to_fixed_tuple(shp, nd))

    return impl


def keepdims_axes(y, x, axes):
    raise NotImplementedError


@overload(keepdims_axes, jit_options={"cache": True})
def _keepdims_axes_impl(y, x, axes):
    nd = x.ndim

    def impl(y, x, axes):
        shp = np.array(x.shape)
        for a in axes:
            shp[a] = 1
        return np.ascontiguousarray(y).reshape(to_fixed_tuple(shp, nd))

    return impl


def keepdims_all(value, x):
    raise NotImplementedError


@overload(keepdims_all, jit_options={"cache": True})
def _keepdims_all_impl(value, x):
    nd = x.ndim

    def impl(value, x):
        return np.full(to_fixed_tuple(np.ones(nd, dtype=np.int64), nd), value)

    return impl


def matmul(a, b):
    raise NotImplementedError


def _blas_ok(a, b) -> bool:
    """Numba's ``np.dot`` calls BLAS (through SciPy) for contiguous float64 matrices: about
    2.5x the loops below on a 256x32 @ 32x32 product."""
    import importlib.util

    return importlib.util.find_spec("scipy") is not None and \
        a.dtype == b.dtype == numba.float64 and a.layout in "CF" and b.layout in "CF"


@overload(matmul, jit_options={"cache": True})
def _matmul_impl(a, b):
    if not hasattr(a, "ndim") or not hasattr(b, "ndim"):
        def scalar(a, b):
            return a * b
        return scalar
    if a.ndim == 2 and b.ndim == 2 and _blas_ok(a, b):
        def impl(a, b):
            return np.dot(a, b)
    elif a.ndim == 2 and b.ndim == 2:
        def impl(a, b):
            m, k = a.shape
            n = b.shape[1]
            out = np.zeros((m, n))
            for i in range(m):
                for t in range(k):
                    ait = a[i, t]
                    for j in range(n):
                        out[i, j] += ait * b[t, j]
            return out
    elif a.ndim == 2 and b.ndim == 1:
        def impl(a, b):
            m, k = a.shape
            out = np.zeros(m)
            for i in range(m):
                s = 0.0
                for t in range(k):
                    s += a[i, t] * b[t]
                out[i] = s
            return out
    elif a.ndim == 1 and b.ndim == 2:
        def impl(a, b):
            k, n = b.shape
            out = np.zeros(n)
            for t in range(k):
                at = a[t]
                for j in range(n):
                    out[j] += at * b[t, j]
            return out
    elif a.ndim == 1 and b.ndim == 1:
        def impl(a, b):
            s = 0.0
            for t in range(a.shape[0]):
                s += a[t] * b[t]
            return s
    elif a.ndim == 3 and b.ndim == 2:
        def impl(a, b):  # (one matrix product: the stack's rows one after the other)
            n, m, k = a.shape
            flat = matmul(np.ascontiguousarray(a).reshape(n * m, k), np.ascontiguousarray(b))
            return flat.reshape(n, m, b.shape[1])
    elif a.ndim == 3 and b.ndim == 1:
        def impl(a, b):  # (one matrix-vector product)
            n, m, k = a.shape
            return matmul(np.ascontiguousarray(a).reshape(n * m, k),
                          np.ascontiguousarray(b)).reshape(n, m)
    elif a.ndim == 1 and b.ndim == 3:
        def impl(a, b):  # (a @ b[i] = b[i]^T a: one matrix-vector product)
            n, k, m = b.shape
            bt = np.ascontiguousarray(np.transpose(b, (0, 2, 1))).reshape(n * m, k)
            return matmul(bt, np.ascontiguousarray(a)).reshape(n, m)
    elif (a.ndim, b.ndim) in ((3, 3), (2, 3)):
        return _batched_matmul(a.ndim, b.ndim)
    elif max(a.ndim, b.ndim) == 4 and min(a.ndim, b.ndim) >= 2:
        return _batched_matmul(a.ndim, b.ndim, 4)
    else:
        return None
    return impl


def _batched_matmul(a_nd: int, b_nd: int, top: int = 3):
    """``a @ b`` with a stack of matrices (``top`` = 3) or a batch of stacks (``top`` = 4, what a
    batched Jacobian sweep makes of a stacked product) on either side: one product per leading
    index, the side without the leading axis (or with a size-1 one) broadcasting."""

    def impl(a, b):
        na = a.shape[0] if a_nd == top else 1
        nb = b.shape[0] if b_nd == top else 1
        n = max(na, nb)
        if na != nb and na != 1 and nb != 1:
            raise ValueError("matmul: the stacks of matrices do not broadcast")
        a0 = a[0] if a_nd == top else a
        b0 = b[0] if b_nd == top else b
        first = matmul(np.ascontiguousarray(a0), np.ascontiguousarray(b0))
        out = np.empty((n,) + first.shape, dtype=first.dtype)
        out[0] = first
        for i in range(1, n):
            ai = a[i if na > 1 else 0] if a_nd == top else a
            bi = b[i if nb > 1 else 0] if b_nd == top else b
            out[i] = matmul(np.ascontiguousarray(ai), np.ascontiguousarray(bi))
        return out

    return impl


def reshape(x, shape):
    raise NotImplementedError


@overload(reshape, jit_options={"cache": True})
def _reshape_impl(x, shape):
    """``np.reshape``: a view of a C-contiguous array, else of a contiguous copy (Numba
    reshapes only contiguous arrays; NumPy copies the others too)."""
    if getattr(x, "layout", "C") == "C":
        def view(x, shape):
            return x.reshape(shape)

        return view

    def copy(x, shape):
        return np.ascontiguousarray(x).reshape(shape)

    return copy


def squeeze(x, axis):
    raise NotImplementedError


@overload(squeeze, jit_options={"cache": True})
def _squeeze_impl(x, axis):
    nd = x.ndim
    out_nd = nd - 1

    def impl(x, axis):
        shp = np.array(x.shape)
        oshape = np.empty(out_nd, dtype=np.int64)
        k = 0
        for i in range(nd):
            if i != axis:
                oshape[k] = shp[i]
                k += 1
        return np.ascontiguousarray(x).reshape(to_fixed_tuple(oshape, out_nd))

    return impl


def zmul(a, b):
    raise NotImplementedError


@overload(zmul, jit_options={"cache": True})
def _zmul_impl(a, b):
    """``a * b``, exactly zero where ``a`` is zero (see chainrule.runtime.zmul)."""
    a_arr = hasattr(a, "ndim")
    b_arr = hasattr(b, "ndim")
    if not a_arr and not b_arr:
        def scalar(a, b):
            return 0.0 if a == 0 else a * b
        return scalar

    return lambda a, b: zmul_array(a, b)


# -- scalar tapes: a growable array whose element 0 holds the count ---------------------------
@njit
def tnew(dtype_probe):
    out = np.zeros(256, dtype=dtype_probe.dtype)
    return out


@njit
def tpush(t, x):
    n = int(t[0]) + 1
    if n >= t.shape[0]:
        bigger = np.zeros(2 * t.shape[0], dtype=t.dtype)
        bigger[: t.shape[0]] = t
        t = bigger
    t[n] = x
    t[0] = n
    return t


@njit
def tpop(t):
    n = int(t[0])
    x = t[n]
    t[0] = n - 1
    return x


# -- whole-array in-place updates (``iadd``, ``fill``, ``assign``) are calls into nbrt_flat:
#    compiled once per signature and cached on disk, which keeps the generated functions small
@njit
def tnew_f64():
    return np.empty(32, dtype=np.float64)


@njit
def tnew_f32():
    return np.empty(32, dtype=np.float32)


@njit
def tnew_i64():
    return np.empty(32, dtype=np.int64)


@njit
def tgrow_to(t, need):
    size = t.shape[0]
    while size < need:
        size *= 2
    bigger = np.empty(size, dtype=t.dtype)
    bigger[: t.shape[0]] = t
    return bigger


@njit
def tgrow(t):
    bigger = np.empty(2 * t.shape[0], dtype=t.dtype)
    bigger[: t.shape[0]] = t
    return bigger


def argsort(x):
    raise NotImplementedError


@overload(argsort, jit_options={"cache": True})
def _argsort_impl(x):
    """A stable argsort along the last axis (Numba's np.argsort takes 1-D arrays only)."""
    if x.ndim == 1:
        return lambda x: np.argsort(x, kind="mergesort")

    def impl(x):
        xc = np.ascontiguousarray(x)
        n = xc.shape[-1]
        rows = xc.reshape(xc.size // max(n, 1) if n else 0, n)
        out = np.empty(rows.shape, dtype=np.int64)
        for r in range(rows.shape[0]):
            out[r] = np.argsort(rows[r], kind="mergesort")
        return out.reshape(xc.shape)

    return impl


from .nbelementwise import *  # noqa: E402,F403  (_rt.ew_add, _rt.ew_tanh, ...)
from .nbmath import *  # noqa: E402,F403  (_rt.fexp, _rt.fdiv, ... of fused loops)
from .nbspecial import erf, erfc, gamma, lgamma, polygamma  # noqa: E402,F401  (_rt.erf, ...)
