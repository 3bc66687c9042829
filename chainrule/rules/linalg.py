"""Linear algebra: ``dot matmul outer inner cross transpose norm solve inv det``.

``dot`` follows ``np.dot`` for scalars and 1-D/2-D operands; ``matmul`` follows ``np.matmul``
including batched (>= 3-D, broadcast) operands; ``outer``/``inner``/``cross`` take 1-D vectors
(3-vectors for ``cross``); ``norm`` is the 2-norm of the flattened array (Frobenius for a matrix);
``solve``/``inv``/``det`` take a single 2-D matrix. Derivative rules are written with these same
primitives so that they can be differentiated again.
"""

from __future__ import annotations

from ..errors import ChainruleTypeError
from ..ir.types import Type, float_dtype, promote_dtypes
from . import taylor as T
from .common import add_maybe, directional, template, zmul
from .registry import KINK, RAISES, Kink, Primitive


def _need(cond: bool, message: str) -> None:
    if not cond:
        raise ChainruleTypeError(message)


def _no_tapes(types) -> None:
    _need(not any(t.tape for t in types), "a tape cannot be used in linear algebra")


def swap_last(b, x):
    """``x`` with its last two axes swapped (``x.T`` for a matrix; vectors are returned as is)."""
    n = x.type.ndim
    if n < 2:
        return x
    if n == 2:
        return b.transpose(x, axes=None)
    return b.transpose(x, axes=tuple(range(n - 2)) + (n - 1, n - 2))


def _bilinear_jvp(prim: str):
    """JVP of a bilinear primitive: ``f(ta, b) + f(a, tb)``."""

    def jvp(b, args, tans, out, **params):
        x, y = args
        tx, ty = tans
        left = None if tx is None else b.emit(prim, tx, y, **params)
        right = None if ty is None else b.emit(prim, x, ty, **params)
        return add_maybe(b, left, right)

    return jvp


# -- dot ---------------------------------------------------------------------------------------


def _dot_type(types, **_):
    _no_tapes(types)
    a, c = types
    dt = promote_dtypes(a.dtype, c.dtype)
    if a.ndim == 0 or c.ndim == 0:
        return Type(dt, a.ndim + c.ndim)
    _need(a.ndim <= 2 and c.ndim <= 2, "dot supports scalars and 1-D/2-D operands")
    return Type(dt, a.ndim + c.ndim - 2)


def _dot_vjp(b, args, out, g, **_):
    x, y = args
    nx, ny = x.type.ndim, y.type.ndim
    if nx == 0 or ny == 0 or nx == ny == 1:  # elementwise product or a scalar result
        gx = b.mul(g, y)
        gy = b.mul(g, x)
        gx = gx if nx else b.sum(gx, axis=None, keepdims=False)
        gy = gy if ny else b.sum(gy, axis=None, keepdims=False)
    elif ny == 1:  # (m, k) . (k,)
        gx, gy = b.outer(g, y), b.dot(g, x)
    elif nx == 1:  # (k,) . (k, n)
        gx, gy = b.dot(y, g), b.outer(x, g)
    else:
        gx, gy = b.dot(g, swap_last(b, y)), b.dot(swap_last(b, x), g)
    return [gx if x.type.is_float else None, gy if y.type.is_float else None]


# -- matmul ------------------------------------------------------------------------------------


def _matmul_type(types, **_):
    _no_tapes(types)
    a, c = types
    _need(a.ndim >= 1 and c.ndim >= 1, "matmul does not take scalars (use * instead)")
    dt = promote_dtypes(a.dtype, c.dtype)
    if a.ndim == 1 and c.ndim == 1:
        return Type(dt, 0)
    if a.ndim == 1:
        return Type(dt, c.ndim - 1)
    if c.ndim == 1:
        return Type(dt, a.ndim - 1)
    return Type(dt, max(a.ndim, c.ndim))


