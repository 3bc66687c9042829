"""Reverse mode (VJP) as an IR -> IR transform, with tapes for loops and overwrites.

``vjp_function(fn, wrt)`` returns a function taking ``(params..., cotangents of the float
results...)`` and returning ``(results..., cotangents of the wrt params...)``. Its body is a
forward sweep followed by a reverse sweep:

* forward sweep: the primal statements, plus tape pushes of what later statements destroy --
  the old value of a variable assigned again (loops, joins), the old contents of the array slots
  an in-place write overwrites (only those slots: O(data overwritten)) -- and of control:
  each ``if``'s condition, each ``while``'s trip count, each ``for``'s range.
* reverse sweep: the statements in reverse order. Reversing ``x = f(a)`` pops ``x``'s previous
  value back, then adds ``f``'s VJP of ``bx`` into ``ba``; reversing ``a[i] = v`` moves ``ba[i]``
  into ``bv``, zeroes it and restores the old slots. Loops run backwards the recorded number of
  times; nothing is unrolled.

Invariant: when the reverse of a statement runs, every variable holds the value it had right
after that statement ran in the forward sweep. Tapes are ordinary IR variables, so a second
transform (forward or reverse) can differentiate this code again. Tapes and loops (taped,
recomputed or checkpointed) are handled in ``reverse_loops.py``.
"""

from __future__ import annotations

from ..errors import ChainruleError, MissingRuleError, UnsupportedMutationError
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
    block_writes,
    stmt_reads,
    walk,
)
from ..ir.types import BOOL, Type
from . import checkpoint, recompute
from .activity import active_vars
from .aliases import check_writes
from .reverse_loops import LoopSweeps

# argument positions that only give a shape
_SHAPE_ONLY = {"unbroadcast": (1,), "materialize": (1,), "dematerialize": (1,),
               "broadcast_like": (1,), "zeros_like": (0,), "shape": (0,)}


