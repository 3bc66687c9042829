"""Iteration in compiled loops: what ``for`` iterates over (``range``, arrays, ``zip``,
``enumerate``) becomes a run-time index range with a getter for the item, or a compile-time
tuple/list that the loop unrolls."""

from __future__ import annotations

import ast
from typing import Any, NamedTuple

from ..ir.builder import const
from ..ir.nodes import Const
from ..ir.types import BOOL
from . import scan
from .frames import LoopCtx
from .values import EnumerateVal, RangeVal, RunList, ZipVal, is_atom

_PENDING = object()  # frame.result while no return has been lowered


class IterMixin:
    def iterable(self, it: Any, node: ast.AST):
        """(start, stop, step, getter) for run-time loops, or a tuple/list to unroll."""
        if isinstance(it, (tuple, list)):
            return it
        if isinstance(it, dict):  # its keys are known at compile time: the loop unrolls
            return list(it)
        if isinstance(it, RunList):
            return self.list_iter(it)
        if isinstance(it, RangeVal):
            return RunLoop(it.start, it.stop, it.step, lambda i: i)
        if is_atom(it) and it.type.ndim > 0:
            n = self.b.shape(it, axis=0)
            self.note_length(n, it, 0)
            return RunLoop(const(0), n, const(1),
                           lambda i: self.index_read(self.fresh_views(it), ("i",), [i]))
        if isinstance(it, EnumerateVal):
            inner = self.iterable(it.inner, node)
            if not isinstance(inner, RunLoop):
                return [(const(k + it.start.value), v) for k, v in enumerate(inner)]
            s0, n, st, get = inner
            off = it.start
            return RunLoop(s0, n, st,
                           lambda i: (self.b.add(i, off) if not _is_zero(off) else i, get(i)))
        if isinstance(it, ZipVal):
            parts = [self.iterable(p, node) for p in it.parts]
            if not any(isinstance(p, RunLoop) for p in parts):
                return list(zip(*parts))
            if not all(isinstance(p, RunLoop) for p in parts):
                raise self.error_at(node, "zip of a tuple with an array is not supported",
                                    "zip arrays with arrays or tuples with tuples")
            n = parts[0][1]
            for p in parts[1:]:
                n = self.b.minimum(n, p[1]) if is_atom(n) else p[1]
            getters = [p[3] for p in parts]
            return RunLoop(const(0), n, const(1), lambda i: tuple(g(i) for g in getters))
        raise self.error_at(node, f"cannot iterate over {type(it).__name__}",
                            "loop over range(...), an array, a list, a dict, zip(...) or "
                            "enumerate(...)")

    def unroll(self, node: ast.For, items: list) -> bool:
        """Iteration over a compile-time tuple/list: the body is lowered once per item.
        ``break``/``continue`` of this loop become flags, as in run-time loops."""
        body = node.body
        if not (scan.has_break(body) or scan.has_continue(body)):
            for item in items:
                self.assign(node.target, item, node)
                if self.lower_block(body):
                    return True
            return False
        ctx = LoopCtx()
        if scan.has_break(body):
            ctx.brk = self.b.new_var("brk", BOOL)
            self.b.emit("id", False, out=ctx.brk)
        if scan.has_continue(body):
            ctx.cont = self.b.new_var("cont", BOOL)
        return self._unroll_from(node, items, 0, ctx)

    def _unroll_from(self, node: ast.For, items: list, first: int, ctx: LoopCtx) -> bool:
        frame = self.frame
        for k in range(first, len(items)):
            stops = [f for f in (ctx.brk, frame.ret_flag) if f is not None]
            if k > first and stops:
                stop = stops[0]
                for f in stops[1:]:
                    stop = self.b.or_(stop, f)
                t, e = self.branch(self.b.not_(stop),
                                   lambda k=k: self._unroll_from(node, items, k, ctx),
                                   lambda: False)
                return t and e
            saved_result = frame.result
            frame.result = _PENDING
            frame.loops.append(ctx)
            try:
                if ctx.cont is not None:
                    self.b.emit("id", False, out=ctx.cont)
                self.assign(node.target, items[k], node)
                self.lower_block(node.body)
            finally:
                frame.loops.pop()
                returned = frame.result is not _PENDING
                if not returned:
                    frame.result = saved_result
            if returned:  # a return outside run-time control flow: nothing after it runs
                return True
        return False


class RunLoop(NamedTuple):
    """A loop over a run-time range: ``getter(i)`` gives the item for index ``i``."""

    start: Any
    stop: Any
    step: Any
    getter: Any


def _is_zero(c: Any) -> bool:
    return isinstance(c, Const) and c.value == 0
