"""Elementwise mathematical functions (NumPy ufunc-like, for scalars and arrays alike).

Unary: trigonometric and hyperbolic functions and their inverses, ``exp expm1 log log1p log2
log10 sqrt cbrt square reciprocal abs``, and the piecewise-constant ``sign floor ceil round``.
Binary: ``maximum minimum arctan2 hypot``; ternary: ``clip``. Emission uses NumPy names
(``np.sin``...) so one text works on scalars and arrays. Derivative denominators are written with
``reciprocal`` (``np.divide(1.0, x)``), which gives ``inf`` rather than raising on Python floats.
"""

from __future__ import annotations

import math

from . import taylor as T
from .common import (
    active_args,
    compiled_helper,
    directional,
    float_type,
    same_type,
    template,
    unary,
    unbroadcast,
    zero_derivative,
    zmul,
)
from .registry import FLAT, INFINITE, JUMP, KINK, Kink, Primitive


def _inv(b, x):
    return b.reciprocal(x)


def _rsqrt(b, x):
    return b.reciprocal(b.sqrt(x))


def _or0(t):
    """A tangent, with None (zero) as the constant 0.0."""
    return 0.0 if t is None else t


# -- selections: maximum / minimum / clip ------------------------------------------------------
# The value is one of the operands. At a point, the *selectable* operands are those the value
# equals on some neighbourhood piece (both at a tie of maximum). The Clarke generalized gradient
# there is the convex hull of their unit vectors; restricted to the operands that carry
# derivatives, a selectable constant contributes the zero vector. Its minimum-norm element:
# 0 when a constant operand is selectable, else an equal share for each selectable operand.


def _extremum(name: str, cmp: str) -> Primitive:
    other = {"gt": "lt", "lt": "gt"}[cmp]

    def jvp(b, args, tans, out, **_):
        x, y = args
        tx, ty = tans
        if tx is None and ty is None:
            return None
        wins, loses = b.emit(cmp, x, y), b.emit(other, x, y)
        if directional(b):  # the one-sided derivative max(dx, dy) (min for minimum) at a tie
            tie = b.emit(name, _or0(tx), _or0(ty))
            return b.where(wins, _or0(tx), b.where(loses, _or0(ty), tie))
        if ty is None:
            return b.where(wins, tx, 0.0)
        if tx is None:
            return b.where(loses, ty, 0.0)
        return b.where(wins, tx, b.where(loses, ty, b.mul(b.add(tx, ty), 0.5)))

    def vjp(b, args, out, g, **_):
        x, y = args
        ax, ay = active_args(b, args)
        wins, loses = b.emit(cmp, x, y), b.emit(other, x, y)
        gx = gy = None
        if ax and ay:
            half = b.mul(g, 0.5)
            gx = b.where(wins, g, b.where(loses, 0.0, half))
            gy = b.where(loses, g, b.where(wins, 0.0, half))
        elif ax:
            gx = b.where(wins, g, 0.0)
        elif ay:
            gy = b.where(loses, g, 0.0)
        return [unbroadcast(b, gx, x), unbroadcast(b, gy, y)]

    big = "max" if name == "maximum" else "min"
    return Primitive(
        name, same_type, template(f"np.{name}({{0}}, {{1}})"), jvp, vjp,
        kinks=Kink(KINK, "x == y",
                   "1/2 to each operand when both carry derivatives; 0 when the other operand "
                   f"is a constant (so {name}(x, 0.0) has derivative 0 at 0)",
                   clarke="{(s, 1 - s) : 0 <= s <= 1}", directional=f"{big}(dx, dy)",
                   mask=lambda b, args, out, **_: b.eq(args[0], args[1])),
    )


def _clip_members(b, x, lo, hi):
    """Selectable operands of clip(x, lo, hi) = minimum(maximum(x, lo), hi), elementwise."""
    proper = b.le(lo, hi)
    return [b.logical_and(b.le(lo, x), b.le(x, hi)),
            b.logical_and(b.le(x, lo), proper),
            b.logical_or(b.ge(x, hi), b.ge(lo, hi))]