def _matmul_vjp(b, args, out, g, **_):
    x, y = args
    # Work with matrices: a vector x is a row (1, k), a vector y a column (k, 1).
    x2 = b.expand_dims(x, axis=0) if x.type.ndim == 1 else x
    y2 = b.expand_dims(y, axis=1) if y.type.ndim == 1 else y
    g2 = g
    if y.type.ndim == 1:
        g2 = b.expand_dims(g2, axis=-1 if g2.type.ndim else 0)
    if x.type.ndim == 1:
        g2 = b.expand_dims(g2, axis=g2.type.ndim - 1)
    gx = b.matmul(g2, swap_last(b, y2)) if x.type.is_float else None
    gy = b.matmul(swap_last(b, x2), g2) if y.type.is_float else None
    if max(x.type.ndim, y.type.ndim) > 2:  # batch dimensions may have been broadcast
        gx = None if gx is None else b.unbroadcast(gx, x2)
        gy = None if gy is None else b.unbroadcast(gy, y2)
    if x.type.ndim == 1 and gx is not None:
        gx = b.squeeze(gx, axis=0)
    if y.type.ndim == 1 and gy is not None:
        gy = b.squeeze(gy, axis=1)
    return [gx, gy]


# -- outer, inner, cross -----------------------------------------------------------------------


def _vectors_type(result_ndim: int, what: str):
    def infer(types, **_):
        _no_tapes(types)
        _need(all(t.ndim == 1 for t in types), f"{what} takes 1-D vectors")
        return Type(promote_dtypes(*(t.dtype for t in types)), result_ndim)

    return infer


def _outer_vjp(b, args, out, g, **_):
    x, y = args
    return [b.dot(g, y) if x.type.is_float else None, b.dot(x, g) if y.type.is_float else None]


def _inner_vjp(b, args, out, g, **_):
    x, y = args
    return [b.mul(g, y) if x.type.is_float else None, b.mul(g, x) if y.type.is_float else None]


def _cross_vjp(b, args, out, g, **_):
    # <g, x × y> = <x, y × g> = <y, g × x>
    x, y = args
    return [b.cross(y, g) if x.type.is_float else None,
            b.cross(g, x) if y.type.is_float else None]


# -- transpose ---------------------------------------------------------------------------------


def _transpose_type(types, axes=None, **_):
    x = types[0]
    _no_tapes(types)
    if axes is not None:
        _need(sorted(a % x.ndim if x.ndim else a for a in axes) == list(range(x.ndim)),
              f"axes {axes!r} are not a permutation of the {x.ndim} axes")
    return x


def _transpose_emit(srcs, axes=None, **_):
    if axes is None:
        return f"np.transpose({srcs[0]})"
    return f"np.transpose({srcs[0]}, {tuple(axes)!r})"


def _transpose_jvp(b, args, tans, out, axes=None, **_):
    return None if tans[0] is None else b.transpose(tans[0], axes=axes)


def _transpose_vjp(b, args, out, g, axes=None, **_):
    if axes is None:
        return [b.transpose(g, axes=None)]
    n = args[0].type.ndim
    perm = [a % n for a in axes]
    inverse = tuple(sorted(range(n), key=lambda i: perm[i]))
    return [b.transpose(g, axes=inverse)]


# -- norm --------------------------------------------------------------------------------------


def _norm_type(types, **_):
    _no_tapes(types)
    return Type(float_dtype(types[0].dtype), 0)


def _inv_norm(b, out):
    """1 / norm, and 0 at the zero vector: the gradient x / norm is 0 there, and so is the
    derivative of that gradient (as for abs, whose derivative sign(x) is flat)."""
    zero = b.eq(out, 0.0)
    return b.where(zero, 0.0, b.reciprocal(b.where(zero, 1.0, out)))


def _norm_jvp(b, args, tans, out, **_):
    x, t = args[0], tans[0]
    if t is None:
        return None
    smooth = b.mul(b.sum(b.mul(x, t), axis=None, keepdims=False), _inv_norm(b, out))
    if directional(b):  # at x = 0 the derivative along t is norm(t)
        return b.where(b.eq(out, 0.0), b.norm(t), smooth)
    return smooth


