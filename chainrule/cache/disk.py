"""Glue between the API and the disk cache: build an Executable from a valid entry, or compile
and store one. ``CHAINRULE_CACHE=0`` turns the disk cache off."""

from __future__ import annotations

import os
from typing import Any

from ..backend.executable import Executable, resolve_backend
from ..ir.builder import Names
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
    if parts is not None:
        payload, consts = store.load(parts)
        if payload is not None:
            return Executable(None, copy_args, backend, payload=payload, consts=consts,
                              owner=transformed)
    deps = Dependencies()
    compiled = transformed.build_top(args, Names(), deps)
    exe = Executable(compiled, copy_args, backend, owner=transformed)
    if parts is not None and deps.ok:
        try:
            payload = exe.payload()
        except NotCacheable:
            return exe
        store.save(parts, deps.as_json(), payload, exe.consts)
    return exe


def explain(transformed: Any, *args: Any) -> str:
    """Whether ``transformed(*args)`` would be served from the disk cache, and if not, why."""
    if not enabled():
        return "miss: the disk cache is off (CHAINRULE_CACHE=0)"
    copy_args = getattr(transformed, "kind", "jit") != "jit"
    parts = _parts(transformed, args, copy_args, getattr(transformed, "backend", None))
    if parts is None:
        return "not cacheable: the function depends on a value without a stable description"
    return store.explain(parts)
