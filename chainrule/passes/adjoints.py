"""Adjoint bookkeeping in straight-line code: first accumulations as copies, dead zeroing.

Reverse mode gives every array adjoint an empty "zero" (``adj_zero``), sizes it before each use
(``ba = materialize(ba, a)``), accumulates into it in place (``additem(ba, g)``) and zeroes it
when the statement it belongs to has been reversed (``setitem(ba, 0.0)``), because the same code
must work inside loops. In the function's top-level block (no loop around it) two of these steps
can be done more cheaply, which also shortens the code Numba compiles:

* the first accumulation into an adjoint that nothing has read or written yet,
  ``ba = materialize(ba, a); additem(ba, g)``, is ``ba = broadcast_like(g, a)`` (a new array
  holding ``g`` broadcast to ``a``'s shape), and the empty zero it started from is dropped;
* zeroing an adjoint whose buffer nothing reads afterwards is dropped. Which names may share a
  buffer is found conservatively: a result shares its arguments' buffers unless its primitive
  always makes a new array, and an array pushed on a tape shares the tape's.
"""

from __future__ import annotations

from ..ir.nodes import Assign, Const, Effect, Function, Var, stmt_reads, walk
from ..ir.verify import verified
from .buffers import ALIASING
from .scalarize import ELEMENTWISE

# Primitives whose array result is always a new buffer (never one of their arguments), and
# arguments that only give a shape.
_FRESH = (ELEMENTWISE - ALIASING) | {"matmul", "dot", "zmul", "broadcast_like", "adj_zero",
                                     "copy", "zeros", "ones", "full", "sum", "mean"}
_SHAPE_ONLY = {"materialize": 1, "dematerialize": 1, "unbroadcast": 1, "broadcast_as": 1}


def _whole(s, prim: str) -> bool:
    return isinstance(s, Effect) and s.prim == prim and dict(s.params).get("spec") == ("e",)


def _initial_zero(s: Assign, zeros: set) -> bool:
    """``ba = adj_zero()`` or ``ba = id(z)`` of such a zero."""
    return s.prim == "adj_zero" or (s.prim in ALIASING and isinstance(s.args[0], Var)
                                    and s.args[0].name in zeros)


def _first_accumulations(body: list) -> list:
    zeros = {s.out.name for s in body if isinstance(s, Assign) and s.prim == "adj_zero"}
    seen_other: set = set()  # names read or written (other than by an initial zero) so far
    initial: dict = {}  # name -> indices of its initial-zero definitions
    drop: set = set()
    out = list(body)
    for i, s in enumerate(body):
        nxt = body[i + 1] if i + 1 < len(body) else None
        if isinstance(s, Assign) and s.prim == "materialize" and isinstance(s.args[0], Var) \
                and s.args[0] == s.out and isinstance(s.args[1], Var) and s.out.type.is_array \
                and s.out.name in initial and s.out.name not in seen_other \
                and _whole(nxt, "additem") and nxt.args[0] == s.out \
                and isinstance(nxt.args[1], Var) and nxt.args[1].name != s.out.name \
                and nxt.args[1].type.dtype == s.out.type.dtype \
                and nxt.args[1].type.ndim <= s.out.type.ndim \
                and s.args[1].type.ndim == s.out.type.ndim:
            out[i] = Assign(s.out, "broadcast_like", (nxt.args[1], s.args[1]), (), s.loc)
            drop.add(i + 1)
            drop.update(initial.pop(s.out.name))
            seen_other.add(s.out.name)
            continue
        if isinstance(s, Assign) and s.out.type.is_array and _initial_zero(s, zeros) and \
                s.out.name not in seen_other:
            initial.setdefault(s.out.name, []).append(i)
            if s.prim != "adj_zero":
                seen_other.update(a.name for a in s.args if isinstance(a, Var))
            continue
        for x in walk([s]):
            seen_other.update(a.name for a in stmt_reads(x) if isinstance(a, Var))
            if isinstance(x, Assign):
                seen_other.add(x.out.name)
    return [s for i, s in enumerate(out) if i not in drop]


def buffer_groups(fn: Function):
    parent: dict = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            parent[x] = parent.get(parent[x], parent[x])
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        parent[find(a)] = find(b)

    for s in walk(fn.body):
        if isinstance(s, Assign) and s.prim not in _FRESH:
            for k, a in enumerate(s.args):
                if k != _SHAPE_ONLY.get(s.prim) and isinstance(a, Var) and \
                        (a.type.is_array or a.type.tape):
                    union(s.out.name, a.name)
        elif isinstance(s, Effect) and s.prim == "tape_push":
            union(s.args[0].name, s.args[1].name) if isinstance(s.args[1], Var) else None
    return find


def _dead_zeroing(fn: Function, body: list) -> list:
    find = buffer_groups(fn)
    pinned = {find(p.name) for p in fn.params} | \
        {find(r.name) for r in fn.results if isinstance(r, Var)}
    read_after: set = set()  # groups read by the statements after the current one
    keep = []
    for s in reversed(body):
        if _whole(s, "setitem") and isinstance(s.args[1], Const) and s.args[1].value == 0 \
                and find(s.args[0].name) not in pinned | read_after:
            continue
        keep.append(s)
        for x in walk([s]):
            for a in stmt_reads(x):
                if isinstance(a, Var):
                    read_after.add(find(a.name))
    return keep[::-1]


@verified("adjoints")
def straight_line_adjoints(fn: Function) -> Function:
    body = _first_accumulations(fn.body)
    fn = Function(fn.name, fn.params, body, fn.results, fn.loc, fn.meta)
    return Function(fn.name, fn.params, _dead_zeroing(fn, body), fn.results, fn.loc, fn.meta)
