"""Copying a Function's body into another block with fresh variable names (inlining).

``inline(b, fn, args)`` emits ``fn``'s statements into the builder's current block, binding its
params to ``args`` and renaming every variable it defines, and returns its result atoms. Free
variables (read but neither params nor defined inside) keep their names.
"""

from __future__ import annotations

from ..ir.nodes import Assign, Effect, ForRange, Function, If, Var, While, block_writes


class Renamer:
    def __init__(self, mapping: dict[str, Var]):
        self.map = mapping

    def atom(self, a):
        if isinstance(a, Var):
            return self.map.get(a.name, a)
        return a

    def block(self, stmts: list) -> list:
        return [self.stmt(s) for s in stmts]

    def stmt(self, s):
        if isinstance(s, Assign):
            return Assign(self.atom(s.out), s.prim, tuple(self.atom(a) for a in s.args),
                          s.params, s.loc)
        if isinstance(s, Effect):
            return Effect(s.prim, tuple(self.atom(a) for a in s.args), s.params, s.loc)
        if isinstance(s, If):
            return If(self.atom(s.cond), self.block(s.then), self.block(s.orelse), s.loc)
        if isinstance(s, While):
            return While(self.block(s.cond_body), self.atom(s.cond), self.block(s.body), s.loc)
        if isinstance(s, ForRange):
            return ForRange(self.atom(s.var), self.atom(s.start), self.atom(s.stop),
                            self.atom(s.step), self.block(s.body), s.loc)
        raise TypeError(s)


def inline(b, fn: Function, args: list, rename: bool = True) -> list:
    """Emit ``fn(*args)`` into ``b``'s current block; return the result atoms.

    With ``rename=False`` the body keeps its variable names (for a function built with the
    same ``Names`` as the caller, whose names are already unique)."""
    mapping: dict[str, Var] = {}
    if rename:
        for v in block_writes(fn.body):
            mapping[v.name] = Var(b.names.fresh(_base(v.name)), v.type)
    for p, a in zip(fn.params, args):
        if isinstance(a, Var) and p.name not in mapping:
            mapping[p.name] = a
        else:
            fresh = Var(b.names.fresh(_base(p.name)), p.type)
            mapping[p.name] = fresh
            b.emit("id", a, out=fresh)
    r = Renamer(mapping)
    for s in r.block(fn.body):
        b.append(s)
    return [r.atom(x) for x in fn.results]


def _base(name: str) -> str:
    head, _, tail = name.rpartition("_")
    return head if head and tail.isdigit() else name
