"""A leading batch axis on chosen parameters: many directions through one sweep.

``batch_function(fn, batched)`` rewrites ``fn`` so that each flagged parameter carries one
more leading axis, the batch axis of size ``B``, and every value computed from one carries it
too; values that do not depend on a batched parameter stay as they are and are computed once.
It is how ``jacfwd``, ``jacrev`` and ``hessian`` push all basis directions through one
derivative sweep (``transforms/jacobian.py``): the tangent (or cotangent) parameter is batched with
the identity matrix, and the matrix-vector products of the tangent code become one matrix
product.

Each primitive's ``batch`` rule (``rules/batching.py``) builds the batched statement from the
batched operands; a primitive without one runs in a loop over the batch, one example at a
time (correct for every primitive that only computes a value). Control flow keeps its
structure when its conditions and trip counts do not depend on the batch. A variable is
batched when any of its definitions or in-place writes reads a batched value; a definition
that does not is broadcast to the batch (a copy). Variables that may share a buffer with a
batched variable written in place are batched together.

:class:`Unbatchable` is raised (and the caller keeps its loop over directions) when a branch
or a loop depends on the batch, when a tape holds batched values, when a write through an
index needs two advanced indices, when an unbatched parameter would have to become batched,
or, with ``scalar_loops=False``, when a batched scalar statement sits inside a loop (one
array operation of ``B`` elements per scalar operation costs more than the loop over
directions, which Numba compiles to scalar code).

The result has the same parameters (the flagged ones with one more dimension); it returns
``fn``'s results and, per result, whether it is batched. ``B`` must be at least 1.
"""

from __future__ import annotations

from ..errors import ChainruleError
from ..ir.builder import Builder, Names, const
from ..ir.nodes import Assign, Effect, ForRange, Function, If, Var, While, block_writes, walk
from ..ir.types import I64
from ..rewrites.aliasing import FRESH


class Unbatchable(ChainruleError):
    """The function cannot carry a batch axis (the caller loops over the batch instead)."""


# Primitives whose result depends on a batched operand's shape only, not its values, and
# never carries the batch axis (their rules give the example's sizes).
SHAPE_QUERIES = frozenset({"shape", "size"})
# Results of these share a buffer with their first operand only (see transforms/hoist.py).
_FIRST_ONLY = frozenset({"materialize", "dematerialize", "unbroadcast", "broadcast_like",
                         "broadcast_as", "reshape", "transpose", "expand_dims", "squeeze",
                         "getitem", "ravel", "id", "stop_gradient", "astype", "flip"})
_TAPES = frozenset({"tape_new", "tape_pop", "tape_push", "tape_reserve"})


class _Classes:
    """Union-find over variable names: who may share a buffer (flow-insensitive)."""

    def __init__(self):
        self.parent: dict[str, str] = {}

    def find(self, a: str) -> str:
        while self.parent.get(a, a) != a:
            a = self.parent[a]
        return a

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[ra] = rb


def batched_names(fn: Function, seeds: set) -> set:
    """Names of the variables of ``fn`` that carry the batch axis when the params ``seeds`` do."""
    cls = _Classes()
    written: set = set()
    stmts = list(walk(fn.body))
    for s in stmts:
        if isinstance(s, Assign) and s.prim not in FRESH and s.out.type.ndim > 0:
            srcs = s.args[:1] if s.prim in _FIRST_ONLY else s.args
            for a in srcs:
                if isinstance(a, Var) and (a.type.ndim > 0 or a.type.tape):
                    cls.union(s.out.name, a.name)
        elif isinstance(s, Effect):
            written.add(s.args[0].name)
            if s.prim == "tape_push" and isinstance(s.args[1], Var):
                cls.union(s.args[0].name, s.args[1].name)
    written_roots = {cls.find(n) for n in written}
    members: dict[str, set] = {}
    for name in {v.name for v in block_writes(fn.body)} | {p.name for p in fn.params}:
        members.setdefault(cls.find(name), set()).add(name)
    out = set(seeds)
    changed = True
    while changed:
        changed = False
        for s in stmts:
            if isinstance(s, Assign):
                if s.out.name in out or s.prim in SHAPE_QUERIES:
                    continue
                if any(isinstance(a, Var) and a.name in out for a in s.args):
                    out.add(s.out.name)
                    changed = True
            elif isinstance(s, Effect):
                t = s.args[0].name
                if t not in out and any(isinstance(a, Var) and a.name in out
                                        for a in s.args[1:]):
                    out.add(t)
                    changed = True
        for root in written_roots:
            group = members.get(root, ())
            if any(n in out for n in group) and not all(n in out for n in group):
                out |= group
                changed = True
    return out