def _clip_inside(b, x, lo, hi):
    return b.logical_and(b.gt(x, lo), b.lt(x, hi))


def _clip_weights(b, args, act) -> list:
    """Per operand: the weight (an atom, or None for no derivative) of its tangent/cotangent."""
    members = _clip_members(b, *args)
    blocked = None  # a selectable constant operand: the minimum-norm element is 0
    count = None
    for m, a in zip(members, act):
        if a:
            one = b.where(m, 1.0, 0.0)
            count = one if count is None else b.add(count, one)
        else:
            blocked = m if blocked is None else b.logical_or(blocked, m)
    share = b.reciprocal(b.maximum(count, 1.0))
    if blocked is not None:
        share = b.where(blocked, 0.0, share)
    return [b.where(m, share, 0.0) if a else None for m, a in zip(members, act)]


def _clip_jvp(b, args, tans, out, **_):
    x, lo, hi = args
    if all(t is None for t in tans):
        return None
    if directional(b):  # chain rule of directional derivatives through maximum, then minimum
        tx, tlo, thi = (_or0(t) for t in tans)
        m = b.maximum(x, lo)
        dm = b.where(b.gt(x, lo), tx, b.where(b.lt(x, lo), tlo, b.maximum(tx, tlo)))
        return b.where(b.lt(m, hi), dm, b.where(b.gt(m, hi), thi, b.minimum(dm, thi)))
    act = tuple(t is not None for t in tans)
    if act == (True, False, False):  # constant bounds: only x strictly inside moves the value
        return b.where(_clip_inside(b, x, lo, hi), tans[0], 0.0)
    total = None
    for w, t in zip(_clip_weights(b, args, act), tans):
        if w is not None:
            part = b.mul(t, w)
            total = part if total is None else b.add(total, part)
    return total


def _clip_vjp(b, args, out, g, **_):
    act = active_args(b, args)
    if not any(act):
        return [None, None, None]
    if act == (True, False, False):
        return [unbroadcast(b, b.where(_clip_inside(b, *args), g, 0.0), args[0]), None, None]
    return [None if w is None else unbroadcast(b, b.mul(g, w), a)
            for w, a in zip(_clip_weights(b, args, act), args)]


def _clip_mask(b, args, out, **_):
    n = None
    for m in _clip_members(b, *args):
        one = b.where(m, 1, 0)
        n = one if n is None else b.add(n, one)
    return b.gt(n, 1)


# -- arctan2 / hypot: partials with a safe denominator at the origin ---------------------------


def _inv_or_zero(b, r):
    """``1 / r``, and 0 where ``r == 0`` (the origin, where the numerators vanish too): the
    partials are 0 there, and so are their derivatives."""
    zero = b.eq(r, 0.0)
    return b.where(zero, 0.0, b.reciprocal(b.where(zero, 1.0, r)))


def _binary_rule(partials, direction=None):
    """JVP/VJP from ``partials(b, x, y, out) -> (d/dx, d/dy)``; ``direction(b, x, y, out, tx,
    ty)`` is the directional derivative used in directional mode."""

    def jvp(b, args, tans, out, **_):
        tx, ty = tans
        if tx is None and ty is None:
            return None
        if direction is not None and directional(b):
            return direction(b, args[0], args[1], out, _or0(tx), _or0(ty))
        dx, dy = partials(b, args[0], args[1], out)
        parts = [b.mul(t, d) for t, d in ((tx, dx), (ty, dy)) if t is not None]
        return parts[0] if len(parts) == 1 else b.add(parts[0], parts[1])

    def vjp(b, args, out, g, **_):
        x, y = args
        dx, dy = partials(b, x, y, out)
        return [unbroadcast(b, zmul(b, g, dx), x) if x.type.is_float else None,
                unbroadcast(b, zmul(b, g, dy), y) if y.type.is_float else None]

    return jvp, vjp


