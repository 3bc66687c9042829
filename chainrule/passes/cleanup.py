"""Dead-code elimination on the IR.

An assignment whose variable nothing kept reads (and whose primitive has no side effect) is
removed; an ``if`` left with two empty branches and a ``for`` left with an empty body are
removed; repeated to a fixpoint. What is kept is found from the roots (the results, effects,
primitives with side effects, control flow) by following the assignments of the variables they
read, so a loop-carried variable that only its own updates read is dead. Names are followed
flow-insensitively, which is safe for variables assigned in several places.
"""

from __future__ import annotations

from typing import Any

from ..ir.nodes import Assign, Effect, ForRange, Function, If, Var, While, stmt_reads, walk
from ..ir.verify import live_names, verified


def kept_prims() -> set[str]:
    """Primitives kept although their result is unused (records with ``keep``: tape pops,
    checks that raise, prints)."""
    from ..rules import PRIMS

    return PRIMS.names_where("keep")


def _reads(fn: Function) -> set[str]:
    names = {r.name for r in fn.results if isinstance(r, Var)}
    for s in walk(fn.body):
        for a in stmt_reads(s):
            if isinstance(a, Var):
                names.add(a.name)
        if isinstance(s, Effect):
            names.add(s.args[0].name)
    return names


def _live(fn: Function) -> set[str]:
    """Names a kept statement may read: those the roots read, closed over assignments."""
    return live_names(fn, kept_prims())


def _prune(stmts: list, live: set[str], kept: set[str] | None = None) -> tuple[list, bool]:
    if kept is None:
        kept = kept_prims()
    out = []
    changed = False
    for s in stmts:
        if isinstance(s, Assign):
            if s.out.name not in live and s.prim not in kept:
                changed = True
                continue
        elif isinstance(s, If):
            s.then, c1 = _prune(s.then, live, kept)
            s.orelse, c2 = _prune(s.orelse, live, kept)
            changed |= c1 or c2
            if not s.then and not s.orelse:
                changed = True
                continue
        elif isinstance(s, While):
            s.cond_body, c1 = _prune(s.cond_body, live, kept)
            s.body, c2 = _prune(s.body, live, kept)
            changed |= c1 or c2
        elif isinstance(s, ForRange):
            s.body, c1 = _prune(s.body, live, kept)
            changed |= c1
            if not s.body and s.var.name not in live:
                changed = True
                continue
        out.append(s)
    return out, changed


@verified("cleanup")
def dead_code(fn: Function) -> Function:
    body = fn.body
    kept = kept_prims()
    while True:
        body, changed = _prune(body, _live(Function(fn.name, fn.params, body, fn.results)), kept)
        if not changed:
            break
    return Function(fn.name, fn.params, body, fn.results, fn.loc, fn.meta)


def simplify(fn: Function, names: Any = None) -> Function:
    """The clean-up pipeline run on every function before code generation: rewrite rules
    (chainrule.rewrites; ``names``: the build's name allocator, which learns the variables
    they add), common subexpressions and loop-invariant scalar code (of the derivative code
    too; arrays in the top-level block), bounds checks decided at compile time (``checks``),
    redundant adjoint sizing, adjoint bookkeeping of straight-line code, dead code; passes
    users registered (chainrule.plugins) run first."""
    from ..rewrites import after_differentiation
    from .adjoints import straight_line_adjoints
    from .array_cse import array_cse
    from .checks import fold_checks
    from .copies import propagate_copies
    from .materialize import drop_redundant_materialize
    from .scalar_opt import optimize
    from .user import run as run_user_passes

    fn = after_differentiation(run_user_passes("after", fn, names), names)
    fn = propagate_copies(array_cse(optimize(fold_checks(fn), derivatives=True, any_var=True)))
    return dead_code(straight_line_adjoints(drop_redundant_materialize(fn)))
