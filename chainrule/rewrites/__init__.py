"""Declarative rewrite rules over the IR: the public interface (docs/rewrites.md).

A rule is a pattern over primitives (:mod:`.patterns`) and a replacement built with the IR
builder::

    from chainrule.rewrites import op, var, register

    x = var("x")

    @register(op.log1p(op.expm1(x)))
    def log1p_expm1(b, x):
        return x

The engine (:mod:`.engine`) applies the built-in rules (:mod:`.algebra`) and the registered
ones to the primal before differentiation and to derivative code in the clean-up pipeline.
``CHAINRULE_REWRITES=0`` turns the engine off; ``CHAINRULE_SHOW_REWRITES=1`` prints each
rule that fires; :func:`fired` lists them for one function.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ..ir.builder import Names
from ..ir.nodes import Function
from ..ir.verify import verified
from ..rules.registry import GENERATION
from . import engine, loops
from .algebra import RULES as BUILTIN
from .engine import Fired, Rule
from .patterns import const, is_array, is_float, is_int, ndim, op, var

_USER: list[Rule] = []


def enabled() -> bool:
    return os.environ.get("CHAINRULE_REWRITES", "1") != "0"


def register(pattern: Any, replacement: Callable | None = None, *, name: str | None = None,
             stage: str = "both", exact: str = "") -> Any:
    """Add a rule: ``pattern`` (an ``op.<primitive>(...)`` pattern) is replaced by what
    ``replacement(b, **bindings)`` builds with the IR builder ``b`` (return an operand or a
    value built with ``b.<primitive>(...)``; None declines). Used as a decorator when
    ``replacement`` is omitted. ``stage``: "before" (the primal, before differentiation),
    "after" (derivative code) or "both". A rule registered again under its name replaces the
    old one. Transforms created earlier in this process keep their code (``cr.grad(f)`` made
    afterwards compiles with the rule); the disk cache knows the registered rules (their
    source, closures and patterns)."""

    def add(fn: Callable) -> Callable:
        rule = Rule(name or fn.__name__, pattern, fn, stage=stage, exact=exact, user=True)
        unregister(rule.name)
        _USER.append(rule)
        GENERATION[0] += 1  # transforms created from now on compile with the rule
        return fn

    return add if replacement is None else add(replacement)


def unregister(name: str) -> bool:
    """Remove the user rule called ``name``; whether there was one."""
    before = len(_USER)
    _USER[:] = [r for r in _USER if r.name != name]
    GENERATION[0] += 1
    return len(_USER) != before


def rules() -> list[Rule]:
    """The rules in the order they are tried: built-in, then registered."""
    return list(BUILTIN) + list(_USER)


def user_rules() -> list[Rule]:
    return list(_USER)


def _apply(fn: Function, stage: str, names: Names | None) -> Function:
    if not enabled():
        return fn
    if stage == "before":  # the loop rule (:mod:`.loops`), then the statement rules
        fn = loops.run(fn, names)
    return engine.run(fn, rules(), stage, names)


@verified("rewrites before differentiation")
def before_differentiation(fn: Function, names: Names | None = None) -> Function:
    """The rules for the primal (``names``: the allocator later transforms use; without it,
    no transform may follow)."""
    return _apply(fn, "before", names)


@verified("rewrites after differentiation")
def after_differentiation(fn: Function, names: Names | None = None) -> Function:
    return _apply(fn, "after", names)


class recording:
    """``with recording() as log:`` collects the :class:`Fired` records of the rules that fire
    while the block compiles code."""

    def __enter__(self) -> list:
        self.log: list = []
        engine._recorders.append(self.log)
        return self.log

    def __exit__(self, *exc: Any) -> None:
        engine._recorders.remove(self.log)


# How ``fired`` compiles a function to IR: installed by :mod:`chainrule.api` (a layer above).
_BUILD_IR: list = []


def install_ir_builder(build: Any) -> None:
    _BUILD_IR[:] = [build]


def fired(fun: Any, *args: Any) -> list[Fired]:
    """The rules that fire when ``fun`` (a function or a transformed function such as
    ``chainrule.grad(f)``) is compiled for ``args``, in order (compiles afresh)."""
    with recording() as log:
        _BUILD_IR[0](fun, args)
    return log


__all__ = ["Fired", "Rule", "after_differentiation", "before_differentiation", "const",
           "enabled", "fired", "is_array", "is_float", "is_int", "ndim", "op", "recording",
           "register", "rules", "unregister", "user_rules", "var"]
