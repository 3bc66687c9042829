"""Elementwise mathematical functions (NumPy ufunc-like, for scalars and arrays alike).

Unary: trigonometric and hyperbolic functions and their inverses, ``exp expm1 log log1p log2
log10 sqrt cbrt square reciprocal abs``, and the piecewise-constant ``sign floor ceil round``.
Binary: ``maximum minimum arctan2 hypot``; ternary: ``clip``. Emission uses NumPy names
(``np.sin``...) so one text works on scalars and arrays. Derivative denominators are written with
``reciprocal`` (``np.divide(1.0, x)``), which gives ``inf`` rather than raising on Python floats.
"""

from __future__ import annotations

import math

from .common import float_type, same_type, template, unary, unbroadcast, zero_derivative
from .registry import Primitive


def _inv(b, x):
    return b.reciprocal(x)


def _rsqrt(b, x):
    return b.reciprocal(b.sqrt(x))


# -- binary selections: maximum / minimum ------------------------------------------------------
# ``wins`` is where the first operand is selected, ``tie`` where both are equal (then each gets
# half: the minimum-norm element of the Clarke gradient of max(x, y), the segment [e_x, e_y]).


def _select_tangent(b, wins, tie, tx, ty):
    """Tangent of ``wins ? x : (tie ? mean(x, y) : y)`` from tangents that may be None."""
    if tx is None and ty is None:
        return None
    if tx is None:
        half = b.mul(ty, 0.5)
        return b.where(wins, 0.0, b.where(tie, half, ty))
    if ty is None:
        half = b.mul(tx, 0.5)
        return b.where(wins, tx, b.where(tie, half, 0.0))
    return b.where(wins, tx, b.where(tie, b.mul(b.add(tx, ty), 0.5), ty))


def _select_split(b, wins, tie, g):
    """Split a cotangent ``g``: (share of the first operand, share of the second)."""
    gx = b.where(wins, g, b.where(tie, b.mul(g, 0.5), 0.0))
    return gx, b.sub(g, gx)


def _extremum(name: str, cmp: str) -> Primitive:
    def jvp(b, args, tans, out, **_):
        x, y = args
        return _select_tangent(b, b.emit(cmp, x, y), b.eq(x, y), tans[0], tans[1])

    def vjp(b, args, out, g, **_):
        x, y = args
        gx, gy = _select_split(b, b.emit(cmp, x, y), b.eq(x, y), g)
        return [
            unbroadcast(b, gx, x) if x.type.is_float else None,
            unbroadcast(b, gy, y) if y.type.is_float else None,
        ]

    return Primitive(
        name, same_type, template(f"np.{name}({{0}}, {{1}})"), jvp, vjp,
        kink="at ties x == y each argument gets half of the cotangent (tangent: the mean of "
        "both tangents), the minimum-norm element of the Clarke gradient",
    )


# -- clip = minimum(maximum(x, lo), hi) -------------------------------------------------------


def _clip_jvp(b, args, tans, out, **_):
    x, lo, hi = args
    tx, tlo, thi = tans
    m = b.maximum(x, lo)
    tm = _select_tangent(b, b.gt(x, lo), b.eq(x, lo), tx, tlo)
    return _select_tangent(b, b.lt(m, hi), b.eq(m, hi), tm, thi)


def _clip_vjp(b, args, out, g, **_):
    x, lo, hi = args
    m = b.maximum(x, lo)
    gm, ghi = _select_split(b, b.lt(m, hi), b.eq(m, hi), g)
    gx, glo = _select_split(b, b.gt(x, lo), b.eq(x, lo), gm)
    return [unbroadcast(b, gc, a) if a.type.is_float else None
            for gc, a in ((gx, x), (glo, lo), (ghi, hi))]


# -- arctan2 / hypot: partials with a safe denominator at the origin ---------------------------


def _safe(b, r):
    """``r`` with zeros replaced by one (the numerators vanish there too)."""
    return b.where(b.eq(r, 0.0), 1.0, r)


def _binary_rule(partials):
    """JVP/VJP from ``partials(b, x, y, out) -> (d/dx, d/dy)``."""

    def jvp(b, args, tans, out, **_):
        tx, ty = tans
        if tx is None and ty is None:
            return None
        dx, dy = partials(b, args[0], args[1], out)
        parts = [b.mul(t, d) for t, d in ((tx, dx), (ty, dy)) if t is not None]
        return parts[0] if len(parts) == 1 else b.add(parts[0], parts[1])

    def vjp(b, args, out, g, **_):
        x, y = args
        dx, dy = partials(b, x, y, out)
        return [unbroadcast(b, b.mul(g, dx), x) if x.type.is_float else None,
                unbroadcast(b, b.mul(g, dy), y) if y.type.is_float else None]

    return jvp, vjp


def _arctan2_partials(b, y, x, out):
    inv_r2 = _inv(b, _safe(b, b.add(b.square(x), b.square(y))))
    return b.mul(x, inv_r2), b.neg(b.mul(y, inv_r2))


