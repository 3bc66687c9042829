"""Reverse mode's loops and tapes: the part of ``reverse._Reverse`` that creates tapes, pushes
and pops control (``for`` ranges, ``while`` trip counts) and overwritten slots, and chooses how a
loop is reversed: taped per statement (here), recomputed per trip (``recompute.py``) or from
checkpoints (``checkpoint.py``).

``LoopSweeps`` is a mixin: it uses the state ``_Reverse`` sets up (``b``, ``plans``, ``tapes``,
``init``, ``trip``, ``recomputing``, ``kept_vars``) and its ``fwd_block``/``rev_block``.
"""

from __future__ import annotations

from ..ir.nodes import Assign, Const, Effect, ForRange, If, Var, While, block_writes
from ..ir.types import I64, Type
from . import checkpoint, recompute


class LoopSweeps:
    # -- loops ---------------------------------------------------------------------------------
    def fwd_loop(self, s) -> None:
        """The forward sweep of a ``for`` or ``while`` loop."""
        b = self.b
        if id(s) in self.plans:
            plan = self.plans[id(s)]
            (checkpoint if checkpoint.applies(self, s, plan) else recompute).fwd_loop(self, s, plan)
        elif isinstance(s, While):
            n = b.new_var("trips", I64)
            b.emit("id", 0, out=n)
            body = self.fwd_block(s.body)
            with b.nested(body):
                b.emit("add", n, 1, out=n)
            b.append(While(self.fwd_block(s.cond_body), s.cond, body, s.loc))
            b.effect("tape_push", self.tape(I64), n)
        else:
            start, step = self.range_start_step(s)
            n = b.new_var("trips", I64)
            b.emit("id", 0, out=n)
            body = self.fwd_block(s.body)
            with b.nested(body):
                b.emit("add", n, 1, out=n)
            b.append(ForRange(s.var, start, s.stop, step, body, s.loc))
            self.push_range(start, step, n)

    def rev_loop(self, s) -> None:
        """The reverse sweep of a ``for`` or ``while`` loop."""
        b = self.b
        if id(s) in self.plans:
            plan = self.plans[id(s)]
            (checkpoint if checkpoint.applies(self, s, plan) else recompute).rev_loop(self, s, plan)
        elif isinstance(s, While):
            n = b.tape_pop(self.tape(I64))
            for st in self.rev_block(s.cond_body):
                b.append(st)
            k = b.new_var("k", I64)
            body = self.rev_block(s.body) + self.rev_block(s.cond_body)
            b.append(ForRange(k, Const(0, I64, True), n, Const(1, I64, True), body, s.loc))
        else:
            self.backwards(s, lambda: self.rev_block(s.body))

    # -- tapes ---------------------------------------------------------------------------------
    def tape(self, typ: Type, kind: str = "") -> Var:
        """The tape for values of ``typ`` (``kind``: a separate tape, see recompute.slot_tape)."""
        key = (typ.dtype, typ.ndim, kind)
        t = self.tapes.get(key)
        if t is None:
            short = {"float64": "f", "float32": "f32", "int64": "i", "bool": "b"}[typ.dtype]
            short += f"{typ.ndim}" if typ.ndim else ""
            t = Var(self.b.names.fresh(f"tape_{short}{kind}"), typ.tape_of())
            self.tapes[key] = t
            loc, self.b.loc = self.b.loc, None
            with self.b.nested(self.init):
                self.b.emit("tape_new", out=t, dtype=typ.dtype, ndim=typ.ndim)
            self.b.loc = loc
        return t

    def range_start_step(self, s: ForRange) -> tuple:
        """A ``for`` loop's start and step as the reverse sweep will see them: constants stay
        constants (so the compiler knows the loop's direction), variables are copied."""
        return tuple(a if isinstance(a, Const) else self.b.emit("id", a)
                     for a in (s.start, s.step))

    def push_range(self, start, step, n) -> None:
        for v in (start, step, n):
            if isinstance(v, Var):
                self.b.effect("tape_push", self.tape(I64), v)

    def backwards(self, s: ForRange, make_body) -> None:
        """Emit ``s``'s trips in reverse order, the trip's statements coming from
        ``make_body()``. With a constant start and step the loop runs over ``s.var`` itself
        (``range(n - 1, -1, -1)``: the compiler sees the index stay in range)."""
        b = self.b
        start, step, n = self.pop_range(s)
        if isinstance(start, Const) and isinstance(step, Const):
            first = b.add(start, b.mul(b.sub(n, 1), step))
            stop = Const(start.value - step.value, I64, True)
            b.append(ForRange(s.var, first, stop, Const(-step.value, I64, True), make_body(),
                              s.loc))
            return
        k = b.new_var("k", I64)
        body: list = []
        with b.nested(body):
            # i = start + (n - 1 - k) * step
            back = b.sub(b.sub(n, 1), k)
            b.emit("add", start, b.mul(back, step), out=s.var)
        body += make_body()
        b.append(ForRange(k, Const(0, I64, True), n, Const(1, I64, True), body, s.loc))

    def pop_range(self, s: ForRange) -> tuple:
        """``(start, step, n)`` of ``s``'s run, popped (what push_range pushed)."""
        ti = self.tape(I64)
        n = self.b.tape_pop(ti)
        step = s.step if isinstance(s.step, Const) else self.b.tape_pop(ti)
        start = s.start if isinstance(s.start, Const) else self.b.tape_pop(ti)
        return start, step, n

    def push_slots(self, s: Effect, kind: str = "") -> None:
        b = self.b
        old = b.getitem(s.args[0], *s.args[2:], **dict(s.params))
        if old.type.ndim > 0:
            old = b.copy(old)
        b.effect("tape_push", self.tape(old.type, kind), old)

    def fwd_in_trip(self, s) -> None:
        """A statement of a recomputed loop's trip: in the forward sweep (no tape, except the
        slots of arrays without a snapshot) or recomputed in the reverse sweep (a tape only
        for values the trip's own adjoint restores; the statement is a copy)."""
        b, plan, again = self.b, self.trip, self.recomputing
        if isinstance(s, Assign):
            if again and s.out.name in recompute.trip_saved(self, plan):
                plan.kept[id(s)] = keep = b.new_var(s.out.name + "_old", s.out.type)
                b.emit("id", s.out, out=keep)
                self.kept_vars.append(keep)
            b.append(recompute.copy_stmt(s) if again else s)
        elif isinstance(s, Effect):
            snapshot = any(a.name == s.args[0].name for a in plan.snapshots)
            if recompute.slots_taped(self, plan, s.args[0]) and snapshot == again:
                self.push_slots(s, recompute.slot_tape(plan, s.args[0]))
            b.append(recompute.copy_stmt(s) if again else s)
        else:  # If: the condition is recomputed, never taped
            cond = s.cond
            if again:
                if isinstance(cond, Var) and (cond.name in plan.twice or any(
                        v == cond for v in block_writes(s.then + s.orelse))):
                    cond = b.emit("id", cond)
                plan.conds[id(s)] = cond
            b.append(If(s.cond, self.fwd_block(s.then), self.fwd_block(s.orelse), s.loc))
