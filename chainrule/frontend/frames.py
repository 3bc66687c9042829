"""Frames (one per inlined function activation), loop contexts, and join/carry machinery.

A :class:`Frame` maps the function's local names to values and knows where to look names up
outside (the enclosing frame of a nested ``def``, closure cells, module globals, builtins).
:class:`JoinMixin` merges environments where control flow meets (after ``if``/``else``, around
a loop's back edge) by copying each differing leaf into a fresh variable, converting types where
NumPy would promote (int -> float), and raising a clear error where kinds cannot meet.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ChainruleTypeError, Loc, UnsupportedSyntaxError
from ..ir.builder import const
from ..ir.nodes import Const, Var
from ..ir.outside import ArrayInput, Guard, Outside, Source, is_input_array, unchecked
from ..ir.types import Type, join_types
from .values import from_python, is_atom, same_structure

_MISSING = object()


@dataclass
class LoopCtx:
    brk: Var | None = None
    cont: Var | None = None


@dataclass(eq=False)
class Frame:
    name: str
    file: str
    globals: dict
    closure: dict = field(default_factory=dict)
    lexical: Frame | None = None  # defining frame of a nested def / lambda
    env: dict = field(default_factory=dict)
    ret_flag: Var | None = None
    ret_leaves: list | None = None  # slot variables for multi-return functions
    ret_template: Any = None
    ret_values: list | None = None  # collected during speculative lowering
    result: Any = None
    loops: list = field(default_factory=list)
    node: Any = None  # the function's AST
    dyn: int = 0  # how many run-time branches/loops of this frame are open
    deps: Any = None  # records the globals read (for the disk cache), or None
    outside: Any = None  # an OutsideValues: how globals and closure cells are read

    def lookup(self, name: str) -> Any:
        frame: Frame | None = self
        while frame is not None:
            if name in frame.env:
                return frame.env[name]
            cell = frame.closure.get(name)
            if cell is not None:
                try:
                    value = cell.cell_contents
                except ValueError:  # an empty cell: as if it were not there
                    value = _MISSING
                if value is not _MISSING:
                    return self.outside.read(Source(name, cell=cell), value)
            if frame.lexical is None and name in frame.globals:
                return self._global(frame.globals, name)
            frame = frame.lexical
        if name in self.globals:
            return self._global(self.globals, name)
        if hasattr(builtins, name):
            return getattr(builtins, name)
        return _MISSING

    def _global(self, globals_: dict, name: str) -> Any:
        value = globals_[name]
        if self.deps is not None:
            self.deps.record(globals_.get("__name__"), name, value)
        return self.outside.read(Source(name, ns=globals_), value)


class OutsideValues:
    """Reads of module globals and closure cells while compiling (see :mod:`..ir.outside`):
    arrays become hidden parameters (one per place and path), other values are guarded."""

    def __init__(self, names: Any):
        self.names = names
        self.record = Outside()
        self.params: list[Var] = []
        self._vars: dict = {}
        self._guarded: set = set()

    def read(self, source: Source, value: Any) -> Any:
        if not is_input_array(value) and not unchecked(value):
            key = source.key()
            if key not in self._guarded:
                self._guarded.add(key)
                self.record.guards.append(Guard(source, value))
        return self._convert(source, value, ())

    def _convert(self, source: Source, value: Any, path: tuple) -> Any:
        if is_input_array(value):
            key = (source.key(), path)
            var = self._vars.get(key)
            if var is None:
                typ = const(value).type
                var = Var(self.names.fresh(source.name if not path else f"{source.name}_k"),
                          typ)
                self._vars[key] = var
                self.params.append(var)
                self.record.inputs.append(
                    ArrayInput(var.name, source, path, value.dtype.char, value.ndim))
            return var
        if type(value) in (tuple, list):
            items = [self._convert(source, v, path + (i,)) for i, v in enumerate(value)]
            return tuple(items) if type(value) is tuple else items
        if type(value) is dict:
            return {k: self._convert(source, v, path + (k,)) for k, v in value.items()}
        return from_python(value)


# Whether a local variable is assigned: ``env["#bound:y"]`` exists only for a variable that
# some path may reach unassigned (it was assigned in one branch, or in a loop that may make no
# trip); it is a bool atom, ``BOUND`` once the variable is assigned for sure. A read of ``y``
# checks it at run time (``check_bound``: UnboundLocalError, as Python), where the variable
# itself holds a placeholder zero.
BOUND_PREFIX = "#bound:"
BOUND = Const(True, Type("bool", 0))
UNBOUND = Const(False, Type("bool", 0))


def bound_key(name: str) -> str:
    return BOUND_PREFIX + name


def with_bound_flags(paths: list) -> list:
    """``paths`` ([(env, block)]) with ``#bound:`` flags for the variables that some paths
    lack or already flag (the envs that get a flag are copied; usually there is none)."""
    envs = [env for env, _ in paths]
    names = dict.fromkeys(k for env in envs for k in env if not k.startswith("#"))  # in order
    flagged = {k[len(BOUND_PREFIX):] for env in envs for k in env if k.startswith(BOUND_PREFIX)}
    need = [n for n in names if n in flagged or any(n not in env for env in envs)]
    if not need:
        return paths
    out = []
    for env, blk in paths:
        env = dict(env)
        for name in need:
            env[bound_key(name)] = env.get(bound_key(name), BOUND) if name in env else UNBOUND
        out.append((env, blk))
    return out


def typed_zero(b, typ: Type) -> Any:
    """A placeholder value of ``typ`` for a variable not yet assigned on some path."""
    if typ.ndim == 0:
        return Const({"bool": False, "int64": 0}.get(typ.dtype, 0.0), typ)
    return b.emit("adj_zero", dtype=typ.dtype, ndim=typ.ndim)


class JoinMixin:
    """Environment joins for if/else and loops; expects ``self.b`` (Builder)."""

    def loc(self) -> Loc | None:
        return self.b.loc

    def convert(self, atom: Any, typ: Type, out: Var | None = None) -> Any:
        """Emit ``out = atom`` converted to ``typ`` (returns the new atom)."""
        if isinstance(atom, Const) and not isinstance(atom.value, np.ndarray) and out is None:
            if atom.type == typ:
                return atom
            pyval = {"float64": float, "float32": float, "int64": int, "bool": bool}[typ.dtype]
            return Const(pyval(atom.value), typ, atom.weak)
        if atom.type.dtype != typ.dtype:
            if typ.ndim == 0 and typ.dtype == "float64":
                return self.b.emit("to_float", atom, out=out)
            return self.b.emit("astype", atom, out=out, dtype=typ.dtype)
        return self.b.emit("id", atom, out=out)

    def join_leaf_type(self, name: str, a: Any, b: Any) -> Type:
        t = join_types(a.type, b.type)
        if t is None:
            raise ChainruleTypeError(
                f"`{name}` holds a {a.type} on one path and a {b.type} on another",
                self.loc(),
                "keep each variable's kind (scalar, or array of one ndim) the same in every "
                "branch and loop iteration; use a new name for the other kind",
            )
        return t

    def check_same_structure(self, name: str, a: Any, b: Any) -> None:
        if not same_structure(a, b):
            raise ChainruleTypeError(
                f"`{name}` has different kinds of value on different paths "
                f"({_describe(a)} vs {_describe(b)})",
                self.loc(),
                "give the variable the same structure on every path, or use separate names",
            )

    def join_envs(self, name_order: list, paths: list) -> dict:
        """Merge environments ``paths`` = [(env, block)]; appends copies to each block."""
        if len(paths) == 1:
            return dict(paths[0][0])
        paths = with_bound_flags(paths)
        base = dict(paths[0][0])
        keys = list(dict.fromkeys(k for env, _ in paths for k in env))
        for key in keys:
            vals = [env.get(key, _MISSING) for env, _ in paths]
            if all(v is vals[0] for v in vals):
                base[key] = vals[0]
                continue
            vals = self.unify_lists(vals, [blk for _, blk in paths])
            present = [v for v in vals if v is not _MISSING]
            ref = present[0]
            for v in present[1:]:
                self.check_same_structure(key, ref, v)
            if not _has_atoms(ref):
                base[key] = ref
                continue
            base[key] = self._join_value(key, vals, [blk for _, blk in paths])
        return base

    def _join_value(self, key: str, vals: list, blocks: list) -> Any:
        from .values import flatten, rebuild

        present = [v for v in vals if v is not _MISSING]
        leaves_per = [[a for _, a in flatten(v)] for v in present]
        n = len(leaves_per[0])
        out_leaves = []
        for i in range(n):
            column = [lv[i] for lv in leaves_per]
            if all(c is column[0] or (isinstance(c, Var) and c == column[0]) for c in column) and (
                len(present) == len(vals)
            ):
                out_leaves.append(column[0])
                continue
            typ = column[0].type
            for c in column[1:]:
                typ = self.join_leaf_type(key, Var("?", typ), c)
            var = self.b.new_var(_base_name(key, i, n), typ)
            out_leaves.append(var)
            for v, blk in zip(vals, blocks):
                with self.b.nested(blk):
                    if v is _MISSING:
                        self.b.emit("id", typed_zero(self.b, typ), out=var)
                    else:
                        self.convert(flatten(v)[i][1], typ, out=var)
        return rebuild(present[0], list(out_leaves))


def _has_atoms(v: Any) -> bool:
    from .values import flatten

    return bool(flatten(v))


def _base_name(key: str, i: int, n: int) -> str:
    base = key if key.isidentifier() and not key.startswith("#") else "v"
    return base if n == 1 else f"{base}_{i}"


def _describe(v: Any) -> str:
    if is_atom(v):
        return str(v.type)
    if isinstance(v, tuple):
        return f"tuple of {len(v)}"
    if isinstance(v, list):
        return f"list of {len(v)}"
    if isinstance(v, dict):
        return "dict"
    return type(v).__name__


def unsupported(node: Any, what: str, hint: str, file: str, func: str) -> UnsupportedSyntaxError:
    loc = Loc(file, getattr(node, "lineno", 0), getattr(node, "col_offset", 0), func)
    return UnsupportedSyntaxError(what, loc, hint)


MISSING = _MISSING
