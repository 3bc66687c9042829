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

from .. import pytree
from ..ir.builder import const
from ..ir.compiled import flatten, is_atom, rebuild  # noqa: F401 (re-exported)
from ..ir.nodes import Const


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


class RunList:
    """A list whose length is known only at run time (see :mod:`.lists`): its items, all
    scalars or all arrays of one shape, are ``buf[:n]``; ``buf`` has room for more (appends
    grow it by doubling). A pytree node with two leaves, so loops carry it and branches join it
    like any other value."""

    __chainrule_node__ = True

    def __init__(self, buf: Any, n: Any):
        self.buf = buf
        self.n = n

    @property
    def item_ndim(self) -> int:
        return self.buf.type.ndim - 1


@dataclass(eq=False)
class ReturnSlot:
    """Where an inlined function's ``return`` values go when it has several returns."""

    template: Any = None
    leaves: list = field(default_factory=list)


def is_array(v: Any) -> bool:
    return is_atom(v) and v.type.ndim > 0


def static_number(v: Any) -> bool:
    return isinstance(v, Const) and not isinstance(v.value, np.ndarray)


def from_python(obj: Any) -> Any:
    """Turn a Python object found in a closure/global into a compile-time value (objects are
    converted lazily: their attributes when they are read)."""
    if isinstance(obj, (bool, int, float, np.bool_, np.integer, np.floating, np.ndarray)):
        if isinstance(obj, np.ndarray) and obj.dtype.kind not in "fiub":
            return obj
        return const(obj)
    if isinstance(obj, (tuple, list, dict)):
        return pytree.with_children(obj, [from_python(v) for _, v in pytree.items(obj)])
    return obj


def same_structure(a: Any, b: Any) -> bool:
    """True when ``a`` and ``b`` have the same static skeleton (atoms may differ)."""
    if is_atom(a) and is_atom(b):
        return True
    if is_atom(a) or is_atom(b):
        return False
    kind = pytree.node_kind(a)
    if kind is not None:
        if type(a) is not type(b):
            return False
        ia, ib = pytree.items(a), pytree.items(b)
        return [k for k, _ in ia] == [k for k, _ in ib] and \
            all(same_structure(x, y) for (_, x), (_, y) in zip(ia, ib))
    return a is b or (type(a) is type(b) and _static_eq(a, b))


def _static_eq(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:
        return False
