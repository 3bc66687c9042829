"""Lowering of statements and structured control flow to IR.

``break``, ``continue`` and early ``return`` become boolean flags: the rest of a block after a
statement that may leave is guarded by ``if not flag``, and loop conditions test the flags.
Assignments, augmented assignments, ``return`` and ``if`` are here; loops are in
:mod:`.loops`.
"""

from __future__ import annotations

import ast
from typing import Any

from ..errors import ChainruleTypeError
from ..ir.builder import const
from ..ir.nodes import Const, If, Var
from . import scan
from .frames import BOUND, BOUND_PREFIX
from .loops import LoopMixin
from .values import AstFunction, RunList, flatten, is_atom, static_number

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


class StmtMixin(LoopMixin):
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
        env = self.frame.env
        env[name] = value
        if BOUND_PREFIX + name in env:
            env[BOUND_PREFIX + name] = BOUND

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
