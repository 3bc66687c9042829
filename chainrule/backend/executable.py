"""Generated code for one compiled function, loaded with the chosen backend and ready to call.

Backends: ``"numba"`` (``numba.njit`` of the generated source; the default), ``"numpy"``
(plain execution of the generated source, the reference). With the default choice, code Numba
cannot compile falls back to the NumPy backend with one :class:`BackendFallbackWarning` per user
function; asking for ``backend="numba"`` explicitly raises instead. Only compile-time errors
(typing, lowering) fall back: the code is compiled for the call's argument types before it runs,
and an exception raised while running it propagates unchanged. ``CHAINRULE_BACKEND`` sets the
default. With the default choice, a Numba compilation still running after a short wait goes on
in a background thread while the calls run on NumPy (:mod:`.background`).
"""

from __future__ import annotations

import functools
import os
import warnings
from typing import Any

import numpy as np

from .. import pytree
from ..errors import BackendFallbackWarning, ChainruleError, NotCacheable
from ..ir.compiled import Compiled, leaf_type, rebuild
from ..ir.outside import Outside, Reader
from ..ir.outside import to_json as outside_to_json
from ..passes.kinks import Site
from ..passes.kinks import report as report_kinks
from ..progress import compiling
from . import background, fused_emit, numba_backend
from .codegen import generate
from .loader import load_source

BACKENDS = ("numba", "numpy")


class BackendError(ChainruleError):
    """The requested backend cannot run this function."""


def default_backend() -> str:
    choice = os.environ.get("CHAINRULE_BACKEND", "auto")
    if choice not in BACKENDS + ("auto",):
        raise BackendError(f"CHAINRULE_BACKEND={choice!r}: use 'numba', 'numpy' or 'auto'")
    return choice


def resolve_backend(backend: str | None) -> str:
    requested = backend or default_backend()
    if requested not in BACKENDS + ("auto",):
        raise BackendError(f"unknown backend {requested!r}; use 'numba' or 'numpy'")
    return requested


