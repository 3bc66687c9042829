"""Shape specialisation: which small 1-D array arguments (and which 2-D arguments with short
rows) a function is compiled for by size.

Types carry no sizes, so one compilation normally serves every size. A 1-D array argument with at
most ``scalarize.SMALL`` elements is the exception when its size lets
:mod:`chainrule.passes.scalarize` turn arrays into scalars (its elements are read with constant
indices, or it is copied into an array that is updated in a loop), and so is a 2-D array argument
whose rows have at most ``SMALL`` elements when its rows ``x[i]`` are used in a loop: the
function is then compiled once per size (the row length, for a 2-D argument), and the size is
part of the in-memory and disk cache keys.
Arguments that would not benefit stay size-generic. The decision is made from the front end's IR
when the function is first compiled, and kept per process and in the disk cache (an entry under
the size-generic key that names the specialised arguments), so a disk-cache hit lowers nothing.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from ..ir.nodes import Function
from .scalarize import SMALL, benefiting_params

_DECISIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _leaves(args: Any) -> list:
    """The dynamic leaves of ``args``, in the order the front end makes parameters of them."""
    from ..ir.compiled import leaf_type

    if isinstance(args, (tuple, list)):
        return [x for a in args for x in _leaves(a)]
    if isinstance(args, dict):
        return [x for a in args.values() for x in _leaves(a)]
    return [args] if leaf_type(args) is not None else []


def sized(x: Any) -> bool:
    """Whether an argument may be compiled for its size: a 1-D array of at most ``SMALL``
    elements, or a 2-D array with rows of 1 to ``SMALL`` elements (its size is then
    ``x.shape[-1]``)."""
    return isinstance(x, np.ndarray) and (
        (x.ndim == 1 and x.shape[0] <= SMALL) or (x.ndim == 2 and 1 <= x.shape[1] <= SMALL))


def _small(leaves: list) -> tuple:
    return tuple(i for i, x in enumerate(leaves) if sized(x))


def small_leaves(args: tuple) -> tuple:
    """Indices of the dynamic leaves of ``args`` that may be compiled for their sizes
    (:func:`sized`)."""
    return _small(_leaves(args))


def _base(fn: Any) -> Any:
    """The function whose decisions ``fn`` shares: the Python function under the transforms,
    or a transform that decides for itself (``owns_sizes``: vmap, whose arguments have one
    more axis than its function's)."""
    while getattr(fn, "__chainrule_transform__", False) and not getattr(fn, "owns_sizes", False):
        fn = fn.fn
    return fn


def _memo(fn: Any, args: tuple) -> tuple[dict | None, Any, list, tuple]:
    """(decisions of ``fn``'s base function or None, key, leaves, small leaf indices)."""
    leaves = _leaves(args)
    small = _small(leaves)
    if not small:
        return None, None, leaves, small
    try:
        memo = _DECISIONS.setdefault(_base(fn), {})
    except TypeError:  # not weak-referenceable: stay size-generic
        return None, None, leaves, small
    from ..ir.compiled import kinds_key

    return memo, (kinds_key(tuple(args)), small), leaves, small


def known_sizes_of(fn: Any, args: tuple) -> tuple | None:
    """``((leaf index, size), ...)``: the argument sizes ``fn`` is compiled for (empty when it
    is size-generic); None when this process has not decided yet (see :func:`record`)."""
    memo, key, leaves, _ = _memo(fn, args)
    if memo is None:
        return ()
    chosen = memo.get(key)
    return None if chosen is None else tuple((i, leaves[i].shape[-1]) for i in chosen)


def record(fn: Any, args: tuple, chosen: list | tuple) -> tuple:
    """Remember that ``fn`` is specialised on the sizes of the leaves ``chosen`` (as decided by
    an earlier process, read from the disk cache); returns the sizes."""
    memo, key, leaves, small = _memo(fn, args)
    if memo is None:
        return ()
    memo[key] = tuple(i for i in chosen if i in small)
    return known_sizes_of(fn, args)


def sizes_for_build(fn: Any, args: tuple, ir: Function) -> dict:
    """Parameter name -> size to compile ``ir`` (the front end's IR of ``fn``) for, deciding
    from ``ir`` when not decided yet."""
    memo, key, leaves, small = _memo(fn, args)
    if memo is None:
        return {}
    if key not in memo:
        memo[key] = _decide(ir, leaves, small)
    return {ir.params[i].name: leaves[i].shape[-1] for i in memo[key]}


def _decide(ir: Function, leaves: list, small: tuple) -> tuple:
    sizes = {ir.params[i].name: leaves[i].shape[-1] for i in small}
    gain = benefiting_params(ir, sizes)
    return tuple(i for i in small if ir.params[i].name in gain)
