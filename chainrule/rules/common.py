"""Combinators that build primitive records for whole families, and shared rule helpers.

* :func:`unary` -- an elementwise function given its derivative ``f'(x)`` (as IR built from
  ``x`` and the output ``y``); JVP is ``f'(x) * dx``, VJP is ``f'(x) * g``.
* :func:`binary` -- an elementwise binary function given both partials; the VJP sums broadcast
  dimensions back (``unbroadcast``).
* :func:`zero_derivative` -- piecewise-constant or integer/bool-valued primitives.
* :func:`elementwise_type` -- NumPy-like result type of an elementwise operation.
* :func:`zmul` -- the zero-safe product ``t * d`` of a tangent/cotangent ``t`` and a derivative
  factor ``d``: exactly zero where ``t`` is zero, even where ``d`` is inf or nan.

NaN safety. A zero tangent or cotangent must stay zero through every rule: the branch that
``np.where`` did not select receives a zero cotangent, and its derivative factors may be
infinite or nan there (``sqrt'(0)``, ``log(0) = -inf``, ``exp`` overflowing). So every VJP that
multiplies the cotangent by a factor computed from primal values uses :func:`zmul`; JVPs use it
for primitives whose derivative can be infinite where their value is finite (a ``Kink`` of kind
``INFINITE``), since ``where`` already discards the tangent of the other branch. Products by a
finite constant, linear rules and selections (``where``, ``maximum``) need nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..errors import ChainruleTypeError
from ..ir.nodes import Const
from ..ir.types import Type, float_dtype, promote_dtypes
from .registry import INFINITE, Primitive


def elementwise_type(types: list[Type], to_float: bool = False) -> Type:
    """Result type of an elementwise op: broadcast ndim; scalars do not upcast arrays' floats."""
    for t in types:
        if t.tape:
            raise ChainruleTypeError("a tape cannot be used in arithmetic")
    ndim = max(t.ndim for t in types)
    arrays = [t.dtype for t in types if t.ndim > 0]
    scalars = [t.dtype for t in types if t.ndim == 0]
    if arrays:
        dt = promote_dtypes(*arrays)
        if dt in ("bool", "int64") and scalars:
            sdt = promote_dtypes(*scalars)
            if sdt in ("float32", "float64"):
                dt = "float64"
            elif sdt == "int64" and dt == "bool":
                dt = "int64"
    else:
        dt = promote_dtypes(*scalars)
    if to_float:
        dt = float_dtype(dt)
    return Type(dt, ndim)


def float_type(types: list[Type], **_: object) -> Type:
    return elementwise_type(types, to_float=True)


def same_type(types: list[Type], **_: object) -> Type:
    return elementwise_type(types)


def bool_type(types: list[Type], **_: object) -> Type:
    return Type("bool", max(t.ndim for t in types))


def template(fmt: str) -> Callable[..., str]:
    """Emission from a format string over the argument sources: ``"np.sin({0})"``."""

    def emit(srcs: list[str], **params: object) -> str:
        return fmt.format(*srcs, **params)

    return emit


def unbroadcast(b, g, like):
    """Sum ``g`` down to the shape of ``like`` (a no-op when the types say it must be)."""
    if g is None:
        return None
    if like.type.ndim == 0:
        return g if g.type.ndim == 0 else b.sum(g, axis=None, keepdims=False)
    return b.unbroadcast(g, like)


def fit_tangent(b, t, args, tans, out):
    """Forward mode: ``t``, a tangent computed from the active operands (and constant
    factors), broadcast to the output's shape when an operand without a tangent is an array
    (it may broadcast the result beyond the shape of the active operands)."""
    if t is None or out.type.ndim == 0:
        return t
    if t.type.ndim < out.type.ndim:
        return b.broadcast_like(t, out)
    if any(tan is None and a.type.ndim > 0 for a, tan in zip(args, tans)):
        return b.broadcast_as(t, out)  # (no copy when the shapes agree at run time)
    return t


def _shaped(d) -> bool:
    """Whether a derivative factor is an array value (computed from the operands, so it
    carries the broadcast shape of the result)."""
    return hasattr(d, "type") and d.type.ndim > 0


def zmul(b, t, d):
    """``t * d`` that is exactly zero wherever ``t`` is zero (None: a zero tangent).

    A finite constant factor needs no guard; otherwise the ``zmul`` primitive is emitted.
    """
    if t is None:
        return None
    if isinstance(d, Const) and isinstance(d.value, (int, float)) and math.isfinite(d.value):
        return b.mul(t, d)
    if isinstance(d, (int, float)) and math.isfinite(d):
        return b.mul(t, d)
    t, d = b.atom(t), b.atom(d)
    return b.zmul(t, d, scalar=t.type.ndim == 0 and d.type.ndim == 0)


