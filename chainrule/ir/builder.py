"""Building IR: deterministic fresh names and a block-structured statement builder.

:class:`Names` hands out unique, deterministic variable names (``x``, ``x_1``, ``t3``...).
:class:`Builder` appends statements to the current block, infers result types from the primitive
table, and lets rules write ``b.mul(g, b.cos(x))`` to emit primitives by name.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

import numpy as np

from ..errors import IRVerificationError, Loc
from .nodes import Assign, Atom, Const, Effect, Var, make_params
from .types import BOOL, F64, I64, Type


class Names:
    """Deterministic unique-name allocator."""

    def __init__(self, taken: tuple | list | set = ()):
        self.used: set[str] = set(taken)
        self.counters: dict[str, int] = {}

    def fresh(self, base: str) -> str:
        base = base or "t"
        if base not in self.used:
            self.used.add(base)
            return base
        n = self.counters.get(base, 0)
        while True:
            n += 1
            cand = f"{base}_{n}"
            if cand not in self.used:
                self.counters[base] = n
                self.used.add(cand)
                return cand

    def temp(self) -> str:
        n = self.counters.get("#t", 0)
        while True:
            n += 1
            cand = f"t{n}"
            if cand not in self.used:
                self.counters["#t"] = n
                self.used.add(cand)
                return cand


def const(value: Any) -> Const:
    """Wrap a Python/NumPy constant as an IR constant with its type."""
    if isinstance(value, Const):
        return value
    if isinstance(value, (bool, np.bool_)):
        return Const(bool(value), BOOL, weak=isinstance(value, bool))
    if isinstance(value, (int, np.integer)):
        return Const(int(value), I64, weak=isinstance(value, int))
    if isinstance(value, (float, np.floating)):
        dt = "float32" if isinstance(value, np.float32) else "float64"
        return Const(float(value), Type(dt), weak=isinstance(value, float))
    if isinstance(value, np.ndarray):
        dt = {"f": "float64", "i": "int64", "u": "int64", "b": "bool"}.get(value.dtype.kind)
        if value.dtype == np.float32:
            dt = "float32"
        if dt is None:
            raise TypeError(f"unsupported constant array dtype {value.dtype}")
        return Const(value, Type(dt, value.ndim))
    raise TypeError(f"not an IR constant: {value!r}")



def _foldable(a: Any) -> bool:
    return isinstance(a, Const) and a.weak and isinstance(a.value, (bool, int, float))


# The primitive table builders consult by default; :mod:`chainrule.rules` installs it when it
# is imported (the IR layer never imports the rules above it).
_DEFAULT_REGISTRY: list = []


def install_registry(registry: Any) -> None:
    _DEFAULT_REGISTRY[:] = [registry]


class Builder:
    """Appends statements to a stack of blocks; infers types via the primitive table."""

    def __init__(self, names: Names | None = None, registry: Any = None):
        if registry is None:
            if not _DEFAULT_REGISTRY:
                raise RuntimeError("no primitive table installed (import chainrule first)")
            registry = _DEFAULT_REGISTRY[0]
        self.prims = registry
        self.names = names or Names()
        self.blocks: list[list] = [[]]
        self.loc: Loc | None = None
        # Set by the transforms before calling a rule: which arguments carry derivatives, and
        # transform options rules may consult (e.g. "directional" forward mode at kinks).
        self.arg_active: tuple = ()
        self.options: dict = {}

    @property
    def block(self) -> list:
        return self.blocks[-1]

    @contextmanager
    def nested(self, block: list | None = None):
        """Emit into a fresh (or given) block for the duration of the ``with``."""
        blk = [] if block is None else block
        self.blocks.append(blk)
        try:
            yield blk
        finally:
            self.blocks.pop()

    def new_var(self, base: str, typ: Type) -> Var:
        return Var(self.names.fresh(base), typ)

    def temp(self, typ: Type) -> Var:
        return Var(self.names.temp(), typ)

    def atom(self, x: Any) -> Atom:
        return x if isinstance(x, (Var, Const)) else const(x)

    def infer(self, prim: str, args: list, params: dict) -> Type:
        return self.prims[prim].infer([a.type for a in args], **params)

    def emit(self, prim: str, *args: Any, out: Var | None = None, **params: Any) -> Var:
        atoms = tuple(self.atom(a) for a in args)
        if out is None and all(_foldable(a) for a in atoms):
            fold = self.prims[prim].fold  # the record's constant folding, if any
            if fold is not None:
                try:
                    return const(fold(*[a.value for a in atoms]))
                except (ArithmeticError, ValueError, TypeError):
                    pass
        typ = self.infer(prim, list(atoms), params)
        if out is None:
            out = self.temp(typ)
        elif out.type != typ:
            if out.type.ndim != typ.ndim or out.type.tape != typ.tape:
                raise IRVerificationError(
                    f"internal: {prim} gives {typ} but its target {out.name} is {out.type}",
                    self.loc)
            out = Var(out.name, typ)
        self.block.append(Assign(out, prim, atoms, make_params(**params), self.loc))
        return out

    def effect(self, prim: str, *args: Any, **params: Any) -> None:
        atoms = tuple(self.atom(a) for a in args)
        self.prims[prim].infer([a.type for a in atoms], **params)
        self.block.append(Effect(prim, atoms, make_params(**params), self.loc))

    def append(self, stmt: Any) -> None:
        self.block.append(stmt)

    def __getattr__(self, prim: str):
        if prim.startswith("_"):
            raise AttributeError(prim)

        def call(*args: Any, **params: Any) -> Var:
            return self.emit(prim, *args, **params)

        return call


__all__ = ["BOOL", "F64", "I64", "Builder", "Names", "const"]