class _Batcher:
    def __init__(self, fn: Function, batched: set, names: Names, prims, scalar_loops: bool):
        self.fn = fn
        self.batched = batched
        self.prims = prims
        self.b = Builder(names, prims)
        self.scalar_loops = scalar_loops
        self.loop_depth = 0
        self.size: Var | None = None
        self.vars: dict[str, Var] = {}

    # -- atoms -----------------------------------------------------------------------------
    def is_batched(self, a) -> bool:
        return isinstance(a, Var) and a.name in self.batched

    def var(self, v: Var) -> Var:
        """The batched version of variable ``v`` (one more dimension)."""
        w = self.vars.get(v.name)
        if w is None:
            w = Var(v.name, v.type.with_ndim(v.type.ndim + 1))
            self.vars[v.name] = w
        return w

    def atom(self, a):
        return self.var(a) if self.is_batched(a) else a

    # -- helpers the rules use ---------------------------------------------------------------
    def pad(self, x, ndim: int):
        """Batched ``x`` with axes of size 1 inserted after the batch axis, so that its example
        has ``ndim`` dimensions (it then broadcasts against unbatched values as the example
        did)."""
        while x.type.ndim - 1 < ndim:
            x = self.b.expand_dims(x, axis=1)
        return x

    def dims(self, x) -> list:
        """The sizes of unbatched ``x``, as atoms."""
        return [self.b.shape(x, axis=a) for a in range(x.type.ndim)]

    def spread(self, x):
        """A new batched array holding unbatched ``x`` in every example (writable)."""
        b = self.b
        if x.type.ndim == 0:
            return b.full(self.size, x)
        return b.copy(b.broadcast_to(x, self.size, *self.dims(x)))

    def view(self, x):
        """Unbatched array ``x`` seen as batched, without a copy (read-only)."""
        if x.type.ndim == 0:
            return self.spread(x)
        return self.b.broadcast_to(x, self.size, *self.dims(x))

    # -- statements --------------------------------------------------------------------------
    def block(self, stmts: list) -> list:
        out: list = []
        with self.b.nested(out):
            for s in stmts:
                self.stmt(s)
        return out

    def stmt(self, s) -> None:
        b = self.b
        b.loc = getattr(s, "loc", None)
        if isinstance(s, Assign):
            self.assign(s)
        elif isinstance(s, Effect):
            self.effect(s)
        elif isinstance(s, If):
            if self.is_batched(s.cond):
                raise Unbatchable("a branch depends on the batch", s.loc)
            b.append(If(s.cond, self.block(s.then), self.block(s.orelse), s.loc))
        elif isinstance(s, While):
            if self.is_batched(s.cond):
                raise Unbatchable("a loop's condition depends on the batch", s.loc)
            self.loop_depth += 1
            b.append(While(self.block(s.cond_body), s.cond, self.block(s.body), s.loc))
            self.loop_depth -= 1
        elif isinstance(s, ForRange):
            if any(self.is_batched(a) for a in (s.start, s.stop, s.step)):
                raise Unbatchable("a loop's trip count depends on the batch", s.loc)
            self.loop_depth += 1
            b.append(ForRange(s.var, s.start, s.stop, s.step, self.block(s.body), s.loc))
            self.loop_depth -= 1
        else:
            raise TypeError(s)

    def _scalar_in_loop(self, s, example_ndim: int) -> None:
        if self.loop_depth and not self.scalar_loops and example_ndim == 0:
            raise Unbatchable("a batched scalar statement inside a loop", s.loc)

    def assign(self, s: Assign) -> None:
        b = self.b
        out_b = s.out.name in self.batched
        reads = [self.is_batched(a) for a in s.args]
        if s.prim in _TAPES and (out_b or any(reads)):
            raise Unbatchable("a tape holds batched values", s.loc)
        if not any(reads):
            if not out_b:
                b.append(s)
                return
            self._scalar_in_loop(s, s.out.type.ndim)
            self.promote(s)
            return
        if s.prim in SHAPE_QUERIES:
            rule = self.prims[s.prim].batch
            val = rule(self, b, [self.atom(a) for a in s.args], tuple(reads), s.out,
                       **dict(s.params))
            b.emit("id", val, out=s.out)
            return
        self._scalar_in_loop(s, s.out.type.ndim)
        prim = self.prims[s.prim]
        args = [self.atom(a) for a in s.args]
        if prim.batch is not None:
            val = prim.batch(self, b, args, tuple(reads), s.out, **dict(s.params))
        else:
            val = None
        if val is None:
            val = self.loop(s, args, reads)
        self.set_out(s.out, val)

    def set_out(self, out: Var, val) -> None:
        """Emit ``out = val`` for batched ``out`` (renaming a just-built temporary)."""
        b = self.b
        target = self.var(out)
        if val.type.ndim != target.type.ndim:
            raise Unbatchable(f"internal: the batch rule gave {val.type} for {target.type}")
        blk = b.block
        if isinstance(val, Var) and blk and getattr(blk[-1], "out", None) is val and \
                val.name.startswith("t") and val.name[1:].isdigit():
            blk[-1].out = Var(target.name, val.type)
            return
        b.emit("id", val, out=target)

    def promote(self, s: Assign) -> None:
        """``s`` reads nothing batched, but its target is batched elsewhere: give every example
        the value (zeros are made batched directly)."""
        b = self.b
        target = self.var(s.out)
        p = dict(s.params)
        if s.prim in ("zeros", "ones", "empty"):
            b.emit(s.prim, self.size, *s.args, out=target, **p)
            return
        if s.prim == "adj_zero":
            b.emit("adj_zero", out=target, dtype=p["dtype"], ndim=p["ndim"] + 1)
            return
        if s.prim in ("zeros_like", "ones_like", "empty_like") and s.args[0].type.ndim > 0:
            b.emit(s.prim[:-5], self.size, *self.dims(s.args[0]), out=target,
                   dtype=p.get("dtype") or s.out.type.dtype)
            return
        tmp = b.temp(s.out.type)
        b.append(Assign(tmp, s.prim, s.args, s.params, s.loc))
        b.emit("id", self.spread(tmp), out=target)

    def loop(self, s: Assign, args: list, reads: list):
        """``s`` one example at a time: the first example outside the loop (it allocates the
        result), the others in a loop."""
        b = self.b
        typ = s.out.type

        def example(k):
            one = [b.getitem(a, k, spec=("i",)) if r else a for a, r in zip(args, reads)]
            return b.emit(s.prim, *one, **dict(s.params))

        first = example(const(0))
        res = b.empty(self.size, *self.dims(first), dtype=typ.dtype)
        b.effect("setitem", res, first, const(0), spec=("i",))
        k = b.new_var("k", I64)
        body: list = []
        with b.nested(body):
            b.effect("setitem", res, example(k), k, spec=("i",))
        b.append(ForRange(k, const(1), self.size, const(1), body, s.loc))
        return res

    def effect(self, s: Effect) -> None:
        b = self.b
        target = s.args[0]
        if s.prim in _TAPES:
            if any(self.is_batched(a) for a in s.args):
                raise Unbatchable("a tape holds batched values", s.loc)
            b.append(s)
            return
        if target.name not in self.batched:
            b.append(s)
            return
        if s.prim not in ("setitem", "additem"):
            raise Unbatchable(f"the in-place `{s.prim}` of a batched array", s.loc)
        spec = dict(s.params)["spec"]
        idx = s.args[2:]
        if any(self.is_batched(a) for a in idx):
            raise Unbatchable("an index depends on the batch", s.loc)
        if sum(code in ("a", "m") for code in spec) > 1:
            raise Unbatchable("a write through two advanced indices", s.loc)
        value = s.args[1]
        self._scalar_in_loop(s, value.type.ndim if self.loop_depth else 1)
        if self.is_batched(value):
            from ..rules.indexing import index_result_ndim

            sub = index_result_ndim(target.type.ndim, spec, [a.type for a in idx])
            value = self.pad(self.var(value), sub)
        params = dict(s.params)
        params["spec"] = ("s000",) + tuple(spec)
        b.effect(s.prim, self.var(target), value, *idx, **params)

    def run(self, seeds: list) -> tuple[Function, list]:
        fn = self.fn
        b = self.b
        body: list = []
        with b.nested(body):
            first = self.var(seeds[0])
            self.size = b.shape(first, axis=0)
        body += self.block(fn.body)
        results, flags = [], []
        for r in fn.results:
            if self.is_batched(r):
                results.append(self.var(r))
                flags.append(True)
            else:
                results.append(r)
                flags.append(False)
        params = [self.var(p) if p.name in self.batched else p for p in fn.params]
        return Function(fn.name + "_batched", params, body, results, fn.loc,
                        dict(fn.meta)), flags


def batch_function(fn: Function, batched: list, names: Names, prims=None,
                   scalar_loops: bool = False) -> tuple[Function, list]:
    """``fn`` with a leading batch axis on the params flagged in ``batched`` (see the module
    docstring); returns the new function and which of its results are batched."""
    if prims is None:
        from ..rules import PRIMS

        prims = PRIMS
    seeds = [p for p, f in zip(fn.params, batched) if f]
    if not seeds:
        raise ValueError("batch_function needs at least one batched parameter")
    names_b = batched_names(fn, {p.name for p in seeds})
    for p in fn.params:
        if p.name in names_b and p not in seeds:
            raise Unbatchable("an unbatched parameter is written with batched values")
    return _Batcher(fn, names_b, names, prims, scalar_loops).run(seeds)


__all__ = ["SHAPE_QUERIES", "Unbatchable", "batch_function", "batched_names"]