class Executable:
    """Compiled code for one function and argument kinds.

    Built either from IR (``compiled``) or from a cache payload (``payload``, ``consts``): the
    generated sources for both backends, the result template and the argument policy.
    """

    _compile_errors: tuple = ()  # exceptions of a call that mean "cannot compile"

    def __init__(self, compiled: Compiled | None, copy_args: bool, backend: str | None = None,
                 payload: dict | None = None, consts: dict | None = None,
                 outside: Outside | None = None, owner: Any = None):
        self.compiled = compiled
        self.owner = owner  # the user's function (or a transform of it), named in warnings
        self.copy_args = copy_args
        self.requested = resolve_backend(backend)
        self.fallback_reason: str | None = None
        self.compiled_ok = False
        self._job: background.Compilation | None = None  # Numba compiling in a thread
        # Called (no arguments) to compile again when a global or closure value the code
        # depends on changed (set by the owner; see chainrule.ir.outside).
        self.rebuild: Any = None
        # For a transform applied at the call (jvp, vjp, jet, ...): the untransformed
        # function's record, whose argument and result structures the caller needs.
        self.primal: Compiled | None = None
        if payload is None:
            outside = compiled.fn.meta.get("outside")
            fn = _hidden_inputs_last(compiled.fn, outside)
            src_np, consts = generate(fn)
            src_nb, _ = fused_emit.numba_source(numba_backend.reserve_tapes(fn),
                                                numba_backend.HEADER, numba_backend.overrides())
            self.name = fn.name
            self.sources = {"numpy": src_np, "numba": src_nb}
            self.out_template = compiled.out_template
        else:
            self.name = payload["name"]
            self.sources = dict(payload["sources"])
            self.out_template = decode_template(payload["out_template"])
        self.consts = consts or {}
        if payload is None:
            self.writes_params = writes_params(compiled.fn)
        else:
            self.writes_params = bool(payload.get("writes_params", True))
        self.copy_args = copy_args and self.writes_params
        self._single = _is_leaf(self.out_template)
        self._rebuild_res = result_builder(self.out_template)
        # Kink reporting (passes/kinks.py): the code returns one more result, the counts per
        # site, which ``kink_handler`` (set by the owner) acts on. None: not instrumented.
        if payload is None:
            self.kink_sites = getattr(compiled, "kink_sites", None)
        else:
            sites = payload.get("kink_sites")
            self.kink_sites = None if sites is None else [Site.from_json(d) for d in sites]
        if self.kink_sites is not None:
            self.kink_handler = functools.partial(report_kinks, "warn")
        self.outside = outside or None
        self._reader = Reader(outside) if outside else None
        self._choose_call()
        if self.requested != "numpy" and numba_backend.available():
            self.backend = "numba"
            self.source = self.sources["numba"]
            self.py = numba_backend.jit(load_source(self.name, self.source, self.consts))
            self._compile_errors = numba_backend.compile_errors()
        elif self.requested == "numba":
            raise BackendError("the Numba backend was requested but Numba is not available")
        else:
            self._use_numpy()

    def _use_numpy(self) -> None:
        self.backend = "numpy"
        self._compile_errors = ()
        self.source = self.sources["numpy"]
        self.py = load_source(self.name, self.source, self.consts)

    def payload(self, top_cells: tuple = ()) -> dict:
        """What the disk cache stores (JSON-able); raises NotCacheable for odd results
        (``top_cells``: the closure of the function the transform applies to)."""

        payload = {"name": self.name, "sources": self.sources,
                   "out_template": encode_template(self.out_template),
                   "writes_params": self.writes_params}
        if self.outside:
            located = outside_to_json(self.outside, top_cells)
            if located is None:
                raise NotCacheable("reads an array from a closure it cannot locate again")
            payload["outside"] = located
        if self.kink_sites is not None:
            payload["kink_sites"] = [site.to_json() for site in self.kink_sites]
        return payload

    def leaves(self, args: tuple) -> list:
        out = pytree.leaf_values(args, _is_dynamic)
        if self.copy_args:
            out = [x.copy() if isinstance(x, np.ndarray) else x for x in out]
        return out

    def run_flat(self, flat: list) -> Any:
        if self._reader is not None:
            flat = list(flat) + list(self.outside_values())
        if self.backend == "numba" and not self.compiled_ok:
            self._compile_numba(flat)
            self.compiled_ok = True
        res = self._run(flat)
        if self.kink_sites is not None:
            res = self._kinks(res)
        return self._rebuild_res(res)

    def _compile_numba(self, flat: list) -> None:
        """Compile for the types of ``flat`` without running; fall back (or raise) if Numba
        cannot. Nothing of the user's program runs here, so any exception is a compile error.
        With the default backend choice, a compilation still running after
        ``background.wait_seconds()`` goes on in a thread and the calls run on NumPy."""
        label = owner_label(self.owner, self.name)
        try:
            types = tuple(self.py.typeof_pyval(a) for a in flat)
            wait = background.wait_seconds() if self.requested == "auto" else float("inf")
            if wait == float("inf"):
                with compiling(label, "Numba compiling"):
                    self.py.compile(types)
                return
            job = background.Compilation(self.py, types, label)
            finished = job.wait(wait)  # (no progress line: a longer one is announced below)
        except Exception as exc:
            self._numba_failed(exc)
            return
        if finished:
            if job.error is not None:
                self._numba_failed(job.error)
            return
        job.announce_background()
        self._job, self._numba_py = job, self.py
        self._numpy_py = load_source(self.name, self.sources["numpy"], self.consts)
        self.py = self._while_compiling

    def _while_compiling(self, *args):
        """``self.py`` while Numba compiles in the background: the NumPy code, until the
        compilation is done; then the Numba code from that call on (or the NumPy backend for
        good, with the fallback warning, if Numba could not compile it)."""
        job = self._job
        if job is None or not job.done():
            return self._numpy_py(*args)
        self._finish_background()
        return self.py(*args)

    def _finish_background(self) -> None:
        job, self._job = self._job, None
        self.py = self._numba_py
        if job.error is not None:
            self._numba_failed(job.error)
        else:
            job.announce_switch()

    @property
    def compiling_in_background(self) -> bool:
        """Whether Numba is still compiling this function in a thread (calls run on NumPy)."""
        return self._job is not None and not self._job.done()

    def wait_for_numba(self, timeout: float | None = None) -> bool:
        """Block until a background Numba compilation ends and switch to its code; whether the
        calls now run on Numba."""
        job = self._job
        if job is not None:
            if not job.wait(timeout):
                return False
            self._finish_background()
        return self.backend == "numba" and self.compiled_ok

    def _run(self, args) -> tuple:
        try:
            return self.py(*args)
        except self._compile_errors as exc:
            return self._recompiled(exc, args)

    def _recompiled(self, exc: Exception, args) -> tuple:
        """Arguments of another layout (a strided view) need a new specialisation, compiled
        inside the call, which failed; run-time errors of the program are never NumbaErrors."""
        self._numba_failed(exc)
        return self.py(*args)

    def _numba_failed(self, exc: Exception) -> None:
        reason = numba_reason(exc)
        if self.requested == "numba":
            raise BackendError(f"Numba cannot compile {self.name}: {reason}",
                               hint="use backend='numpy' (or the default) to run it with NumPy"
                               ) from exc
        self.fallback_reason = reason
        warn_fallback(self.owner, self.name, reason)
        self._use_numpy()

    def _choose_call(self) -> None:
        if self.kink_sites is not None or self._reader is not None:
            self.call_simple = self._call_simple_general

    def call_simple(self, args: tuple) -> Any:
        """Fast path for flat scalar/array arguments after the first call."""
        if self.copy_args:
            args = tuple(a.copy() if type(a) is np.ndarray else a for a in args)
        try:
            res = self.py(*args)
        except self._compile_errors as exc:
            res = self._recompiled(exc, args)
        return res[0] if self._single else self._rebuild_res(res)

    def outside_values(self) -> tuple:
        """The hidden inputs (arrays read from globals and closures) for this call; compiles
        again first when a value the code was compiled with changed."""
        values = self._reader.fast()
        if values is None:
            values = self._reader.values()
            if values is None:
                self._compile_again()
                values = self._reader.values() if self._reader is not None else ()
                if values is None:
                    raise ChainruleError(f"{self.name}: the globals it reads keep changing")
        if self.copy_args:
            values = tuple(v.copy() for v in values)
        return values

    def _compile_again(self) -> None:
        if self.rebuild is None:
            raise ChainruleError(
                f"{self.name}: a module-level or closure value it was compiled with changed",
                hint="create the transform again after changing it")
        fresh = self.rebuild()
        again = self.rebuild
        self.__dict__.clear()
        self.__dict__.update(fresh.__dict__)
        self.rebuild = again
        self.__dict__.pop("call_simple", None)
        self._choose_call()

    def __call__(self, args: tuple) -> Any:
        return self.run_flat(self.leaves(args))

    def _kinks(self, res: tuple) -> tuple:
        """Split off the kink counts (the last result) and act on them."""
        self.kink_handler(self.kink_sites, res[-1], name=self.name)
        return res[:-1]

    def _call_simple_general(self, args: tuple) -> Any:
        """``call_simple`` with hidden inputs and/or kink counts."""
        if self._reader is not None:
            extra = self._reader.fast()
            if extra is None or self.copy_args:
                extra = self.outside_values()
            args = args + extra
        if self.copy_args:
            args = tuple(a.copy() if type(a) is np.ndarray else a for a in args)
        res = self._run(args)
        if self.kink_sites is not None:
            res = self._kinks(res)
        return res[0] if self._single else self._rebuild_res(res)


