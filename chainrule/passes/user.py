"""Passes users add to the pipeline (``chainrule.plugins.register_pass``).

A user pass maps an IR :class:`~chainrule.ir.nodes.Function` to an equivalent one. Passes of
stage ``"before"`` run on every front-end function after the built-in rewrites and before any
transform; passes of stage ``"after"`` run on every function a transform produces, before the
built-in clean-up. Their output is always verified (a malformed function would otherwise turn
into wrong code), and registering or removing one starts a new generation of the primitive
table, so transforms built afterwards use them and held ones are rebuilt.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import ChainruleError
from ..ir.nodes import Function
from ..ir.verify import verify
from ..rules.registry import GENERATION

STAGES = ("before", "after")
_PASSES: list[tuple[str, str, Callable]] = []  # (stage, name, function), in order


def register(fn: Callable, stage: str = "after", name: str | None = None) -> Callable:
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
    if not callable(fn):
        raise TypeError("a pass is a function (Function, names) -> Function")
    unregister(fn)
    _PASSES.append((stage, name or getattr(fn, "__name__", "pass"), fn))
    GENERATION[0] += 1
    return fn


def unregister(fn: Callable) -> None:
    before = len(_PASSES)
    _PASSES[:] = [p for p in _PASSES if p[2] is not fn]
    if len(_PASSES) != before:
        GENERATION[0] += 1


def registered() -> list[tuple[str, str, Callable]]:
    return list(_PASSES)


def run(stage: str, fn: Function, names: Any = None) -> Function:
    for st, name, user_pass in _PASSES:
        if st != stage:
            continue
        out = user_pass(fn, names)
        if not isinstance(out, Function):
            raise ChainruleError(f"the pass {name!r} returned {type(out).__name__}, not an IR "
                                 "Function", hint="return the function it was given, or a new "
                                 "chainrule.ir.nodes.Function")
        fn = verify(out, f"user pass {name!r}")
    return fn
