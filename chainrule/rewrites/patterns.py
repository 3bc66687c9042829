"""The pattern language of rewrite rules: what a rule's left-hand side can say.

A pattern is a tree:

* ``op.<prim>(arg patterns..., **params)`` matches an assignment ``out = prim(args; params)``
  (at the root: the statement being rewritten; below it: the statement that defines an operand,
  found through the definitions the engine knows to be still valid at the root's position).
  Parameters given as keywords must be equal (a missing parameter is ``None``), or may be a
  ``var`` pattern, which binds the parameter's value; a parameter the pattern does not name
  must be off (``None`` or ``False``), so ``op.sum(x)`` never matches a sum over an axis. ``name=`` binds the assignment's result.
  Binary ``add``, ``mul``, ``and_`` and ``or_`` also match with their operands swapped.
* ``var("x")`` matches any operand (a variable or a constant) and binds it to ``x``; a name
  used twice must match the same operand both times. ``check=`` filters it (``is_float``,
  ``is_array``, ``ndim(1)``, or any ``atom -> bool``).
* ``const(1.0)`` matches a scalar constant equal to the value (``-0.0`` and ``0.0`` are
  different constants here; a NaN never matches); ``const(name="c")`` any scalar constant.

Matching never looks at how a variable got its value except through the definitions the engine
passes in (:class:`Definitions`), so a pattern cannot see through a reassignment, a join or an
in-place write.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from ..ir.nodes import Assign, Const, Var

# Operand order does not matter for these (bitwise: IEEE addition and multiplication commute).
COMMUTATIVE = frozenset({"add", "mul", "and_", "or_"})


class Definitions(Protocol):
    def definition(self, var: Var) -> Assign | None:
        """The statement that assigned ``var``'s current value, if it may be matched through."""

    def resolve(self, atom: Any) -> Any:
        """``atom`` with copies (``y = id(x)``) looked through."""


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Var) or isinstance(b, Var):
        return isinstance(a, Var) and isinstance(b, Var) and a.name == b.name
    return a == b


class Pattern:
    """Base class: ``match(atom, defs, env)`` gives the extended bindings or None."""

    def match(self, atom: Any, defs: Definitions, env: dict) -> dict | None:
        raise NotImplementedError

    def names(self) -> list[str]:
        return []


class VarPattern(Pattern):
    def __init__(self, name: str, check: Callable[[Any], bool] | None = None):
        self.name = name
        self.check = check

    def match(self, atom: Any, defs: Definitions, env: dict) -> dict | None:
        atom = defs.resolve(atom)
        if self.name in env:
            return env if _same(env[self.name], atom) else None
        if self.check is not None and not self.check(atom):
            return None
        return {**env, self.name: atom}

    def match_value(self, value: Any, env: dict) -> dict | None:
        """Bind a static parameter's value (not an IR atom)."""
        if self.name in env:
            return env if env[self.name] == value else None
        if self.check is not None and not self.check(value):
            return None
        return {**env, self.name: value}

    def names(self) -> list[str]:
        return [self.name]

    def __repr__(self) -> str:
        return f"var({self.name!r}{', check=' + _fn_name(self.check) if self.check else ''})"


class ConstPattern(Pattern):
    def __init__(self, value: Any = None, name: str | None = None):
        self.value = value
        self.name = name

    def _equal(self, v: Any) -> bool:
        if isinstance(v, (bool, np.bool_)) or isinstance(self.value, bool):
            return type(v) is type(self.value) and v == self.value
        if v != self.value:
            return False  # (NaN is never equal)
        return math.copysign(1.0, v) == math.copysign(1.0, self.value)

    def match(self, atom: Any, defs: Definitions, env: dict) -> dict | None:
        atom = defs.resolve(atom)
        if not isinstance(atom, Const) or atom.type.ndim != 0 or \
                isinstance(atom.value, np.ndarray):
            return None
        if self.value is not None and not self._equal(atom.value):
            return None
        if self.name is None:
            return env
        if self.name in env:
            return env if _same(env[self.name], atom) else None
        return {**env, self.name: atom}

    def names(self) -> list[str]:
        return [self.name] if self.name else []

    def __repr__(self) -> str:
        return f"const({self.value!r}{', name=' + repr(self.name) if self.name else ''})"


