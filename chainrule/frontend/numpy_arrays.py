"""Sorting, searching, interpolation, padding and ``np.r_``, built from primitives.

``np.sort`` gathers ``x`` at ``argsort(x)`` (the ``argsort`` primitive is stable), so the
derivative of a sort is that gather's: each output takes the derivative of the input it was
copied from (at ties: the one a stable sort puts there). ``np.interp`` finds each point's
interval with ``searchsorted`` and blends the two ends; ``np.pad`` gathers at clipped,
wrapped or reflected positions (and selects the constant where a position is outside).
Conventions are in docs/numpy_functions.md.
"""

from __future__ import annotations

import ast

import numpy as np

from ..errors import ChainruleTypeError, UnsupportedCallError
from ..ir.builder import const
from .numpy_args import atom
from .numpy_more import ALL, along, axes_of, dim
from .signatures import Signed
from .values import static_number


# -- along the last axis ----------------------------------------------------------------------
def _to_last(b, x, axis: int):
    """``x`` with ``axis`` moved last, and the permutation that undoes it (None: no move)."""
    nd = x.type.ndim
    if axis == nd - 1:
        return x, None
    perm = tuple(a for a in range(nd) if a != axis) + (axis,)
    undo = tuple(sorted(range(nd), key=lambda i: perm[i]))
    return b.transpose(x, axes=perm), undo


def take_last(b, x, idx):
    """``np.take_along_axis(x, idx, -1)`` for ``idx`` shaped like ``x``: a gather from the
    flattened ``x`` at ``idx`` plus each row's offset."""
    if x.type.ndim == 1:
        return b.getitem(x, idx, spec=("a",))
    dims = [dim(b, x, i) for i in range(x.type.ndim)]
    rows = const(1)
    for d in dims[:-1]:
        rows = b.mul(rows, d)
    starts = b.arange(const(0), b.mul(rows, dims[-1]), dims[-1])
    offsets = b.reshape(starts, *dims[:-1], const(1))
    return b.getitem(b.ravel(x), b.add(idx, offsets), spec=("a",))


def _sorting(lw, p, name: str, values: bool):
    b = lw.b
    x = atom(lw, p.a)
    if x.type.ndim == 0:
        raise ChainruleTypeError(f"`{name}` needs an array of at least one dimension", b.loc)
    if p.axis is None:
        x, axis = b.ravel(x), 0
    else:
        (axis,) = axes_of(lw, p.axis, x.type.ndim, name)
    xt, undo = _to_last(b, x, axis)
    order = b.argsort(xt)
    out = take_last(b, xt, order) if values else order
    return out if undo is None else b.transpose(out, axes=undo)


def _sort(lw, p, node):
    return _sorting(lw, p, "np.sort", True)


def _argsort(lw, p, node):
    return _sorting(lw, p, "np.argsort", False)


def _side(lw, v, name: str) -> str:
    side = v.value if static_number(v) else v
    if side not in ("left", "right"):
        raise ChainruleTypeError(f"`{name}`: side must be 'left' or 'right'", lw.b.loc)
    return side


def _searchsorted(lw, p, node):
    return lw.b.searchsorted(atom(lw, p.a), atom(lw, p.v), side=_side(lw, p.side,
                                                                      "np.searchsorted"))


# -- interpolation ------------------------------------------------------------------------------
def _interp(lw, p, node):
    """``(1 - t) fp[j] + t fp[j + 1]`` with ``t = (x - xp[j]) / (xp[j + 1] - xp[j])`` on the
    interval ``j`` (found with ``searchsorted(..., 'right') - 1``, clipped to the ends);
    ``left``/``right`` (default ``fp[0]``/``fp[-1]``) outside ``[xp[0], xp[-1]]``."""
    b = lw.b
    x, xp, fp = atom(lw, p.x), atom(lw, p.xp), atom(lw, p.fp)
    if xp.type.ndim != 1 or fp.type.ndim != 1:
        raise ChainruleTypeError("np.interp: xp and fp must be 1-D", b.loc)
    if not x.type.is_float:
        x = b.astype(x, dtype="float64")
    n = b.size(xp)
    last = b.sub(n, 1)
    j = b.minimum(b.maximum(b.sub(b.searchsorted(xp, x, side="right"), 1), 0), b.sub(n, 2))
    code = ("a",) if x.type.ndim else ("i",)
    x0, x1 = b.getitem(xp, j, spec=code), b.getitem(xp, b.add(j, 1), spec=code)
    f0, f1 = b.getitem(fp, j, spec=code), b.getitem(fp, b.add(j, 1), spec=code)
    t = b.div(b.sub(x, x0), b.sub(x1, x0))
    inner = b.add(b.mul(b.sub(1.0, t), f0), b.mul(t, f1))
    lo = b.getitem(fp, const(0), spec=("i",)) if p.left is None else atom(lw, p.left)
    hi = b.getitem(fp, last, spec=("i",)) if p.right is None else atom(lw, p.right)
    below = b.lt(x, b.getitem(xp, const(0), spec=("i",)))
    above = b.gt(x, b.getitem(xp, last, spec=("i",)))
    return b.where(below, lo, b.where(above, hi, inner))


# -- padding ------------------------------------------------------------------------------------
PAD_MODES = ("constant", "edge", "wrap", "reflect", "symmetric")


