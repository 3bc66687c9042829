"""Arithmetic, comparison, logic, selection and cast primitives.

``add sub mul div neg pos pow floordiv mod``, comparisons ``lt le gt ge eq ne``, logic
``logical_and logical_or logical_not``, ``where``, casts ``to_float to_int to_bool astype``, and
``id`` (a plain copy of a value, used for ``y = x``), and ``stop_gradient`` (the value, with a
zero derivative by definition).
"""

from __future__ import annotations

import operator

from ..ir.nodes import Const
from ..ir.types import Type
from . import taylor as T
from .common import (
    binary,
    bool_type,
    compiled_helper,
    elementwise_type,
    fit_tangent,
    float_type,
    same_type,
    template,
    unbroadcast,
    zero_derivative,
    zmul,
)
from .registry import DOMAIN, FLAT, INFINITE, JUMP, ZERO, Kink, Primitive


def _one(b, x, y, out):
    return 1.0


def _minus_one(b, x, y, out):
    return -1.0


def _linear_jvp(sign_y: float):
    def jvp(b, args, tans, out, **params):
        tx, ty = tans
        if ty is not None and sign_y < 0:
            ty = b.neg(ty)
        if tx is None or ty is None:
            return fit_tangent(b, ty if tx is None else tx, args, tans, out)
        return b.add(tx, ty)

    return jvp


def _linear_vjp(sign_y: float):
    def vjp(b, args, out, g, **params):
        x, y = args
        gy = g if sign_y > 0 else b.neg(g)
        return [unbroadcast(b, g, x), unbroadcast(b, gy, y)]

    return vjp


def _pow_dx(b, x, y, out):
    # y * x**(y - 1), written so that x == 0 gives +-inf (not ZeroDivisionError, as Python
    # floats raise for 0.0 ** -0.5) and d/dx x**0 = 0 (not 0 * inf).
    if isinstance(y, Const) and not hasattr(y.value, "shape"):
        if y.value == 0:
            return 0.0
        if y.value >= 1:
            return b.mul(y, b.pow(x, b.sub(y, 1)))
        return b.mul(y, b.reciprocal(b.pow(x, b.sub(1, y))))
    zero = b.eq(x, 0.0)
    power = b.pow(b.where(zero, 1.0, x), b.sub(y, 1))
    at_zero = b.where(b.lt(y, 1.0), float("inf"), b.where(b.eq(y, 1.0), 1.0, 0.0))
    return zmul(b, y, b.where(zero, at_zero, power))


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
    t = b.where(c, zero if tx is None else tx, zero if ty is None else ty)
    return fit_tangent(b, t, args[1:], tans[1:], out) if tx is None or ty is None else t


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


def _args_mask(fn):
    return lambda b, args, out, **_: fn(b, *args)


def _astype_mask(b, args, out, dtype, **_):
    if dtype in ("float32", "float64"):
        return None
    x = args[0]
    return b.eq(x, 0.0) if dtype == "bool" else b.eq(x, b.floor(x))


_FLAT = "0 (also at the jumps)"
_SWITCH = Kink(FLAT, "x == y (the result switches)", "0 (bool valued)",
               mask=_args_mask(lambda b, x, y: b.eq(x, y)))


def _pow_infinite(b, x, y):
    return b.logical_and(b.eq(x, 0.0), b.logical_and(b.lt(y, 1.0), b.ne(y, 0.0)))


def _flat_elementwise(prim: str, op: str):
    """Numba: ``a op b`` on arrays of two or more dimensions is a call into
    ``backend/nbrt_flat.py`` (one flat loop over contiguous data, not one loop per dimension)."""
    def emit(srcs: list[str], types: tuple = (), **_) -> str:
        if types and max(t.ndim for t in types) >= 2:
            return f"_rt.{prim}({srcs[0]}, {srcs[1]})"
        return f"{srcs[0]} {op} {srcs[1]}"

    return emit


_DTYPE_ORDER = ("bool", "int64", "float32", "float64")


def _numba_where(srcs: list[str], types: tuple = (), **_) -> str:
    """Numba: ``np.where`` of scalars is a conditional expression (Numba's ``np.where`` makes
    a 0-d array per call, ~100x slower in a loop), both values cast to NumPy's result dtype;
    arrays call the compiled helper (``_rt.ew_where``)."""
    if not types or any(t.ndim for t in types):
        return f"_rt.ew_where({', '.join(srcs)})"
    c, x, y = srcs
    tx, ty = types[1].dtype, types[2].dtype
    if tx == ty or tx not in _DTYPE_ORDER or ty not in _DTYPE_ORDER:
        return f"({x} if {c} else {y})"
    out = max(tx, ty, key=_DTYPE_ORDER.index)
    x, y = (f"np.{out}({v})" if t != out else v for v, t in ((x, tx), (y, ty)))
    return f"({x} if {c} else {y})"


