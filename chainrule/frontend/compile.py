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
import types
from typing import Any, NamedTuple

from .. import pytree
from ..errors import Loc
from ..ir.builder import Builder, Names
from ..ir.compiled import Compiled, kinds_key, leaf_type, placeholder_args  # noqa: F401 (also importable from here)
from ..ir.nodes import Const, Function, Var
from ..ir.verify import verified
from .bounds import BoundsFacts, BoundsMixin, bounds_check_enabled
from .calls import CallMixin
from .debugging import DebugMixin
from .exprs import ExprMixin
from .frames import Frame, JoinMixin, OutsideValues
from .lists import ListMixin
from .objects import ObjectMixin
from .source import loc_of
from .stmts import StmtMixin
from .values import flatten, is_atom, rebuild
from .views import ViewMixin


class Lowerer(DebugMixin, StmtMixin, ExprMixin, CallMixin, ObjectMixin, ListMixin, JoinMixin,
              ViewMixin, BoundsMixin):
    """Python AST -> IR, by abstract interpretation over frames (see the mixins)."""

    def __init__(self, builder: Builder, deps: Any = None):
        self.b = builder
        self.frames: list[Frame] = []
        self.depth: dict = {}
        self.deps = deps
        self.views: dict = {}  # view Var name -> ViewInfo (see .views)
        self.writes: dict = {}  # array Var name -> number of writes into it so far
        self.rederived: set[str] = set()  # views re-made from their root before a use
        self.owned_objects: dict = {}  # id -> (object built by the code, open branches then)
        self.nonneg_ids: dict = {}  # name -> int Var known to be >= 0 (range loop indices)
        self.facts = BoundsFacts()  # what proves indices in bounds (see .bounds)
        self.bounds_check = bounds_check_enabled()
        self.outside = OutsideValues(builder.names)  # globals and closure cells read

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


# -- arguments -----------------------------------------------------------------------------
def argument_values(names: list[str], args: tuple, b: Builder) -> tuple[list, list]:
    """IR parameters for the dynamic leaves of ``args`` and the values to bind (pytree nodes
    are rebuilt around them: see :mod:`chainrule.pytree`)."""
    params: list[Var] = []

    def leaf(x: Any, path: str) -> Any:
        t = leaf_type(x)
        if t is None:
            from .values import from_python

            return from_python(x)
        var = Var(b.names.fresh(path), t)
        params.append(var)
        return var

    values = [pytree.map_tree(leaf, a, name) for name, a in zip(names, args)]
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


class HiddenArgs(NamedTuple):
    """Passed first among the arguments by the API: values that become parameters of the
    compiled function (read at every call, never differentiated) without being positional
    arguments: the object a bound method is bound to, and keyword arguments."""

    receiver: tuple  # () or (the object,)
    keywords: dict  # sorted by name


def split_hidden(args: tuple) -> tuple[HiddenArgs | None, tuple]:
    if args and isinstance(args[0], HiddenArgs):
        return args[0], tuple(args[1:])
    return None, tuple(args)


@verified("front end")
def compile_function(fn: Any, args: tuple, names: Names | None = None, deps: Any = None
                     ) -> Compiled:
    """Lower ``fn(*args)`` to an IR Function over the dynamic leaves of ``args``
    (``deps``, if given, records the module globals the function reads). A leading
    :class:`HiddenArgs` gives the receiver of a bound method and keyword arguments: their
    leaves come first among the parameters, but they are not in ``arg_templates``."""
    b = Builder(names or Names())
    hidden, args = split_hidden(args)
    target = fn
    hidden_params: list = []
    positional: list = []
    kwargs: dict = {}
    if hidden is not None:
        receiver = list(hidden.receiver)
        if receiver:  # a bound method, or an object with a __call__ method
            target = fn.__func__ if isinstance(fn, types.MethodType) else type(fn).__call__
        rnames = parameter_names(target, 1)[:len(receiver)]
        kw = list(hidden.keywords.items())
        hidden_params, hvalues = argument_values(rnames + [k for k, _ in kw],
                                                 tuple(receiver + [v for _, v in kw]), b)
        positional = hvalues[:len(receiver)]
        kwargs = dict(zip([k for k, _ in kw], hvalues[len(receiver):]))
    pnames = parameter_names(fn, len(args))
    params, values = argument_values(pnames, args, b)
    lw = Lowerer(b, deps)
    call_values = positional + list(values)
    while isinstance(target, functools.partial):
        call_values = [*(_const_leaf(a) for a in target.args), *call_values]
        kwargs = {**{k: _const_leaf(v) for k, v in target.keywords.items()}, **kwargs}
        target = target.func
    result = _run_lists_as_arrays(lw, lw.call(target, call_values, kwargs, None))
    leaves = [a for _, a in flatten(result)]
    name = getattr(target, "__name__", "f")
    name = name if name.isidentifier() else "f"
    out = Function(name, hidden_params + params + lw.outside.params,
                   _drop_unused(b.block, lw.rederived, leaves), leaves)
    if lw.outside.record:
        out.meta["outside"] = lw.outside.record
    return Compiled(out, rebuild(result, list(leaves)) if leaves else result, list(values))


def _run_lists_as_arrays(lw: Lowerer, value: Any) -> Any:
    """A list of run-time length in the result is returned as an array (``np.array(xs)``)."""
    from .values import RunList

    if isinstance(value, RunList):
        return lw.list_array(value)
    if pytree.node_kind(value) is None:
        return value
    return pytree.with_children(value, [_run_lists_as_arrays(lw, v)
                                        for _, v in pytree.items(value)])


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


__all__ = ["Compiled", "Const", "HiddenArgs", "compile_function", "is_atom", "kinds_key",
           "leaf_type", "split_hidden"]
