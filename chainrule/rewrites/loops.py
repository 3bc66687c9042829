"""Loop rules of the rewrite engine: a loop of matrix-vector products over the rows of an array
becomes one matrix-matrix product over all the rows the loop visits (one BLAS call).

The rule, ``matvec_loop_is_matmul`` (stage "before", exactness "rounding": BLAS sums a
matrix product in another order than a sequence of matrix-vector products), matches::

    for i in range(start, stop, step):        # start, step: literals, start >= 0, step >= 1
        r = X[i]                              # rows of 2-D arrays the loop does not write
        y = A @ r   (or  r @ A)               # A: a 2-D array the loop does not write
        z = f(y, c, ...)                      # elementwise; c: scalars or 1-D invariants
        Y[i] = z                              # one write of the last row value

and replaces it with ``R = X[start:stop:step]``, ``R @ A.T`` (or ``R @ A``), the elementwise
operations on the batch (a 1-D invariant broadcasts against each row as before) and
``Y[start:stop:step] = Z``. It fires only when nothing else happens in the body, no value of
the body (the loop index included) is read after the loop, no index check is left in the body
(the loop range proves the indices in bounds), at least one matrix product is in the chain, and
``Y`` cannot share a buffer with any array the body reads (:mod:`.aliasing`). So the loop and
its replacement read the same values and write the same rows. The derivative of the
replacement is a matrix product too, instead of one outer product per trip.
"""

from __future__ import annotations

from typing import Any

from ..ir.builder import Builder, Names
from ..ir.nodes import (
    Assign,
    Const,
    Effect,
    ForRange,
    Function,
    If,
    Var,
    While,
    params_dict,
    stmt_reads,
    walk,
)
from .aliasing import Buffers
from .engine import _ELEMENTWISE, Fired, _written_vars, record

NAME = "matvec_loop_is_matmul"
EXACT = "rounding (BLAS order)"
_ROW = ("i",)
_SLICE = ("s111",)


def run(fn: Function, names: Names | None) -> Function:
    """Apply the loop rule to every matching loop of ``fn`` (any nesting depth)."""
    if not any(isinstance(s, ForRange) for s in walk(fn.body)):
        return fn
    if names is None:
        taken = {p.name for p in fn.params}
        for s in walk(fn.body):
            taken |= {v.name for v in _written_vars(s)}
        names = Names(taken)
    rw = _LoopRewriter(fn, names)
    body = rw.block(fn.body)
    if not rw.changed:
        return fn
    return Function(fn.name, fn.params, body, fn.results, fn.loc, fn.meta)