PRIMS = [
    Primitive("add", same_type, template("{0} + {1}"), _linear_jvp(1.0), _linear_vjp(1.0),
              linear=True, movable=True, fold=operator.add,
              numba_emit=_flat_elementwise("add", "+")),
    Primitive("sub", same_type, template("{0} - {1}"), _linear_jvp(-1.0), _linear_vjp(-1.0),
              linear=True, movable=True, fold=operator.sub,
              numba_emit=_flat_elementwise("sub", "-")),
    binary("mul", "{0} * {1}", lambda b, x, y, o: y, lambda b, x, y, o: x, infer=same_type,
           movable=True, fold=operator.mul, numba_emit=_flat_elementwise("mul", "*")),
    binary(
        "div",
        "{0} / {1}",
        lambda b, x, y, o: b.reciprocal(y),  # np.divide: inf, not ZeroDivisionError
        lambda b, x, y, o: b.neg(b.div(o, y)),  # o is a NumPy value when y is 0
        kinks=Kink(INFINITE, "y == 0", "d/dx = 1/y and d/dy = -x/y**2 are +-inf or nan (the "
                   "value is +-inf or nan); a zero tangent or cotangent gives 0",
                   mask=_args_mask(lambda b, x, y: b.eq(y, 0.0))),
        movable_in_derivatives=True, fold=operator.truediv,
    ),
    binary(
        "fdiv",
        "_rt.fdiv({0}, {1})",
        lambda b, x, y, o: b.fdiv(1.0, y),
        lambda b, x, y, o: b.neg(b.fdiv(o, y)),
        kinks=Kink(INFINITE, "y == 0", "d/dx = 1/y and d/dy = -x/y**2 are +-inf or nan (the "
                   "value is +-inf or nan); a zero tangent or cotangent gives 0",
                   mask=_args_mask(lambda b, x, y: b.eq(y, 0.0))),
        doc="x / y as NumPy divides arrays, also of scalars (+-inf or nan at y == 0, never "
            "ZeroDivisionError): the division of array elements made scalars "
            "(passes/scalarize.py)",
        movable_in_derivatives=True, numba_emit=lambda srcs, types=(), **_: (
            f"({srcs[0]} / {srcs[1]})" if any(t.ndim for t in types)
            else f"_rt.fdiv({srcs[0]}, {srcs[1]})"),
    ),
    Primitive("neg", same_type, template("-{0}"), _neg_jvp, _neg_vjp, linear=True,
              movable=True, fold=operator.neg),
    Primitive("id", same_type, template("{0}"), _id_jvp, _id_vjp, doc="y = x", linear=True,
              view=True),
    binary("pow", "{0} ** {1}", _pow_dx, _pow_dy, infer=same_type,
           kinks=(Kink(INFINITE, "x == 0 with y < 1, y != 0",
                       "d/dx = +-inf (a zero tangent or cotangent gives 0); d/dx x**0 = 0",
                       mask=_args_mask(_pow_infinite)),
                  Kink(DOMAIN, "x < 0 (x**y is real only for integer y)", "d/dy = 0",
                       mask=_args_mask(lambda b, x, y: b.lt(x, 0.0)), arg=1)),
           fold=operator.pow),
    zero_derivative("floordiv", "{0} // {1}", same_type,
                    kinks=Kink(FLAT, "x an exact multiple of y (jumps)", _FLAT,
                               mask=_args_mask(lambda b, x, y: b.eq(b.mod(x, y), 0.0)))),
    binary("mod", "{0} % {1}", _one, _mod_dy, infer=same_type,
           kinks=Kink(JUMP, "x an exact multiple of y",
                      "the derivative of the piece that starts there (x % y == 0): "
                      "d/dx = 1, d/dy = -floor(x / y)",
                      mask=_args_mask(lambda b, x, y: b.eq(b.mod(x, y), 0.0)))),
    zero_derivative("lt", "{0} < {1}", bool_type, kinks=_SWITCH, fold=operator.lt),
    zero_derivative("le", "{0} <= {1}", bool_type, kinks=_SWITCH, fold=operator.le),
    zero_derivative("gt", "{0} > {1}", bool_type, kinks=_SWITCH, fold=operator.gt),
    zero_derivative("ge", "{0} >= {1}", bool_type, kinks=_SWITCH, fold=operator.ge),
    zero_derivative("eq", "{0} == {1}", bool_type, kinks=_SWITCH, fold=operator.eq),
    zero_derivative("ne", "{0} != {1}", bool_type, kinks=_SWITCH, fold=operator.ne),
    zero_derivative("logical_and", "np.logical_and({0}, {1})", bool_type, fold_statics=False),
    zero_derivative("logical_or", "np.logical_or({0}, {1})", bool_type, fold_statics=False),
    zero_derivative("logical_not", "np.logical_not({0})", bool_type),
    zero_derivative("and_", "({0} and {1})", bool_type, doc="scalar boolean and", movable=True,
                    fold=lambda a, b: a and b),
    zero_derivative("or_", "({0} or {1})", bool_type, doc="scalar boolean or", movable=True,
                    fold=lambda a, b: a or b),
    zero_derivative("not_", "(not {0})", bool_type, doc="scalar boolean not", movable=True,
                    fold=operator.not_),
    Primitive("where", _where_type, template("np.where({0}, {1}, {2})"), _where_jvp, _where_vjp,
              diff_args=(1, 2), numba_emit=_numba_where),
    Primitive("to_float", _cast_type("float64"), _float_emit, _to_float_jvp, _to_float_vjp,
              doc="float(x) of a scalar", linear=True, movable=True),
    zero_derivative("to_int", "int({0})", _cast_type("int64"), doc="int(x) of a scalar",
                    kinks=Kink(FLAT, "integers (jumps)", _FLAT,
                               mask=_args_mask(lambda b, x: b.eq(x, b.floor(x))))),
    zero_derivative("to_bool", "bool({0})", _cast_type("bool"), doc="bool(x) of a scalar",
                    kinks=Kink(FLAT, "x == 0 (a jump)", "0 (bool valued)",
                               mask=_args_mask(lambda b, x: b.eq(x, 0.0)))),
    Primitive("astype", _astype_type, _astype_emit, _astype_jvp, _astype_vjp,
              kinks=Kink(FLAT, "to an integer dtype: integers; to bool: x == 0 (jumps)",
                         "0 for integer and bool dtypes", mask=_astype_mask)),
    Primitive("stop_gradient", same_type, template("{0}"), nondiff=True,
              doc="chainrule.stop_gradient(x): the value x, with a zero derivative",
              kinks=Kink(ZERO, "everywhere (by definition)", "0; the value is x unchanged")),
]
# Under Numba, an array operand means a call of the primitive's compiled helper.
for _p in PRIMS:
    if _p.name in ('add', 'sub', 'mul', 'div', 'pow', 'floordiv', 'mod', 'lt', 'le', 'gt', 'ge',
                   'eq', 'ne', 'logical_and', 'logical_or', 'neg', 'logical_not', 'where'):
        compiled_helper(_p)

