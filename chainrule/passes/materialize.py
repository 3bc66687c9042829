"""Drop ``materialize`` calls that cannot change anything.

Reverse mode emits ``ba = materialize(ba, a)`` before every use of an array adjoint, because
shapes are unknown at compile time. Once an adjoint has been materialized in a block, it stays
the right size until ``a`` is assigned again (adjoints are zeroed in place, never reset), so
later calls in the same block, and in blocks nested after it, are redundant. Loop bodies start
from nothing known (their first trip follows code before the loop, later trips follow the body).

Before that, a ``materialize`` inside a loop that assigns neither the adjoint (other than by
that ``materialize``) nor the array it takes its shape from moves before the loop: the hot loop
then neither calls it nor rebinds the adjoint. (If the loop runs no trip, the adjoint is then an
array of zeros instead of the empty "zero": the same value.)
"""

from __future__ import annotations

from ..ir.nodes import Assign, ForRange, Function, If, Var, While, block_writes, walk
from ..ir.verify import verified


def _is_materialize(s) -> bool:
    return isinstance(s, Assign) and s.prim == "materialize" and isinstance(s.args[0], Var) \
        and s.args[0] == s.out and isinstance(s.args[1], Var)


def _without(stmts: list, names: set) -> list:
    out = []
    for s in stmts:
        if _is_materialize(s) and s.out.name in names:
            continue
        if isinstance(s, If):
            s.then, s.orelse = _without(s.then, names), _without(s.orelse, names)
        elif isinstance(s, While):
            s.cond_body, s.body = _without(s.cond_body, names), _without(s.body, names)
        elif isinstance(s, ForRange):
            s.body = _without(s.body, names)
        out.append(s)
    return out


def _hoist(stmts: list) -> list:
    out = []
    for s in stmts:
        if isinstance(s, If):
            s.then, s.orelse = _hoist(s.then), _hoist(s.orelse)
        elif isinstance(s, (While, ForRange)):
            if isinstance(s, While):
                s.cond_body = _hoist(s.cond_body)
            s.body = _hoist(s.body)
            inside = s.body + (s.cond_body if isinstance(s, While) else [])
            like: dict = {}
            assigned: dict = {}
            for x in walk(inside):
                if isinstance(x, Assign):
                    assigned[x.out.name] = assigned.get(x.out.name, 0) + \
                        (0 if _is_materialize(x) else 1)
                    if _is_materialize(x):
                        like.setdefault(x.out.name, set()).add(x.args[1].name)
            if isinstance(s, ForRange):
                assigned[s.var.name] = 1
            movable = {n for n, likes in like.items()
                       if len(likes) == 1 and not assigned.get(n)
                       and not assigned.get(next(iter(likes)))}
            if movable:
                first = {}
                for x in walk(inside):
                    if _is_materialize(x) and x.out.name in movable:
                        first.setdefault(x.out.name, x)
                out.extend(first[n] for n in sorted(first))
                if isinstance(s, While):
                    s.cond_body = _without(s.cond_body, movable)
                s.body = _without(s.body, movable)
        out.append(s)
    return out


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
    return Function(fn.name, fn.params, _prune(_hoist(fn.body), {}), fn.results, fn.loc,
                    fn.meta)
