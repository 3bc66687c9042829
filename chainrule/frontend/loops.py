"""Lowering of loops: ``while`` and ``for`` statements, carried variables, flags.

A ``for`` over a range without ``break``/``return`` becomes a ``ForRange``; other loops become
``While`` (a ``for`` that may leave early runs over a counter). Names a loop assigns are
carried in variables whose types are found by lowering the body speculatively
(:meth:`LoopMixin.speculate`) until they stop changing; the back edge copies the values at the
end of the body into them in parallel. ``break`` and ``continue`` are flags the loop condition
and the rest of the body test. Nothing is unrolled except iteration over compile-time
tuples/lists.
"""

from __future__ import annotations

import ast
from contextlib import contextmanager
from typing import Any

from ..errors import ChainruleTypeError
from ..ir.builder import const
from ..ir.nodes import Const, ForRange, If, Var, While
from ..ir.types import BOOL, I64
from . import scan
from .frames import MISSING, UNBOUND, LoopCtx, bound_key, typed_zero
from .iteration import IterMixin, RunLoop
from .values import RunList, flatten, rebuild


class LoopMixin(IterMixin):
    """``while``/``for`` statements of the lowerer (mixed into ``StmtMixin``)."""
    def stmt_While(self, node: ast.While) -> bool:
        if node.orelse:
            raise self.error_at(node, "`while ... else` is not supported",
                                "use a flag variable after the loop")
        test = node.test
        if isinstance(test, ast.Constant) and test.value is True:
            head = _always
        else:
            def head():
                return self.truth(self.expr(test), test)
        self.loop(
            node,
            node.body,
            head=head,
            before_body=None,
            carried_extra=[],
        )
        return False

    def stmt_For(self, node: ast.For) -> bool:
        if node.orelse:
            raise self.error_at(node, "`for ... else` is not supported",
                                "use a flag variable after the loop")
        it = self.iterable(self.expr(node.iter), node.iter)
        if not isinstance(it, RunLoop):
            return self.unroll(node, list(it))
        start, stop, step, getter = it
        leaves_early = scan.has_break(node.body) or scan.has_return(node.body)
        if not leaves_early:
            idx = self.b.new_var(_loop_var_name(node.target), I64)
            if self.nonneg(start) and self.nonneg(step):
                self.mark_nonneg(idx)
            self.note_range(idx, start, stop, step)
            body_blk: list = []

            def bind_target():
                self.assign(node.target, getter(idx), node)

            self.loop(node, node.body, head=None, before_body=bind_target, carried_extra=[],
                      for_range=(idx, start, stop, step, body_blk))
            return False
        # A for loop that may leave early becomes a while loop over a counter (an enclosing
        # loop's counter is put back afterwards).
        outer_ctr = self.frame.env.get("#ctr", MISSING)
        self.frame.env["#ctr"] = start

        def head():
            c = self.frame.env["#ctr"]
            if isinstance(step, Const) and step.value < 0:
                return self.b.gt(c, stop)
            return self.b.lt(c, stop)

        def before_body():
            c = self.frame.env["#ctr"]
            self.assign(node.target, getter(c), node)
            self.frame.env["#ctr"] = self.b.add(c, step)

        self.loop(node, node.body, head=head, before_body=before_body, carried_extra=["#ctr"])
        self.frame.env.pop("#ctr", None)
        if outer_ctr is not MISSING:
            self.frame.env["#ctr"] = outer_ctr
        return False

    def loop(self, node, body: list, head, before_body, carried_extra: list,
             for_range: tuple | None = None) -> None:
        """Lower a loop: carried variables, flags, condition block and body."""
        frame = self.frame
        names = scan.assigned_names(body)
        # A name first bound inside the loop is carried only if something outside reads it.
        outside = scan.reads_outside(self.frame.node, node)
        if isinstance(node, ast.For):
            tnames = scan.assigned_names([ast.Assign(targets=[node.target], value=None)])
            # (a range loop's target is its index inside the body; after the loop it is the
            # last index, or its value before the loop when there was no trip)
            names = (tnames if for_range is None else
                     [n for n in tnames if n in outside]) + names
        names = [n for n in names if n in frame.env or n in outside]
        # ``a += v`` on an array writes in place and never rebinds ``a``: nothing to carry.
        in_place = scan.augassigned_only(body)
        names = [n for n in names if not (n in in_place and _array_var(frame.env.get(n)))]
        names = list(dict.fromkeys(names + self.loop_list_names(body) + list(carried_extra)))
        need_brk = scan.has_break(body)
        need_cont = scan.has_continue(body)
        ctx = LoopCtx()
        if need_brk:
            ctx.brk = self.b.new_var("brk", BOOL)
            self.b.emit("id", False, out=ctx.brk)
        if need_cont:
            ctx.cont = self.b.new_var("cont", BOOL)
        frame.dyn += 1
        outer = self.outer_lists(names)
        try:
            with self.region():
                self._loop_real(node, body, head, before_body, for_range, ctx, names)
        finally:
            frame.dyn -= 1
        self.check_outer_lists(outer)

    def _loop_real(self, node, body, head, before_body, for_range, ctx, names) -> None:
        frame = self.frame
        carried = self.carry(names, lambda: self._loop_pass(ctx, head, before_body, body))
        # The real pass.
        cond_blk: list = []
        body_blk = for_range[4] if for_range else []
        cond = None
        if head is not None:
            with self.b.nested(cond_blk):
                cond = self._loop_head(ctx, head)
        with self.b.nested(body_blk):
            frame.loops.append(ctx)
            try:
                if ctx.cont is not None:
                    self.b.emit("id", False, out=ctx.cont)
                if before_body is not None:
                    before_body()
                self.lower_block(body)
            finally:
                frame.loops.pop()
            # Paths that left by break/continue/return reach the end of the body too (the
            # rest of their code is skipped by flags), so the back edge is always emitted.
            self.back_edge(carried)
        if for_range is not None:
            idx, start, stop, step, _ = for_range
            self.b.append(ForRange(idx, start, stop, step, body_blk, self.b.loc))
        else:
            self.b.append(While(cond_blk, cond, body_blk, self.b.loc))
        for name, value in carried.items():
            frame.env[name] = value

    def _loop_head(self, ctx: LoopCtx, head) -> Any:
        flags = [f for f in (ctx.brk, self.frame.ret_flag) if f is not None]
        if not flags:
            return self.as_bool_atom(head())
        stop = flags[0]
        for f in flags[1:]:
            stop = self.b.or_(stop, f)
        if head is _always:
            return self.b.not_(stop)
        c = self.b.new_var("go", BOOL)
        then_blk: list = []
        else_blk: list = []
        with self.b.nested(then_blk):
            self.b.emit("id", False, out=c)
        with self.b.nested(else_blk):
            self.b.emit("id", self.as_bool_atom(head()), out=c)
        self.b.append(If(stop, then_blk, else_blk, self.b.loc))
        return c

    def _loop_pass(self, ctx: LoopCtx, head, before_body, body) -> None:
        if head is not None:
            self._loop_head(ctx, head)
        self.frame.loops.append(ctx)
        try:
            if before_body is not None:
                before_body()
            self.lower_block(body)
        finally:
            self.frame.loops.pop()

    def carry(self, names: list, run_body) -> dict:
        """Decide the carried variables of a loop; emit their initial copies; bind them."""
        frame = self.frame
        env = frame.env
        # a variable first assigned in the body is unassigned after a loop without a trip
        names = list(names)
        for n in list(names):
            if n.startswith("#"):
                continue
            if env.get(n, MISSING) is MISSING:
                env[bound_key(n)] = UNBOUND
            if bound_key(n) in env and bound_key(n) not in names:
                names.append(bound_key(n))
        kinds: dict = {}
        for n in names:
            v = env.get(n, MISSING)
            if v is not MISSING and flatten(v):
                kinds[n] = v
        for _ in range(6):
            trial = {n: self._placeholder_like(v) for n, v in kinds.items()}
            with self.speculate():
                frame.env.update(trial)
                run_body()
                after = dict(frame.env)
            changed = False
            for n in names:
                v = after.get(n, MISSING)
                if v is MISSING or not flatten(v):
                    continue
                if n not in kinds:
                    kinds[n] = v
                    changed = True
                    continue
                if isinstance(v, RunList) and isinstance(kinds[n], list):
                    kinds[n] = v  # a compile-time list the loop appends to
                    changed = True
                    continue
                self.check_same_structure(n, kinds[n], v)
                old = [a for _, a in flatten(kinds[n])]
                new = [a for _, a in flatten(v)]
                merged = [self.join_leaf_type(n, Var("?", a.type), b) for a, b in zip(old, new)]
                if any(m != a.type for m, a in zip(merged, old)):
                    kinds[n] = rebuild(kinds[n], [Var("?", m) for m in merged])
                    changed = True
            if not changed:
                break
        carried = {}
        for n, v in kinds.items():
            leaves = flatten(v)
            slots = [self.b.new_var(_slot_name(n, p, len(leaves)), a.type) for p, a in leaves]
            cur = env.get(n, MISSING)
            if isinstance(v, RunList) and isinstance(cur, list):
                cur = self.initial_run_list(n, cur, v)
                if cur is None:
                    raise ChainruleTypeError(
                        f"the list `{n}` is appended to in a loop, so its items must all be "
                        "numbers or arrays of one shape", self.b.loc,
                        "keep lists of mixed items out of run-time loops")
            if cur is MISSING:
                for s in slots:
                    self.b.emit("id", typed_zero(self.b, s.type), out=s)
            else:
                for s, (_, a) in zip(slots, flatten(cur)):
                    self.convert(a, s.type, out=s)
            carried[n] = rebuild(v, list(slots))
            env[n] = carried[n]
            if isinstance(v, RunList):
                self.note_carried_list(n, carried[n])
        return carried

    def _placeholder_like(self, v: Any) -> Any:
        return rebuild(v, [Var(self.b.names.temp(), a.type) for _, a in flatten(v)])

    def back_edge(self, carried: dict) -> None:
        """Copy the values at the end of the body into the carried variables (in parallel)."""
        env = self.frame.env
        moves = []
        for n, slots_v in carried.items():
            cur = env.get(n, MISSING)
            if isinstance(slots_v, RunList) and isinstance(cur, list):
                cur = self.to_run_list(cur, slots_v)
                if cur is None:
                    raise ChainruleTypeError(
                        f"the list `{n}` is appended to in a loop, so its items must all be "
                        "numbers or arrays of one shape", self.b.loc,
                        "keep lists of mixed items out of run-time loops")
            if cur is MISSING:
                continue
            self.check_same_structure(n, slots_v, cur)
            for (_, slot), (_, a) in zip(flatten(slots_v), flatten(cur)):
                if not (isinstance(a, Var) and a == slot):
                    moves.append((slot, a))
        dests = {s.name for s, _ in moves}
        staged = []
        for slot, a in moves:
            if isinstance(a, Var) and a.name in dests:
                a = self.b.emit("id", a)
            staged.append((slot, a))
        for slot, a in staged:
            self.convert(a, slot.type, out=slot)
            if slot.type.ndim != a.type.ndim:
                raise ChainruleTypeError("loop variable changes ndim", self.b.loc)

    @contextmanager
    def speculate(self):
        """Lower into a throwaway block with throwaway names and restorable environments."""
        b = self.b
        saved_names = b.names
        saved_blocks = b.blocks
        clone = type(saved_names)()
        clone.used = set(saved_names.used)
        clone.counters = dict(saved_names.counters)
        b.names = clone
        b.blocks = [[]]
        frames = list(self.frames)
        saved = [(f, f.env, dict(f.env), f.ret_flag, f.ret_values, f.result, list(f.loops))
                 for f in frames]
        for f in frames:
            f.env = dict(f.env)
        facts = self.facts.snapshot()
        # Records keyed by variable names are the throwaway pass's: the names are handed out
        # again, perhaps to other values. (Write counts stay: see ViewMixin.stale.)
        views, rederived, nonneg = dict(self.views), set(self.rederived), dict(self.nonneg_ids)
        try:
            yield
        finally:
            self.facts.restore(facts)
            self.views, self.rederived, self.nonneg_ids = views, rederived, nonneg
            b.names = saved_names
            b.blocks = saved_blocks
            for f, env, _, rf, rv, res, loops in saved:
                f.env = env
                f.ret_flag = rf
                f.result = res
                f.loops = loops
                if f.ret_values is not rv:
                    f.ret_values = rv


def _array_var(v: Any) -> bool:
    return isinstance(v, Var) and v.type.ndim > 0


def _always() -> Any:
    return const(True)


def _loop_var_name(target: ast.AST) -> str:
    return target.id if isinstance(target, ast.Name) else "i"


def _slot_name(name: str, path: str, n: int) -> str:
    base = name if name.isidentifier() else name.strip("#").replace(":", "_") or "v"
    return base if n == 1 and not path else f"{base}{path}"
