"""Cache keys: named, JSON-able descriptions of everything a compiled function depends on.

``key_parts(transformed, args, backend)`` describes the function (module, qualname, file, a hash
of its source, its closure values and defaults), the transform stack, the argument kinds (dtype,
ndim, structure and compile-time arguments), the options and the library versions. Each part
is named so that a miss can be explained part by part. Globals the compiled code read are not
known before compiling; they are recorded as *dependencies* while compiling and validated when
an entry is loaded. Anything that cannot be described (an arbitrary object) makes the call
uncacheable rather than risking a wrong hit.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import linecache
import platform
import sys
import types
from typing import Any

import numpy as np

from ..errors import NotCacheable
from ..ir.outside import is_input_array
from ..version import __version__

FORMAT = 1




def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:24]


def function_source(fn: types.FunctionType) -> str:
    code = fn.__code__
    lines = linecache.getlines(code.co_filename, fn.__globals__)
    if not lines:
        raise NotCacheable(f"no source for {fn.__qualname__}")
    try:
        block = inspect.getblock(lines[code.co_firstlineno - 1:])
    except Exception as exc:
        raise NotCacheable(str(exc)) from None
    return "".join(block)


def _body_column(code: types.CodeType) -> int:
    """The first column of a function's code: tells apart lambdas sharing a line (whose
    source block is the same)."""
    cols = [c for (_, _, c, _) in code.co_positions() if c]
    return min(cols, default=0)


def describe(value: Any, depth: int = 0, inputs: bool = False) -> Any:
    """A JSON-able description of a compile-time value; raises NotCacheable. With ``inputs``
    (a value read from a global or a closure cell), arrays are described by dtype and ndim
    only: the generated code reads them at each call (chainrule.ir.outside)."""
    if depth > 20:
        raise NotCacheable("value nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float, np.integer, np.floating, np.bool_)):
        return {"num": repr(value), "type": type(value).__name__}
    if inputs and is_input_array(value):
        return {"input": value.dtype.char, "ndim": value.ndim}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise NotCacheable(f"array of dtype {value.dtype}")
        data = np.ascontiguousarray(value)
        return {"array": _sha(data.tobytes()), "dtype": str(value.dtype),
                "shape": list(value.shape)}
    if isinstance(value, (tuple, list)):
        return {type(value).__name__: [describe(v, depth + 1, inputs) for v in value]}
    if isinstance(value, dict):
        return {"dict": [[repr(k), describe(v, depth + 1, inputs)] for k, v in value.items()]}
    if isinstance(value, types.ModuleType):
        return {"module": value.__name__}
    if getattr(value, "__chainrule_transform__", False):
        return {"transform": value.kind, "argnums": list(value.argnums),
                "tuple": value.argnums_tuple, "has_aux": value.has_aux,
                "params": describe(getattr(value, "cache_params", None), depth + 1),
                "checkpoint": getattr(value, "checkpoint", False),
                "fn": describe(value.fn, depth + 1)}
    if getattr(value, "__chainrule_custom__", False):  # custom_jvp / custom_vjp: the rules too
        return {"custom": type(value).__name__,
                **{k: describe(getattr(value, k, None), depth + 1)
                   for k in ("fun", "jvp", "fwd", "bwd")}}
    if getattr(value, "__chainrule_opaque__", False):
        desc = value.describe()
        if desc is None:
            raise NotCacheable("an opaque function without an import path")
        return desc
    if isinstance(value, functools.partial):
        return {"partial": describe(value.func, depth + 1),
                "args": describe(value.args, depth + 1),
                "keywords": describe(dict(value.keywords), depth + 1)}
    if isinstance(value, types.FunctionType):
        mod = getattr(value, "__module__", None) or ""
        if mod.split(".")[0] in ("numpy", "math", "chainrule") and \
                not mod.startswith(("chainrule.examples", "chainrule.testing")):
            return {"libfunc": f"{mod}.{value.__qualname__}"}
        closure = {}
        for name, cell in zip(value.__code__.co_freevars, value.__closure__ or ()):
            try:
                closure[name] = describe(cell.cell_contents, depth + 1, inputs=True)
            except ValueError:
                closure[name] = "<empty>"
        return {"function": value.__qualname__, "module": mod,
                "file": value.__code__.co_filename, "line": value.__code__.co_firstlineno,
                "column": _body_column(value.__code__),
                "source": _sha(function_source(value).encode()),
                "closure": closure,
                "defaults": describe(value.__defaults__ or (), depth + 1)}
    if isinstance(value, types.MethodType) and isinstance(value.__func__, types.FunctionType):
        return {"method": describe(value.__func__, depth + 1),
                "receiver": _kinds(value.__self__)}
    if isinstance(value, type):  # a class the code builds objects of, or reads from
        from ..pytree import library_module

        if library_module(value.__module__ or ""):
            return {"class": f"{value.__module__}.{value.__qualname__}"}
        return describe_class(value)
    if isinstance(value, (types.BuiltinFunctionType, np.ufunc)):
        return {"builtin": f"{getattr(value, '__module__', None)}.{value.__name__}"}
    raise NotCacheable(f"cannot describe a {type(value).__name__}")


def _kinds(args: Any) -> Any:
    """Argument kinds: dtype/ndim of dynamic leaves, descriptions of compile-time ones."""
    from .. import pytree
    from ..ir.compiled import leaf_type

    kind = pytree.node_kind(args)
    if kind in ("tuple", "list"):
        return {kind: [_kinds(a) for a in args]}
    if kind == "dict":
        return {"dict": [[repr(k), _kinds(v)] for k, v in args.items()]}
    if kind is not None:  # NamedTuple, dataclass or plain object: its class is part of the key
        return {kind: describe_class(type(args)),
                "items": [[k, _kinds(v)] for k, v in pytree.items(args)]}
    t = leaf_type(args)
    if t is not None:
        return str(t)
    return {"static": describe(args)}


def describe_class(cls: type) -> dict:
    """A class by name and the source of every user class in its MRO (its methods may be
    compiled); raises NotCacheable when a source cannot be read."""
    sources = []
    for c in cls.__mro__:
        root = (c.__module__ or "").split(".")[0]
        if c is object or root in ("builtins", "typing", "collections", "abc"):
            continue
        try:
            sources.append(_sha(inspect.getsource(c).encode()))
        except (OSError, TypeError):
            if not hasattr(c, "_fields") or any(
                    isinstance(v, types.FunctionType) and v.__module__ != "collections"
                    for v in vars(c).values()):
                raise NotCacheable(f"no source for class {c.__qualname__}") from None
            sources.append(list(c._fields))  # a namedtuple made by a call: its fields
    return {"class": f"{cls.__module__}.{cls.__qualname__}", "sources": sources}


def versions() -> dict:
    out = {"chainrule": __version__, "chainrule_source": _own_source_hash(),
           "numpy": np.__version__,
           "python": platform.python_version(), "format": FORMAT}
    out["numba"] = _numba_version()
    return out


@functools.lru_cache(maxsize=1)
def _own_source_hash() -> str:
    """A hash of chainrule's own source files: generated code depends on its rules."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        if "examples" in path.parts:
            continue
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def _numba_version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version("numba")
    except metadata.PackageNotFoundError:
        return None