def _hidden_inputs_last(fn: Any, outside: Outside | None) -> Any:
    """``fn`` with the hidden inputs moved to the end of its parameters (transforms add
    tangents and cotangents after the arguments; hidden inputs always come last)."""
    if not outside or not outside.inputs:
        return fn
    from ..ir.nodes import Function

    hidden = {a.param for a in outside.inputs}
    rest = [p for p in fn.params if p.name not in hidden]
    last = {p.name: p for p in fn.params if p.name in hidden}
    if len(last) != len(hidden):
        raise ChainruleError(f"internal: {fn.name} lost a hidden input parameter")
    params = rest + [last[a.param] for a in outside.inputs]
    return Function(fn.name, params, fn.body, fn.results, fn.loc, fn.meta)


def numba_reason(exc: Exception) -> str:
    """One line saying why Numba failed: its first informative line and the generated line."""
    import re

    lines = [re.sub(r"\x1b\[[0-9;]*m", "", ln).strip() for ln in str(exc).splitlines()]
    lines = [re.sub(r" at 0x[0-9a-f]+", "", ln) for ln in lines if ln]
    what = next((ln for ln in lines if not ln.startswith(("Failed in", "During:"))),
                type(exc).__name__)
    if what.startswith("No implementation of function"):
        call = next((ln[3:].strip() for ln in lines if ln.startswith(">>>")), "")
        what = f"Numba has no implementation of {call}" if call else what
    where = ""
    for i, ln in enumerate(lines):
        m = re.match(r'File "(.*)", line (\d+)', ln)
        if m:
            src = lines[i + 1] if i + 1 < len(lines) else ""
            src = lines[i + 2] if src.startswith("<source") and i + 2 < len(lines) else src
            where = f" at generated line {m.group(2)}: {src}"
            break
    return (what[:200] + where[:120]).strip()


