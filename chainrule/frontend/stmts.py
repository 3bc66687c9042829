"""Lowering of statements and structured control flow to IR.

``break``, ``continue`` and early ``return`` become boolean flags: the rest of a block after a
statement that may leave is guarded by ``if not flag``, and loop conditions test the flags. A
``for`` over a range without ``break``/``return`` becomes a ``ForRange``; other loops become
``While``. Names a loop assigns are carried in variables whose types are found by lowering the
body speculatively until they stop changing. Nothing is unrolled except iteration over
compile-time tuples/lists.
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
from .frames import MISSING, LoopCtx, typed_zero
from .iteration import IterMixin, RunLoop
from .values import AstFunction, RunList, flatten, is_atom, rebuild, static_number

_REJECTED = {
    ast.Try: ("try/except", "remove the try block; chainrule compiles straight-line numeric code"),
    ast.With: ("with", "move the context manager outside the differentiated function"),
    ast.ClassDef: ("class definition", "define classes outside; pass arrays and numbers in"),
    ast.Global: ("global", "pass the value in as an argument and return the new value"),
    ast.Nonlocal: ("nonlocal", "return the new value instead of writing an enclosing variable"),
    ast.Delete: ("del", "drop the del statement"),
    ast.Import: ("import", "import at module level"),
    ast.ImportFrom: ("import", "import at module level"),
    ast.AsyncFunctionDef: ("async def", "use a plain def"),
    ast.AsyncFor: ("async for", "use a plain for loop"),
    ast.Raise: ("raise", "check inputs before calling the differentiated function"),
}
if hasattr(ast, "TryStar"):
    _REJECTED[ast.TryStar] = _REJECTED[ast.Try]
if hasattr(ast, "Match"):
    _REJECTED[ast.Match] = ("match", "use if/elif/else")


class NeedFlags(Exception):
    """A ``return`` inside run-time control flow: the frame is re-lowered with a return flag."""

    def __init__(self, frame):
        super().__init__("internal: return flags needed")
        self.frame = frame


class StmtMixin(IterMixin):
    # -- blocks ----------------------------------------------------------------------------
    def lower_block(self, stmts: list) -> bool:
        """Lower ``stmts``; True when control definitely left (return/break/continue)."""
        in_loop = bool(self.frame.loops)
        for i, stmt in enumerate(stmts):
            if self.lower_stmt(stmt):
                return True
            rest = stmts[i + 1 :]
            if rest and scan.may_leave(stmt, in_loop):
                cond = self.still_running()
                if cond is None:
                    continue
                exits = self.branch(cond, lambda rest=rest: self.lower_block(rest),
                                    lambda: False)
                return exits[0] and exits[1]
        return False

    def still_running(self) -> Any:
        """Atom that is True while no return/break/continue flag is set (None: no flags)."""
        flags = []
        if self.frame.ret_flag is not None:
            flags.append(self.frame.ret_flag)
        if self.frame.loops:
            ctx = self.frame.loops[-1]
            flags += [f for f in (ctx.brk, ctx.cont) if f is not None]
        if not flags:
            return None
        acc = flags[0]
        for f in flags[1:]:
            acc = self.b.or_(acc, f)
        return self.b.not_(acc)

    def lower_stmt(self, node: ast.AST) -> bool:
        self.set_loc(node)
        if type(node) in _REJECTED:
            what, hint = _REJECTED[type(node)]
            raise self.error_at(node, f"`{what}` is not supported inside compiled functions", hint)
        method = getattr(self, "stmt_" + type(node).__name__, None)
        if method is None:
            raise self.error_at(node, f"`{type(node).__name__}` statement is not supported",
                                "rewrite it with assignments, if and loops")
        return bool(method(node))

    # -- simple statements -------------------------------------------------------------------
    def stmt_Expr(self, node: ast.Expr) -> bool:
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return False  # docstring
        if isinstance(node.value, (ast.Yield, ast.YieldFrom, ast.Await)):
            raise self.error_at(node, "`yield` is not supported (generators cannot be compiled)",
                                "return a tuple or write results into an array")
        self.expr(node.value)
        return False

    def stmt_Pass(self, node: ast.Pass) -> bool:
        return False

    def stmt_Assign(self, node: ast.Assign) -> bool:
        value = self.expr(node.value)
        if len(node.targets) > 1:
            # ``a = b = expr``: both names hold the one value; it keeps its temporary name.
            value = self.as_atom(value) if is_atom(value) else value
            self.frame.env["#value"] = value
        try:
            for target in node.targets:
                self.assign(target, value, node)
        finally:
            self.frame.env.pop("#value", None)
        return False

    def stmt_AnnAssign(self, node: ast.AnnAssign) -> bool:
        if node.value is not None:
            self.assign(node.target, self.expr(node.value), node)
        return False

    def stmt_AugAssign(self, node: ast.AugAssign) -> bool:
        target = node.target
        if isinstance(target, (ast.Name, ast.Attribute)):
            if isinstance(target, ast.Name):
                old = self.load_name(target.id, target)
            else:
                obj = self.expr(target.value)
                old = self.attribute(obj, target.attr, target)
            new = self.binop(node.op, old, self.expr(node.value), node)
            if is_atom(old) and old.type.ndim > 0 and isinstance(old, Var):
                # In-place on arrays, as NumPy does: other names of this array see the change.
                if new.type.ndim != old.type.ndim:
                    raise ChainruleTypeError("in-place operation would change the array's ndim",
                                             self.b.loc)
                self.write_into(old, ("e",), [], new)
            elif isinstance(target, ast.Name):
                self.bind(target.id, new)
            else:
                self.store_attribute(obj, target.attr, new, target)
            return False
        if isinstance(target, ast.Subscript):
            arr = self.expr(target.value)
            if isinstance(arr, (list, RunList)):
                old = self.expr(target)
                new = self.binop(node.op, old, self.expr(node.value), node)
                self.assign(target, new, node)
                return False
            spec, idx = self.index_spec(target.slice, arr)
            old = self.index_read(arr, spec, idx)
            new = self.binop(node.op, old, self.expr(node.value), node)
            self.store(arr, spec, idx, new)
            return False
        raise self.error_at(node, "augmented assignment to this target is not supported",
                            "assign to a name or an array element")

    def stmt_FunctionDef(self, node: ast.FunctionDef) -> bool:
        defaults = [self.expr(d) for d in node.args.defaults]
        self.bind(node.name, AstFunction(node, self.frame, defaults, node.name))
        return False

    def stmt_Return(self, node: ast.Return) -> bool:
        value = self.expr(node.value) if node.value is not None else None
        frame = self.frame
        if frame.ret_values is not None:  # speculative pass collecting return kinds
            frame.ret_values.append(value)
        if frame.ret_flag is None:
            if frame.dyn > 0:
                raise NeedFlags(frame)
            frame.result = value
            return True
        if frame.ret_leaves is not None:
            self.check_same_structure("return value", frame.ret_template, value)
            for slot, (_, leaf) in zip(frame.ret_leaves, flatten(value)):
                self.convert(leaf, slot.type, out=slot)
        self.b.emit("id", True, out=frame.ret_flag)
        return True

    def stmt_Break(self, node: ast.Break) -> bool:
        self.b.emit("id", True, out=self.frame.loops[-1].brk)
        return True

    def stmt_Continue(self, node: ast.Continue) -> bool:
        self.b.emit("id", True, out=self.frame.loops[-1].cont)
        return True

    # -- assignment ----------------------------------------------------------------------
    def bind(self, name: str, value: Any) -> None:
        """Bind a local name; a fresh temporary result is renamed after the user's name."""
        blk = self.b.block
        if isinstance(value, Var) and blk and getattr(blk[-1], "out", None) is value \
                and not self._bound_elsewhere(value):
            if value.name.startswith("t") and value.name[1:].isdigit():
                renamed = self.b.new_var(name, value.type)
                blk[-1].out = renamed
                self.renamed(value, renamed)
                value = renamed
        self.frame.env[name] = value

    def _bound_elsewhere(self, var: Var) -> bool:
        """Does a name of any active frame already hold ``var`` (a parameter of an inlined
        call bound to the argument's temporary, or another target of ``a = b = ...``)?"""
        for frame in self.frames:
            for v in frame.env.values():
                if v is var or any(a is var for _, a in flatten(v)):
                    return True
        return False

    def assign(self, target: ast.AST, value: Any, node: ast.AST) -> None:
        if isinstance(target, ast.Name):
            self.bind(target.id, value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            items = self.unpack(value, len(target.elts), node)
            # Snapshot first so ``a, b = b, a`` reads the old values.
            for t, v in zip(target.elts, items):
                self.assign(t, v, node)
        elif isinstance(target, ast.Subscript):
            base = self.expr(target.value)
            if isinstance(base, (list, RunList)) and not isinstance(target.slice, ast.Slice):
                key = self.expr(target.slice)
                if isinstance(base, list) and static_number(key) and self._mutable_here(base):
                    base[key.value] = value
                else:  # a run-time index, or a change inside a run-time branch or loop
                    self.list_setitem(base, key, value, target)
                return
            if isinstance(base, RunList):
                raise self.error_at(target, "slice assignment into a list of run-time length "
                                    "is not supported", "assign items one by one")
            if isinstance(base, (list, dict)):
                key = self.static_index(target.slice)
                base[key] = value
                return
            spec, idx = self.index_spec(target.slice, base)
            self.store(base, spec, idx, value)
        elif isinstance(target, ast.Attribute):
            self.set_loc(target)
            self.store_attribute(self.expr(target.value), target.attr, value, target)
        elif isinstance(target, ast.Starred):
            raise self.error_at(target, "starred assignment (`*rest`) is not supported",
                                "unpack a fixed number of items")
        else:
            raise self.error_at(target, f"cannot assign to `{type(target).__name__}`",
                                "assign to names, tuples of names or array elements")

    def unpack(self, value: Any, n: int, node: ast.AST) -> list:
        """Items of ``value`` for ``a, b, ... = value`` with ``n`` targets."""
        if isinstance(value, (tuple, list)):
            if len(value) != n:
                raise self.error_at(node, f"cannot unpack {len(value)} values into {n} names",
                                    "match the number of names to the number of values")
            return list(value)
        if isinstance(value, RunList):
            self.b.emit("check", self.b.eq(value.n, n),
                        message=f"{self._where()}: cannot unpack a list of another length "
                        f"into {n} names")
            value = self.fresh_views(value.buf)
        if is_atom(value) and value.type.ndim > 0:
            return [self.index_read(value, ("i",), [const(i)]) for i in range(n)]
        raise self.error_at(node, "only tuples, lists and arrays can be unpacked",
                            "unpack a tuple or an array")

    def store(self, arr: Any, spec: tuple, idx: list, value: Any) -> None:
        """``arr[index] = value`` (through views: see :mod:`.views`)."""
        self.write_into(arr, spec, idx, value)

    # -- if ------------------------------------------------------------------------------
    def stmt_If(self, node: ast.If) -> bool:
        cond = self.truth(self.expr(node.test), node.test)
        if isinstance(cond, Const):
            return self.lower_block(node.body if cond.value else node.orelse)
        t, e = self.branch(cond, lambda: self.lower_block(node.body),
                           lambda: self.lower_block(node.orelse))
        return t and e

    def branch(self, cond: Any, then_fn, else_fn) -> tuple[bool, bool]:
        """Emit ``If(cond)`` around two lowering callbacks and join their environments."""
        frame = self.frame
        env0 = frame.env
        then_blk: list = []
        else_blk: list = []
        frame.env = dict(env0)
        frame.dyn += 1
        outer = self.outer_lists()
        try:
            with self.b.nested(then_blk), self.region():
                t_exit = then_fn()
            env_t = frame.env
            frame.env = dict(env0)
            with self.b.nested(else_blk), self.region():
                e_exit = else_fn()
            env_e = frame.env
        finally:
            frame.dyn -= 1
        self.check_outer_lists(outer)
        # Paths that left by break/continue/return still reach the end of the enclosing
        # blocks (their code is skipped by flags), so every path takes part in the join.
        frame.env = self.join_envs([], [(env_t, then_blk), (env_e, else_blk)])
        self.b.append(If(cond, then_blk, else_blk, self.b.loc))
        return t_exit, e_exit

    # -- loops ---------------------------------------------------------------------------
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
    base = name if name.isidentifier() else name.strip("#") or "v"
    return base if n == 1 and not path else f"{base}{path}"