def key_parts(transformed: Any, args: tuple, options: dict) -> dict:
    """Named parts of the cache key of ``transformed(*args)``; raises NotCacheable."""
    return {
        "function": describe(transformed),
        "arguments": _kinds(tuple(args)),
        "options": options,
        "versions": versions(),
    }


def describe_rewrites() -> Any:
    """The rewrite rules generated code depends on beyond chainrule's own source: "off", or
    the user-registered rules (name, stage, pattern with its checks, replacement function)."""
    from .. import rewrites

    if not rewrites.enabled():
        return "off"
    return [{"name": r.name, "stage": r.stage, "pattern": _describe_pattern(r.pattern),
             "replacement": describe(r.build)} for r in rewrites.user_rules()]


def describe_user_passes() -> Any:
    """The passes users added to the pipeline (chainrule.plugins): stage, name, source."""
    from ..passes import user

    return [[stage, name, describe(fn)] for stage, name, fn in user.registered()]


def _describe_pattern(p: Any) -> Any:
    from ..rewrites.patterns import ConstPattern, OpPattern, VarPattern

    if isinstance(p, OpPattern):
        return {"op": p.prim, "args": [_describe_pattern(a) for a in p.args],
                "params": [[k, _describe_pattern(v)] for k, v in sorted(p.params.items())],
                "name": p.name}
    if isinstance(p, VarPattern):
        return {"var": p.name, "check": describe(p.check)}
    if isinstance(p, ConstPattern):
        return {"const": describe(p.value), "name": p.name}
    return describe(p)  # (a parameter's value)


def digest(parts: dict) -> str:
    return _sha(json.dumps(parts, sort_keys=True).encode())