_WARNED: set = set()  # user functions whose fallback was reported


def user_function(owner: Any) -> Any:
    """The user's Python function under transforms and ``functools.partial``."""
    while getattr(owner, "__chainrule_transform__", False):
        owner = owner.fn
    while isinstance(owner, functools.partial):
        owner = owner.func
    return owner


def describe_owner(owner: Any, name: str) -> str:
    """``grad(loss)``: the user's function under its transforms."""
    label = getattr(user_function(owner), "__qualname__", None) or name
    kinds = []
    while getattr(owner, "__chainrule_transform__", False):
        kinds.append(owner.kind)
        owner = owner.fn
    for kind in reversed(kinds):
        label = f"{kind}({label})"
    return label


def owner_label(owner: Any, name: str) -> str:
    """``grad(loss) (file.py:12)``: the user's function under its transforms, and where."""
    code = getattr(user_function(owner), "__code__", None)
    where = f" ({code.co_filename}:{code.co_firstlineno})" if code is not None else ""
    return describe_owner(owner, name) + where


def warn_fallback(owner: Any, name: str, reason: str) -> None:
    """Warn, once per user function, that it runs on the NumPy backend and why; the warning
    points at the user's function (its file and ``def`` line)."""
    target = user_function(owner)
    code = getattr(target, "__code__", None)
    key = (code.co_filename, code.co_firstlineno) if code is not None else name
    if key in _WARNED:
        return
    _WARNED.add(key)
    message = (f"chainrule: {owner_label(owner, name)} runs on the NumPy backend, slower: "
               f"Numba cannot compile it: {reason}")
    if code is None:
        warnings.warn(message, BackendFallbackWarning, stacklevel=2)
        return
    warnings.warn_explicit(message, BackendFallbackWarning, code.co_filename,
                           code.co_firstlineno,
                           module=getattr(target, "__module__", None) or "chainrule")


