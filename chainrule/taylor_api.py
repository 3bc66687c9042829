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

from .api import Transformed, _float_leaves, build_ir, transformed
from .backend.executable import Executable
from .errors import NonDifferentiableError, user_facing
from .frontend.compile import kinds_key
from .ir.builder import Names
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

def grads_as_one_taylor_pass(t: Transformed, args: tuple, names: Names, deps: Any = None):
    """``grad(grad(...grad(f)))`` (k >= 2 levels, one argnums, no aux) of a function of a
    float scalar argument is its k-th derivative: compiled as one Taylor pass of order k, with
    no tapes and code that grows as O(k^2), not exponentially. Returns None when the chain or
    the argument does not qualify (the caller then builds it level by level). A ``grad`` of
    another gradient (``grad(grad(f, 1), 0)``, a mixed partial) w.r.t. a float scalar runs as
    forward mode over it, so that reverse mode is never applied to reverse-mode code. A single
    ``grad`` stays reverse mode: its conventions at kinks are those of docs/nonsmooth.md."""
    depth, inner = 0, t
    while type(inner) is Transformed and inner.kind == "grad" and not inner.has_aux and \
            not inner.argnums_tuple and inner.kinks is None and inner.argnums == t.argnums:
        depth += 1
        inner = inner.fn
    k = t.argnums[0] if t.argnums else -1
    over_grad = depth == 1 and getattr(inner, "kind", None) in ("grad", "value_and_grad")
    if (depth < 2 and not over_grad) or not (0 <= k < len(args)) or \
            not isinstance(args[k], (float, np.floating)):
        return None
    base = build_ir(inner, args, names, deps)
    out = base.out_template
    if not (hasattr(out, "type") and out.type.is_float and out.type.ndim == 0):
        return None  # (not a scalar function: the level-by-level build reports it)
    compiled = taylor_wrap.derivative_ir(base, wrap.Signature(base.arg_templates), k, depth,
                                         names)
    compiled.arg_templates = base.arg_templates
    compiled.fn = simplify(compiled.fn, names)
    return compiled


_JETS: dict = {}
# Primitives that act element by element (a jet of code made only of them runs as a loop).
_ELEMENTWISE = {p.name for p in arith.PRIMS + elementwise.PRIMS if p.name not in (
    "to_float", "to_int", "to_bool", "and_", "or_", "not_")}


def _prims_of(fn) -> list:
    return [getattr(s, "prim", None) for s in fn.body]


def _jet_executable(fun: Any, primals: tuple, K: int, backend: str | None):
    """The compiled jet for these argument kinds: one loop over the elements running scalar
    Taylor code when ``fun`` is elementwise over arrays of one shape, else array code."""
    same_shape = all(isinstance(p, np.ndarray) for p in primals) and \
        len({p.shape for p in primals}) == 1
    key = (id(fun), kinds_key(primals), K, backend, same_shape)
    hit = _JETS.get(key)
    if hit is not None and hit[0] is fun:
        return hit[1], hit[2]
    names = Names()
    base = build_ir(fun, primals, names)
    compiled = None
    if same_shape and taylor_wrap.is_elementwise(base.fn, _ELEMENTWISE):
        scalars = tuple(float(p.flat[0]) if p.size else 0.0 for p in primals)
        sbase = build_ir(fun, scalars, names)
        if _prims_of(sbase.fn) == _prims_of(base.fn):  # the same code traced with scalars
            sjet, _ = taylor_wrap.jet_ir(sbase, wrap.Signature(sbase.arg_templates), K, names)
            compiled = taylor_wrap.elementwise_jet_ir(base.fn, sjet, names)
    if compiled is None:
        compiled, _ = taylor_wrap.jet_ir(base, wrap.Signature(base.arg_templates), K, names)
    compiled.fn = simplify(compiled.fn, names)
    exe = Executable(compiled, copy_args=True, backend=backend)
    _JETS[key] = (fun, exe, base)
    return exe, base


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
    exe, base = _jet_executable(fun, primals, K, backend)
    flat = exe.leaves(primals)
    extra = []
    per_term = [[_float_leaves(t, term) for term in s] for t, s in zip(base.arg_templates,
                                                                     series)]
    for terms in per_term:  # the IR takes K terms per float leaf, leaf by leaf
        for leaf in range(len(terms[0])):
            extra += [terms[k][leaf] for k in range(K)]
    return exe.run_flat(flat + extra)


__all__ = ["derivative", "jet", "laplacian"]
