"""Drop ``materialize`` calls that cannot change anything.

Reverse mode emits ``ba = materialize(ba, a)`` before every use of an array adjoint, because
shapes are unknown at compile time. Once an adjoint has been materialized in a block, it stays
the right size until ``a`` is assigned again (adjoints are zeroed in place, never reset), so
later calls in the same block, and in blocks nested after it, are redundant. Loop bodies start
from nothing known (their first trip follows code before the loop, later trips follow the body).
"""

from __future__ import annotations

from ..ir.nodes import Assign, ForRange, Function, If, Var, While, block_writes
from ..ir.verify import verified


def _prune(stmts: list, known: dict) -> list:
    out = []
    for s in stmts:
        if isinstance(s, Assign) and s.prim == "materialize":
            a, like = s.args
            if isinstance(a, Var) and a == s.out and isinstance(like, Var) and \
                    known.get(a.name) == like.name:
                continue
            if isinstance(a, Var) and a == s.out and isinstance(like, Var):
                known[a.name] = like.name
                out.append(s)
                continue
        if isinstance(s, Assign):
            # a new value of a primal variable (or of the adjoint itself) may have a new shape
            for name, like in list(known.items()):
                if s.out.name in (name, like):
                    del known[name]
        elif isinstance(s, If):
            s.then = _prune(s.then, dict(known))
            s.orelse = _prune(s.orelse, dict(known))
            written = {v.name for v in block_writes(s.then + s.orelse)}
            for name, like in list(known.items()):
                if name in written or like in written:
                    del known[name]
        elif isinstance(s, While):
            s.cond_body = _prune(s.cond_body, {})
            s.body = _prune(s.body, {})
            known.clear()
        elif isinstance(s, ForRange):
            s.body = _prune(s.body, {})
            known.clear()
        out.append(s)
    return out


@verified("materialize")
def drop_redundant_materialize(fn: Function) -> Function:
    return Function(fn.name, fn.params, _prune(fn.body, {}), fn.results, fn.loc, fn.meta)