def _arctan2_partials(b, y, x, out):
    inv_r2 = _inv_or_zero(b, b.add(b.square(x), b.square(y)))
    return b.mul(x, inv_r2), b.neg(b.mul(y, inv_r2))


def _hypot_partials(b, x, y, out):
    inv_h = _inv_or_zero(b, out)
    return b.mul(x, inv_h), b.mul(y, inv_h)


def _hypot_direction(b, x, y, out, tx, ty):
    """At the origin hypot is the norm of (x, y): its derivative along (tx, ty) is their norm."""
    dx, dy = _hypot_partials(b, x, y, out)
    smooth = b.add(b.mul(tx, dx), b.mul(ty, dy))
    return b.where(b.eq(out, 0.0), b.hypot(tx, ty), smooth)


def _abs_direction(b, x, y, t):
    return b.where(b.eq(x, 0.0), b.abs(t), b.mul(t, b.sign(x)))


def _at(fn):
    """A kink mask from a function of the first argument (elementwise primitives)."""
    return lambda b, args, out, **_: fn(b, args[0])


def _infinite(at: str, returns: str, mask) -> Kink:
    return Kink(INFINITE, at, returns + "; a zero tangent or cotangent gives 0",
                directional="the same (+-inf along a nonzero direction)", mask=_at(mask))


def _unit(b, x):
    return b.eq(b.abs(x), 1.0)


def _integer(b, x):
    return b.eq(x, b.floor(x))


def _half(b, x, decimals=0):
    scaled = x if decimals == 0 else b.mul(x, 10.0 ** decimals)
    return b.eq(b.sub(scaled, b.floor(scaled)), 0.5)


_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


def _round_emit(srcs, decimals=0, **_):
    return f"np.round({srcs[0]})" if decimals == 0 else f"np.round({srcs[0]}, {decimals})"


_FLAT = "0 (also at the jumps)"


# -- Numba emissions (``numba_emit``: where Numba needs other source than NumPy) ---------------
def _vectorised(name: str):
    """exp, expm1, tanh of a float64 array: backend/nbmath.py's loop that LLVM vectorises (the
    C library's function is one call per value); other dtypes and scalars: the compiled helper
    or the NumPy expression."""
    def emit(srcs: list[str], types: tuple = (), **_) -> str:
        if types and types[0].ndim and types[0].dtype == "float64":
            return f"_rt.map_{name}({srcs[0]})"
        if types and types[0].ndim:
            return f"_rt.ew_{name}({srcs[0]})"
        return f"np.{name}({srcs[0]})"

    emit.helper = f"ew_{name}"  # type: ignore[attr-defined]
    return emit


def _clip(srcs: list[str], types: tuple = (), **_) -> str:
    """``np.clip`` as NumPy defines it, for every mix of scalar and array operands (arrays: the
    compiled helper of backend/nbelementwise.py)."""
    x, lo, hi = srcs
    if any(t.ndim for t in types):
        return f"_rt.ew_clip({x}, {lo}, {hi})"
    return f"np.minimum(np.maximum({x}, {lo}), {hi})"


