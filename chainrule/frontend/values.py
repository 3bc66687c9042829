"""What a Python name can stand for while a function is compiled.

A *value* is either an IR atom (:class:`~chainrule.ir.nodes.Var` or ``Const``) -- something that
exists at run time -- or a compile-time Python object: tuples, lists and dicts of values, ``None``,
slices, modules, Python functions, and the small records below (nested functions from the AST,
ranges with run-time bounds, ``zip``/``enumerate`` iterables, bound methods).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..ir.builder import const
from ..ir.nodes import Const, Var


@dataclass(eq=False)
class AstFunction:
    """A ``def`` or ``lambda`` found inside a function being compiled (closes over ``frame``)."""

    node: ast.AST
    frame: Any
    defaults: list
    name: str


@dataclass(eq=False)
class RangeVal:
    start: Any
    stop: Any
    step: Any


@dataclass(eq=False)
class ZipVal:
    parts: list


@dataclass(eq=False)
class EnumerateVal:
    inner: Any
    start: Any = 0


@dataclass(eq=False)
class BoundMethod:
    """``obj.name`` for an array method or a static list's ``append``."""

    obj: Any
    name: str


@dataclass(eq=False)
class ReturnSlot:
    """Where an inlined function's ``return`` values go when it has several returns."""

    template: Any = None
    leaves: list = field(default_factory=list)


def is_atom(v: Any) -> bool:
    return isinstance(v, (Var, Const))


def is_array(v: Any) -> bool:
    return is_atom(v) and v.type.ndim > 0


def static_number(v: Any) -> bool:
    return isinstance(v, Const) and not isinstance(v.value, np.ndarray)


def from_python(obj: Any) -> Any:
    """Turn a Python object found in a closure/global into a compile-time value."""
    if isinstance(obj, (bool, int, float, np.bool_, np.integer, np.floating, np.ndarray)):
        if isinstance(obj, np.ndarray) and obj.dtype.kind not in "fiub":
            return obj
        return const(obj)
    if isinstance(obj, tuple):
        return tuple(from_python(o) for o in obj)
    if isinstance(obj, list):
        return [from_python(o) for o in obj]
    if isinstance(obj, dict):
        return {k: from_python(v) for k, v in obj.items()}
    return obj


def flatten(value: Any, path: str = "") -> list[tuple[str, Any]]:
    """Leaves (path, atom) of a value made of tuples/lists/dicts of atoms, in order."""
    if is_atom(value):
        return [(path, value)]
    if isinstance(value, (tuple, list)):
        out = []
        for i, v in enumerate(value):
            out.extend(flatten(v, f"{path}_{i}"))
        return out
    if isinstance(value, dict):
        out = []
        for k in value:
            out.extend(flatten(value[k], f"{path}_{k}"))
        return out
    return []


def rebuild(value: Any, leaves: list) -> Any:
    """``value`` with its atom leaves replaced, in order, by ``leaves`` (consumed)."""
    if is_atom(value):
        return leaves.pop(0)
    if isinstance(value, tuple):
        return tuple(rebuild(v, leaves) for v in value)
    if isinstance(value, list):
        return [rebuild(v, leaves) for v in value]
    if isinstance(value, dict):
        return {k: rebuild(v, leaves) for k, v in value.items()}
    return value


def same_structure(a: Any, b: Any) -> bool:
    """True when ``a`` and ``b`` have the same static skeleton (atoms may differ)."""
    if is_atom(a) and is_atom(b):
        return True
    if isinstance(a, (tuple, list)) and type(a) is type(b):
        return len(a) == len(b) and all(same_structure(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same_structure(a[k], b[k]) for k in a)
    if is_atom(a) or is_atom(b):
        return False
    return a is b or (type(a) is type(b) and _static_eq(a, b))


def _static_eq(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:
        return False