def _norm_vjp(b, args, out, g, **_):
    return [zmul(b, g, b.mul(args[0], _inv_norm(b, out)))]


# -- solve, inv, det ---------------------------------------------------------------------------


def _matrix(t: Type, what: str) -> None:
    _need(not t.tape and t.ndim == 2, f"{what} takes a 2-D matrix (batched matrices are not "
          "supported)")


def _solve_type(types, **_):
    a, c = types
    _matrix(a, "solve")
    _need(c.ndim in (1, 2), "solve's right-hand side must be 1-D or 2-D")
    return Type(float_dtype(promote_dtypes(a.dtype, c.dtype)), c.ndim)


def _solve_jvp(b, args, tans, out, **_):
    a = args[0]
    ta, tb = tans
    if ta is None and tb is None:
        return None
    rhs = tb
    if ta is not None:
        da_x = b.matmul(ta, out)
        rhs = b.neg(da_x) if tb is None else b.sub(tb, da_x)
    return b.solve(a, rhs)


def _solve_vjp(b, args, out, g, **_):
    a, c = args
    gb = b.solve(swap_last(b, a), g)  # the adjoint system a.T @ gb = g
    ga = None
    if a.type.is_float:
        ga = b.neg(b.outer(gb, out) if c.type.ndim == 1 else b.matmul(gb, swap_last(b, out)))
    return [ga, gb if c.type.is_float else None]


def _square_type(what: str, scalar: bool):
    def infer(types, **_):
        _matrix(types[0], what)
        return Type(float_dtype(types[0].dtype), 0 if scalar else 2)

    return infer


def _inv_jvp(b, args, tans, out, **_):
    t = tans[0]
    return None if t is None else b.neg(b.matmul(b.matmul(out, t), out))


def _inv_vjp(b, args, out, g, **_):
    yt = swap_last(b, out)
    return [b.neg(b.matmul(b.matmul(yt, g), yt))]


def _cofactor(b, a, det):
    """det(a) * inv(a).T, the derivative of det (needs a non-singular ``a``)."""
    return b.mul(det, swap_last(b, b.inv(a)))


def _det_jvp(b, args, tans, out, **_):
    t = tans[0]
    if t is None:
        return None
    return b.sum(b.mul(_cofactor(b, args[0], out), t), axis=None, keepdims=False)


def _det_vjp(b, args, out, g, **_):
    return [b.mul(g, _cofactor(b, args[0], out))]


# -- Numba emissions (``numba_emit``: where Numba needs other source than NumPy) ---------------
def _matmul(srcs: list[str], **_) -> str:
    return f"_rt.matmul({srcs[0]}, {srcs[1]})"

def _norm(srcs: list[str], types: tuple = (), **_) -> str:
    ndim = types[0].ndim
    if ndim == 0:
        return f"abs({srcs[0]})"
    if ndim <= 2:
        return f"np.linalg.norm({srcs[0]})"
    return f"np.sqrt(np.sum({srcs[0]} * {srcs[0]}))"


