"""Extending chainrule's compile pipeline from Python: user transforms and user passes.

* :func:`define_transform` makes a new transform from a function that maps the IR of the
  user's function (a :class:`~chainrule.ir.compiled.Compiled` record) to the IR of another:
  a non-standard interpretation (operation counts, interval bounds, ...) or a new derivative
  mode. The result behaves like ``chainrule.jit``: compiled per argument kinds, cached on disk
  (the rule's source is part of the key), composable with the built-in transforms both ways.
* :func:`register_pass` adds an IR -> IR pass before or after differentiation.

docs/plugins.md describes the IR a rule sees and walks through an operation-count example.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .api import Transformed
from .passes import user as _user_passes


def define_transform(name: str, rule: Callable, doc: str = "") -> Callable:
    """A transform named ``name``: ``t = define_transform(name, rule)``, then ``t(f)`` is
    ``f`` compiled through ``rule(compiled, names) -> Compiled`` (``names``: the build's name
    allocator, for fresh variables; see :class:`~chainrule.ir.builder.Builder`)."""
    if not name.isidentifier():
        raise ValueError(f"a transform name must be an identifier, got {name!r}")
    if not callable(rule):
        raise TypeError("rule must be a function (Compiled, Names) -> Compiled")

    def transform(fun: Any, backend: str | None = None) -> Transformed:
        t = Transformed(name, fun, backend=backend)
        t.plugin_rule = rule
        t.cache_params = {"plugin": name, "rule": rule}
        return t

    transform.__name__ = name
    transform.__doc__ = doc or f"the user-defined transform {name!r} (chainrule.plugins)"
    transform.__chainrule_transform_factory__ = True  # (usable inside compiled code too)
    return transform


def register_pass(fn: Callable, stage: str = "after", name: str | None = None) -> Callable:
    """Run ``fn(function, names) -> function`` on every IR function: ``stage="before"``
    differentiation (the primal, after the built-in rewrites) or ``"after"`` (every function
    a transform produces, before the built-in clean-up). Its output is verified; the pass is
    part of the disk-cache key. Usable as a decorator. Returns ``fn``."""
    return _user_passes.register(fn, stage, name)


def unregister_pass(fn: Callable) -> None:
    _user_passes.unregister(fn)


__all__ = ["define_transform", "register_pass", "unregister_pass"]