PRIMS = [
    unary("sin", "np.sin({0})", lambda b, x, y: b.cos(x), movable=True),
    unary("cos", "np.cos({0})", lambda b, x, y: b.neg(b.sin(x)), movable=True),
    unary("tan", "np.tan({0})", lambda b, x, y: b.add(1.0, b.square(y))),
    unary("arcsin", "np.arcsin({0})", lambda b, x, y: _rsqrt(b, b.sub(1.0, b.square(x))),
          kinks=_infinite("|x| == 1", "+inf", _unit)),
    unary("arccos", "np.arccos({0})",
          lambda b, x, y: b.neg(_rsqrt(b, b.sub(1.0, b.square(x)))),
          kinks=_infinite("|x| == 1", "-inf", _unit)),
    unary("arctan", "np.arctan({0})", lambda b, x, y: _inv(b, b.add(1.0, b.square(x)))),
    unary("sinh", "np.sinh({0})", lambda b, x, y: b.cosh(x)),
    unary("cosh", "np.cosh({0})", lambda b, x, y: b.sinh(x)),
    unary("tanh", "np.tanh({0})", lambda b, x, y: b.sub(1.0, b.square(y)), movable=True,
          numba_emit=_vectorised("tanh")),
    unary("arcsinh", "np.arcsinh({0})", lambda b, x, y: _rsqrt(b, b.add(b.square(x), 1.0))),
    unary("arccosh", "np.arccosh({0})",
          lambda b, x, y: _inv(b, b.mul(b.sqrt(b.sub(x, 1.0)), b.sqrt(b.add(x, 1.0)))),
          kinks=_infinite("x == 1", "+inf", lambda b, x: b.eq(x, 1.0))),
    unary("arctanh", "np.arctanh({0})", lambda b, x, y: _inv(b, b.sub(1.0, b.square(x))),
          kinks=_infinite("|x| == 1", "+inf (the value is +-inf)", _unit)),
    unary("exp", "np.exp({0})", lambda b, x, y: y, movable=True, numba_emit=_vectorised("exp")),
    unary("expm1", "np.expm1({0})", lambda b, x, y: b.add(y, 1.0),
          numba_emit=_vectorised("expm1")),
    unary("log", "np.log({0})", lambda b, x, y: _inv(b, x),
          kinks=_infinite("x == 0", "+inf (the value is -inf)", lambda b, x: b.eq(x, 0.0))),
    unary("log1p", "np.log1p({0})", lambda b, x, y: _inv(b, b.add(x, 1.0)),
          kinks=_infinite("x == -1", "+inf (the value is -inf)", lambda b, x: b.eq(x, -1.0))),
    unary("log2", "np.log2({0})", lambda b, x, y: _inv(b, b.mul(x, _LN2)),
          kinks=_infinite("x == 0", "+inf (the value is -inf)", lambda b, x: b.eq(x, 0.0))),
    unary("log10", "np.log10({0})", lambda b, x, y: _inv(b, b.mul(x, _LN10)),
          kinks=_infinite("x == 0", "+inf (the value is -inf)", lambda b, x: b.eq(x, 0.0))),
    unary("sqrt", "np.sqrt({0})", lambda b, x, y: b.mul(_inv(b, y), 0.5),
          kinks=_infinite("x == 0", "+inf", lambda b, x: b.eq(x, 0.0))),
    unary("cbrt", "np.cbrt({0})", lambda b, x, y: _inv(b, b.mul(b.square(y), 3.0)),
          kinks=_infinite("x == 0", "+inf", lambda b, x: b.eq(x, 0.0))),
    unary("square", "np.square({0})", lambda b, x, y: b.mul(x, 2.0), infer=same_type),
    unary("reciprocal", "np.divide(1.0, {0})", lambda b, x, y: b.neg(b.square(y)),
          doc="1 / x, always floating (np.divide(1.0, x))",
          kinks=_infinite("x == 0", "-inf (the value is +-inf)", lambda b, x: b.eq(x, 0.0))),
    unary("abs", "np.abs({0})", lambda b, x, y: b.sign(x), infer=same_type,
          direction=_abs_direction,
          kinks=Kink(KINK, "x == 0", "0", clarke="[-1, 1]", directional="|dx|",
                     mask=_at(lambda b, x: b.eq(x, 0.0)))),
    zero_derivative("sign", "np.sign({0})", same_type, doc="-1, 0 or 1",
                    kinks=Kink(FLAT, "x == 0 (a jump)", _FLAT,
                               mask=_at(lambda b, x: b.eq(x, 0.0)))),
    zero_derivative("floor", "np.floor({0})", same_type,
                    kinks=Kink(FLAT, "integers (jumps)", _FLAT, mask=_at(_integer))),
    zero_derivative("ceil", "np.ceil({0})", same_type,
                    kinks=Kink(FLAT, "integers (jumps)", _FLAT, mask=_at(_integer))),
    Primitive("round", same_type, _round_emit, nondiff=True,
              doc="np.round(x, decimals): halves go to the even neighbour",
              kinks=Kink(FLAT, "halfway points (jumps)", _FLAT,
                         mask=lambda b, args, out, decimals=0, **_: _half(b, args[0], decimals))),
    _extremum("maximum", "gt"),
    _extremum("minimum", "lt"),
    Primitive("arctan2", float_type, template("np.arctan2({0}, {1})"),
              *_binary_rule(_arctan2_partials),
              kinks=Kink(JUMP, "y == x == 0", "(0, 0)",
                         directional="(0, 0): no directional derivative exists",
                         mask=lambda b, args, out, **_: b.logical_and(
                             b.eq(args[0], 0.0), b.eq(args[1], 0.0)))),
    Primitive("hypot", float_type, template("np.hypot({0}, {1})"),
              *_binary_rule(_hypot_partials, _hypot_direction),
              kinks=Kink(KINK, "x == y == 0", "(0, 0)", clarke="the unit disc",
                         directional="hypot(dx, dy)",
                         mask=lambda b, args, out, **_: b.eq(out, 0.0))),
    Primitive("clip", same_type, template("np.clip({0}, {1}, {2})"), _clip_jvp, _clip_vjp,
              doc="np.clip(x, lo, hi) == minimum(maximum(x, lo), hi); lo and hi are required",
              kinks=Kink(KINK, "x == lo <= hi, x == hi >= lo, lo == hi",
                         "the selectable operands share equally (x == lo < hi: 1/2 each to x "
                         "and lo; x == lo == hi: 1/3 each); 0 when a selectable operand is a "
                         "constant, so clip(x, 0.0, 1.0) has derivative 0 at x = 0 and x = 1",
                         clarke="the convex hull of the unit vectors of the selectable operands",
                         directional="min(max-rule(dx, dlo), dhi): max(dx, dlo) at x == lo, "
                         "min(dx, dhi) at x == hi", mask=_clip_mask),
              numba_emit=_clip),
]
# Under Numba, an array operand means a call of the primitive's compiled helper.
for _p in PRIMS:
    if _p.name in ('maximum', 'minimum', 'arctan2', 'hypot', 'reciprocal', 'round', 'sin', 'cos',
                   'tan', 'arcsin', 'arccos', 'arctan', 'sinh', 'cosh', 'arcsinh',
                   'arccosh', 'arctanh', 'log', 'log1p', 'log2', 'log10', 'sqrt',
                   'cbrt', 'square', 'abs', 'sign', 'floor', 'ceil'):
        compiled_helper(_p)

