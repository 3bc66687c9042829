"""Bounds checks decided at compile time.

The front end (``frontend/bounds.py``) emits ``check_index(i, n)`` where it cannot prove an
index in bounds *while lowering*. Later passes learn more: specialising a small array argument
by size and scalarising a small array turn ``n`` into a constant (``t = 3``). This pass, run
before code generation, drops each check whose index and length are both compile-time integers
with ``-n <= i < n`` (the check's result becomes the index itself). A check that is out of range,
or whose operands are not both known, stays, so ``IndexError`` is raised exactly where it was.
"""

from __future__ import annotations

from ..ir.nodes import Assign, Const, ForRange, Function, If, Var, While, walk
from ..ir.verify import verified
from .scalar_opt import _assign_counts


def _int_const(a) -> bool:
    return isinstance(a, Const) and isinstance(a.value, int) and not isinstance(a.value, bool)


def _constants(fn: Function) -> dict:
    """Integer variables assigned once, from a constant: name -> value."""
    counts = _assign_counts(fn)
    params = {p.name for p in fn.params}
    out = {}
    for s in walk(fn.body):
        if isinstance(s, Assign) and s.prim == "id" and _int_const(s.args[0]) and \
                counts.get(s.out.name) == 1 and s.out.name not in params:
            out[s.out.name] = s.args[0].value
    return out


@verified("fold_checks")
def fold_checks(fn: Function) -> Function:
    known = _constants(fn)

    def value(a):
        if _int_const(a):
            return a.value
        if isinstance(a, Var):
            return known.get(a.name)
        return None

    changed = False

    def block(stmts: list) -> list:
        nonlocal changed
        out = []
        for s in stmts:
            if isinstance(s, Assign) and s.prim == "check_index":
                i, n = value(s.args[0]), value(s.args[1])
                if i is not None and n is not None and -n <= i < n:
                    s = Assign(s.out, "id", (Const(i, s.out.type, True),), (), s.loc)
                    changed = True
            elif isinstance(s, If):
                s = If(s.cond, block(s.then), block(s.orelse), s.loc)
            elif isinstance(s, While):
                s = While(block(s.cond_body), s.cond, block(s.body), s.loc)
            elif isinstance(s, ForRange):
                s = ForRange(s.var, s.start, s.stop, s.step, block(s.body), s.loc)
            out.append(s)
        return out

    body = block(fn.body)
    if not changed:
        return fn
    return Function(fn.name, fn.params, body, fn.results, fn.loc, fn.meta)