class _LoopRewriter:
    def __init__(self, fn: Function, names: Names):
        self.fn = fn
        self.names = names
        self.buffers = Buffers(fn)
        self.changed = False
        # how often each variable is read anywhere (loop bodies included)
        self.reads: dict[str, int] = {}
        for s in walk(fn.body):
            for a in stmt_reads(s):
                if isinstance(a, Var):
                    self.reads[a.name] = self.reads.get(a.name, 0) + 1
        for r in fn.results:
            if isinstance(r, Var):
                self.reads[r.name] = self.reads.get(r.name, 0) + 1

    def block(self, stmts: list) -> list:
        out: list = []
        for s in stmts:
            if isinstance(s, If):
                s.then, s.orelse = self.block(s.then), self.block(s.orelse)
            elif isinstance(s, While):
                s.cond_body, s.body = self.block(s.cond_body), self.block(s.body)
            elif isinstance(s, ForRange):
                new = self.batched(s)
                if new is not None:
                    out.extend(new)
                    self.changed = True
                    record(Fired(NAME, "before", "for", s.loc))
                    continue
                s.body = self.block(s.body)
            out.append(s)
        return out

    def batched(self, loop: ForRange) -> list | None:
        plan = self.match(loop)
        if plan is None:
            return None
        rows, target, value = plan
        b = Builder(self.names)
        b.loc = loop.loc
        bounds = (loop.start, loop.stop, loop.step)
        batch: dict[str, Var] = {}  # row variable -> its batch (one row per trip)
        sliced: dict[str, Var] = {}  # source array -> its rows the loop visits
        for st, kind in rows:
            if kind == "gather":
                src = st.args[0]
                if src.name not in sliced:
                    sliced[src.name] = b.emit("getitem", src, *bounds, spec=_SLICE)
                batch[st.out.name] = sliced[src.name]
            elif kind == "mv":  # A @ r  ->  R @ A.T
                at = b.emit("transpose", st.args[0], axes=None)
                batch[st.out.name] = b.emit("matmul", batch[st.args[1].name], at)
            elif kind == "vm":  # r @ A  ->  R @ A
                batch[st.out.name] = b.emit("matmul", batch[st.args[0].name], st.args[1])
            else:
                args = [batch[a.name] if isinstance(a, Var) and a.name in batch else a
                        for a in st.args]
                batch[st.out.name] = b.emit(st.prim, *args, **params_dict(st.params))
        b.effect("setitem", target, batch[value.name], *bounds, spec=_SLICE)
        return b.block

    def match(self, loop: ForRange) -> tuple | None:
        """(row statements with their kind, the written array, the written row value)."""
        if not (_literal(loop.start) and loop.start.value >= 0 and _literal(loop.step)
                and loop.step.value >= 1):
            return None
        body = loop.body
        if len(body) < 3 or not all(isinstance(s, Assign) for s in body[:-1]):
            return None
        last = body[-1]
        if not (isinstance(last, Effect) and last.prim == "setitem"
                and params_dict(last.params).get("spec") == _ROW and len(last.args) == 3
                and _is(last.args[2], loop.var) and isinstance(last.args[1], Var)
                and last.args[0].type.ndim == 2):
            return None
        target, value = last.args[0], last.args[1]
        i = loop.var
        rows: list = []
        names: set[str] = set()
        invariant: list[Var] = []
        matmuls = 0

        def row(a: Any) -> bool:
            return isinstance(a, Var) and a.name in names

        for st in body[:-1]:
            out = st.out
            if out.name in names or out.name == i.name or out.type.ndim != 1:
                return None
            a = st.args
            if st.prim == "getitem":
                if not (params_dict(st.params).get("spec") == _ROW and len(a) == 2
                        and _is(a[1], i) and isinstance(a[0], Var) and a[0].type.ndim == 2
                        and not row(a[0])):
                    return None
                kind = "gather"
                invariant.append(a[0])
            elif st.prim == "matmul":
                if len(a) != 2:
                    return None
                if row(a[1]) and not row(a[0]) and isinstance(a[0], Var) \
                        and a[0].type.ndim == 2:
                    kind, inv = "mv", a[0]
                elif row(a[0]) and not row(a[1]) and isinstance(a[1], Var) \
                        and a[1].type.ndim == 2:
                    kind, inv = "vm", a[1]
                else:
                    return None
                invariant.append(inv)
                matmuls += 1
            elif st.prim in _ELEMENTWISE:
                if not any(row(x) for x in a):
                    return None
                for x in a:
                    if row(x):
                        continue
                    if isinstance(x, Var) and (_is(x, i) or x.type.ndim > 1):
                        return None
                    if isinstance(x, Var) and x.type.ndim == 1:
                        invariant.append(x)
                kind = "elementwise"
            else:
                return None
            rows.append((st, kind))
            names.add(out.name)
        if not matmuls or value.name not in names:
            return None
        # nothing of the body is read outside it: each row value's reads are all in the body
        inside: dict[str, int] = {}
        for s in body:
            for x in stmt_reads(s):
                if isinstance(x, Var):
                    inside[x.name] = inside.get(x.name, 0) + 1
        for n in names | {i.name}:
            if self.reads.get(n, 0) != inside.get(n, 0):
                return None
        if any(self.buffers._find(target.name) == self.buffers._find(v.name)
               for v in invariant):
            return None
        return rows, target, value


def _literal(a: Any) -> bool:
    return isinstance(a, Const) and isinstance(a.value, int) and not isinstance(a.value, bool)


def _is(a: Any, v: Var) -> bool:
    return isinstance(a, Var) and a.name == v.name
