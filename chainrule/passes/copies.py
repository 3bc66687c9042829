"""Copy propagation after differentiation.

``y = x`` where both scalars are assigned exactly once (and ``x`` is not a parameter the code
reassigns) makes every read of ``y`` a read of ``x``; the copy is then dead. Common
subexpressions that ``scalar_opt`` turned into copies, and the copies the transforms emit
(``t = g`` for a cotangent), disappear from the generated code this way.
"""

from __future__ import annotations

from ..ir.nodes import Assign, Effect, ForRange, Function, If, Var, While, walk
from .scalar_opt import _assign_counts


def propagate_copies(fn: Function) -> Function:
    counts = _assign_counts(fn)
    params = {p.name for p in fn.params}

    def once(v: Var) -> bool:
        return counts.get(v.name, 0) == (0 if v.name in params else 1)

    alias: dict[str, Var] = {}
    for s in walk(fn.body):
        if isinstance(s, Assign) and s.prim == "id" and isinstance(s.args[0], Var):
            src = s.args[0]
            if s.out.type.ndim == 0 and not s.out.type.tape and src.type == s.out.type \
                    and once(s.out) and once(src):
                alias[s.out.name] = src

    def resolve(a):
        while isinstance(a, Var) and a.name in alias:
            a = alias[a.name]
        return a

    if not alias:
        return fn

    def block(stmts: list) -> list:
        out = []
        for s in stmts:
            if isinstance(s, Assign):
                s = Assign(s.out, s.prim, tuple(resolve(a) for a in s.args), s.params, s.loc) \
                    if any(isinstance(a, Var) and a.name in alias for a in s.args) else s
            elif isinstance(s, Effect):
                if any(isinstance(a, Var) and a.name in alias for a in s.args[1:]):
                    s = Effect(s.prim, (s.args[0], *map(resolve, s.args[1:])), s.params, s.loc)
            elif isinstance(s, If):
                s = If(resolve(s.cond), block(s.then), block(s.orelse), s.loc)
            elif isinstance(s, While):
                s = While(block(s.cond_body), resolve(s.cond), block(s.body), s.loc)
            elif isinstance(s, ForRange):
                s = ForRange(s.var, resolve(s.start), resolve(s.stop), resolve(s.step),
                             block(s.body), s.loc)
            out.append(s)
        return out

    return Function(fn.name, fn.params, block(fn.body), [resolve(r) for r in fn.results],
                    fn.loc, fn.meta)
