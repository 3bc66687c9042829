"""The disk cache as the compile driver (chainrule.driver) uses it: the key of a transformed
function for some arguments (:func:`lookup` of a valid entry, :func:`save` of a new one) and
:func:`explain`. ``CHAINRULE_CACHE=0`` turns the disk cache off."""

from __future__ import annotations

import functools
import os
from typing import Any

from ..backend.executable import resolve_backend
from ..passes import specialize
from ..passes import user as user_passes
from ..passes.fusion import enabled as fusion_enabled
from ..transforms import jacobian
from . import store
from .key import NotCacheable, describe_rewrites, describe_user_passes, key_parts


def enabled() -> bool:
    return os.environ.get("CHAINRULE_CACHE", "1") != "0"


def _parts(transformed: Any, args: tuple, copy_args: bool, backend: str | None,
           sizes: tuple = ()) -> dict | None:
    from ..frontend.bounds import bounds_check_enabled

    options = {"backend": resolve_backend(backend), "copy_args": copy_args,
               "bounds_check": bounds_check_enabled(), "fusion": fusion_enabled()}
    if not (jacobian.BATCH and jacobian.HOIST):  # Jacobians' sweeps other than the default
        options["jacobian"] = {"batch": jacobian.BATCH, "hoist": jacobian.HOIST}
    if getattr(transformed, "kinks", None) is not None:
        options["kinks"] = True  # instrumented code (the same for every reporting mode)
    try:
        options["rewrites"] = describe_rewrites()
        if user_passes.registered():
            options["passes"] = describe_user_passes()
        parts = key_parts(transformed, args, options)
    except NotCacheable:
        return None
    small = specialize.small_leaves(args)  # shape specialisation (passes/specialize)
    if small:
        parts["arguments"] = {"kinds": parts["arguments"], "small_arrays": list(small),
                              "sizes": [list(s) for s in sizes]}
    return parts


def lookup(transformed: Any, args: tuple, copy_args: bool, backend: str | None
            ) -> tuple[dict | None, Any, Any]:
    """(key parts, payload, consts or why it missed); a function specialised on argument sizes
    has an entry under its size-generic key that says on which (``specialize_on``)."""
    sizes = specialize.known_sizes_of(transformed, args)
    if sizes is None:
        generic = _parts(transformed, args, copy_args, backend)
        if generic is None:
            return None, None, "not cacheable"
        payload, consts = store.load(generic)
        if payload is None or "specialize_on" not in payload:
            if payload is not None:
                specialize.record(transformed, args, ())
            return generic, payload, consts
        sizes = specialize.record(transformed, args, payload["specialize_on"])
        if not sizes:
            return generic, None, "entry names no small array argument"
    parts = _parts(transformed, args, copy_args, backend, sizes)
    if parts is None:
        return None, None, "not cacheable"
    payload, consts = store.load(parts)
    return parts, payload, consts


def save(transformed: Any, args: tuple, copy_args: bool, backend: str | None, deps: dict,
         payload: dict, consts: dict) -> None:
    """Store an entry (``deps``: the recorded dependencies, JSON) under the key of
    ``transformed`` for ``args``; a function specialised on argument sizes also gets an entry
    under its size-generic key that says on which."""
    sizes = specialize.known_sizes_of(transformed, args)  # (decided while building)
    parts = _parts(transformed, args, copy_args, backend, sizes)
    if parts is None:
        return
    if sizes:
        store.save(_parts(transformed, args, copy_args, backend), deps,
                   {"specialize_on": [i for i, _ in sizes]}, {})
    store.save(parts, deps, payload, consts)


def top_cells(transformed: Any) -> tuple:
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
    parts, payload, _ = lookup(transformed, args, copy_args, getattr(transformed, "backend", None))
    if parts is None:
        return "not cacheable: the function depends on a value without a stable description"
    return store.explain(parts)