PRIMS = [
    Primitive("dot", _dot_type, template("np.dot({0}, {1})"), _bilinear_jvp("dot"), _dot_vjp,
              numba_emit=_matmul),
    Primitive("matmul", _matmul_type, template("np.matmul({0}, {1})"), _bilinear_jvp("matmul"),
              _matmul_vjp, doc="a @ b, batched over leading axes with broadcasting",
              fold_statics=False,
              numba_emit=_matmul),
    Primitive("outer", _vectors_type(2, "outer"), template("np.outer({0}, {1})"),
              _bilinear_jvp("outer"), _outer_vjp),
    Primitive("inner", _vectors_type(0, "inner"), template("np.inner({0}, {1})"),
              _bilinear_jvp("inner"), _inner_vjp,
              numba_emit=_matmul),
    Primitive("cross", _vectors_type(1, "cross"), template("np.cross({0}, {1})"),
              _bilinear_jvp("cross"), _cross_vjp, doc="cross product of two 3-vectors"),
    Primitive("transpose", _transpose_type, _transpose_emit, _transpose_jvp, _transpose_vjp,
              doc="np.transpose(x, axes) and x.T (a view, as in NumPy)", view=True),
    Primitive("norm", _norm_type, template("np.linalg.norm({0})"), _norm_jvp, _norm_vjp,
              doc="2-norm of the flattened array (Frobenius norm of a matrix)",
              kinks=Kink(KINK, "x == 0", "0", clarke="the unit ball", directional="norm(dx)",
                         mask=lambda b, args, out, **_: b.eq(out, 0.0)),
              numba_emit=_norm),
    Primitive("solve", _solve_type, template("np.linalg.solve({0}, {1})"), _solve_jvp,
              _solve_vjp, doc="x with a @ x = b, for b 1-D or 2-D"),
    Primitive("inv", _square_type("inv", False), template("np.linalg.inv({0})"), _inv_jvp,
              _inv_vjp),
    Primitive("det", _square_type("det", True), template("np.linalg.det({0})"), _det_jvp,
              _det_vjp, kinks=Kink(RAISES, "singular a (det(a) == 0)",
                                   "LinAlgError: the derivative det(a) * inv(a).T is "
                                   "computed with inv",
                                   mask=lambda b, args, out, **_: b.eq(out, 0.0))),
]


# -- Taylor rules (rules/taylor.py) ------------------------------------------------------------


def _sum_all(b, x):
    return None if x is None else b.sum(x, axis=None, keepdims=False)


def _norm_series(b, x, out, K):
    sq = T.square_series(b, x, K)
    return T.sqrt_series(b, [None] + [_sum_all(b, c) for c in sq[1:]], out, K,
                         zero_at_zero=True)


def _inv_series(b, a, y0, m):
    """Series of inv(a) to order m: a y = I gives y_k = -y0 sum_{j>=1} a_j y_{k-j}."""
    y = [y0]
    for k in range(1, m + 1):
        rest = T.ssum(b, [b.matmul(a[j], y[k - j]) for j in range(1, k + 1)
                          if a[j] is not None and y[k - j] is not None])
        y.append(None if rest is None else b.neg(b.matmul(y0, rest)))
    return y


def _solve_series(b, a, c, out, K):
    x = [out]
    for k in range(1, K + 1):
        rest = T.ssum(b, [b.matmul(a[j], x[k - j]) for j in range(1, k + 1)
                          if a[j] is not None and x[k - j] is not None])
        rhs = T.ssub(b, c[k], rest)
        x.append(None if rhs is None else b.solve(a[0], rhs))
    return x


def _det_series(b, a, out, K):
    # det' = det * tr(inv(a) a'): s = tr(W a') as a series of order K - 1, W = inv(a).
    m = K - 1
    w = _inv_series(b, a, b.inv(a[0]), m)
    da = [T.sscale(b, a[i + 1], i + 1) for i in range(K)]

    def trace_of_product(b_, p, q):
        return b_.sum(b_.mul(p, swap_last(b_, q)), axis=None, keepdims=False)

    s = [T.cauchy(b, w, da, n, op=trace_of_product) for n in range(K)]
    d = [out]
    for k in range(1, K + 1):
        d.append(T.sscale(b, T.cauchy(b, d, s, k - 1), 1.0 / k))
    return d


T.attach(PRIMS, coefficientwise_=("transpose",),
         bilinear_=("dot", "matmul", "outer", "inner", "cross"), rules={
             "norm": T.unary_rule(_norm_series),
             "inv": T.unary_rule(lambda b, a, out, K: _inv_series(b, a, out, K)),
             "solve": T.binary_rule(_solve_series),
             "det": T.unary_rule(_det_series),
         })

__all__ = ["PRIMS", "swap_last"]