def _hypot_partials(b, x, y, out):
    inv_h = _inv(b, _safe(b, out))
    return b.mul(x, inv_h), b.mul(y, inv_h)


_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


def _round_emit(srcs, decimals=0, **_):
    return f"np.round({srcs[0]})" if decimals == 0 else f"np.round({srcs[0]}, {decimals})"


PRIMS = [
    unary("sin", "np.sin({0})", lambda b, x, y: b.cos(x)),
    unary("cos", "np.cos({0})", lambda b, x, y: b.neg(b.sin(x))),
    unary("tan", "np.tan({0})", lambda b, x, y: b.add(1.0, b.square(y))),
    unary("arcsin", "np.arcsin({0})", lambda b, x, y: _rsqrt(b, b.sub(1.0, b.square(x))),
          kink="infinite at x = +-1"),
    unary("arccos", "np.arccos({0})",
          lambda b, x, y: b.neg(_rsqrt(b, b.sub(1.0, b.square(x)))),
          kink="infinite at x = +-1"),
    unary("arctan", "np.arctan({0})", lambda b, x, y: _inv(b, b.add(1.0, b.square(x)))),
    unary("sinh", "np.sinh({0})", lambda b, x, y: b.cosh(x)),
    unary("cosh", "np.cosh({0})", lambda b, x, y: b.sinh(x)),
    unary("tanh", "np.tanh({0})", lambda b, x, y: b.sub(1.0, b.square(y))),
    unary("arcsinh", "np.arcsinh({0})", lambda b, x, y: _rsqrt(b, b.add(b.square(x), 1.0))),
    unary("arccosh", "np.arccosh({0})",
          lambda b, x, y: _inv(b, b.mul(b.sqrt(b.sub(x, 1.0)), b.sqrt(b.add(x, 1.0)))),
          kink="+inf at x = 1"),
    unary("arctanh", "np.arctanh({0})", lambda b, x, y: _inv(b, b.sub(1.0, b.square(x))),
          kink="+inf at x = +-1"),
    unary("exp", "np.exp({0})", lambda b, x, y: y),
    unary("expm1", "np.expm1({0})", lambda b, x, y: b.add(y, 1.0)),
    unary("log", "np.log({0})", lambda b, x, y: _inv(b, x), kink="log'(0) = +inf"),
    unary("log1p", "np.log1p({0})", lambda b, x, y: _inv(b, b.add(x, 1.0)),
          kink="+inf at x = -1"),
    unary("log2", "np.log2({0})", lambda b, x, y: _inv(b, b.mul(x, _LN2)),
          kink="log2'(0) = +inf"),
    unary("log10", "np.log10({0})", lambda b, x, y: _inv(b, b.mul(x, _LN10)),
          kink="log10'(0) = +inf"),
    unary("sqrt", "np.sqrt({0})", lambda b, x, y: b.mul(_inv(b, y), 0.5),
          kink="sqrt'(0) = +inf (so a zero tangent there gives nan, as 0 * inf)"),
    unary("cbrt", "np.cbrt({0})", lambda b, x, y: _inv(b, b.mul(b.square(y), 3.0)),
          kink="cbrt'(0) = +inf"),
    unary("square", "np.square({0})", lambda b, x, y: b.mul(x, 2.0), infer=same_type),
    unary("reciprocal", "np.divide(1.0, {0})", lambda b, x, y: b.neg(b.square(y)),
          doc="1 / x, always floating (np.divide(1.0, x))", kink="infinite at x = 0"),
    unary("abs", "np.abs({0})", lambda b, x, y: b.sign(x), infer=same_type,
          kink="abs'(0) = 0 (the minimum-norm element of the subdifferential [-1, 1])"),
    zero_derivative("sign", "np.sign({0})", same_type, doc="-1, 0 or 1"),
    zero_derivative("floor", "np.floor({0})", same_type),
    zero_derivative("ceil", "np.ceil({0})", same_type),
    Primitive("round", same_type, _round_emit, nondiff=True,
              doc="np.round(x, decimals): halves go to the even neighbour"),
    _extremum("maximum", "gt"),
    _extremum("minimum", "lt"),
    Primitive("arctan2", float_type, template("np.arctan2({0}, {1})"),
              *_binary_rule(_arctan2_partials),
              kink="both partials are 0 at the origin (y, x) = (0, 0)"),
    Primitive("hypot", float_type, template("np.hypot({0}, {1})"),
              *_binary_rule(_hypot_partials),
              kink="both partials are 0 at the origin, the minimum-norm element of the "
              "subdifferential (the unit disc)"),
    Primitive("clip", same_type, template("np.clip({0}, {1}, {2})"), _clip_jvp, _clip_vjp,
              doc="np.clip(x, lo, hi) == minimum(maximum(x, lo), hi); lo and hi are required",
              kink="the chain rule through minimum(maximum(x, lo), hi) with their tie rule: at "
              "x == lo < hi, x and lo get 1/2 each; at x == hi > lo, x and hi get 1/2 each; at "
              "x == lo == hi, hi gets 1/2 and x, lo 1/4 each; when lo > hi the result is hi"),
]

__all__ = ["PRIMS"]