class _Reverse(LoopSweeps):
    def __init__(self, fn: Function, wrt: list[bool], names: Names | None, prims,
                 diff_results: list[bool], checkpoint_option=False):
        self.fn = fn
        self.checkpoint = checkpoint.check_option(checkpoint_option)  # (transforms/checkpoint)
        self.diff_results = diff_results
        self.prims = prims
        self.b = Builder(names or _names_of(fn), prims)
        self.seeds = [p for p, w in zip(fn.params, wrt) if w]
        targets = [r for r, d in zip(fn.results, diff_results) if d]
        self.active = active_vars(fn, self.seeds, prims, targets)
        self.rule_reads_memo: dict = {}
        self.adj: dict[str, Var] = {}
        self.tapes: dict[tuple, Var] = {}
        self.init: list = []  # statements run first: tape creation, placeholders
        # Differentiating derivative code: contributions may be empty "zero" adjoints.
        self.higher_order = any(isinstance(s, Assign) and s.prim in ("adj_zero", "materialize")
                                for s in walk(fn.body))
        # Loops whose trips are recomputed in the reverse sweep (transforms/recompute.py).
        self.plans = {} if self.higher_order else recompute.plan_loops(fn)
        self.find_root = recompute.view_roots(fn)
        self.trip = None  # plan of the loop trip being emitted
        self.recomputing = False  # emitting a trip's recomputation (reverse sweep)
        self.kept_vars: list[Var] = []  # locals holding values a recomputed trip overwrites
        self.saved = self._reassigned(fn) & (self._reverse_reads(fn) | _arrays(fn))
        self.contents_needed = self._contents_needed(fn)
        check_writes(fn, self.active, prims)

    # -- bookkeeping -----------------------------------------------------------------------
    def _reassigned(self, fn: Function) -> set[str]:
        """Variables whose value may be destroyed by a later assignment (loops, joins)."""
        counts: dict[str, int] = {}

        def visit(stmts, in_loop):
            for s in stmts:
                if isinstance(s, Assign):
                    k = 2 if in_loop else 1
                    counts[s.out.name] = counts.get(s.out.name, 0) + k
                elif isinstance(s, If):
                    visit(s.then, in_loop)
                    visit(s.orelse, in_loop)
                elif isinstance(s, While):
                    visit(s.cond_body, True)
                    visit(s.body, True)
                elif isinstance(s, ForRange):
                    visit(s.body, True)

        visit(fn.body, False)
        params = {p.name for p in fn.params}
        return {n for n, c in counts.items() if c > 1 or n in params}

    def _reverse_reads(self, fn: Function, contents: bool = False) -> set[str]:
        """Variables whose values the reverse sweep reads (rules, indices, popped values).
        Scalars outside this set need not be saved when overwritten. With ``contents``, an
        array read only for its shape (``unbroadcast(g, x)``) does not count."""
        reads: set[str] = set()
        for s in walk(fn.body):
            if isinstance(s, Assign):
                if s.prim == "tape_pop":
                    reads.add(s.out.name)
                    continue
                p = self.prims[s.prim]
                if s.out.name in self.active and not p.nondiff and not p.linear:
                    reads.update(self._rule_reads(s)[contents])
            elif isinstance(s, Effect) and s.prim in ("setitem", "additem"):
                reads.update(a.name for a in s.args[2:] if isinstance(a, Var))
        for plan in self.plans.values():
            reads |= plan.outside_contents if contents else plan.outside_reads
        return reads

    def _contents_needed(self, fn: Function) -> set[str] | None:
        """Arrays whose contents the reverse sweep reads (directly or through a view): only
        writes into these save the slots they overwrite. None means "all" (for derivative code,
        whose own restores the outer transform must see)."""
        if self.higher_order:
            return None
        find = self.find_root
        reads = self._reverse_reads(fn, contents=True)
        roots = {find(n) for n in reads}
        return {v.name for v in block_writes(fn.body) if find(v.name) in roots} | \
            {p.name for p in fn.params if find(p.name) in roots}

    def slots_saved(self, target: Var) -> bool:
        return self.contents_needed is None or target.name in self.contents_needed

    def _rule_reads(self, s: Assign) -> tuple[set[str], set[str]]:
        """Which of ``s``'s arguments and result its VJP rule reads, found by running the rule
        once on a scratch builder (conservatively all of them if the rule rejects the
        statement: the same typed error is raised again when the reverse sweep runs it); and
        which of those it reads for more than their shape."""
        if id(s) not in self.rule_reads_memo:
            self.rule_reads_memo[id(s)] = self._find_rule_reads(s)
        return self.rule_reads_memo[id(s)]

    def _find_rule_reads(self, s: Assign) -> tuple[set[str], set[str]]:
        candidates = {a.name for a in (*s.args, s.out) if isinstance(a, Var)}
        p = self.prims[s.prim]
        names = Names()
        names.used, names.counters = set(self.b.names.used), dict(self.b.names.counters)
        scratch = Builder(names, self.prims)
        scratch.arg_active = tuple(self.is_active(a) for a in s.args)
        g = Var("#g", s.out.type)
        params = dict(s.params)
        if p.vjp is None and p.accumulate is None:
            return candidates, candidates
        try:
            acc_rule = p.accumulate
            if acc_rule is not None and self.is_active(s.args[0]):
                acc_rule(scratch, list(s.args), s.out, g, Var("#adj", s.args[0].type), **params)
                returned: list = []
            else:
                returned = list(p.vjp(scratch, list(s.args), s.out, g, **params))
        except ChainruleError:
            return candidates, candidates
        # Only what the contributions to *active* arguments need (a backward slice).
        needed = {r.name for r, a in zip(returned, s.args)
                  if isinstance(r, Var) and self.is_active(a)}
        used = set(needed)
        by_value = set(needed)
        for st in reversed(list(walk(scratch.block))):
            if isinstance(st, Assign) and st.out.name not in needed:
                continue
            atoms = stmt_reads(st)
            needed |= {a.name for a in atoms if isinstance(a, Var)}
            used |= {a.name for a in atoms if isinstance(a, Var)}
            shape_only = _SHAPE_ONLY.get(st.prim, ()) if isinstance(st, Assign) else ()
            by_value |= {a.name for k, a in enumerate(atoms)
                         if isinstance(a, Var) and k not in shape_only}
        return candidates & used, candidates & by_value

    def adj_var(self, v: Var) -> Var:
        a = self.adj.get(v.name)
        if a is None:
            a = Var(self.b.names.fresh("b" + v.name), v.type)
            self.adj[v.name] = a
        return a

    def zero(self, v: Var):
        if v.type.ndim == 0:
            return Const(0.0, Type(v.type.dtype), weak=True)
        return self.b.emit("adj_zero", dtype=v.type.dtype, ndim=v.type.ndim)

    def is_active(self, a) -> bool:
        return isinstance(a, Var) and a.name in self.active

    def accumulate(self, arg, contrib) -> None:
        if contrib is None or not self.is_active(arg):
            return
        ba = self.adj_var(arg)
        if arg.type.ndim == 0:
            self.b.emit("add", ba, contrib, out=ba)
            return
        # Array adjoints are owned buffers, accumulated in place (no allocation per use).
        self.b.emit("materialize", ba, arg, out=ba)
        if self.higher_order and isinstance(contrib, Var) and \
                contrib.type.ndim == arg.type.ndim:
            # (an empty zero contribution, from higher-order code, is dropped here)
            contrib = self.b.dematerialize(contrib, arg)
        self.b.effect("additem", ba, contrib, spec=("e",))

    def zero_in_place(self, ba: Var) -> None:
        self.b.effect("setitem", ba, Const(0.0, Type(ba.type.dtype), weak=True), spec=("e",))

    # -- forward sweep -----------------------------------------------------------------------
    def fwd_block(self, stmts: list) -> list:
        out: list = []
        with self.b.nested(out):
            for s in stmts:
                self.fwd(s)
        return out

    def fwd(self, s) -> None:
        b = self.b
        b.loc = getattr(s, "loc", None)
        if self.trip is not None:
            self.fwd_in_trip(s)
        elif isinstance(s, Assign):
            if s.out.name in self.saved and not s.out.type.tape:
                b.effect("tape_push", self.tape(s.out.type), s.out)
            b.append(s)
        elif isinstance(s, Effect):
            if s.prim in ("setitem", "additem") and self.slots_saved(s.args[0]):
                self.push_slots(s)
            b.append(s)
        elif isinstance(s, If):
            cond = s.cond
            if isinstance(cond, Var) and any(v == cond for v in block_writes(s.then + s.orelse)):
                cond = b.emit("id", cond)
            b.append(If(cond, self.fwd_block(s.then), self.fwd_block(s.orelse), s.loc))
            if isinstance(cond, Var):
                b.effect("tape_push", self.tape(BOOL), cond)
        elif isinstance(s, (ForRange, While)):
            self.fwd_loop(s)
        else:
            raise TypeError(s)

    # -- reverse sweep -----------------------------------------------------------------------
    def rev_block(self, stmts: list) -> list:
        out: list = []
        with self.b.nested(out):
            for s in reversed(stmts):
                self.rev(s)
        return out

    def rev(self, s) -> None:
        b = self.b
        b.loc = getattr(s, "loc", None)
        if isinstance(s, Assign):
            self.rev_assign(s)
        elif isinstance(s, Effect):
            self.rev_effect(s)
        elif isinstance(s, If):
            cond = s.cond
            if self.trip is not None:
                cond = self.trip.conds[id(s)]
            elif isinstance(cond, Var):
                cond = b.tape_pop(self.tape(BOOL))
            b.append(If(cond, self.rev_block(s.then), self.rev_block(s.orelse), s.loc))
        elif isinstance(s, (ForRange, While)):
            self.rev_loop(s)
        else:
            raise TypeError(s)

    def rev_assign(self, s: Assign) -> None:
        b = self.b
        out = s.out
        active = out.name in self.active
        saved = out.name in self.saved and not out.type.tape
        if self.trip is not None:
            saved = out.name in recompute.trip_saved(self, self.trip)
        if s.prim == "tape_pop":
            self.rev_tape_pop(s, active, saved)
            return
        if s.prim == "tape_new":
            return
        if not active:
            if saved:
                self.restore(s)
            return
        bout = self.adj_var(out)
        if out.type.ndim > 0:
            b.emit("materialize", bout, out, out=bout)
        if not any(isinstance(a, Var) and a == out for a in s.args):
            # The rule reads bout and out as they are; then bout is zeroed and out restored.
            self.rev_rule(s, out, bout)
            if out.type.ndim == 0:
                b.emit("id", self.zero(out), out=bout)
            else:
                self.zero_in_place(bout)
            if saved:
                self.restore(s)
            return
        # ``x = f(x, ...)``: the rule needs the old x, so restore it first and keep the new one.
        if out.type.ndim == 0:
            g = b.emit("id", bout)
            b.emit("id", self.zero(out), out=bout)
        else:
            g = b.copy(bout)
            self.zero_in_place(bout)
        value = out
        if saved:
            value = b.emit("id", out)
            self.restore(s)
        self.rev_rule(s, value, g)

    def restore(self, s: Assign) -> None:
        """Give ``s.out`` back the value it had before ``s``: popped from the tape, or, in a
        recomputed trip, copied from the local the recomputation kept it in."""
        if self.trip is not None:
            self.b.emit("id", self.trip.kept[id(s)], out=s.out)
        else:
            self.b.emit("tape_pop", self.tape(s.out.type), out=s.out)

    def rev_rule(self, s: Assign, value, g) -> None:
        """Add the VJP of ``s`` (new value ``value``, cotangent ``g``) into the adjoints."""
        b = self.b
        prim = self.prims[s.prim]
        if prim.nondiff or not any(self.is_active(a) for a in s.args):
            return
        acc_rule = prim.accumulate
        if acc_rule is not None and self.is_active(s.args[0]):
            x = s.args[0]
            bx = self.adj_var(x)
            b.emit("materialize", bx, x, out=bx)
            acc_rule(b, list(s.args), value, g, bx, **dict(s.params))
            return
        if prim.vjp is None:
            raise MissingRuleError(f"primitive `{s.prim}` has no reverse-mode (VJP) rule", s.loc)
        b.arg_active = tuple(self.is_active(a) for a in s.args)
        contribs = prim.vjp(b, list(s.args), value, g, **dict(s.params))
        for a, c in zip(s.args, contribs):
            self.accumulate(a, c)

    def rev_tape_pop(self, s: Assign, active: bool, saved: bool) -> None:
        b = self.b
        tape = s.args[0]
        value = s.out
        if active:
            bout = self.adj_var(s.out)
            b.effect("tape_push", self.adj_var(tape), bout)
            b.emit("id", self.zero(s.out), out=bout)
        elif tape.name in self.active:
            # The reverse of every push onto an active tape pops its adjoint tape, so every pop
            # pushes one adjoint, zero when the popped value is dead (an "undo" pop of
            # reverse-over-reverse code discards its value).
            b.effect("tape_push", self.adj_var(tape), self.zero(s.out))
        b.effect("tape_push", tape, value)  # put the value back for earlier pops
        if saved:
            b.emit("tape_pop", self.tape(s.out.type), out=s.out)

    def rev_effect(self, s: Effect) -> None:
        b = self.b
        target = s.args[0]
        if s.prim == "tape_push":
            b.emit("tape_pop", target)  # undo the push
            if target.name in self.active:
                g = b.tape_pop(self.adj_var(target))
                self.accumulate(s.args[1], g)
            return
        value, idx, params = s.args[1], s.args[2:], dict(s.params)
        if target.name in self.active:
            bt = self.adj_var(target)
            b.emit("materialize", bt, target, out=bt)
            gv = None
            if self.is_active(value):
                gv = b.getitem(bt, *idx, **params)
                if gv.type.ndim > 0 and s.prim == "setitem":
                    gv = b.copy(gv)
                if gv.type.ndim > 0 and s.prim == "setitem" and "a" in params.get("spec", ()):
                    gv = self.last_writes_only(gv, bt, idx, params)
            if s.prim == "setitem":
                # (zeroed before the contribution is added: the value may be the target
                # itself, as in ``a[:] = a``)
                b.effect("setitem", bt, Const(0.0, Type(bt.type.dtype), weak=True), *idx,
                         **params)
            if gv is not None:
                self.accumulate(value, self.unbroadcast(gv, value))
        if self.slots_saved(target) if self.trip is None else \
                recompute.slots_taped(self, self.trip, target):
            kind = "" if self.trip is None else recompute.slot_tape(self.trip, target)
            old = b.tape_pop(self.tape(b.infer("getitem", [target, *idx], params), kind))
            b.effect("setitem", target, old, *idx, **params)

    def last_writes_only(self, gv, bt, idx, params):
        """``gv`` (the cotangents an integer-array ``setitem`` ``t[idx] = v`` gathers for ``v``;
        the user's ``t[idx] += v`` is one too, NumPy's ``+=`` being buffered) with zeros where a
        later element of ``v`` writes the same slot: NumPy keeps the last write to a repeated
        index. Found by writing each element's number into a scratch array through the same
        index and reading it back: an element whose number did not survive lost. (``additem``
        accumulates every element, as ``np.add.at``: no mask.)"""
        b = self.b
        stamp = b.full_like(bt, -1.0, dtype="float64")
        ids = b.arange(Const(0.0, Type("float64")), b.size(gv), Const(1.0, Type("float64")))
        if gv.type.ndim != 1:
            ids = b.reshape(ids, *[b.shape(gv, axis=k) for k in range(gv.type.ndim)])
        b.effect("setitem", stamp, ids, *idx, **params)
        won = b.eq(b.getitem(stamp, *idx, **params), ids)
        return b.where(won, gv, Const(0.0, Type(gv.type.dtype)))

    def unbroadcast(self, g, like):
        if like.type.ndim == 0:
            return g if g.type.ndim == 0 else self.b.sum(g, axis=None, keepdims=False)
        return self.b.unbroadcast(g, like)

    # -- driver ------------------------------------------------------------------------------
    def run(self) -> Function:
        fn = self.fn
        b = self.b
        for p in self.seeds:
            self.adj_var(p)
        flagged = [r for r, d in zip(fn.results, self.diff_results) if d and r.type.is_float]
        cts = [Var(b.names.fresh("ct"), r.type) for r in flagged]
        fwd = self.fwd_block(fn.body)
        # The reverse sweep restores overwritten values: keep the results as they are now.
        written = {s.args[0].name for s in walk(fn.body) if isinstance(s, Effect)}
        # (variables the reverse sweep changes: saved ones and those recomputed loops assign)
        changed = {n for plan in self.plans.values() for n in plan.written}
        entry = {v.name for plan in self.plans.values() for v in plan.entry}
        primal_results = []
        with b.nested(fwd):
            for r in fn.results:
                if isinstance(r, Var) and r.name in written and r.type.ndim > 0:
                    r = b.copy(r)
                elif isinstance(r, Var) and (r.name in self.saved or r.name in changed):
                    r = b.emit("id", r)
                primal_results.append(r)
        # Reverse sweep: seed the adjoints of the results.
        rev: list = []
        with b.nested(rev):
            b.loc = None
            seed_stmts: list = []
            with b.nested(seed_stmts):
                for r, ct in zip(flagged, cts):
                    if self.is_active(r):
                        self.accumulate(r, ct)
            body = self.rev_block(fn.body)
            b.loc = None
            results = []
            for p in self.seeds:
                if p.name in self.active:
                    ba = self.adj_var(p)
                    if p.type.ndim > 0:  # (an adjoint no statement reached is still empty)
                        b.emit("materialize", ba, p, out=ba)
                    results.append(ba)
                else:
                    results.append(self.zero_result(p))
        # Adjoints start at zero; saved variables start with a placeholder of their type.
        zeros: list = []
        b.loc = None
        with b.nested(zeros):
            for a in self.adj.values():
                if a.type.tape:
                    b.emit("tape_new", out=a, dtype=a.type.dtype, ndim=a.type.ndim)
                else:
                    b.emit("id", self.zero(a), out=a)
            for v in _saved_vars(fn, self.saved | entry) + self.kept_vars:
                if not v.type.tape and v.name not in {p.name for p in fn.params}:
                    b.emit("id", _placeholder(b, v.type), out=v)
            # Tapes of derivative code created inside a loop or branch (a Jacobian's loop over
            # VJPs): the reverse sweep replays their balanced pushes and pops on the tape the
            # variable holds, which must exist even where the forward loop never ran.
            for st in _nested_tape_news(fn):
                b.append(Assign(st.out, "tape_new", (), st.params))
        body_all = self.init + zeros + fwd + seed_stmts + body + rev
        return Function(fn.name + "_vjp", list(fn.params) + cts, body_all,
                        primal_results + results, fn.loc, dict(fn.meta))

    def zero_result(self, p: Var):
        if p.type.ndim == 0:
            return Const(0.0, Type("float64"), weak=True)
        return self.b.zeros_like(p)


