"""Derivatives at non-differentiable points: directional derivatives and ``stop_gradient``.

Every primitive returns one documented value at its kinks (docs/nonsmooth.md): an element of its
Clarke generalized gradient, the minimum-norm one where the primitive is locally convex or
concave. Such per-primitive choices cannot be right under every composition: ``relu(x) -
relu(-x)`` is the function ``x``, yet the chain rule through two ``relu``\\ s at 0 gives
``0 - 0 = 0``. What composes exactly is the one-sided directional derivative

    f'(x; v) = lim_{t -> 0+} (f(x + t v) - f(x)) / t,

which obeys the chain rule for compositions of locally Lipschitz, directionally differentiable
functions (``abs``, ``maximum``, ``minimum``, ``clip``, ``max``/``min`` reductions, ``norm``
and all smooth primitives). :func:`directional_derivative` runs forward mode with every
kinked primitive returning its exact directional derivative along the incoming tangent, so the
result is exact for such compositions: ``relu(x) - relu(-x)`` at 0 along ``+1`` gives 1. Where
``f`` is differentiable at ``x`` (even if its pieces are not), ``f'(x; e_i)`` along the unit
vectors is its exact gradient.

Limitation: branches are evaluated at ``x`` itself, not along the direction. A test on exact
equality at the point (``if x > 0`` at ``x == 0``, ``np.where(x > 0, ...)``) takes the branch
that ``x`` takes, which need not be the branch ``x + t v`` takes for small ``t > 0``.
"""

from __future__ import annotations

from typing import Any

from . import driver
from .api import Transformed, _float_leaves
from .errors import user_facing
from .frontend import numpy_api
from .ir.builder import Names
from .ir.compiled import Compiled, flatten, rebuild
from .ir.nodes import Const, Function, Var
from .ir.types import Type
from .transforms import wrap
from .transforms.forward import jvp_function

__all__ = ["directional_derivative", "stop_gradient"]


def stop_gradient(x: Any) -> Any:
    """``x`` itself, treated as a constant by differentiation (its derivative is zero).

    In compiled code every float leaf of ``x`` (an array, a scalar, or a tuple/list/dict of
    them) becomes the ``stop_gradient`` primitive; called from plain Python it returns ``x``.
    """
    return x


numpy_api.register_handler(stop_gradient, numpy_api.stop_gradient_handler())


def _directional_ir(base: Compiled, names: Names) -> Compiled:
    """Forward mode w.r.t. every float leaf, with the kinked primitives' rules in directional
    mode: ``(primals..., tangents...) -> (out, f'(x; v))``."""
    fn = base.fn
    sig = wrap.Signature(base.arg_templates)
    arg_leaves = {x.name for t in sig.arg_templates for _, x in flatten(t) if isinstance(x, Var)}
    wrt = [p.type.is_float and p.name in arg_leaves for p in fn.params]
    j = jvp_function(fn, wrt, names, options={"directional": True})
    nres = len(fn.results)
    floats = [r for r in fn.results if r.type.is_float]
    tmap = {id(r): t for r, t in zip(floats, j.results[nres:])}
    zero = Const(0.0, Type("float64"), True)
    out_t = rebuild(base.out_template,
                    [tmap.get(id(r), zero if r.type.ndim == 0 else r) for r in fn.results])
    result = (base.out_template, out_t)
    leaves = [a for _, a in flatten(result)]
    newfn = Function(fn.name + "_dir", list(j.params), j.body, leaves, fn.loc, dict(fn.meta))
    return Compiled(newfn, rebuild(result, list(leaves)))


driver.register_kind("directional",
                     lambda base, fun, args, names, options: _directional_ir(base, names))


@user_facing
def directional_derivative(fun: Any, primals: tuple, tangents: tuple,
                           backend: str | None = None) -> tuple:
    """``(fun(*primals), f'(primals; tangents))``: the exact one-sided directional derivative.

    Like :func:`chainrule.jvp`, but at kinks every primitive returns its one-sided directional
    derivative along the tangent (``abs``: ``|dx|`` at 0; ``maximum``: ``max(dx, dy)`` at a
    tie; ...) instead of its conventional derivative, so compositions of kinked primitives
    are exact: ``directional_derivative(lambda x: relu(x) - relu(-x), (0.0,), (1.0,))`` gives
    ``(0.0, 1.0)``. Branches on exact equality at the point are not made directional (see the
    module documentation).
    """
    primals, tangents = tuple(primals), tuple(tangents)
    if isinstance(fun, Transformed) and fun.kind == "jit":
        fun = fun.fn
    exe = driver.compile("directional", fun, primals, {"backend": backend})
    flat = exe.leaves(primals)
    tan = _float_leaves(list(exe.primal.arg_templates), tangents)
    return exe.run_flat(flat + tan)
