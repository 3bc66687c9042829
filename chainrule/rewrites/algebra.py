"""Built-in rewrite rules: algebraic simplifications of the primal and of derivative code.

Each rule says how exact it is (``exact=``; docs/rewrites.md has the table):

* ``"bitwise"``: the same bits for every input, infinities, NaNs and signed zeros included;
* ``"sign of zero"``: the same values, except that a zero may change sign;
* ``"rounding"``: mathematically equal; the result may differ in the last bits (a different
  summation order) or be better (no intermediate overflow).

Deliberately absent, because they are not identities in floating point: ``x + 0.0 -> x``
(``-0.0 + 0.0`` is ``+0.0``; ``x + (-0.0)`` and ``x - 0.0`` are identities and are here),
``x * 0 -> 0`` and ``x - x -> 0`` (inf and nan), ``exp(log(x)) -> x`` (``x < 0`` gives nan),
``-(a - b) -> b - a`` (``a == b`` gives ``-0.0`` vs ``+0.0``).
"""

from __future__ import annotations

import math
from typing import Any

from ..ir.nodes import Const
from .engine import Rule
from .patterns import const, is_float, is_int, ndim, op, var

x, y, g, like = var("x"), var("y"), var("g"), var("like")
fx = var("x", is_float)
ix = var("x", is_int)
c = const(name="c")
u1, v1 = var("u", ndim(1)), var("v", ndim(1))


def _keep(b: Any, x: Any) -> Any:
    return x


def _neg(b: Any, x: Any) -> Any:
    return b.neg(x)


def _negated(k: Const) -> Const:
    return Const(-k.value, k.type, k.weak)


def _neg_product(b: Any, x: Any, c: Const) -> Any:
    return b.mul(x, _negated(c)) if c.type.is_float else None


def _neg_quotient(b: Any, x: Any, c: Const) -> Any:
    return b.div(x, _negated(c)) if c.type.is_float else None


def _times_reciprocal(b: Any, x: Any, c: Const) -> Any:
    """``x / c`` as ``x * (1 / c)`` when ``1 / c`` is exact: ``c`` a power of two whose
    reciprocal is a normal number (both round the same exact quotient)."""
    if not c.type.is_float or not x.type.is_float or c.value == 0 or \
            not math.isfinite(c.value):
        return None
    mantissa, exponent = math.frexp(abs(c.value))
    if mantissa != 0.5 or not -1020 <= exponent <= 1020:
        return None
    return b.mul(x, Const(1.0 / c.value, c.type, c.weak))


def _dot(b: Any, u: Any, v: Any = None) -> Any:
    v = u if v is None else v
    if u.type.dtype != "float64" or v.type.dtype != "float64":
        return None
    if not b.same_shape(u, v):
        return None  # (a size-1 operand would broadcast, where np.dot raises)
    return b.dot(u, v)


def _compose_transposes(b: Any, x: Any, inner: Any, outer: Any) -> Any:
    n = x.type.ndim
    first = list(range(n))[::-1] if inner is None else [k % n for k in inner]
    second = list(range(n))[::-1] if outer is None else [k % n for k in outer]
    axes = [first[k] for k in second]
    if axes == list(range(n)):
        return x
    return b.transpose(x, axes=tuple(axes))


def _same_shape_operand(b: Any, g: Any, like: Any) -> Any:
    return g if g.type.ndim > 0 and b.same_shape(g, like) else None


RULES = [
    # -- bitwise identities ---------------------------------------------------------------
    Rule("mul_by_one", op.mul(x, const(1)), _keep, exact="bitwise"),
    Rule("div_by_one", op.div(x, const(1)), _keep, exact="bitwise"),
    Rule("pow_one", op.pow(x, const(1)), _keep, exact="bitwise"),
    Rule("mul_by_minus_one", op.mul(x, const(-1)), _neg, exact="bitwise"),
    Rule("div_by_minus_one", op.div(x, const(-1)), _neg, exact="bitwise"),
    Rule("sub_zero", op.sub(x, const(0)), _keep, exact="bitwise"),
    Rule("add_minus_zero", op.add(x, const(-0.0)), _keep, exact="bitwise"),
    Rule("add_int_zero", op.add(ix, const(0)), _keep, exact="bitwise (integers)"),
    Rule("neg_neg", op.neg(op.neg(x)), _keep, exact="bitwise"),
    Rule("not_not", op.not_(op.not_(x)), _keep, exact="bitwise"),
    Rule("add_neg", op.add(x, op.neg(y)), lambda b, x, y: b.sub(x, y), exact="bitwise"),
    Rule("sub_neg", op.sub(x, op.neg(y)), lambda b, x, y: b.add(x, y), exact="bitwise"),
    Rule("neg_times_neg", op.mul(op.neg(x), op.neg(y)), lambda b, x, y: b.mul(x, y),
         exact="bitwise"),
    Rule("square_neg", op.square(op.neg(x)), lambda b, x: b.square(x), exact="bitwise"),
    Rule("neg_of_product", op.neg(op.mul(fx, c)), _neg_product, exact="bitwise"),
    Rule("neg_of_quotient", op.neg(op.div(fx, c)), _neg_quotient, exact="bitwise"),
    Rule("div_by_power_of_two", op.div(x, c), _times_reciprocal, exact="bitwise"),
    Rule("transpose_transpose",
         op.transpose(op.transpose(x, axes=var("inner")), axes=var("outer")),
         _compose_transposes, exact="bitwise (a view, as before)", same_buffer=True),
    # -- derivative code ------------------------------------------------------------------
    Rule("zmul_by_one", op.zmul(x, const(1), scalar=var("scalar")), _keep, stage="after", exact="sign of zero"),
    Rule("unbroadcast_same_shape", op.unbroadcast(g, like), _same_shape_operand,
         stage="after", exact="bitwise (the operand itself, as before)", same_buffer=True),
    # -- mathematical identities ----------------------------------------------------------
    Rule("log_exp", op.log(op.exp(fx)), _keep, exact="rounding (no overflow)"),
    Rule("sum_of_products_is_dot", op.sum(op.mul(u1, v1), axis=None, keepdims=False),
         _dot, exact="rounding (BLAS summation order)"),
    Rule("sum_of_squares_is_dot", op.sum(op.square(u1), axis=None, keepdims=False), _dot,
         exact="rounding (BLAS summation order)"),
]
