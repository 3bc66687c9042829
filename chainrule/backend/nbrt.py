"""Numba versions of the run-time helpers generated code calls as ``_rt.name``.

Each function has the meaning of its namesake in :mod:`chainrule.runtime` and is compiled with
``numba.njit``; they work for any ndim because they walk arrays through flat views.
"""

from __future__ import annotations

import numba
import numpy as np

njit = numba.njit(cache=True, nogil=True)


@njit
def acc(a, c):
    """Adjoint accumulation ``a + c`` where an empty ``a`` stands for zero."""
    if a.size == 0 and c.size != 0:
        return np.ascontiguousarray(c).copy()
    if c.size == 0 and a.size != 0:
        return a.copy()
    return a + c


@njit
def materialize(a, like):
    if a.size == 0 and like.size != 0:
        return np.zeros(like.shape, dtype=a.dtype)
    return a


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


@njit
def unbroadcast(g, like):
    """Sum ``g`` over the axes along which ``like`` was broadcast (a new array)."""
    out = np.zeros(like.shape, dtype=g.dtype)
    if g.shape == like.shape:
        out[...] = g
        return out
    return _unbroadcast_flat(g, out)


@njit
def broadcast_like(g, like):
    return np.broadcast_to(g, like.shape).copy()


@njit
def add_at(x, idx, v):
    """``np.add.at(x, (idx,), v)`` for a 1-D integer index array on the first axis."""
    vb = np.broadcast_to(v, (idx.size,) + x.shape[1:])
    for k in range(idx.size):
        x[idx[k]] += vb[k]
