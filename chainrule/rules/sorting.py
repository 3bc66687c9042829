"""Sorting and searching: ``argsort`` (along the last axis, stable) and ``searchsorted``.

Both are integer valued (derivative zero). ``np.sort``, ``np.interp`` and friends are built
from them in the front end (frontend/numpy_arrays.py): ``sort(x)`` gathers ``x`` at
``argsort(x)``, so its derivative is that gather's (a permutation of the tangent).
Emission: ``_rt.argsort`` (NumPy's stable argsort; on Numba a merge sort per row, since Numba's
``np.argsort`` takes 1-D arrays only) and ``np.searchsorted``.
"""

from __future__ import annotations

from ..errors import ChainruleTypeError
from ..ir.types import Type
from .common import template
from .registry import FLAT, Kink, Primitive


def _argsort_type(types, **_):
    x = types[0]
    if x.tape or x.ndim == 0:
        raise ChainruleTypeError("argsort takes an array of at least one dimension")
    return Type("int64", x.ndim)


def _ties(b, args, out, **_):
    """Elements equal to another element of their row (last axis): where argsort breaks ties."""
    x = args[0]
    lead = ("e",)
    pairs = b.eq(b.getitem(x, spec=lead + ("n",)), b.getitem(x, spec=lead + ("n", "s000")))
    count = b.sum(b.astype(pairs, dtype="int64"), axis=-1, keepdims=False)
    return b.gt(count, 1)


def _searchsorted_type(types, side="left", **_):
    a, v = types
    if a.tape or a.ndim != 1:
        raise ChainruleTypeError("searchsorted needs a 1-D sorted array")
    if side not in ("left", "right"):
        raise ChainruleTypeError(f"searchsorted: side must be 'left' or 'right', not {side!r}")
    return Type("int64", v.ndim)


def _hits(b, args, out, side="left", **_):
    """Where ``v`` equals the element of ``a`` next to its insertion point."""
    a, v = args
    n = b.size(a)
    pos = b.sub(out, 1) if side == "right" else out
    inside = b.logical_and(b.ge(pos, 0), b.lt(pos, n))
    safe = b.minimum(b.maximum(pos, 0), b.sub(n, 1))
    near = b.getitem(a, safe, spec=("a",) if v.type.ndim else ("i",))
    return b.logical_and(inside, b.eq(near, v))


def _searchsorted_emit(srcs, side="left", **_):
    return f"np.searchsorted({srcs[0]}, {srcs[1]}, side={side!r})"


PRIMS = [
    Primitive("argsort", _argsort_type, template("_rt.argsort({0})"), nondiff=True,
              doc="indices that sort x along its last axis (stable: equal elements keep their "
                  "order)",
              kinks=Kink(FLAT, "ties (equal elements in a row)",
                         "0; the order of equal elements is their order in x (a stable sort), "
                         "so sort's derivative gives each output the derivative of the input it "
                         "was copied from", mask=_ties)),
    Primitive("searchsorted", _searchsorted_type, _searchsorted_emit, nondiff=True,
              doc="np.searchsorted(a, v, side): insertion points of v into the sorted 1-D a",
              kinks=Kink(FLAT, "v equal to an element of a (jumps)", "0", mask=_hits)),
]

__all__ = ["PRIMS"]
