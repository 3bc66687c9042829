"""Deterministic text form of the IR (for ``chainrule.show_ir`` and golden tests).

Example::

    def f(a: f64, w: f64[:]) -> (f64):
      x: f64 = mul(a, 2.0)
      while go:
        ...
      return (x)
"""

from __future__ import annotations

import numpy as np

from .nodes import Assign, Const, Effect, ForRange, Function, If, Var, While


def _atom(a) -> str:
    if isinstance(a, Var):
        return a.name
    if isinstance(a, Const):
        if isinstance(a.value, np.ndarray):
            return f"<array {a.type} shape={a.value.shape}>"
        return repr(a.value)
    return repr(a)


def _params(params: tuple) -> str:
    if not params:
        return ""
    return "; " + ", ".join(f"{k}={v!r}" for k, v in params)


def _block(stmts: list, depth: int, out: list) -> None:
    pad = "  " * depth
    if not stmts:
        out.append(pad + "pass")
    for s in stmts:
        if isinstance(s, Assign):
            args = ", ".join(_atom(a) for a in s.args)
            out.append(f"{pad}{s.out.name}: {s.out.type} = {s.prim}({args}{_params(s.params)})")
        elif isinstance(s, Effect):
            args = ", ".join(_atom(a) for a in s.args)
            out.append(f"{pad}{s.prim}({args}{_params(s.params)})")
        elif isinstance(s, If):
            out.append(f"{pad}if {_atom(s.cond)}:")
            _block(s.then, depth + 1, out)
            if s.orelse:
                out.append(f"{pad}else:")
                _block(s.orelse, depth + 1, out)
        elif isinstance(s, While):
            out.append(f"{pad}while:")
            _block(s.cond_body, depth + 2, out)
            out.append(f"{pad}  test {_atom(s.cond)}")
            out.append(f"{pad}do:")
            _block(s.body, depth + 1, out)
        elif isinstance(s, ForRange):
            rng = ", ".join(_atom(a) for a in (s.start, s.stop, s.step))
            out.append(f"{pad}for {s.var.name} in range({rng}):")
            _block(s.body, depth + 1, out)


def format_function(fn: Function) -> str:
    params = ", ".join(f"{p.name}: {p.type}" for p in fn.params)
    results = ", ".join(str(r.type) for r in fn.results)
    out = [f"def {fn.name}({params}) -> ({results}):"]
    _block(fn.body, 1, out)
    out.append("  return (" + ", ".join(_atom(r) for r in fn.results) + ")")
    return "\n".join(out) + "\n"
