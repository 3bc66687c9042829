"""An example plugin (docs/plugins.md): an operation-count interpretation of a function.

``count_ops(f)(*args)`` returns ``(f(*args), n)`` where ``n`` is the number of arithmetic
primitive applications the call executed (loops and branches included). It is an IR -> IR
rule given to :func:`chainrule.plugins.define_transform`: a counter is added to the function,
incremented after every arithmetic statement, and returned as an extra result.
"""

from __future__ import annotations

from chainrule.ir.compiled import Compiled
from chainrule.ir.nodes import Assign, Const, ForRange, Function, If, Var, While
from chainrule.ir.types import Type
from chainrule.plugins import define_transform

ARITHMETIC = {"add", "sub", "mul", "div", "neg", "pow", "exp", "log", "sin", "cos", "tanh",
              "sqrt", "dot", "matmul", "sum"}
INT = Type("int64")


def _counted(block: list, counter: Var) -> list:
    one = Const(1, INT, weak=True)
    out = []
    for s in block:
        if isinstance(s, If):
            s = If(s.cond, _counted(s.then, counter), _counted(s.orelse, counter), s.loc)
        elif isinstance(s, While):
            s = While(_counted(s.cond_body, counter), s.cond, _counted(s.body, counter), s.loc)
        elif isinstance(s, ForRange):
            s = ForRange(s.var, s.start, s.stop, s.step, _counted(s.body, counter), s.loc)
        out.append(s)
        if isinstance(s, Assign) and s.prim in ARITHMETIC:
            out.append(Assign(counter, "add", (counter, one)))
    return out


def _count_rule(compiled: Compiled, names) -> Compiled:
    fn = compiled.fn
    counter = Var(names.fresh("n_ops"), INT)
    body = [Assign(counter, "id", (Const(0, INT),))] + _counted(fn.body, counter)
    counted = Function(fn.name, fn.params, body, list(fn.results) + [counter], fn.loc,
                       dict(fn.meta))
    return Compiled(counted, (compiled.out_template, counter), compiled.arg_templates)


count_ops = define_transform("count_ops", _count_rule,
                             doc="(f(*args), number of arithmetic operations executed)")
