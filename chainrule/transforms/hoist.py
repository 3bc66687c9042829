"""Loop-invariant code motion out of a Jacobian's loop over basis directions.

A Jacobian (``wrap.jacobian_ir``) is a loop whose every trip inlines one JVP (or VJP) of the
function. The statements of that derivative code that do not depend on the direction — the
primal, and the primal-only parts of the tangent or adjoint code — compute the same values in
every trip. :func:`hoist_invariants` moves them in front of the loop, so a Jacobian of array
code costs about one primal plus the tangent (or reverse-sweep) work per direction.

A top-level assignment ``out = prim(args)`` of the loop body moves when all of this holds:

* the primitive computes a value and nothing else: not an effect, no tape primitive, no
  ``print``, no custom rule or opaque call (user code that may do anything), no user primitive;
  one that may raise (an index check, ``x[i]``) moves only out of a loop known to run at least
  once, where its first trip would have raised anyway (a Jacobian's loops are: ``jacfwd`` runs
  at least one trip, ``jacrev``'s loop sits under a test of its trip count, and what moves
  stays under that test);
* every variable it reads is defined outside the loop or by a statement already moved, and is
  assigned nowhere else in the loop;
* ``out`` is assigned only by this statement in the whole function and read by nothing
  before it in the loop;
* no array it reads or defines shares a buffer (``rewrites.aliasing``: views, ``id``, tapes;
  all array parameters are one class) with an array the loop writes in place (``setitem``,
  ``additem``, tape pushes and pops, operands of custom rules).

A function that writes into its array arguments gets copies of them in every trip
(:func:`written_params`), so that no direction sees the writes of another.

Everything else stays in the loop, in order: code with in-place writes into arrays it
allocates, loops and branches (the primal and tangent statements of a loop body are one loop)
are still computed once per direction.
"""

from __future__ import annotations

from ..ir.nodes import Assign, Effect, ForRange, Function, If, Var, While, stmt_reads, \
    stmt_writes, walk
from ..rewrites.aliasing import Buffers

# Assignments that may do more than compute their result (run user code, print, use tapes).
_NEVER = frozenset({"custom_call", "opaque_call", "debug_print"})
# Statements whose only effect besides their value is raising.
_CHECKS = frozenset({"check_index", "check_index_array", "check", "check_batch_size"})
# Primitives whose result may share a buffer with their first operand only (the others are
# read for their shape, or are indices): the adjoint bookkeeping, views.
_FIRST_ONLY = frozenset({"materialize", "dematerialize", "unbroadcast", "broadcast_like",
                         "broadcast_as", "reshape", "transpose", "expand_dims", "squeeze",
                         "getitem"})


class _Buffers(Buffers):
    """``rewrites.aliasing.Buffers``, with the result of a :data:`_FIRST_ONLY` primitive in the
    class of its first operand alone (``materialize(bx, x)`` is ``bx`` or a new array, never
    ``x``), so that writes into adjoints do not make the primal values they are shaped like
    look written."""

    def note(self, s) -> None:
        if isinstance(s, Assign) and s.prim in _FIRST_ONLY:
            a = s.args[0] if s.args else None
            if isinstance(a, Var) and _is_array(a) and _is_array(s.out):
                self._union(s.out.name, a.name)
            return
        super().note(s)


def hoist_invariants(fn: Function, loops: list, prims) -> Function:
    """Move the invariant statements of each ``(loop, runs_at_least_once)`` in ``loops`` (loops
    of ``fn.body``, nested or not) in front of it; ``fn`` is changed in place and returned."""
    if not loops:
        return fn
    buf = _Buffers(fn)
    everywhere: dict[str, int] = {p.name: 1 for p in fn.params}
    for s in walk(fn.body):
        for v in stmt_writes(s):
            everywhere[v.name] = everywhere.get(v.name, 0) + 1
    for loop, at_least_once in loops:
        pre = _invariants(loop, buf, at_least_once, prims, everywhere)
        if pre:
            _insert_before(fn.body, loop, pre)
    return fn


def written_params(fn: Function) -> set[str]:
    """Names of the array params of ``fn`` whose buffer ``fn`` may write into (all array
    params share one class: a caller may pass one array twice)."""
    buf = _Buffers(fn)
    return {p.name for p in fn.params if _is_array(p) and buf._find(p.name) in buf.written}


def _is_array(v: Var) -> bool:
    return v.type.ndim > 0 or v.type.tape


def _invariants(loop: ForRange, buf: Buffers, at_least_once: bool, prims,
                everywhere: dict) -> list:
    defs: dict[str, int] = {loop.var.name: 1}
    written: set[str] = set()  # buffer classes written in the loop
    for s in walk(loop.body):
        for v in stmt_writes(s):
            defs[v.name] = defs.get(v.name, 0) + 1
        if isinstance(s, Effect):
            written.add(buf._find(s.args[0].name))
        elif isinstance(s, Assign) and (s.prim.startswith("tape_") or s.prim in _NEVER):
            for a in s.args:
                if isinstance(a, Var) and _is_array(a):
                    written.add(buf._find(a.name))
    moved: set[str] = set()

    def invariant(a) -> bool:
        if not isinstance(a, Var):
            return True
        if defs.get(a.name) and a.name not in moved:
            return False
        return not (_is_array(a) and buf._find(a.name) in written)

    def movable(s) -> bool:
        if not isinstance(s, Assign) or s.prim.startswith("tape_") or s.prim in _NEVER:
            return False
        p = prims[s.prim]
        if p.effect or p.user or (p.keep and s.prim not in _CHECKS):
            return False
        if (p.may_raise or s.prim in _CHECKS) and not at_least_once:
            return False
        out = s.out
        if defs.get(out.name) != 1 or everywhere.get(out.name) != 1 or \
                out.name in read_before or out.type.tape:
            return False
        if any(isinstance(a, Var) and a.name == out.name for a in s.args):
            return False
        if _is_array(out) and buf._find(out.name) in written:
            return False
        return all(invariant(a) for a in s.args)

    read_before: set[str] = set()
    pre, kept = [], []
    for s in loop.body:
        if movable(s):
            pre.append(s)
            moved.add(s.out.name)
        else:
            kept.append(s)
        for t in walk([s]):
            read_before.update(a.name for a in stmt_reads(t) if isinstance(a, Var))
    loop.body[:] = kept
    return pre


def _insert_before(block: list, loop: ForRange, pre: list) -> bool:
    for i, s in enumerate(block):
        if s is loop:
            block[i:i] = pre
            return True
        inner = [s.then, s.orelse] if isinstance(s, If) else \
            [s.cond_body, s.body] if isinstance(s, While) else \
            [s.body] if isinstance(s, ForRange) else []
        if any(_insert_before(b, loop, pre) for b in inner):
            return True
    return False


__all__ = ["hoist_invariants", "written_params"]