def _pad_widths(lw, pw, nd: int) -> list:
    """``pad_width`` as one (before, after) pair of atoms per axis."""
    def pair(v):
        if isinstance(v, (tuple, list)):
            if len(v) == 1:
                return (atom(lw, v[0]), atom(lw, v[0]))
            if len(v) == 2 and not any(isinstance(e, (tuple, list)) for e in v):
                return (atom(lw, v[0]), atom(lw, v[1]))
            raise ChainruleTypeError("np.pad: a pad width must be n, (n,) or (before, after)",
                                     lw.b.loc)
        return (atom(lw, v), atom(lw, v))

    if isinstance(pw, (tuple, list)) and pw and isinstance(pw[0], (tuple, list)):
        if len(pw) == 1:
            return [pair(pw[0])] * nd
        if len(pw) != nd:
            raise ChainruleTypeError(f"np.pad: {len(pw)} pad widths for {nd} axes", lw.b.loc)
        return [pair(v) for v in pw]
    return [pair(pw)] * nd


def _pad_positions(b, i, n, mode: str):
    """Source positions of the padded positions ``i`` (``-before .. n + after - 1``)."""
    if mode in ("constant", "edge"):
        return b.minimum(b.maximum(i, 0), b.sub(n, 1))
    if mode == "wrap":
        return b.mod(i, n)
    if mode == "reflect":
        period = b.maximum(b.sub(b.mul(n, 2), 2), 1)
        j = b.mod(i, period)
        return b.where(b.ge(j, n), b.sub(period, j), j)
    period = b.mul(n, 2)  # symmetric
    j = b.mod(i, period)
    return b.where(b.ge(j, n), b.sub(b.sub(period, 1), j), j)


def _pad(lw, p, node):
    b = lw.b
    x = atom(lw, p.array)
    mode = p.mode.value if static_number(p.mode) else p.mode
    if mode not in PAD_MODES:
        raise UnsupportedCallError(f"np.pad: mode={mode!r} is not supported", b.loc,
                                   f"use one of {', '.join(PAD_MODES)}")
    fill = None
    if mode == "constant":
        if isinstance(p.constant_values, (tuple, list)):
            raise UnsupportedCallError("np.pad: constant_values must be one scalar", b.loc,
                                       "pad with 0 and add the values with np.where")
        fill = atom(lw, p.constant_values)
    elif p.given("constant_values"):
        raise ChainruleTypeError(f"np.pad: constant_values is not used by mode={mode!r}",
                                 b.loc)
    nd = x.type.ndim
    for axis, (before, after) in enumerate(_pad_widths(lw, p.pad_width, nd)):
        n = dim(b, x, axis)
        i = b.arange(b.neg(before), b.add(n, after), const(1))
        src = along(b, x, axis, "a", _pad_positions(b, i, n, mode))
        if fill is not None:
            inside = b.logical_and(b.ge(i, 0), b.lt(i, n))
            inside = b.getitem(inside, spec=(ALL,) + ("n",) * (nd - 1 - axis))
            src = b.where(inside, src, fill)
            if src.type.dtype != x.type.dtype:
                src = b.astype(src, dtype=x.type.dtype)
        x = src
    return x


# -- np.r_ --------------------------------------------------------------------------------------
def r_(lw, index: ast.AST):
    """``np.r_[...]``: slices become ``arange`` (``linspace`` for a complex step ``nj``),
    scalars and arrays are joined along axis 0."""
    b = lw.b
    parts = []
    for e in index.elts if isinstance(index, ast.Tuple) else [index]:
        if isinstance(e, ast.Slice):
            parts.append(_r_slice(lw, e))
            continue
        v = lw.expr(e)
        if isinstance(v, str):
            raise UnsupportedCallError("np.r_ with a string directive is not supported", b.loc,
                                       "use np.concatenate / np.stack with an axis")
        v = lw.pack(v) if isinstance(v, (tuple, list)) else atom(lw, v)
        parts.append(lw.pack([v]) if v.type.ndim == 0 else v)
    if len({a.type.ndim for a in parts}) != 1:
        raise ChainruleTypeError("np.r_: the pieces must have the same number of dimensions",
                                 b.loc)
    return parts[0] if len(parts) == 1 else b.concatenate(*parts, axis=0)


def _r_slice(lw, e: ast.Slice):
    b = lw.b
    start = const(0) if e.lower is None else atom(lw, lw.expr(e.lower))
    if e.upper is None:
        raise UnsupportedCallError("np.r_: a slice needs a stop", b.loc)
    stop = atom(lw, lw.expr(e.upper))
    if isinstance(e.step, ast.Constant) and isinstance(e.step.value, complex):
        start = start if start.type.is_float else b.to_float(start)
        return b.linspace(start, stop, const(int(abs(e.step.value))), endpoint=True)
    step = const(1) if e.step is None else atom(lw, lw.expr(e.step))
    return b.arange(start, stop, step)


def arrays_handlers() -> dict:
    """{callable: Signed handler} of this module (merged into the NumPy table)."""
    sort_kw = "a, axis=-1, kind=None, order=None, *, stable=None"
    return {
        np.sort: Signed("np.sort", sort_kw, _sort, "order"),
        np.argsort: Signed("np.argsort", sort_kw, _argsort, "order"),
        np.searchsorted: Signed("np.searchsorted", "a, v, side='left', sorter=None",
                                _searchsorted, "sorter"),
        np.interp: Signed("np.interp", "x, xp, fp, left=None, right=None, period=None",
                          _interp, "period"),
        np.pad: Signed("np.pad", "array, pad_width, mode='constant', *, constant_values=0, "
                       "end_values=0, reflect_type='even', stat_length=None", _pad,
                       "end_values reflect_type stat_length"),
    }


__all__ = ["arrays_handlers", "r_", "take_last"]
