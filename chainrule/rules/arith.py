"""Arithmetic, comparison, logic, selection and cast primitives.

``add sub mul div neg pos pow floordiv mod``, comparisons ``lt le gt ge eq ne``, logic
``logical_and logical_or logical_not``, ``where``, casts ``to_float to_int to_bool astype``, and
``id`` (a plain copy of a value, used for ``y = x``).
"""

from __future__ import annotations

from ..ir.types import Type
from .common import (
    binary,
    bool_type,
    elementwise_type,
    float_type,
    same_type,
    template,
    unbroadcast,
    zero_derivative,
)
from .registry import Primitive


def _one(b, x, y, out):
    return 1.0


def _minus_one(b, x, y, out):
    return -1.0


def _linear_jvp(sign_y: float):
    def jvp(b, args, tans, out, **params):
        tx, ty = tans
        if ty is not None and sign_y < 0:
            ty = b.neg(ty)
        if tx is None:
            return ty
        if ty is None:
            return tx
        return b.add(tx, ty)

    return jvp


def _linear_vjp(sign_y: float):
    def vjp(b, args, out, g, **params):
        x, y = args
        gy = g if sign_y > 0 else b.neg(g)
        return [unbroadcast(b, g, x), unbroadcast(b, gy, y)]

    return vjp


def _pow_dx(b, x, y, out):
    return b.mul(y, b.pow(x, b.sub(y, 1)))


def _pow_dy(b, x, y, out):
    # d/dy x**y = log(x) x**y; taken as 0 where x == 0 (x**y is flat in y there for y > 0).
    safe = b.where(b.gt(x, 0.0), x, 1.0)
    return b.mul(out, b.log(safe))


def _mod_dy(b, x, y, out):
    return b.neg(b.floordiv(x, y))


def _id_jvp(b, args, tans, out, **params):
    return tans[0]


def _id_vjp(b, args, out, g, **params):
    return [g]


def _where_type(types, **_):
    return elementwise_type(types[1:]).with_ndim(max(t.ndim for t in types))


def _where_jvp(b, args, tans, out, **params):
    c, x, y = args
    tx, ty = tans[1], tans[2]
    if tx is None and ty is None:
        return None
    zero = 0.0
    return b.where(c, zero if tx is None else tx, zero if ty is None else ty)


def _where_vjp(b, args, out, g, **params):
    c, x, y = args
    gx = b.where(c, g, 0.0) if x.type.is_float else None
    gy = b.where(c, 0.0, g) if y.type.is_float else None
    return [None, unbroadcast(b, gx, x), unbroadcast(b, gy, y)]


def _cast_type(dtype):
    def infer(types, **_):
        return Type(dtype, types[0].ndim)

    return infer


def _astype_type(types, dtype, **_):
    return Type(dtype, types[0].ndim)


def _astype_emit(srcs, dtype, **_):
    return f"np.asarray({srcs[0]}).astype(np.{dtype})" if dtype != "bool" else f"({srcs[0]} != 0)"


def _float_emit(srcs, **_):
    return f"float({srcs[0]})"


def _to_float_jvp(b, args, tans, out, **params):
    return tans[0] if args[0].type.is_float else None


def _to_float_vjp(b, args, out, g, **params):
    return [g if args[0].type.is_float else None]


def _astype_jvp(b, args, tans, out, dtype, **params):
    if tans[0] is None or dtype not in ("float32", "float64"):
        return None
    return b.astype(tans[0], dtype=dtype)


def _astype_vjp(b, args, out, g, dtype, **params):
    if not args[0].type.is_float or dtype not in ("float32", "float64"):
        return [None]
    return [b.astype(g, dtype=args[0].type.dtype)]


def _neg_jvp(b, args, tans, out, **params):
    return None if tans[0] is None else b.neg(tans[0])


def _neg_vjp(b, args, out, g, **params):
    return [b.neg(g)]


PRIMS = [
    Primitive("add", same_type, template("{0} + {1}"), _linear_jvp(1.0), _linear_vjp(1.0),
              linear=True),
    Primitive("sub", same_type, template("{0} - {1}"), _linear_jvp(-1.0), _linear_vjp(-1.0),
              linear=True),
    binary("mul", "{0} * {1}", lambda b, x, y, o: y, lambda b, x, y, o: x, infer=same_type),
    binary(
        "div",
        "{0} / {1}",
        lambda b, x, y, o: b.div(1.0, y),
        lambda b, x, y, o: b.neg(b.div(o, y)),
    ),
    Primitive("neg", same_type, template("-{0}"), _neg_jvp, _neg_vjp, linear=True),
    Primitive("id", same_type, template("{0}"), _id_jvp, _id_vjp, doc="y = x", linear=True),
    binary("pow", "{0} ** {1}", _pow_dx, _pow_dy, infer=same_type,
           kink="d/dy x**y is taken as 0 where x <= 0"),
    zero_derivative("floordiv", "{0} // {1}", same_type),
    binary("mod", "{0} % {1}", _one, _mod_dy, infer=same_type,
           kink="at the jumps (x an exact multiple of y) the right-hand derivative is used"),
    zero_derivative("lt", "{0} < {1}", bool_type),
    zero_derivative("le", "{0} <= {1}", bool_type),
    zero_derivative("gt", "{0} > {1}", bool_type),
    zero_derivative("ge", "{0} >= {1}", bool_type),
    zero_derivative("eq", "{0} == {1}", bool_type),
    zero_derivative("ne", "{0} != {1}", bool_type),
    zero_derivative("logical_and", "np.logical_and({0}, {1})", bool_type),
    zero_derivative("logical_or", "np.logical_or({0}, {1})", bool_type),
    zero_derivative("logical_not", "np.logical_not({0})", bool_type),
    zero_derivative("and_", "({0} and {1})", bool_type, doc="scalar boolean and"),
    zero_derivative("or_", "({0} or {1})", bool_type, doc="scalar boolean or"),
    zero_derivative("not_", "(not {0})", bool_type, doc="scalar boolean not"),
    Primitive("where", _where_type, template("np.where({0}, {1}, {2})"), _where_jvp, _where_vjp,
              diff_args=(1, 2)),
    Primitive("to_float", _cast_type("float64"), _float_emit, _to_float_jvp, _to_float_vjp,
              doc="float(x) of a scalar", linear=True),
    zero_derivative("to_int", "int({0})", _cast_type("int64"), doc="int(x) of a scalar"),
    zero_derivative("to_bool", "bool({0})", _cast_type("bool"), doc="bool(x) of a scalar"),
    Primitive("astype", _astype_type, _astype_emit, _astype_jvp, _astype_vjp),
]

__all__ = ["PRIMS", "float_type"]
