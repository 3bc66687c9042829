"""IR data structures: atoms, statements with structured control flow, and functions.

The IR is three-address code over named, typed variables with structured regions. A variable may
be assigned more than once (loops need that, and so do in-place array writes); reverse mode saves
what an assignment destroys on tapes. Statements:

* :class:`Assign` ``out = prim(args; params)`` -- a primitive application.
* :class:`Effect` ``prim(target, args; params)`` -- a primitive that mutates ``args[0]``
  (array writes ``setitem``/``additem``, ``tape_push``).
* :class:`If`, :class:`While` (condition block re-evaluated before each trip), :class:`ForRange`
  (trip count fixed at entry). Loops are never unrolled.

Every statement carries the user's source location (or None for generated code).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np

from ..errors import Loc
from .types import Type


@dataclass(frozen=True, eq=False)
class Var:
    """A named, typed variable. Identity is the name: two Vars with one name are one variable."""

    name: str
    type: Type

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Var) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("var", self.name))

    def __repr__(self) -> str:
        return f"Var({self.name}: {self.type})"


@dataclass(frozen=True, eq=False)
class Const:
    """A compile-time constant: a Python number/bool, or a NumPy array folded into the code.

    ``weak`` marks Python scalar literals, which (as in NumPy 2) do not change an array's dtype.
    """

    value: Any
    type: Type
    weak: bool = False

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Const) or other.type != self.type:
            return False
        if isinstance(self.value, np.ndarray) or isinstance(other.value, np.ndarray):
            return self.value is other.value
        return bool(self.value == other.value) and type(self.value) is type(other.value)

    def __hash__(self) -> int:
        if isinstance(self.value, np.ndarray):
            return id(self.value)
        return hash(("const", self.value, self.type))

    def __repr__(self) -> str:
        return f"Const({self.value!r})"


Atom = Union[Var, Const]
Params = tuple  # tuple of (key, value) pairs, hashable and ordered


def params_dict(params: Params) -> dict:
    return dict(params)


def make_params(**kw: Any) -> Params:
    return tuple(sorted(kw.items()))


@dataclass(eq=False)
class Assign:
    out: Var
    prim: str
    args: tuple
    params: Params = ()
    loc: Loc | None = None

    def param(self, key: str, default: Any = None) -> Any:
        return dict(self.params).get(key, default)


@dataclass(eq=False)
class Effect:
    prim: str
    args: tuple  # args[0] is the mutated variable
    params: Params = ()
    loc: Loc | None = None

    def param(self, key: str, default: Any = None) -> Any:
        return dict(self.params).get(key, default)


@dataclass(eq=False)
class If:
    cond: Atom
    then: list = field(default_factory=list)
    orelse: list = field(default_factory=list)
    loc: Loc | None = None


@dataclass(eq=False)
class While:
    cond_body: list  # statements evaluated before each test of ``cond``
    cond: Atom
    body: list = field(default_factory=list)
    loc: Loc | None = None


@dataclass(eq=False)
class ForRange:
    var: Var
    start: Atom
    stop: Atom
    step: Atom
    body: list = field(default_factory=list)
    loc: Loc | None = None


Stmt = Union[Assign, Effect, If, While, ForRange]


@dataclass(eq=False)
class Function:
    """A compiled function: flat parameters (pytree leaves) and flat results."""

    name: str
    params: list
    body: list
    results: list
    loc: Loc | None = None
    meta: dict = field(default_factory=dict)


def walk(block: list):
    """Yield every statement in ``block``, recursively, in program order."""
    for s in block:
        yield s
        if isinstance(s, If):
            yield from walk(s.then)
            yield from walk(s.orelse)
        elif isinstance(s, While):
            yield from walk(s.cond_body)
            yield from walk(s.body)
        elif isinstance(s, ForRange):
            yield from walk(s.body)


def stmt_reads(s: Stmt) -> list:
    """Atoms a statement reads directly (not those of nested blocks)."""
    if isinstance(s, Assign):
        return list(s.args)
    if isinstance(s, Effect):
        return list(s.args)
    if isinstance(s, If):
        return [s.cond]
    if isinstance(s, While):
        return [s.cond]
    if isinstance(s, ForRange):
        return [s.start, s.stop, s.step]
    raise TypeError(s)


def stmt_writes(s: Stmt) -> list:
    """Variables a statement writes directly (assignment target, mutated array, loop index)."""
    if isinstance(s, Assign):
        return [s.out]
    if isinstance(s, Effect):
        return [s.args[0]]
    if isinstance(s, ForRange):
        return [s.var]
    return []


def block_writes(block: list) -> list:
    """Variables written anywhere inside ``block``, in first-write order, without repeats."""
    seen: dict = {}
    for s in walk(block):
        for v in stmt_writes(s):
            seen.setdefault(v.name, v)
    return list(seen.values())


def block_reads(block: list) -> list:
    seen: dict = {}
    for s in walk(block):
        for a in stmt_reads(s):
            if isinstance(a, Var):
                seen.setdefault(a.name, a)
    return list(seen.values())