__all__ = ["PRIMS"]


# -- Taylor rules (rules/taylor.py) ------------------------------------------------------------


def _derivative_of(shift: float, sign_sq: float, r: float, sign: float = 1.0):
    """Inverse functions with ``y' = sign * (shift + sign_sq * x^2) ** r * x'``."""

    def series(b, x, out, K):
        u = T.affine(b, T.square_series(b, x, K - 1), shift, sign_sq)
        g0 = b.reciprocal(b.sqrt(u[0])) if r == -0.5 else b.reciprocal(u[0])
        g = T.power(b, u, r, g0, K - 1)
        return T.of_derivative(b, x, [T.sscale(b, c, sign) for c in g], K, out)

    return T.unary_rule(series)


def _log_base(scale: float):
    def series(b, x, out, K):
        y = T.log_series(b, x, out, K)
        return [out] + [T.sscale(b, c, scale) for c in y[1:]]

    return T.unary_rule(series)


def _arctan2_series(b, y, x, out, K):
    # theta' = (x y' - y x') / (x^2 + y^2), as series of the derivatives (order K - 1).
    m = K - 1
    dy = [T.sscale(b, y[i + 1], i + 1) for i in range(K)]
    dx = [T.sscale(b, x[i + 1], i + 1) for i in range(K)]
    h = [T.ssub(b, T.cauchy(b, x, dy, n), T.cauchy(b, y, dx, n)) for n in range(K)]
    sx, sy = T.square_series(b, x, m), T.square_series(b, y, m)
    r = [T.sadd(b, a, c) for a, c in zip(sx, sy)]
    q = T.quotient(b, h, r, T.smul(b, h[0], b.reciprocal(r[0])), m)
    return [out] + [T.sscale(b, q[k - 1], 1.0 / k) for k in range(1, K + 1)]


