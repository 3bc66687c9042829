"""The one compile pipeline: ``compile(kind, fn, args, options) -> Executable``.

Every public entry point that turns a user's function into running code calls :func:`compile`
(``grad``, ``jit``, the Jacobians, ``hessian``, ``derivative``, ``laplacian``, ``vmap``,
``into`` and user transforms as the kind ``"transform"``; ``jvp``, ``vjp`` and the ``*_into``
forms as ``"jvp"``/``"vjp"``; ``jet`` and ``directional_derivative`` as kinds their modules
register with :func:`register_kind`). For one call it owns, in order:

1. the in-memory cache, keyed by the argument kinds (dtype and ndim of each leaf, structure,
   static values), the small-array sizes the code is specialised on and the options: a
   transformed function keeps its table on itself, every other kind has a bounded
   :class:`~chainrule.memo.CompileCache` here;
2. the progress line of a compilation longer than a second;
3. for transformed functions, the disk cache lookup (:mod:`chainrule.cache.disk` makes the key,
   :mod:`chainrule.cache.store` holds the entries);
4. the front end and the passes before differentiation (:func:`build_ir`), the kind's IR
   transform, the passes after it (clean-up, kink instrumentation);
5. the backend :class:`~chainrule.backend.executable.Executable` with its kink handler and the
   hook that compiles again when a global or closure value it was compiled with changed; then
   the disk cache store.

It also holds the compile-time settings a held transform is reused under (:func:`settings`).
Nothing here imports the public modules: they import it.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from .backend.codegen import EXTRA_GLOBALS
from .backend.executable import Executable, owner_label
from .cache import disk
from .cache.key import Dependencies
from .errors import NotCacheable
from .frontend.compile import compile_function
from .ir.builder import Names
from .ir.compiled import Compiled, flatten, kinds_key, placeholder_args
from .ir.nodes import Var
from .ir.outside import from_json as outside_from_json
from .memo import CompileCache
from .passes import kinks as _kinks
from .passes import user as user_passes
from .passes.array_cse import array_cse
from .passes.cleanup import dead_code, simplify
from .passes.scalar_opt import optimize
from .passes.scalarize import scalarize
from .passes.specialize import known_sizes_of, sizes_for_build
from .progress import compiling
from .rewrites import before_differentiation
from .transforms import wrap


# -- front end -------------------------------------------------------------------------------
def build_ir(fn: Any, args: tuple, names: Names, deps: Any = None) -> Compiled:
    """The IR of ``fn`` (a Python function or a transformed one) for ``args``: the front end
    and the passes before differentiation."""
    kind = type(fn)  # (not ``fn``: a bound method passes attribute reads on to its function)
    if getattr(kind, "__chainrule_transform__", False) and hasattr(kind, "build"):
        return fn.build(args, names, deps)
    compiled = compile_function(fn, args, names, deps)
    sizes = sizes_for_build(fn, args, compiled.fn)
    compiled.fn = array_cse(optimize(before_differentiation(scalarize(compiled.fn, names, sizes),
                                                            names)))
    compiled.fn = user_passes.run("before", compiled.fn, names)
    if _kinks.collecting() is not None:
        _kinks.note_primal(compiled.fn)
    else:  # (kink reporting finds sites among values the derivative code does not need)
        compiled.fn = dead_code(compiled.fn)
    return compiled


def build_top(transformed: Any, args: tuple) -> Compiled:
    """The IR a transformed function runs for ``args`` (compiled afresh, not cached)."""
    return transformed.build_top(args, Names())


# -- the pipeline ----------------------------------------------------------------------------
# kind -> step(base, fn, args, names, options) -> Compiled: the IR transform of the kind
_STEPS: dict = {}
_MEMOS: dict = {}  # kind -> CompileCache


def register_kind(kind: str, step: Any) -> None:
    """Compile ``kind`` with ``step(base, fn, args, names, options) -> Compiled``, which
    transforms ``base`` (the front end's IR of ``fn`` for ``args``)."""
    _STEPS[kind] = step
    _MEMOS.setdefault(kind, CompileCache())


def compile(kind: str, fn: Any, args: tuple, options: dict | None = None) -> Executable:
    """The Executable of ``fn`` under ``kind`` for arguments of the kinds of ``args``.

    ``"transform"``: ``fn`` is a transformed function (its options are its own). Other kinds:
    ``options`` holds ``backend``, ``kinks`` (None or a reporting mode) and what the kind's step
    reads; ``holder`` (not part of the key) is the object the in-memory entry is kept under
    (default ``fn``). ``exe.primal`` is then the untransformed function's record (its argument
    and result structures)."""
    if kind == "transform":
        exe = fn._cache.get((kinds_key(args), known_sizes_of(fn, args)))
        if exe is None:
            with compiling(owner_label(fn, fn.__name__)):
                exe = _transform_executable(fn, args)
            fn._cache[(kinds_key(args), known_sizes_of(fn, args))] = exe
        return exe
    options = dict(options or {})
    holder = options.pop("holder", fn)
    memo = _MEMOS[kind]
    chosen = tuple(sorted(options.items()))
    exe = memo.get(holder, (kinds_key(args), known_sizes_of(fn, args), chosen))
    if exe is None:  # (the sizes it is specialised on are known after building)
        with compiling(owner_label(fn, f"{kind}({getattr(fn, '__name__', 'f')})")):
            exe = _executable(kind, fn, args, options)
        memo.put(holder, (kinds_key(args), known_sizes_of(fn, args), chosen), exe)
    return exe


def _executable(kind: str, fn: Any, args: tuple, options: dict) -> Executable:
    step = _STEPS[kind]
    names = Names()
    kinks = options.get("kinks")
    if kinks is None:
        base = build_ir(fn, args, names)
        compiled = step(base, fn, args, names, options)
        compiled.fn = simplify(compiled.fn, names)
    else:
        with _kinks.collect() as col:
            base = build_ir(fn, args, names)
            compiled = step(base, fn, args, names, options)
        seeds = [x for t in base.arg_templates for _, x in flatten(t)
                 if isinstance(x, Var) and x.type.is_float]
        _kinks.instrument(compiled, col, seeds, names)
    exe = Executable(compiled, copy_args=True, backend=options.get("backend"), owner=fn)
    exe.primal = base
    if kinks is not None:
        exe.kink_handler = functools.partial(_kinks.report, kinks)
    exe.rebuild = functools.partial(_executable, kind, fn, placeholder_args(args), options)
    return exe


def _transform_executable(transformed: Any, args: tuple) -> Executable:
    copy_args = transformed.kind != "jit"
    exe = _from_disk(transformed, args, copy_args) if disk.enabled() else None
    if exe is None:
        exe = _built(transformed, args, copy_args)
    if transformed.kinks is not None:
        exe.kink_handler = functools.partial(_kinks.report, transformed.kinks, owner=transformed)
    exe.rebuild = functools.partial(_transform_executable, transformed, placeholder_args(args))
    return exe


def _from_disk(transformed: Any, args: tuple, copy_args: bool) -> Executable | None:
    """The Executable of a valid disk cache entry, or None."""
    _, payload, consts = disk.lookup(transformed, args, copy_args, transformed.backend)
    if payload is None:
        return None
    located = payload.get("outside")
    outside = None if located is None else outside_from_json(located,
                                                             disk.top_cells(transformed))
    if located is not None and outside is None:  # (a value it reads cannot be found again)
        return None
    try:
        return Executable(None, copy_args, transformed.backend, payload=payload,
                          consts={**EXTRA_GLOBALS, **consts}, outside=outside, owner=transformed)
    except NotCacheable:  # (a result class that cannot be found any more)
        return None


def _built(transformed: Any, args: tuple, copy_args: bool) -> Executable:
    """Compile: front end, transforms, passes, backend; then store the entry on disk."""
    deps = Dependencies()
    compiled = transformed.build_top(args, Names(), deps)
    exe = Executable(compiled, copy_args, transformed.backend, owner=transformed)
    deps.record_code(compiled.fn)
    if disk.enabled() and deps.ok:
        try:
            payload = exe.payload(disk.top_cells(transformed))
        except NotCacheable:
            return exe
        # Globals of user emissions are dependencies, not constants of the entry.
        consts = {k: v for k, v in exe.consts.items() if k not in EXTRA_GLOBALS}
        disk.save(transformed, args, copy_args, transformed.backend, deps.as_json(), payload,
                  consts)
    return exe


def ir_of(transformed: Any, args: tuple) -> Compiled:
    """The IR ``transformed`` runs for ``args`` (rebuilt when the code came from the disk
    cache)."""
    exe = compile("transform", transformed, args)
    if exe.compiled is None:
        exe.compiled = build_top(transformed, args)
    return exe.compiled


def _jvp_step(base: Compiled, fn: Any, args: tuple, names: Names, options: dict) -> Compiled:
    return wrap.jvp_ir(base, wrap.Signature(base.arg_templates), names)[0]


def _vjp_step(base: Compiled, fn: Any, args: tuple, names: Names, options: dict) -> Compiled:
    return wrap.vjp_ir(base, wrap.Signature(base.arg_templates), names)[0]


register_kind("jvp", _jvp_step)
register_kind("vjp", _vjp_step)


# -- compile-time settings -------------------------------------------------------------------
# Settings read when code is compiled: a transform made under others is not reused.
_ENVIRONMENT = ("CHAINRULE_BACKEND", "CHAINRULE_BOUNDS_CHECK", "CHAINRULE_CACHE",
                "CHAINRULE_CACHE_DIR", "CHAINRULE_VERIFY", "CHAINRULE_FUSION")
_FAST: list = []  # [environment object, its mapping, the names as that mapping stores them]


def settings() -> tuple:
    """The values of the compile-time settings (``os.environ.get`` six times costs more than
    reusing a transform; the environment's own mapping is read directly where it has one)."""
    env = os.environ
    if _FAST and _FAST[0] is env:
        return tuple(map(_FAST[1].get, _FAST[2]))
    data, encode = getattr(env, "_data", None), getattr(env, "encodekey", None)
    if not isinstance(data, dict) or encode is None:
        return tuple(map(env.get, _ENVIRONMENT))
    _FAST[:] = [env, data, list(map(encode, _ENVIRONMENT))]
    return tuple(map(data.get, _FAST[2]))


__all__ = ["build_ir", "compile", "ir_of", "register_kind", "settings"]