class Dependencies:
    """Globals read while compiling: (module, name, description), validated on load."""

    def __init__(self) -> None:
        self.items: dict[tuple, Any] = {}
        self.ok = True

    def record(self, module: str | None, name: str, value: Any) -> None:
        if module is None:
            self.ok = False
            return
        try:
            self.items[(module, name)] = describe(value, inputs=True)
        except NotCacheable:
            self.ok = False

    def record_code(self, fn: Any) -> None:
        """What the generated code of ``fn`` uses besides chainrule's own rules: primitives a
        user registered (their rule functions) and the globals their emissions name."""
        for prim in _user_primitives(fn):
            self.record_primitive(prim)
        try:
            if any(m == PRIMITIVE for m, _ in self.items):
                for name, value in _extra_globals().items():
                    self.items[(EXTRA, name)] = describe(value)
        except NotCacheable:
            self.ok = False

    def record_primitive(self, prim: Any) -> None:
        """A user primitive the code was compiled with (its rules may have left no trace in
        the generated code: the VJP of a primitive whose value is not needed)."""
        try:
            self.items[(PRIMITIVE, prim.name)] = describe_primitive(prim)
        except NotCacheable:
            self.ok = False

    def record_opaque(self, path: str) -> None:
        """A function the generated code calls by its import path (an opaque call)."""
        self.items[(OPAQUE, path)] = {"path": path}

    def as_json(self) -> list:
        return [[m, n, d] for (m, n), d in sorted(self.items.items())]


PRIMITIVE = "<primitive>"  # dependency kinds that are not module globals
EXTRA = "<emission global>"
OPAQUE = "<opaque call>"


def describe_primitive(prim: Any) -> dict:
    """A user primitive's record, every field of it: rule functions by source and closures,
    kinks by their texts and masks, flags by value."""
    import dataclasses

    out: dict = {}
    for f in dataclasses.fields(prim):
        value = getattr(prim, f.name)
        if f.name in ("name", "doc", "user"):
            continue
        if f.name == "kinks":
            out[f.name] = [[k.kind, k.at, k.returns, k.arg, k.selects,
                            describe(k.mask) if k.mask is not None else None] for k in value]
        elif callable(value):
            out[f.name] = describe(value)
        else:
            out[f.name] = repr(value)
    return out


def _user_primitives(fn: Any) -> list:
    from ..ir.nodes import Assign, Function, walk
    from ..rules import PRIMS

    found: dict = {}
    todo, seen = [fn], set()
    while todo:
        f = todo.pop()
        if id(f) in seen:
            continue
        seen.add(id(f))
        for s in walk(f.body):
            if not isinstance(s, Assign) and not hasattr(s, "prim"):
                continue
            prim = PRIMS[s.prim] if s.prim in PRIMS else None
            if prim is not None and prim.user:
                found[prim.name] = prim
            for _, p in s.params:  # compiled pieces of custom rules
                for attr in ("primal", "rule", "bwd"):
                    if isinstance(getattr(p, attr, None), Function):
                        todo.append(getattr(p, attr))
                for v in (getattr(p, "cache", None) or {}).values():
                    if isinstance(v, Function):
                        todo.append(v)
    return list(found.values())


def _extra_globals() -> dict:
    from ..backend.codegen import EXTRA_GLOBALS

    return EXTRA_GLOBALS


def _special_dependency(kind: str, name: str, desc: Any) -> str | None:
    """``dependencies_hold`` for a registered primitive or an emission global."""
    from ..rules import PRIMS

    try:
        if kind == PRIMITIVE:
            if name not in PRIMS:
                return f"primitive {name} is not registered"
            now = describe_primitive(PRIMS[name])
        else:
            if name not in _extra_globals():
                return f"emission global {name} is not registered"
            now = describe(_extra_globals()[name])
    except NotCacheable:
        return f"{name} cannot be described any more"
    if json.dumps(now, sort_keys=True) != json.dumps(desc, sort_keys=True):
        return f"the rules of {name} changed" if kind == PRIMITIVE else f"{name} changed"
    return None


def dependencies_hold(deps: list) -> str | None:
    """None when every recorded global still has its recorded value, else what changed."""
    for module, name, desc in deps:
        if module == OPAQUE:
            from ..runtime import opaque_function

            try:
                opaque_function(name)
            except (ImportError, AttributeError):
                return f"{name} cannot be imported any more"
            continue
        if module in (PRIMITIVE, EXTRA):
            why = _special_dependency(module, name, desc)
            if why is not None:
                return why
            continue
        mod = sys.modules.get(module)
        if mod is None:
            return f"module {module} is not loaded"
        if name not in mod.__dict__:
            return f"{module}.{name} no longer exists"
        try:
            now = describe(mod.__dict__[name], inputs=True)
        except NotCacheable:
            return f"{module}.{name} cannot be described any more"
        if json.dumps(now, sort_keys=True) != json.dumps(desc, sort_keys=True):
            return f"{module}.{name} changed"
    return None
