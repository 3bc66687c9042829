"""Activity analysis: which variables carry derivatives.

A variable is *varied* when its value depends on a differentiated input, and *useful* when a
result depends on it. Only float variables that are both are *active*: they get tangents in
forward mode and adjoints in reverse mode; everything else costs no derivative work. The
analysis is flow-insensitive per variable and iterates to a fixpoint, so loops are handled.

Writes through views: when ``v`` is a view of ``a`` (a basic slice, ``id``, a reshape...) and
something writes into ``v`` (or into a view of ``v``), the write changes ``a`` too. Such a view
and its base are put in one *alias class*, and varied/useful spread over the whole class, so a
derivative cannot be dropped because it travelled through another name of the same buffer.
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


def is_view(s: Assign) -> bool:
    """True when ``s``'s result may be a view of (share memory with) ``s.args[0]`` (records
    with ``view``; basic-index ``getitem``)."""
    from ..rules import PRIMS

    if s.prim in PRIMS and PRIMS[s.prim].view:
        return True
    if s.prim == "getitem":
        spec = dict(s.params).get("spec", ())
        return not any(code in ("a", "m") for code in spec) and s.out.type.ndim > 0
    return False


def alias_classes(fn: Function) -> list[set[str]]:
    """Sets of float array variables that may share a buffer that is written through a view.

    ``v = view(a)`` links ``v`` and ``a`` when ``v`` or a view made from ``v`` is the target of
    an in-place write; views that are only read need no link (reads follow the data flow)."""
    views = [s for s in walk(fn.body) if isinstance(s, Assign) and is_view(s)
             and isinstance(s.args[0], Var) and _float_var(s.out) and _float_var(s.args[0])]
    written = {s.args[0].name for s in walk(fn.body)
               if isinstance(s, Effect) and s.prim in ("setitem", "additem")}
    changed = True
    while changed:
        changed = False
        for s in views:
            if s.out.name in written and s.args[0].name not in written:
                written.add(s.args[0].name)
                changed = True
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for s in views:
        if s.out.name in written:
            ra, rb = find(s.out.name), find(s.args[0].name)
            if ra != rb:
                parent[ra] = rb
    classes: dict[str, set[str]] = {}
    for name in parent:
        classes.setdefault(find(name), {find(name)}).add(name)
    return list(classes.values())


def _spread(marked: set[str], classes: list[set[str]]) -> bool:
    changed = False
    for c in classes:
        if marked & c and not c <= marked:
            marked |= c
            changed = True
    return changed


def varied_vars(fn: Function, seeds: list, prims) -> set[str]:
    varied = {v.name for v in seeds if _float_var(v)}
    stmts = [s for s in walk(fn.body) if isinstance(s, (Assign, Effect))]
    classes = alias_classes(fn)
    changed = True
    while changed:
        changed = _spread(varied, classes)
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
    classes = alias_classes(fn)
    changed = True
    while changed:
        changed = _spread(useful, classes)
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