__all__ = ["PRIMS", "float_type"]


# -- Taylor rules (rules/taylor.py) ------------------------------------------------------------


def _product_series(b, x, y, m):
    return [T.smul(b, x[0], y[0])] + [T.cauchy(b, x, y, k) for k in range(1, m + 1)]


def _small_natural(r) -> int | None:
    """The value of a constant exponent that is a natural number up to 8, else None."""
    if isinstance(r, Const) and isinstance(r.value, (int, float)) and not isinstance(
            r.value, bool) and float(r.value).is_integer() and 0 <= r.value <= 8:
        return int(r.value)
    return None


def _pow_series(b, x, y, out, K):
    if any(c is not None for c in y[1:]):  # x ** y = exp(y log x)
        z = _product_series(b, y, T.log_series(b, x, b.log(x[0]), K), K)
        return T.exp_series(b, z, out, K)
    n = _small_natural(y[0])
    if n is None:
        r = y[0].value if isinstance(y[0], Const) and isinstance(y[0].value, (int, float)) \
            else y[0]
        return T.power(b, x, r, out, K)
    # Natural powers by repeated products: exact also where x == 0.
    if n == 0:
        return [out] + [None] * K
    p = x
    for _ in range(n - 1):
        p = _product_series(b, p, x, K)
    return [out] + p[1:]


T.attach(PRIMS, coefficientwise_=("add", "sub", "neg", "id", "where", "to_float", "astype", "mod"),
         bilinear_=("mul",), rules={
             "div": T.binary_rule(lambda b, x, y, out, K: T.quotient(b, x, y, out, K)),
             "fdiv": T.binary_rule(lambda b, x, y, out, K: T.quotient(
                 b, x, y, out, K, inv=b.fdiv(1.0, y[0]))),
             "pow": T.binary_rule(_pow_series),
         })