class OpPattern(Pattern):
    def __init__(self, prim: str, args: tuple, params: dict, name: str | None = None):
        self.prim = prim
        self.args = tuple(a if isinstance(a, Pattern) else _literal(a) for a in args)
        self.params = params
        self.name = name

    def match(self, atom: Any, defs: Definitions, env: dict) -> dict | None:
        atom = defs.resolve(atom)
        if not isinstance(atom, Var):
            return None
        stmt = defs.definition(atom)
        return None if stmt is None else self.match_stmt(stmt, defs, env)

    def match_stmt(self, stmt: Assign, defs: Definitions, env: dict) -> dict | None:
        if stmt.prim != self.prim or len(stmt.args) != len(self.args):
            return None
        for key, want in self.params.items():
            have = stmt.param(key)
            if isinstance(want, VarPattern):
                env = want.match_value(have, env)
                if env is None:
                    return None
            elif have != want and not (_off(have) and _off(want)):
                return None
        for key, have in stmt.params:
            if key not in self.params and not _off(have):
                return None  # (a parameter the pattern does not name must be off)
        if self.name is not None:
            if self.name in env:
                return None
            env = {**env, self.name: stmt.out}
        orders = [stmt.args]
        if self.prim in COMMUTATIVE and len(stmt.args) == 2:
            orders.append(stmt.args[::-1])
        for args in orders:
            got: dict | None = env
            for pat, arg in zip(self.args, args):
                got = pat.match(arg, defs, got)
                if got is None:
                    break
            if got is not None:
                return got
        return None

    def names(self) -> list[str]:
        out = [self.name] if self.name else []
        for p in list(self.args) + list(self.params.values()):
            if isinstance(p, Pattern):
                out += p.names()
        return out

    def __repr__(self) -> str:
        parts = [repr(a) for a in self.args]
        parts += [f"{k}={v!r}" for k, v in sorted(self.params.items())]
        if self.name:
            parts.append(f"name={self.name!r}")
        return f"op.{self.prim}({', '.join(parts)})"


def _off(value: Any) -> bool:
    return value is None or value is False


def _literal(value: Any) -> Pattern:
    if isinstance(value, (bool, int, float)):
        return ConstPattern(value)
    raise TypeError(f"a pattern operand must be a pattern or a number, not {value!r}")


def _fn_name(fn: Any) -> str:
    return getattr(fn, "__qualname__", repr(fn))


class _Ops:
    """``op.mul(x, const(1.0))``: an :class:`OpPattern` for primitive ``mul``."""

    def __getattr__(self, prim: str) -> Callable[..., OpPattern]:
        if prim.startswith("_"):
            raise AttributeError(prim)

        def make(*args: Any, name: str | None = None, **params: Any) -> OpPattern:
            return OpPattern(prim, args, params, name)

        make.__name__ = prim
        return make


op = _Ops()


def var(name: str, check: Callable[[Any], bool] | None = None) -> VarPattern:
    """Any operand, bound to ``name`` (``check``: an extra condition on it)."""
    return VarPattern(name, check)


def const(value: Any = None, name: str | None = None) -> ConstPattern:
    """A scalar constant equal to ``value`` (any scalar constant when None)."""
    return ConstPattern(value, name)


# -- checks for var(..., check=...) ----------------------------------------------------------
def is_float(atom: Any) -> bool:
    return atom.type.is_float


def is_int(atom: Any) -> bool:
    return atom.type.dtype == "int64" and not atom.type.tape


def is_array(atom: Any) -> bool:
    return atom.type.is_array


def ndim(n: int) -> Callable[[Any], bool]:
    def check(atom: Any) -> bool:
        return not atom.type.tape and atom.type.ndim == n

    check.__qualname__ = f"ndim({n})"
    return check
