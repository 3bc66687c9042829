"""Pytrees: the containers chainrule looks through to find numbers and arrays.

A pytree node is a tuple, a ``NamedTuple``, a list, a dict, a dataclass instance (frozen or not)
or a *plain object*: an instance of a user-defined class with a ``__dict__`` (its attributes are
its children, in insertion order). Everything else is a leaf. Objects of library classes
(installed packages, the standard library, chainrule itself), functions, classes, modules,
enums and exceptions are leaves; a class can opt out of being a node with
``__chainrule_static__ = True``; objects with ``__slots__`` and no ``__dict__`` are leaves
unless they are dataclasses.

Nodes are rebuilt without running user code: a NamedTuple with ``_make``, a dataclass or plain
object as a fresh instance (``object.__new__``) whose attributes are set directly, like a
shallow copy with new children. So a gradient with respect to a dataclass is an instance of the
same dataclass holding the gradients, and one with respect to a plain object is a copy of it
whose numeric attributes hold the gradients. This is the one place that knows which objects are
nodes; every other module walks pytrees through these functions.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import sys
import sysconfig
import types
from collections.abc import Callable
from typing import Any

import numpy as np

MAX_DEPTH = 64
_STDLIB_DIRS = tuple({p for p in (sysconfig.get_paths().get("stdlib"),
                                  sysconfig.get_paths().get("platstdlib")) if p})

LIBRARY_ROOTS = {"builtins", "numpy", "scipy", "numba", "chainrule", "typing", "collections",
                  "functools", "enum", "abc", "types", "_thread", "threading", "io"}
_NEVER_NODES = (type, types.ModuleType, types.FunctionType, types.MethodType,
                types.BuiltinFunctionType, functools.partial, enum.Enum, BaseException,
                str, bytes, int, float, complex, bool, range, slice)


def is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def is_namedtuple_class(cls: Any) -> bool:
    return isinstance(cls, type) and issubclass(cls, tuple) and hasattr(cls, "_fields")


def is_object(x: Any) -> bool:
    """A dataclass instance or a plain object of a user class (a pytree node)."""
    t = type(x)
    known = _OBJECT_TYPES.get(t)
    if known is None:
        known = _OBJECT_TYPES[t] = _object_type(t, x)
    return known


_OBJECT_TYPES: dict = {}


def _object_type(t: type, x: Any) -> bool:
    if issubclass(t, _NEVER_NODES + (tuple, list, dict)):
        return False
    if getattr(t, "__chainrule_static__", False):
        return False
    if getattr(t, "__chainrule_node__", False):  # chainrule's own compile-time records
        return True
    if library_module(getattr(t, "__module__", None) or ""):
        return False
    if dataclasses.is_dataclass(t):
        return True
    return hasattr(x, "__dict__")


@functools.lru_cache(maxsize=512)
def library_module(module: str) -> bool:
    """Whether classes of ``module`` belong to an installed library or the standard library
    (their objects are leaves: their insides are not the user's parameters)."""
    if module.startswith(("chainrule.examples", "chainrule.testing")):
        return False
    if module.split(".")[0] in LIBRARY_ROOTS:
        return True
    file = getattr(sys.modules.get(module), "__file__", None) or ""
    return "site-packages" in file or "dist-packages" in file or \
        any(file.startswith(d) for d in _STDLIB_DIRS)


_COMMON_LEAVES = {float, int, bool, str, type(None), np.ndarray, np.float64, np.float32,
                  np.int64, np.bool_}


def node_kind(x: Any) -> str | None:
    """"namedtuple", "tuple", "list", "dict", "object", or None for a leaf."""
    t = type(x)
    if t in _COMMON_LEAVES:
        return None
    if t is tuple:
        return "tuple"
    if isinstance(x, tuple):
        return "namedtuple" if is_namedtuple(x) else "tuple"
    if isinstance(x, list):
        return "list"
    if isinstance(x, dict):
        return "dict"
    if is_object(x):
        return "object"
    return None


def items(x: Any) -> list[tuple[Any, Any]]:
    """(key, child) pairs of a node: index, dict key, field or attribute name."""
    if isinstance(x, tuple):
        if is_namedtuple(x):
            return list(zip(type(x)._fields, x))
        return list(enumerate(x))
    if isinstance(x, list):
        return list(enumerate(x))
    if isinstance(x, dict):
        return list(x.items())
    if hasattr(x, "__dict__"):
        return list(vars(x).items())
    return [(f.name, getattr(x, f.name)) for f in dataclasses.fields(x)]


def with_children(x: Any, values: list) -> Any:
    """A node of ``x``'s kind and keys with ``values`` as its children (no user code runs)."""
    if isinstance(x, tuple):
        return type(x)._make(values) if is_namedtuple(x) else tuple(values)
    if isinstance(x, list):
        return list(values)
    if isinstance(x, dict):
        return dict(zip(x.keys(), values))
    keys = [k for k, _ in items(x)]
    try:
        new = object.__new__(type(x))
    except TypeError:
        import copy

        new = copy.copy(x)
    if hasattr(x, "__dict__"):
        new.__dict__.update(zip(keys, values))
    else:
        for k, v in zip(keys, values):
            object.__setattr__(new, k, v)
    return new


def map_tree(fn: Callable[[Any, str], Any], x: Any, path: str = "", depth: int = 0) -> Any:
    """Rebuild ``x`` with ``fn(value, path)`` applied to every non-node value."""
    if node_kind(x) is None:
        return fn(x, path)
    if depth > MAX_DEPTH:
        raise RecursionError("pytree nested deeper than 64 levels (a cyclic object?)")
    children = [map_tree(fn, v, f"{path}_{_key_name(k, i)}", depth + 1)
                for i, (k, v) in enumerate(items(x))]
    return with_children(x, children)


def leaf_values(x: Any, is_leaf: Callable[[Any], bool], depth: int = 0) -> list:
    """The values of ``x`` for which ``is_leaf`` holds, in order (``leaves`` without paths)."""
    if is_leaf(x):
        return [x]
    if node_kind(x) is None:
        return []
    if depth > MAX_DEPTH:
        raise RecursionError("pytree nested deeper than 64 levels (a cyclic object?)")
    return [v for _, c in items(x) for v in leaf_values(c, is_leaf, depth + 1)]


def leaves(x: Any, is_leaf: Callable[[Any], bool], path: str = "") -> list[tuple[str, Any]]:
    """The (path, value) pairs of the values of ``x`` for which ``is_leaf`` holds, in order."""
    out: list = []

    def walk(v: Any, p: str, depth: int) -> None:
        if is_leaf(v):
            out.append((p, v))
        elif node_kind(v) is not None:
            if depth > MAX_DEPTH:
                raise RecursionError("pytree nested deeper than 64 levels (a cyclic object?)")
            for i, (k, c) in enumerate(items(v)):
                walk(c, f"{p}_{_key_name(k, i)}", depth + 1)

    walk(x, path, 0)
    return out


def replace_leaves(x: Any, is_leaf: Callable[[Any], bool], new: list) -> Any:
    """``x`` with the values for which ``is_leaf`` holds replaced, in order, by ``new``
    (consumed from the front)."""
    if is_leaf(x):
        return new.pop(0)
    if node_kind(x) is None:
        return x
    return with_children(x, [replace_leaves(c, is_leaf, new) for _, c in items(x)])


def _key_name(k: Any, i: int) -> str:
    return str(k) if str(k).isidentifier() else str(i)


__all__ = ["MAX_DEPTH", "is_namedtuple", "is_namedtuple_class", "is_object", "items",
           "leaf_values", "leaves", "library_module", "map_tree", "node_kind", "replace_leaves",
           "with_children"]