def tangent_product(kinks) -> Callable:
    """The product a JVP rule applies to its tangent: :func:`zmul` when the derivative can be
    infinite where the value is finite (a kink of kind INFINITE), a plain product otherwise."""
    if any(k.kind == INFINITE for k in kinks):
        return zmul
    return lambda b, t, d: None if t is None else b.mul(t, d)


def active_args(b, args) -> tuple:
    """Which arguments carry derivatives: ``b.arg_active`` as set by the transforms, or (a rule
    called directly) every float variable."""
    act = b.arg_active
    if len(act) != len(args):
        act = tuple(not isinstance(a, Const) for a in args)
    return tuple(bool(f) and a.type.is_float for f, a in zip(act, args))


def directional(b) -> bool:
    """True when forward mode asks for one-sided directional derivatives at kinks."""
    return bool(b.options.get("directional"))


def scale(b, t, factor):
    """``t * factor`` treating None as a zero tangent."""
    return None if t is None else b.mul(t, factor)


def add_maybe(b, x, y):
    if x is None:
        return y
    if y is None:
        return x
    return b.add(x, y)


def unary(
    name: str,
    emit: str,
    deriv: Callable,
    infer: Callable = float_type,
    kinks=(),
    doc: str = "",
    direction: Callable | None = None,
    **fields: Any,
) -> Primitive:
    """Elementwise unary primitive from ``deriv(b, x, y) -> f'(x)``.

    ``direction(b, x, y, t)``, when given, is the exact one-sided directional derivative along
    ``t`` used by forward mode under ``options={"directional": True}``.
    """
    prim = Primitive(name, infer, template(emit), kinks=kinks, doc=doc, **fields)
    tmul = tangent_product(prim.kinks)

    def jvp(b, args, tans, out, **params):
        if tans[0] is None:
            return None
        if direction is not None and directional(b):
            return direction(b, args[0], out, tans[0])
        return tmul(b, tans[0], deriv(b, args[0], out))

    def vjp(b, args, out, g, **params):
        return [zmul(b, g, deriv(b, args[0], out))]

    prim.jvp, prim.vjp = jvp, vjp
    return prim


def binary(
    name: str,
    emit: str,
    dx: Callable | None,
    dy: Callable | None,
    infer: Callable = float_type,
    kinks=(),
    doc: str = "",
    **fields: Any,
) -> Primitive:
    """Elementwise binary primitive from partials ``dx(b, x, y, out)`` and ``dy(...)``.

    A partial given as None means the primitive is not differentiable in that argument.
    """
    prim = Primitive(name, infer, template(emit), kinks=kinks, doc=doc, **fields)
    tmul = tangent_product(prim.kinks)

    def jvp(b, args, tans, out, **params):
        x, y = args
        tx = tans[0] if dx is not None else None
        ty = tans[1] if dy is not None else None
        parts, full = [], False
        for t, partial in ((tx, dx), (ty, dy)):
            if t is not None:
                d = partial(b, x, y, out)
                full = full or _shaped(d)
                parts.append(tmul(b, t, d))
        if not parts:
            return None
        if len(parts) == 2:
            return b.add(parts[0], parts[1])
        return parts[0] if full else fit_tangent(b, parts[0], args, (tx, ty), out)

    def vjp(b, args, out, g, **params):
        x, y = args
        gx = zmul(b, g, dx(b, x, y, out)) if dx is not None and x.type.is_float else None
        gy = zmul(b, g, dy(b, x, y, out)) if dy is not None and y.type.is_float else None
        return [unbroadcast(b, gx, x), unbroadcast(b, gy, y)]

    prim.jvp, prim.vjp = jvp, vjp
    return prim


def zero_derivative(name: str, emit: str, infer: Callable, doc: str = "",
                    kinks=(), **fields: Any) -> Primitive:
    """A primitive whose derivative is identically zero where it exists."""
    return Primitive(name, infer, template(emit), nondiff=True, doc=doc, kinks=kinks, **fields)


def compiled_helper(prim: Primitive) -> Primitive:
    """Give the elementwise record ``prim`` its Numba emission for array operands: a call of its
    compiled helper ``_rt.ew_<name>`` (one per such record in backend/nbelementwise.py; a call
    of a compiled function costs far less Numba compilation than an inline array expression).
    Arrays of two or more dimensions keep the record's own ``numba_emit`` where it has one
    (flat loops over contiguous data); scalars and calls with parameters keep the record's
    emission. Returns ``prim``."""
    own, plain, helper = prim.numba_emit, prim.emit, f"ew_{prim.name}"

    def emit(srcs: list[str], types: tuple = (), **params):
        if own is not None and types and max(t.ndim for t in types) >= 2:
            return own(srcs, types=types, **params)
        if any(t.ndim for t in types) and not any(params.values()):
            return f"_rt.{helper}({', '.join(srcs)})"
        if own is not None:
            return own(srcs, types=types, **params)
        return plain(srcs, **params)

    emit.helper = helper  # type: ignore[attr-defined]
    prim.numba_emit = emit
    return prim
