"""``jvp``, ``vjp`` and the transform factories (``grad(f)``, ...) written inside compiled code
(``jet`` is in :mod:`chainrule.taylor_api`; :mod:`chainrule.api_hooks` registers these).

``jvp`` and ``vjp`` return values rather than functions. Each compiles the differentiated function
into a sub-function (its free variables -- values of the enclosing code -- become extra,
non-differentiated parameters, so an outer transform still differentiates through them),
applies the IR transform and inlines the result:

* ``y, pullback = chainrule.vjp(f, *primals)``: ``y`` is ``f``'s value; ``pullback(ct)`` (called
  in the same code) inlines the reverse-mode function with the cotangent ``ct`` and returns one
  cotangent per primal, as the Python-level ``vjp`` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .api import Transformed
from .errors import ChainruleError
from .ir.compiled import Compiled, flatten, rebuild
from .ir.inline import inline
from .transforms import wrap


def _sub(lw: Any, fun: Any, primals: list, node: Any) -> tuple:
    from .custom import subfunction

    sub, templates, out_template, free = subfunction(lw, fun, primals, node, "inner")
    actual = [x for a in primals for _, x in flatten(a)]
    return Compiled(sub, out_template, templates), actual + free


class _Pullback:
    """The ``vjp_fn`` of a ``vjp`` written in compiled code: calling it inlines the VJP."""

    __chainrule_transform__ = True

    def __init__(self, base: Compiled, actual: list):
        self.base = base
        self.actual = actual

    def lower_call(self, lw: Any, args: list, kwargs: dict, node: Any) -> Any:
        if kwargs or len(args) != 1:
            raise ChainruleError("the function vjp returns takes one cotangent (shaped like "
                                 "the output)", lw.b.loc)
        b = lw.b
        out, _ = wrap.vjp_ir(self.base, wrap.Signature(self.base.arg_templates), b.names)
        t_leaves = flatten(self.base.out_template)
        c_leaves = flatten(args[0])
        if len(t_leaves) != len(c_leaves):
            raise ChainruleError("the cotangent's structure does not match vjp's output",
                                 lw.b.loc, "pass a cotangent shaped like the function's value")
        cts = [lw.as_atom(c) for (_, t), (_, c) in zip(t_leaves, c_leaves)
               if hasattr(t, "type") and t.type.is_float]
        res = inline(b, out.fn, self.actual + cts)
        return rebuild(out.out_template, res)[1]


def lower_vjp(lw: Any, args: list, kwargs: dict, node: Any) -> Any:
    """``chainrule.vjp(f, *primals)`` called inside a compiled function."""
    if kwargs or not args:
        raise ChainruleError("vjp in compiled code takes the function and its primals "
                             "positionally (no keywords)", lw.b.loc)
    base, actual = _sub(lw, args[0], list(args[1:]), node)
    value = inline(lw.b, base.fn, actual)
    return rebuild(base.out_template, value), _Pullback(base, actual)


def lower_jvp(lw: Any, args: list, kwargs: dict, node: Any) -> Any:
    """``chainrule.jvp(f, primals, tangents)`` called inside a compiled function."""
    f, primals, tangents = (list(args) + [kwargs.get(k) for k in ("fun", "primals",
                                                                   "tangents")])[:3]
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise ChainruleError("jvp(f, primals, tangents) needs tuples of primals and tangents",
                             lw.b.loc)
    tans = []
    for (_, p), (_, t) in zip(flatten(primals), flatten(tangents)):
        if hasattr(p, "type") and p.type.is_float:
            tans.append(lw.as_atom(t))
    return Transformed("jvp", f).lower_call(lw, list(primals), {}, node, extra=tans)


def transform_in_code(lw: Any, api_fn: Any, args: list, kwargs: dict) -> Transformed:
    """``chainrule.grad(f, ...)`` (and friends) written inside a compiled function."""

    def static(v: Any) -> Any:
        if isinstance(v, tuple):
            return tuple(static(x) for x in v)
        if hasattr(v, "value") and not isinstance(v.value, np.ndarray):
            return v.value
        return v

    return api_fn(*[static(a) for a in args], **{k: static(v) for k, v in kwargs.items()})


__all__ = ["lower_jvp", "lower_vjp", "transform_in_code"]
