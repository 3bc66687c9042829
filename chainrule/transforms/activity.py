"""Activity analysis: which variables carry derivatives.

A variable is *varied* when its value depends on a differentiated input, and *useful* when a
result depends on it. Only float variables that are both are *active*: they get tangents in
forward mode and adjoints in reverse mode; everything else costs no derivative work. The
analysis is flow-insensitive per variable and iterates to a fixpoint, so loops are handled.
"""

from __future__ import annotations

from ..ir.nodes import Assign, Effect, Function, Var, walk


def _float_var(a) -> bool:
    return isinstance(a, Var) and (a.type.is_float or (a.type.tape and a.type.dtype in
                                                       ("float32", "float64")))


def diff_args(prims, s) -> list:
    p = prims[s.prim]
    if p.nondiff:
        return []
    if p.diff_args is not None:
        return [s.args[i] for i in p.diff_args if i < len(s.args)]
    return list(s.args)


def varied_vars(fn: Function, seeds: list, prims) -> set[str]:
    varied = {v.name for v in seeds if _float_var(v)}
    stmts = [s for s in walk(fn.body) if isinstance(s, (Assign, Effect))]
    changed = True
    while changed:
        changed = False
        for s in stmts:
            if isinstance(s, Assign):
                if s.out.name in varied or not _float_var(s.out):
                    continue
                if any(isinstance(a, Var) and a.name in varied for a in diff_args(prims, s)):
                    varied.add(s.out.name)
                    changed = True
            else:
                target = s.args[0]
                if target.name in varied or not _float_var(target):
                    continue
                if s.prim in ("setitem", "additem", "tape_push"):
                    v = s.args[1]
                    if isinstance(v, Var) and v.name in varied:
                        varied.add(target.name)
                        changed = True
    return varied


def useful_vars(fn: Function, prims, targets: list | None = None) -> set[str]:
    useful = {r.name for r in (fn.results if targets is None else targets) if _float_var(r)}
    stmts = [s for s in walk(fn.body) if isinstance(s, (Assign, Effect))]
    changed = True
    while changed:
        changed = False
        for s in stmts:
            if isinstance(s, Assign):
                if s.out.name not in useful:
                    continue
                reads = diff_args(prims, s)
            else:
                if s.args[0].name not in useful:
                    continue
                reads = [s.args[1]] if s.prim in ("setitem", "additem", "tape_push") else []
            for a in reads:
                if _float_var(a) and a.name not in useful:
                    useful.add(a.name)
                    changed = True
    return useful


def active_vars(fn: Function, wrt: list, prims, targets: list | None = None) -> set[str]:
    """Names of float variables that depend on ``wrt`` params and influence a result (one of
    ``targets`` when given)."""
    return varied_vars(fn, wrt, prims) & useful_vars(fn, prims, targets)
