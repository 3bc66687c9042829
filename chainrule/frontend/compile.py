"""Entry point of the front end: a Python callable plus example arguments -> IR Function.

Arguments are pytrees (tuples, lists, dicts) whose leaves are scalars or NumPy arrays; each
dynamic leaf becomes one IR parameter, typed by dtype and ndim only, so one compilation serves
all sizes. Other leaves (functions, None, strings) are compile-time constants. The result's
structure is recorded so results can be rebuilt into the user's pytree.
"""

from __future__ import annotations

import ast
import functools
import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ChainruleTypeError, Loc
from ..ir.builder import Builder, Names
from ..ir.nodes import Const, Function, Var
from ..ir.types import Type
from ..ir.verify import verified
from .calls import CallMixin
from .exprs import ExprMixin
from .frames import Frame, JoinMixin
from .source import loc_of
from .stmts import StmtMixin
from .values import flatten, is_atom, rebuild
from .views import ViewMixin


class Lowerer(StmtMixin, ExprMixin, CallMixin, JoinMixin, ViewMixin):
    """Python AST -> IR, by abstract interpretation over frames (see the mixins)."""

    def __init__(self, builder: Builder, deps: Any = None):
        self.b = builder
        self.frames: list[Frame] = []
        self.depth: dict = {}
        self.deps = deps
        self.views: dict = {}  # view Var name -> ViewInfo (see .views)
        self.writes: dict = {}  # array Var name -> number of writes into it so far
        self.rederived: set[str] = set()  # views re-made from their root before a use
        self.nonneg_ids: dict = {}  # name -> int Var known to be >= 0 (range loop indices)

    @property
    def frame(self) -> Frame:
        return self.frames[-1]

    def set_loc(self, node: ast.AST) -> None:
        if self.frames and hasattr(node, "lineno"):
            f = self.frame
            self.b.loc = Loc(f.file, node.lineno, node.col_offset, f.name)

    def error_at(self, node: Any, message: str, hint: str | None):
        from ..errors import UnsupportedSyntaxError

        if not self.frames or node is None:
            return UnsupportedSyntaxError(message, self.b.loc, hint)
        f = self.frame
        loc = loc_of(node, f.file, f.name)
        return UnsupportedSyntaxError(message, loc, hint)

    def binop_add(self, a: Any, b: Any) -> Any:
        return self.binop(ast.Add(), a, b, None)


# -- argument kinds ------------------------------------------------------------------------
def leaf_type(x: Any) -> Type | None:
    """IR type of a dynamic argument leaf, or None for a compile-time constant leaf."""
    if isinstance(x, (bool, np.bool_)):
        return Type("bool")
    if isinstance(x, (int, np.integer)):
        return Type("int64")
    if isinstance(x, np.float32):
        return Type("float32")
    if isinstance(x, (float, np.floating)):
        return Type("float64")
    if isinstance(x, np.ndarray):
        kind = x.dtype.kind
        if x.dtype == np.float32:
            return Type("float32", x.ndim)
        if kind == "f":
            return Type("float64", x.ndim)
        if kind in "iu":
            return Type("int64", x.ndim)
        if kind == "b":
            return Type("bool", x.ndim)
        raise ChainruleTypeError(f"arrays of dtype {x.dtype} are not supported",
                                 hint="use float64, float32, integer or bool arrays")
    return None


def kinds_key(args: Any) -> Any:
    """A hashable description of the arguments' kinds (dtype, ndim, structure, statics)."""
    if isinstance(args, tuple):
        return ("T",) + tuple(kinds_key(a) for a in args)
    if isinstance(args, list):
        return ("L",) + tuple(kinds_key(a) for a in args)
    if isinstance(args, dict):
        return ("D",) + tuple((k, kinds_key(v)) for k, v in args.items())
    t = leaf_type(args)
    if t is not None:
        return t
    try:
        hash(args)
        return ("S", args)
    except TypeError:
        return ("S", id(args))


def argument_values(names: list[str], args: tuple, b: Builder) -> tuple[list, list]:
    """IR parameters for the dynamic leaves of ``args`` and the values to bind."""
    params: list[Var] = []
    values = []

    def walk(x: Any, path: str) -> Any:
        if isinstance(x, (tuple, list)):
            items = [walk(v, f"{path}_{i}") for i, v in enumerate(x)]
            return tuple(items) if isinstance(x, tuple) else items
        if isinstance(x, dict):
            return {k: walk(v, f"{path}_{k}" if str(k).isidentifier() else f"{path}_{i}")
                    for i, (k, v) in enumerate(x.items())}
        t = leaf_type(x)
        if t is None:
            from .values import from_python

            return from_python(x)
        var = Var(b.names.fresh(path), t)
        params.append(var)
        return var

    for name, a in zip(names, args):
        values.append(walk(a, name))
    return params, values


def parameter_names(fn: Any, n: int) -> list[str]:
    target = fn
    while isinstance(target, functools.partial):
        target = target.func
    inner = getattr(target, "__wrapped_fn__", None)
    if inner is not None:
        return parameter_names(inner, n)
    try:
        sig = inspect.signature(target)
        names = [p.name for p in sig.parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        names = []
    names = [nm if nm.isidentifier() else f"a{i}" for i, nm in enumerate(names)]
    names += [f"a{i}" for i in range(len(names), n)]
    return names[:n]


@dataclass
class Compiled:
    fn: Function
    out_template: Any  # the result's structure, leaves are the IR atoms in ``fn.results``
    arg_templates: list | None = None  # per argument: its structure with IR params as leaves


@verified("front end")
def compile_function(fn: Any, args: tuple, names: Names | None = None, deps: Any = None
                     ) -> Compiled:
    """Lower ``fn(*args)`` to an IR Function over the dynamic leaves of ``args``
    (``deps``, if given, records the module globals the function reads)."""
    b = Builder(names or Names())
    pnames = parameter_names(fn, len(args))
    params, values = argument_values(pnames, args, b)
    lw = Lowerer(b, deps)
    target = fn
    kwargs: dict = {}
    while isinstance(target, functools.partial):
        values = [*(_const_leaf(a) for a in target.args), *values]
        kwargs = {**{k: _const_leaf(v) for k, v in target.keywords.items()}, **kwargs}
        target = target.func
    result = lw.call(target, values, kwargs, None)
    leaves = [a for _, a in flatten(result)]
    name = getattr(target, "__name__", "f")
    name = name if name.isidentifier() else "f"
    out = Function(name, params, _drop_unused(b.block, lw.rederived, leaves), leaves)
    return Compiled(out, rebuild(result, list(leaves)) if leaves else result, list(values))


def _drop_unused(body: list, names: set, results: list) -> list:
    """Remove re-made views (see .views) that nothing reads, so that transforms never see
    (or save) them."""
    if not names:
        return body
    from ..ir.nodes import Function as Fn
    from ..passes.cleanup import _prune, _reads

    while True:
        live = _reads(Fn("f", [], body, results)) | (_assigned_except(body, names))
        body, changed = _prune(body, live)
        if not changed:
            return body


def _assigned_except(body: list, names: set) -> set:
    from ..ir.nodes import block_writes

    return {v.name for v in block_writes(body) if v.name not in names}


def _const_leaf(x: Any) -> Any:
    from .values import from_python

    return from_python(x)


__all__ = ["Compiled", "Const", "compile_function", "is_atom", "kinds_key", "leaf_type"]
