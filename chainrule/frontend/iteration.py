"""Iteration in compiled loops: what ``for`` iterates over (``range``, arrays, ``zip``,
``enumerate``) becomes a run-time index range with a getter for the item, or a compile-time
tuple/list that the loop unrolls."""

from __future__ import annotations

import ast
from typing import Any, NamedTuple

from ..ir.builder import const
from ..ir.nodes import Const
from .values import EnumerateVal, RangeVal, ZipVal, is_atom


class IterMixin:
    def iterable(self, it: Any, node: ast.AST):
        """(start, stop, step, getter) for run-time loops, or a tuple/list to unroll."""
        if isinstance(it, (tuple, list)):
            return it
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
                            "loop over range(...), an array, zip(...) or enumerate(...)")



class RunLoop(NamedTuple):
    """A loop over a run-time range: ``getter(i)`` gives the item for index ``i``."""

    start: Any
    stop: Any
    step: Any
    getter: Any


def _is_zero(c: Any) -> bool:
    return isinstance(c, Const) and c.value == 0
