"""Combinators that build primitive records for whole families, and shared rule helpers.

* :func:`unary` -- an elementwise function given its derivative ``f'(x)`` (as IR built from
  ``x`` and the output ``y``); JVP is ``f'(x) * dx``, VJP is ``f'(x) * g``.
* :func:`binary` -- an elementwise binary function given both partials; the VJP sums broadcast
  dimensions back (``unbroadcast``).
* :func:`zero_derivative` -- piecewise-constant or integer/bool-valued primitives.
* :func:`elementwise_type` -- NumPy-like result type of an elementwise operation.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import ChainruleTypeError
from ..ir.types import Type, float_dtype, promote_dtypes
from .registry import Primitive


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
    kink: str = "",
    doc: str = "",
) -> Primitive:
    """Elementwise unary primitive from ``deriv(b, x, y) -> f'(x)``."""

    def jvp(b, args, tans, out, **params):
        if tans[0] is None:
            return None
        return b.mul(tans[0], deriv(b, args[0], out))

    def vjp(b, args, out, g, **params):
        return [b.mul(g, deriv(b, args[0], out))]

    return Primitive(name, infer, template(emit), jvp, vjp, kink=kink, doc=doc)


def binary(
    name: str,
    emit: str,
    dx: Callable | None,
    dy: Callable | None,
    infer: Callable = float_type,
    kink: str = "",
    doc: str = "",
) -> Primitive:
    """Elementwise binary primitive from partials ``dx(b, x, y, out)`` and ``dy(...)``.

    A partial given as None means the primitive is not differentiable in that argument.
    """

    def jvp(b, args, tans, out, **params):
        x, y = args
        tx = tans[0] if dx is not None else None
        ty = tans[1] if dy is not None else None
        parts = []
        if tx is not None:
            parts.append(b.mul(tx, dx(b, x, y, out)))
        if ty is not None:
            parts.append(b.mul(ty, dy(b, x, y, out)))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else b.add(parts[0], parts[1])

    def vjp(b, args, out, g, **params):
        x, y = args
        gx = b.mul(g, dx(b, x, y, out)) if dx is not None and x.type.is_float else None
        gy = b.mul(g, dy(b, x, y, out)) if dy is not None and y.type.is_float else None
        return [unbroadcast(b, gx, x), unbroadcast(b, gy, y)]

    return Primitive(name, infer, template(emit), jvp, vjp, kink=kink, doc=doc)


def zero_derivative(name: str, emit: str, infer: Callable, doc: str = "") -> Primitive:
    """A primitive whose derivative is identically zero where it exists."""
    return Primitive(name, infer, template(emit), nondiff=True, doc=doc)
