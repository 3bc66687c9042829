"""Public Taylor-mode API: ``jet``, ``derivative`` and ``laplacian`` (docs/taylor.md).

* ``jet(f, primals, series)`` -- JAX's convention: ``series[i]`` is a list of K terms for
  primal i, the k-th term being the k-th derivative of the input curve; returns
  ``(f(*primals), series_out)`` with the k-th derivatives of the output along that curve.
* ``derivative(f, order=k)`` -- the k-th derivative of ``f`` w.r.t. a float scalar argument.
* ``laplacian(f)`` -- the sum of the second derivatives along the basis directions of an
  argument (one Taylor pass of order 2 per direction).

``derivative`` and ``laplacian`` return transformed functions that compose with the other
transforms (``grad(derivative(f, 2))``) and can be called inside compiled code. No AD logic
here: the IR transforms live in :mod:`chainrule.transforms.taylor_wrap`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import driver
from .api import Transformed, _float_leaves, transformed
from .errors import ChainruleError, NonDifferentiableError, user_facing
from .frontend.calls import register_in_code
from .ir.builder import Names
from .ir.compiled import Compiled, flatten, rebuild
from .ir.nodes import Const, Var
from .passes.cleanup import simplify
from .rules import arith, elementwise
from .transforms import taylor_wrap, wrap


class TaylorTransformed(Transformed):
    """``derivative`` / ``laplacian`` of a function (the order is part of ``kind``, so it is
    part of the disk-cache key)."""

    def __init__(self, kind: str, fn: Any, argnums: int, order: int,
                 backend: str | None = None):
        if not isinstance(argnums, int):
            raise TypeError(f"{kind} takes a single int argnums")
        super().__init__(kind, fn, argnums, backend=backend)
        self.order = order

    def apply(self, base, names: Names):
        sig = wrap.Signature(base.arg_templates)
        k = self.argnums[0]
        if not (0 <= k < len(sig.arg_templates)):
            raise NonDifferentiableError(f"argnums {k} is out of range for "
                                         f"{len(sig.arg_templates)} arguments")
        if self.kind.startswith("derivative"):
            out = taylor_wrap.derivative_ir(base, sig, k, self.order, names)
        else:
            out = taylor_wrap.laplacian_ir(base, sig, k, names)
        out.arg_templates = base.arg_templates
        out.fn = simplify(out.fn, names)
        return out


def derivative(fun: Any, order: int = 1, argnums: int = 0, backend: str | None = None
               ) -> TaylorTransformed:
    """The ``order``-th derivative of ``fun`` w.r.t. its float scalar argument ``argnums``
    (same structure as the output), computed by one Taylor pass: cost O(order^2) per
    primitive, not exponential as nested ``grad`` is."""
    if not isinstance(order, int) or order < 1:
        raise ValueError("derivative needs an integer order >= 1")
    return transformed(TaylorTransformed, f"derivative{order}", fun, argnums, order, backend)


def laplacian(fun: Any, argnums: int = 0, backend: str | None = None) -> TaylorTransformed:
    """``sum_i d^2/dt^2 fun(x + t e_i)`` over the basis directions ``e_i`` of argument
    ``argnums`` (a float scalar or array): the Laplacian of a scalar function, elementwise for
    array outputs. One Taylor pass of order 2 per direction, in one compiled loop."""
    return transformed(TaylorTransformed, "laplacian", fun, argnums, 2, backend)


# Marked so that ``derivative(f, 2)`` written inside compiled code is lowered there too.
derivative.__chainrule_transform_factory__ = True
laplacian.__chainrule_transform_factory__ = True

# Primitives that act element by element (a jet of code made only of them runs as a loop).
_ELEMENTWISE = {p.name for p in arith.PRIMS + elementwise.PRIMS if p.name not in (
    "to_float", "to_int", "to_bool", "and_", "or_", "not_")}


def _prims_of(fn) -> list:
    return [getattr(s, "prim", None) for s in fn.body]


def _jet_step(base: Compiled, fun: Any, primals: tuple, names: Names, options: dict
              ) -> Compiled:
    """The jet of order ``options["K"]``: one loop over the elements running scalar Taylor
    code when ``fun`` is elementwise over arrays of one shape, else array code."""
    K = options["K"]
    if options["same_shape"] and taylor_wrap.is_elementwise(base.fn, _ELEMENTWISE):
        scalars = tuple(float(p.flat[0]) if p.size else 0.0 for p in primals)
        sbase = driver.build_ir(fun, scalars, names)
        if _prims_of(sbase.fn) == _prims_of(base.fn):  # the same code traced with scalars
            sjet, _ = taylor_wrap.jet_ir(sbase, wrap.Signature(sbase.arg_templates), K, names)
            return taylor_wrap.elementwise_jet_ir(base.fn, sjet, names)
    return taylor_wrap.jet_ir(base, wrap.Signature(base.arg_templates), K, names)[0]


driver.register_kind("jet", _jet_step)


def _jet_executable(fun: Any, primals: tuple, K: int, backend: str | None):
    """The compiled jet of ``fun`` for these argument kinds (``exe.primal``: the structures of
    ``fun``'s arguments and result)."""
    same_shape = all(isinstance(p, np.ndarray) for p in primals) and \
        len({p.shape for p in primals}) == 1
    return driver.compile("jet", fun, primals, {"K": K, "backend": backend,
                                                "same_shape": same_shape})


def _zeros_for(primal: Any, term: Any) -> Any:
    """A term written as a plain ``0`` / ``0.0`` for an array primal: zeros of its shape."""
    if isinstance(primal, np.ndarray) and _is_zero_term(term):
        return np.zeros_like(primal, dtype=np.float64)
    return term


@user_facing
def jet(fun: Any, primals: tuple, series: tuple, backend: str | None = None) -> tuple:
    """Taylor mode: ``(fun(*primals), series_out)``.

    ``series`` holds, per primal, a list of K terms shaped like that primal: the derivatives
    1..K of the input curve ``x(t)`` at 0. ``series_out`` has the output's structure with each
    float leaf replaced by the list of its derivatives 1..K along ``fun(x(t))``."""
    primals, series = tuple(primals), tuple(series)
    if len(series) != len(primals):
        raise TypeError("jet needs one series (a list of terms) per primal")
    orders = {len(s) for s in series}
    if len(orders) != 1 or not all(isinstance(s, (list, tuple)) for s in series):
        raise TypeError("jet needs lists of terms of one common length K, one per primal")
    K = orders.pop()
    if K < 1:
        raise ValueError("jet needs at least one series term")
    series = tuple([_zeros_for(p, t) for t in s] for p, s in zip(primals, series))
    exe = _jet_executable(fun, primals, K, backend)
    base = exe.primal
    flat = exe.leaves(primals)
    extra = []
    per_term = [[_float_leaves(t, term) for term in s] for t, s in zip(base.arg_templates,
                                                                     series)]
    for terms in per_term:  # the IR takes K terms per float leaf, leaf by leaf
        for leaf in range(len(terms[0])):
            extra += [terms[k][leaf] for k in range(K)]
    return exe.run_flat(flat + extra)


def _is_zero_term(t: Any) -> bool:
    """A series term known at compile time to be zero (``0``, ``0.0``): it costs nothing."""
    if isinstance(t, (int, float)) and not isinstance(t, bool):
        return t == 0
    return isinstance(t, Const) and t.type.ndim == 0 and t.value == 0


def lower_jet(lw: Any, args: list, kwargs: dict, node: Any) -> Any:
    """``chainrule.jet(f, primals, series)`` called inside a compiled function: ``f`` is
    compiled into a sub-function (the values of the enclosing code it reads become extra
    parameters, so an outer transform differentiates through them), its Taylor pass is inlined
    where the call is. A term written as ``0`` or ``0.0`` is a zero known at compile time."""
    from .custom import subfunction

    names = ("fun", "primals", "series", "backend")
    bound = dict(zip(names, args))
    for k, v in kwargs.items():
        if k not in names or k in bound:
            raise ChainruleError(f"jet got an unexpected or repeated argument `{k}`", lw.b.loc)
        bound[k] = v
    fun, primals, series = bound.get("fun"), bound.get("primals"), bound.get("series")
    ok = isinstance(primals, (tuple, list)) and isinstance(series, (tuple, list)) and \
        len(primals) == len(series) and all(isinstance(s, (tuple, list)) for s in series)
    if not ok or len({len(s) for s in series}) != 1 or not series[0]:
        raise ChainruleError("jet(f, primals, series) needs a tuple of primals and, per primal, "
                             "a list of K >= 1 terms (one common K)", lw.b.loc,
                             "write jet(f, (x,), ([x1, x2],)) with the terms shaped like x")
    K = len(series[0])
    sub, templates, out_template, free = subfunction(lw, fun, list(primals), node, "jet_inner")
    terms: dict = {}
    for tmpl, terms_of_primal in zip(templates, series):
        leaves = [x for _, x in flatten(tmpl)]
        per_term = []
        for t in terms_of_primal:
            if _is_zero_term(t):
                per_term.append([None] * len(leaves))
                continue
            vals = [x for _, x in flatten(t)]
            if len(vals) != len(leaves):
                raise ChainruleError("a jet series term must have the structure of its primal",
                                     lw.b.loc)
            per_term.append([None if _is_zero_term(v) else lw.as_atom(v) for v in vals])
        for j, p in enumerate(leaves):
            if isinstance(p, Var) and p.type.is_float:
                terms[p.name] = [per_term[k][j] for k in range(K)]
    actual = [x for a in primals for _, x in flatten(a)]
    outs, out_series = taylor_wrap.jet_inline(lw.b, sub, actual + free, terms, K)
    primal_out = rebuild(out_template, list(outs))
    return primal_out, rebuild(out_template, [list(s) for s in out_series])


register_in_code(jet, lambda lw, f, args, kwargs, node: lower_jet(lw, args, kwargs, node))

__all__ = ["derivative", "jet", "laplacian"]
