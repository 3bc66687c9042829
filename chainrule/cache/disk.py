"""Glue between the API and the disk cache: build an Executable from a valid entry, or compile
and store one. ``CHAINRULE_CACHE=0`` turns the disk cache off."""

from __future__ import annotations

import functools
import os
from typing import Any

from ..backend.codegen import EXTRA_GLOBALS
from ..backend.executable import Executable, resolve_backend
from ..ir.builder import Names
from ..ir.outside import from_json as outside_from_json
from . import store
from .key import Dependencies, NotCacheable, key_parts


def enabled() -> bool:
    return os.environ.get("CHAINRULE_CACHE", "1") != "0"


def _parts(transformed: Any, args: tuple, copy_args: bool, backend: str | None) -> dict | None:
    options = {"backend": resolve_backend(backend), "copy_args": copy_args}
    if getattr(transformed, "kinks", None) is not None:
        options["kinks"] = True  # instrumented code (the same for every reporting mode)
    try:
        return key_parts(transformed, args, options)
    except NotCacheable:
        return None


def executable_for(transformed: Any, args: tuple, copy_args: bool, backend: str | None
                   ) -> Executable:
    parts = _parts(transformed, args, copy_args, backend) if enabled() else None
    top_cells = _top_cells(transformed)
    if parts is not None:
        payload, consts = store.load(parts)
        if payload is not None:
            located = payload.get("outside")
            outside = None if located is None else outside_from_json(located, top_cells)
            if located is None or outside is not None:
                consts = {**EXTRA_GLOBALS, **consts}
                return Executable(None, copy_args, backend, payload=payload, consts=consts,
                                  outside=outside)
    deps = Dependencies()
    compiled = transformed.build_top(args, Names(), deps)
    exe = Executable(compiled, copy_args, backend)
    deps.record_code(compiled.fn)
    if parts is not None and deps.ok:
        try:
            payload = exe.payload(top_cells)
        except NotCacheable:
            return exe
        # Globals of user emissions are dependencies, not constants of the entry.
        consts = {k: v for k, v in exe.consts.items() if k not in EXTRA_GLOBALS}
        store.save(parts, deps.as_json(), payload, consts)
    return exe


def _top_cells(transformed: Any) -> tuple:
    """The closure cells of the Python function a (stack of) transform(s) applies to."""
    fn = transformed
    while getattr(fn, "__chainrule_transform__", False) or isinstance(fn, functools.partial):
        fn = fn.func if isinstance(fn, functools.partial) else fn.fn
    return getattr(fn, "__closure__", None) or ()


def explain(transformed: Any, *args: Any) -> str:
    """Whether ``transformed(*args)`` would be served from the disk cache, and if not, why."""
    if not enabled():
        return "miss: the disk cache is off (CHAINRULE_CACHE=0)"
    copy_args = getattr(transformed, "kind", "jit") != "jit"
    parts = _parts(transformed, args, copy_args, getattr(transformed, "backend", None))
    if parts is None:
        return "not cacheable: the function depends on a value without a stable description"
    return store.explain(parts)