def _hypot_series(b, x, y, out, K):
    sx, sy = T.square_series(b, x, K), T.square_series(b, y, K)
    return T.sqrt_series(b, [None] + [T.sadd(b, a, c) for a, c in zip(sx[1:], sy[1:])], out, K,
                         zero_at_zero=True)


T.attach(PRIMS, coefficientwise_=("abs", "maximum", "minimum", "clip"), rules={
    "sin": T.unary_rule(lambda b, x, out, K: T.sin_cos_series(b, x, out, b.cos(x[0]), K)[0]),
    "cos": T.unary_rule(lambda b, x, out, K: T.sin_cos_series(b, x, b.sin(x[0]), out, K)[1]),
    "sinh": T.unary_rule(lambda b, x, out, K: T.sin_cos_series(
        b, x, out, b.cosh(x[0]), K, hyperbolic=True)[0]),
    "cosh": T.unary_rule(lambda b, x, out, K: T.sin_cos_series(
        b, x, b.sinh(x[0]), out, K, hyperbolic=True)[1]),
    "tan": T.unary_rule(lambda b, x, out, K: T.tan_series(b, x, out, K, 1.0)),
    "tanh": T.unary_rule(lambda b, x, out, K: T.tan_series(b, x, out, K, -1.0)),
    "arcsin": _derivative_of(1.0, -1.0, -0.5),
    "arccos": _derivative_of(1.0, -1.0, -0.5, sign=-1.0),
    "arctan": _derivative_of(1.0, 1.0, -1.0),
    "arcsinh": _derivative_of(1.0, 1.0, -0.5),
    "arccosh": _derivative_of(-1.0, 1.0, -0.5),
    "arctanh": _derivative_of(1.0, -1.0, -1.0),
    "exp": T.unary_rule(lambda b, x, out, K: T.exp_series(b, x, out, K)),
    "expm1": T.unary_rule(lambda b, x, out, K: [out] + T.exp_series(
        b, x, b.add(out, 1.0), K)[1:]),
    "log": T.unary_rule(lambda b, x, out, K: T.log_series(b, x, out, K)),
    "log1p": T.unary_rule(lambda b, x, out, K: T.log_series(
        b, x, out, K, x0=b.add(x[0], 1.0))),
    "log2": _log_base(1.0 / _LN2),
    "log10": _log_base(1.0 / _LN10),
    "sqrt": T.unary_rule(lambda b, x, out, K: T.sqrt_series(b, x, out, K)),
    "cbrt": T.unary_rule(lambda b, x, out, K: T.power(b, x, 1.0 / 3.0, out, K)),
    "square": T.unary_rule(lambda b, x, out, K: [out] + T.square_series(b, x, K)[1:]),
    "reciprocal": T.unary_rule(lambda b, x, out, K: T.quotient(
        b, [1.0] + [None] * K, x, out, K)),
    "arctan2": T.binary_rule(_arctan2_series),
    "hypot": T.binary_rule(_hypot_series),
})