def _arrays(fn: Function) -> set[str]:
    return {v.name for v in block_writes(fn.body) if v.type.ndim > 0 or v.type.tape}


def _placeholder(b: Builder, typ: Type):
    if typ.ndim == 0:
        return Const({"bool": False, "int64": 0}.get(typ.dtype, 0.0), typ, weak=True)
    return b.emit("adj_zero", dtype=typ.dtype, ndim=typ.ndim)


def _saved_vars(fn: Function, saved: set[str]) -> list:
    seen: dict = {}
    for s in walk(fn.body):
        if isinstance(s, Assign) and s.out.name in saved:
            seen.setdefault(s.out.name, s.out)
    return list(seen.values())


def _nested_tape_news(fn: Function) -> list:
    top = {id(s) for s in fn.body}
    seen: dict = {}
    for s in walk(fn.body):
        if isinstance(s, Assign) and s.prim == "tape_new" and id(s) not in top:
            seen.setdefault(s.out.name, s)
    return list(seen.values())


def _names_of(fn: Function) -> Names:
    taken = {p.name for p in fn.params} | {v.name for v in block_writes(fn.body)}
    return Names(taken)


def vjp_function(fn: Function, wrt: list[bool], names: Names | None = None, prims=None,
                 diff_results: list[bool] | None = None, checkpoint_option=False) -> Function:
    """Reverse-mode derivative of ``fn`` w.r.t. the params flagged in ``wrt``.

    The new function's params are ``fn.params`` followed by one cotangent per float result
    (per flagged result when ``diff_results`` is given); its results are ``fn.results``
    followed by one cotangent per flagged param. ``checkpoint_option``: see checkpoint.py.
    """
    if prims is None:
        from ..rules import PRIMS

        prims = PRIMS
    if diff_results is None:
        diff_results = [True] * len(fn.results)
    rv = _Reverse(fn, wrt, names, prims, diff_results, checkpoint_option)
    return rv.run()


__all__ = ["UnsupportedMutationError", "vjp_function"]