def encode_template(t: Any) -> Any:
    """JSON form of a result template (atoms become ``{"leaf": 0}``; NamedTuples, dataclasses
    and plain objects are stored by class name and rebuilt from the class on load)."""
    from ..ir.compiled import is_atom

    if is_atom(t):
        return {"leaf": 0}
    kind = pytree.node_kind(t)
    if kind in ("tuple", "list"):
        return {kind: [encode_template(v) for v in t]}
    if kind == "dict":
        if not all(isinstance(k, str) for k in t):
            raise NotCacheable("result dict with non-string keys")
        return {"dict": [[k, encode_template(v)] for k, v in t.items()]}
    if kind is not None:
        cls = type(t)
        if "<locals>" in cls.__qualname__ or _find_class(cls.__module__, cls.__qualname__) \
                is not cls:
            raise NotCacheable(f"result holds a {cls.__qualname__} not found by its name")
        return {kind: [cls.__module__, cls.__qualname__],
                "items": [[k, encode_template(v)] for k, v in pytree.items(t)]}
    if t is None or isinstance(t, (bool, int, float, str)):
        return {"static": t}
    raise NotCacheable(f"result contains a {type(t).__name__}")


def _find_class(module: str, qualname: str) -> Any:
    import sys

    obj: Any = sys.modules.get(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    return obj


def decode_template(d: Any) -> Any:
    from ..ir.builder import const

    if "leaf" in d:
        return const(0.0)
    if "tuple" in d:
        return tuple(decode_template(v) for v in d["tuple"])
    if "list" in d:
        return [decode_template(v) for v in d["list"]]
    if "dict" in d:
        return {k: decode_template(v) for k, v in d["dict"]}
    for kind in ("namedtuple", "object"):
        if kind in d:
            cls = _find_class(*d[kind])
            if not isinstance(cls, type):
                raise NotCacheable(f"class {'.'.join(d[kind])} is not loaded")
            keys = [k for k, _ in d["items"]]
            values = [decode_template(v) for _, v in d["items"]]
            if kind == "namedtuple":
                return cls._make(values)
            proto = object.__new__(cls)
            for k, v in zip(keys, values):
                object.__setattr__(proto, k, v)
            return proto
    return d["static"]


def result_builder(template: Any) -> Any:
    """A function building the result (``template``'s structure) from the tuple of leaves the
    generated code returns; equal to ``rebuild(template, list(res))``, without walking the
    template at every call: plain tuples and lists are built directly, other nodes (NamedTuples,
    dicts, objects) through ``rebuild``."""
    from ..ir.compiled import is_atom

    if type(template) is tuple and all(is_atom(v) for v in template):
        return tuple
    if type(template) is list and all(is_atom(v) for v in template):
        return list

    def part(t: Any) -> Any:  # a function of an iterator over the leaves
        if is_atom(t):
            return next
        if type(t) in (tuple, list):
            parts = [part(v) for v in t]
            kind = type(t)
            return lambda it: kind([f(it) for f in parts])
        n = len(pytree.leaves(t, is_atom)) if pytree.node_kind(t) is not None else 0
        if n == 0:
            return lambda it: rebuild(t, [])
        return lambda it: rebuild(t, [next(it) for _ in range(n)])

    whole = part(template)
    return lambda res: whole(iter(res))


def _is_dynamic(x: Any) -> bool:
    return leaf_type(x) is not None


def _is_leaf(t: Any) -> bool:
    from ..ir.compiled import is_atom

    return is_atom(t)


def writes_params(fn: Any) -> bool:
    """Whether the function may write into the memory of one of its array parameters."""
    from ..ir.nodes import Assign, Effect, walk
    from ..transforms.activity import is_view

    shared = {p.name for p in fn.params if p.type.ndim > 0}
    stmts = list(walk(fn.body))
    changed = True
    while changed:
        changed = False
        for s in stmts:
            if isinstance(s, Assign) and s.out.name not in shared and s.args and \
                    getattr(s.args[0], "name", None) in shared and \
                    (is_view(s) or s.prim == "getitem") and s.out.type.ndim > 0:
                shared.add(s.out.name)
                changed = True
    return any(isinstance(s, Effect) and s.prim != "tape_push" and s.args[0].name in shared
               for s in stmts)
