"""The compiled-function record and the argument facts every layer shares.

``Compiled`` is what the front end produces and every transform consumes: an IR function plus
the pytree structures of its arguments and result. The helpers here classify argument leaves
(``leaf_type``: which leaves become typed parameters), describe arguments for compile caches
(``kinds_key``) and walk pytrees whose leaves are IR atoms (``flatten``/``rebuild``). They sit
below the front end, the transforms, the passes, the back end and the cache, which all import
them from here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import pytree
from ..errors import ChainruleTypeError
from .nodes import Const, Function, Var
from .types import Type


@dataclass
class Compiled:
    """An IR function with the pytree structures of its arguments and result."""

    fn: Function
    out_template: Any  # the result's structure, leaves are the IR atoms in ``fn.results``
    arg_templates: list | None = None  # per argument: its structure with IR params as leaves
    derivative_of: Any = None  # a transforms.chains.Chain when fn is a scalar derivative


@functools.lru_cache(maxsize=64)
def _type(dtype: str, ndim: int = 0) -> Type:
    return Type(dtype, ndim)


def leaf_type(x: Any) -> Type | None:
    """IR type of a dynamic argument leaf, or None for a compile-time constant leaf."""
    if isinstance(x, (bool, np.bool_)):
        return _type("bool")
    if isinstance(x, (int, np.integer)):
        return _type("int64")
    if isinstance(x, np.float32):
        return _type("float32")
    if isinstance(x, (float, np.floating)):
        return _type("float64")
    if isinstance(x, np.ndarray):
        kind = x.dtype.kind
        if x.dtype == np.float32:
            return _type("float32", x.ndim)
        if kind == "f":
            return _type("float64", x.ndim)
        if kind in "iu":
            return _type("int64", x.ndim)
        if kind == "b":
            return _type("bool", x.ndim)
        raise ChainruleTypeError(f"arrays of dtype {x.dtype} are not supported",
                                 hint="use float64, float32, integer or bool arrays")
    return None


def kinds_key(args: Any, depth: int = 0) -> Any:
    """A hashable description of the arguments' kinds (dtype, ndim, structure, statics)."""
    kind = pytree.node_kind(args)
    if kind is not None:
        if depth > pytree.MAX_DEPTH:
            raise ChainruleTypeError("an argument is nested deeper than 64 levels (a cyclic "
                                     "object?)", hint="pass the arrays it holds instead")
        parts = tuple((k, kinds_key(v, depth + 1)) for k, v in pytree.items(args))
        if kind in ("tuple", "list"):
            return (kind[0].upper(),) + tuple(p for _, p in parts)
        return (kind[0].upper(), None if kind == "dict" else type(args)) + parts
    t = leaf_type(args)
    if t is not None:
        return t
    try:
        hash(args)
        return ("S", args)
    except TypeError:
        return ("S", id(args))


def placeholder_args(args: Any) -> Any:
    """Arguments of the same kinds as ``args`` with empty arrays (what compiling again for
    these kinds needs, without keeping the caller's arrays alive)."""
    if isinstance(args, tuple) and hasattr(args, "_fields"):  # a NamedTuple
        return type(args)(*(placeholder_args(a) for a in args))
    if isinstance(args, (tuple, list)):
        return type(args)(placeholder_args(a) for a in args)
    if isinstance(args, dict):
        return {k: placeholder_args(v) for k, v in args.items()}
    if isinstance(args, np.ndarray) and leaf_type(args) is not None:
        return np.zeros((0,) * args.ndim, dtype=args.dtype)
    return args


def is_atom(v: Any) -> bool:
    return isinstance(v, (Var, Const))



def flatten(value: Any, path: str = "") -> list[tuple[str, Any]]:
    """Leaves (path, atom) of a pytree of atoms (see :mod:`chainrule.pytree`), in order."""
    return pytree.leaves(value, is_atom, path)


def rebuild(value: Any, leaves: list) -> Any:
    """``value`` with its atom leaves replaced, in order, by ``leaves`` (consumed)."""
    return pytree.replace_leaves(value, is_atom, leaves)
