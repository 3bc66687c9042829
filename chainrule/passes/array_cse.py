"""Common array subexpressions in a function's top-level block.

Two jets of one network inside a loss both compute the first layer ``X @ W1 + b1``; reverse
mode transposes the same weight matrix once per use. A pure array computation repeated in the
function's top-level block becomes a copy of the first result when its value cannot differ:
every variable involved (the arguments and both results) is assigned once in the whole function
and no name that may share a buffer with one of them is ever written in place (buffer groups as
in :mod:`chainrule.passes.adjoints`). Only smooth primitives take part (kink reporting counts the
evaluations of the others). The scalar counterpart is :mod:`chainrule.passes.scalar_opt`.
"""

from __future__ import annotations

from ..ir.nodes import Assign, Const, Effect, Function, Var, walk
from ..ir.verify import verified
from .adjoints import buffer_groups
from .scalar_opt import _assign_counts

PURE_ARRAY = {"add", "sub", "mul", "div", "neg", "square", "tanh", "exp", "sin", "cos",
              "matmul", "dot", "transpose", "expand_dims", "zmul", "broadcast_as"}


@verified("array_cse")
def array_cse(fn: Function) -> Function:
    counts = _assign_counts(fn)
    find = buffer_groups(fn)
    written = {find(s.args[0].name) for s in walk(fn.body) if isinstance(s, Effect)}

    def fixed(v: Var) -> bool:
        return counts.get(v.name, 0) <= 1 and not (v.type.is_array and find(v.name) in written)

    table: dict = {}
    same: dict = {}  # name -> the variable it is a copy of
    body = []
    for s in fn.body:
        key = None
        if isinstance(s, Assign) and s.prim == "id" and isinstance(s.args[0], Var) and \
                fixed(s.args[0]) and fixed(s.out) and counts.get(s.out.name) == 1:
            same[s.out.name] = same.get(s.args[0].name, s.args[0])
        if isinstance(s, Assign) and s.prim in PURE_ARRAY and s.out.type.is_array and \
                fixed(s.out) and counts.get(s.out.name) == 1:
            parts = []
            for a in s.args:
                if isinstance(a, Var) and fixed(a):
                    parts.append(("v", same.get(a.name, a).name))
                elif isinstance(a, Const) and not hasattr(a.value, "shape"):
                    parts.append(("c", repr(a.value), str(a.type)))
                else:
                    parts = None
                    break
            if parts is not None:
                key = (s.prim, tuple(parts), s.params)
        if key is not None and key in table:
            body.append(Assign(s.out, "id", (table[key],), (), s.loc))
            same[s.out.name] = table[key]
            continue
        if key is not None:
            table[key] = s.out
        body.append(s)
    return Function(fn.name, fn.params, body, fn.results, fn.loc, fn.meta)
