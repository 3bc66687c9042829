"""Reductions and scans: ``sum mean prod amax amin argmax argmin cumsum``.

Params: ``axis`` (None, an int, or for ``sum mean prod amax amin`` a tuple of ints; negative
axes count from the end) and ``keepdims`` (bool; not for ``cumsum``, whose ``axis=None`` scans
the flattened array). The type rules check the axes against the operand's ndim and compute the
result's ndim. Rules normalise axes with :func:`norm_axes`. ``prod`` never divides by an
element, so its derivative is exact where elements are zero; ``amax``/``amin`` split the cotangent
evenly among tied maxima.
"""

from __future__ import annotations

from ..errors import ChainruleTypeError
from ..ir.types import Type, float_dtype
from . import taylor as T
from .common import directional, zmul
from .registry import FLAT, KINK, Kink, Primitive


def norm_axes(ndim: int, axis) -> tuple[int, ...]:
    """The reduced axes as sorted non-negative ints (all axes for ``axis=None``)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not isinstance(a, int) or not -ndim <= a < ndim:
            raise ChainruleTypeError(f"axis {a!r} is out of bounds for an array of ndim {ndim}")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ChainruleTypeError(f"repeated axis in {axis!r}")
    return tuple(sorted(out))


def _reduced_ndim(t: Type, axis, keepdims: bool) -> int:
    if t.tape:
        raise ChainruleTypeError("cannot reduce a tape")
    axes = norm_axes(t.ndim, axis)
    return t.ndim if keepdims else t.ndim - len(axes)


def _sum_dtype(dtype: str) -> str:
    return "int64" if dtype == "bool" else dtype


def _sum_type(types, axis=None, keepdims=False, **_):
    return Type(_sum_dtype(types[0].dtype), _reduced_ndim(types[0], axis, keepdims))


def _mean_type(types, axis=None, keepdims=False, **_):
    return Type(float_dtype(types[0].dtype), _reduced_ndim(types[0], axis, keepdims))


def _extreme_type(types, axis=None, keepdims=False, **_):
    return Type(types[0].dtype, _reduced_ndim(types[0], axis, keepdims))


def _arg_type(types, axis=None, keepdims=False, **_):
    if axis is not None and not isinstance(axis, int):
        raise ChainruleTypeError("argmax/argmin take a single int axis or None")
    return Type("int64", _reduced_ndim(types[0], axis, keepdims))


def _cumsum_type(types, axis=None, **_):
    x = types[0]
    if axis is None:
        return Type(_sum_dtype(x.dtype), 1)
    if not isinstance(axis, int):
        raise ChainruleTypeError("cumsum takes a single int axis or None")
    norm_axes(x.ndim, axis)
    return Type(_sum_dtype(x.dtype), x.ndim)


def _reduce_emit(fn: str):
    def emit(srcs, axis=None, keepdims=False, **_):
        opts = "" if axis is None else f", axis={axis!r}"
        opts += ", keepdims=True" if keepdims else ""
        return f"{fn}({srcs[0]}{opts})"

    return emit


def _cumsum_emit(srcs, axis=None, **_):
    return f"np.cumsum({srcs[0]})" if axis is None else f"np.cumsum({srcs[0]}, axis={axis})"


def expand_reduced(b, g, ndim: int, axis, keepdims: bool):
    """Re-insert the reduced axes into ``g`` so that it broadcasts against the operand."""
    axes = norm_axes(ndim, axis)
    if keepdims or len(axes) == ndim:  # nothing removed, or a scalar that broadcasts anyway
        return g
    for a in axes:
        g = b.expand_dims(g, axis=a)
    return g


def _spread(b, g, x, axis, keepdims):
    """A cotangent of the reduced shape spread back over every element of ``x``."""
    if x.type.ndim == 0:
        return g
    return b.broadcast_like(expand_reduced(b, g, x.type.ndim, axis, keepdims), x)


# -- sum / mean --------------------------------------------------------------------------------


def _sum_jvp(b, args, tans, out, axis=None, keepdims=False, **_):
    return None if tans[0] is None else b.sum(tans[0], axis=axis, keepdims=keepdims)


def _sum_vjp(b, args, out, g, axis=None, keepdims=False, **_):
    return [_spread(b, g, args[0], axis, keepdims)]


def _count(b, x, axis):
    """Number of elements reduced into each result element (an int atom)."""
    if axis is None:
        return b.size(x)
    n = None
    for a in norm_axes(x.type.ndim, axis):
        n = b.shape(x, axis=a) if n is None else b.mul(n, b.shape(x, axis=a))
    return 1 if n is None else n


def _mean_jvp(b, args, tans, out, axis=None, keepdims=False, **_):
    return None if tans[0] is None else b.mean(tans[0], axis=axis, keepdims=keepdims)


def _mean_vjp(b, args, out, g, axis=None, keepdims=False, **_):
    x = args[0]
    if x.type.ndim == 0:
        return [g]
    return [b.div(_spread(b, g, x, axis, keepdims), _count(b, x, axis))]


# -- prod --------------------------------------------------------------------------------------


def _prod_others(b, x, axis):
    """For each element, the product of the *other* elements of its reduction, without division.

    With ``nz`` the zero elements: ``P`` the product of the non-zero ones, ``Z`` the product of
    the zero ones (0, or 1 if there are none). A non-zero element gets ``P / x * Z``; a zero one
    gets ``P`` if it is the only zero, ``P * (the other zero)`` if there are two, else 0. Values
    are exact, and so are their derivatives (so second derivatives of ``prod`` are right too).
    """
    nz = b.eq(x, 0.0)
    xs = b.where(nz, 1.0, x)
    big_p = b.prod(xs, axis=axis, keepdims=True)
    big_z = b.prod(b.where(nz, x, 1.0), axis=axis, keepdims=True)
    zeros = b.sum(nz, axis=axis, keepdims=True)
    other_zero = b.sub(b.sum(b.where(nz, x, 0.0), axis=axis, keepdims=True), x)
    at_zero = b.where(b.eq(zeros, 1), 1.0, b.where(b.eq(zeros, 2), other_zero, 0.0))
    return b.where(nz, b.mul(big_p, at_zero), b.mul(b.div(big_p, xs), big_z))


def _prod_jvp(b, args, tans, out, axis=None, keepdims=False, **_):
    x, t = args[0], tans[0]
    if t is None or x.type.ndim == 0:
        return t
    return b.sum(b.mul(t, _prod_others(b, x, axis)), axis=axis, keepdims=keepdims)


def _prod_vjp(b, args, out, g, axis=None, keepdims=False, **_):
    x = args[0]
    if x.type.ndim == 0:
        return [g]
    return [zmul(b, expand_reduced(b, g, x.type.ndim, axis, keepdims), _prod_others(b, x, axis))]


# -- amax / amin -------------------------------------------------------------------------------


def _ties(b, x, out, axis, keepdims):
    """(mask of the elements equal to the extremum, number of them with keepdims=True)."""
    mask = b.eq(x, expand_reduced(b, out, x.type.ndim, axis, keepdims))
    count = b.astype(b.sum(mask, axis=axis, keepdims=True), dtype=x.type.dtype)
    return mask, count


def _extreme_jvp(prim: str):
    def jvp(b, args, tans, out, axis=None, keepdims=False, **_):
        x, t = args[0], tans[0]
        if t is None or x.type.ndim == 0:
            return t
        if directional(b):  # the largest (smallest) tangent among the tied elements
            mask = b.eq(x, expand_reduced(b, out, x.type.ndim, axis, keepdims))
            fill = float("-inf") if prim == "amax" else float("inf")
            return b.emit(prim, b.where(mask, t, fill), axis=axis, keepdims=keepdims)
        mask, count = _ties(b, x, out, axis, keepdims)
        share = b.div(b.where(mask, t, 0.0), count)
        return b.sum(share, axis=axis, keepdims=keepdims)

    return jvp


def _extreme_vjp(b, args, out, g, axis=None, keepdims=False, **_):
    x = args[0]
    if x.type.ndim == 0:
        return [g]
    mask, count = _ties(b, x, out, axis, keepdims)
    share = b.div(expand_reduced(b, g, x.type.ndim, axis, keepdims), count)
    return [b.where(mask, share, 0.0)]


# -- cumsum ------------------------------------------------------------------------------------


def _cumsum_jvp(b, args, tans, out, axis=None, **_):
    return None if tans[0] is None else b.cumsum(tans[0], axis=axis)


def _cumsum_vjp(b, args, out, g, axis=None, **_):
    x = args[0]
    rev = b.flip(b.cumsum(b.flip(g, axis=axis), axis=axis), axis=axis)
    if axis is None and x.type.ndim != 1:
        shape = [b.shape(x, axis=a) for a in range(x.type.ndim)]
        # (a flipped array is a view with a negative stride, which Numba cannot reshape)
        rev = b.reshape(b.copy(rev), *shape, ndim=x.type.ndim)
    return [rev]


def _tie_mask(prim: str):
    """True where the extremum of a reduction is attained more than once."""

    def mask(b, args, out, axis=None, keepdims=False, **_):
        x = args[0]
        if x.type.ndim == 0:
            return b.ne(x, x)  # never (a scalar has no ties)
        ext = b.emit(prim, x, axis=axis, keepdims=True)
        count = b.sum(b.eq(x, ext), axis=axis, keepdims=keepdims)
        return b.gt(count, 1)

    return mask


def _extreme_kink(prim: str) -> Kink:
    example = "max([x1, x2, x3]) at [1, 1, 0]" if prim == "amax" else \
        "min([x1, x2, x3]) at [0, 0, 1]"
    return Kink(KINK, "ties (the extremum attained by several elements)",
                f"an equal share for each tied element ({example}: [1/2, 1/2, 0])",
                clarke="the convex hull of the tied elements' unit vectors",
                directional=f"{prim[1:]} of the tied elements' tangents", mask=_tie_mask(prim))


def _arg_kink(prim: str) -> Kink:
    return Kink(FLAT, "ties (the result jumps)", "0 (integer valued)", mask=_tie_mask(prim),
                selects=True)


# -- Numba emissions (``numba_emit``: where Numba needs other source than NumPy) ---------------
_REDUCERS = {"sum": ("np.sum", "sum_axis"), "mean": ("np.mean", "mean_axis"),
             "prod": ("np.prod", "prod_axis"), "amax": ("np.max", "max_axis"),
             "amin": ("np.min", "min_axis"), "argmax": ("np.argmax", "argmax_axis"),
             "argmin": ("np.argmin", "argmin_axis")}

def _reduction(prim: str):
    whole, helper = _REDUCERS[prim]

    def emit(srcs: list[str], axis=None, keepdims=False, types: tuple = (), **_) -> str:
        x = srcs[0]
        ndim = types[0].ndim if types else None
        every = isinstance(axis, tuple) and ndim is not None and \
            len({a % max(ndim, 1) for a in axis}) == ndim
        if ndim == 1 and isinstance(axis, int) or every:
            axis = None  # (all axes: a scalar, as NumPy's, not the helpers' 0-d array)
        if axis is None or (isinstance(axis, tuple) and len(axis) == 0):
            value = f"{whole}({x})"
            return f"_rt.keepdims_all({value}, {x})" if keepdims else value
        if isinstance(axis, tuple) and len(axis) > 1:
            return _several_axes(prim, x, axis, keepdims, types[0].ndim)
        if isinstance(axis, tuple):
            axis = axis[0]
        axis %= max(types[0].ndim, 1)  # the helpers index shapes from the front
        value = f"_rt.{helper}({x}, {axis})"
        return f"_rt.keepdims({value}, {x}, {axis})" if keepdims else value

    return emit


def _several_axes(prim: str, x: str, axis: tuple, keepdims: bool, ndim: int) -> str:
    """A reduction over several axes as one single-axis reduction per axis (Numba has none
    over a tuple of axes), the highest axis first so that the others keep their positions; a
    mean is the sum divided by the count; ``keepdims`` reshapes at the end."""
    axes = sorted({a % ndim for a in axis}, reverse=True)
    helper = _REDUCERS["sum" if prim == "mean" else prim][1]
    value = x
    for a in axes:
        value = f"_rt.{helper}({value}, {a})"
    if prim == "mean":
        value = f"({value} / ({' * '.join(f'{x}.shape[{a}]' for a in axes)}))"
    if keepdims:
        value = f"_rt.keepdims_axes({value}, {x}, {tuple(axes)!r})"
    return value


PRIMS = [
    Primitive("sum", _sum_type, _reduce_emit("np.sum"), _sum_jvp, _sum_vjp,
              numba_emit=_reduction('sum')),
    Primitive("mean", _mean_type, _reduce_emit("np.mean"), _mean_jvp, _mean_vjp,
              numba_emit=_reduction('mean')),
    Primitive("prod", _sum_type, _reduce_emit("np.prod"), _prod_jvp, _prod_vjp,
              doc="the derivative is computed without dividing by elements, exact at zeros",
              numba_emit=_reduction('prod')),
    Primitive("amax", _extreme_type, _reduce_emit("np.max"), _extreme_jvp("amax"), _extreme_vjp,
              kinks=_extreme_kink("amax"), doc="np.max / np.amax / x.max()",
              numba_emit=_reduction('amax')),
    Primitive("amin", _extreme_type, _reduce_emit("np.min"), _extreme_jvp("amin"), _extreme_vjp,
              kinks=_extreme_kink("amin"), doc="np.min / np.amin / x.min()",
              numba_emit=_reduction('amin')),
    Primitive("argmax", _arg_type, _reduce_emit("np.argmax"), nondiff=True,
              kinks=_arg_kink("amax"),
              numba_emit=_reduction('argmax')),
    Primitive("argmin", _arg_type, _reduce_emit("np.argmin"), nondiff=True,
              kinks=_arg_kink("amin"),
              numba_emit=_reduction('argmin')),
    Primitive("cumsum", _cumsum_type, _cumsum_emit, _cumsum_jvp, _cumsum_vjp,
              doc="axis=None scans the flattened array (result 1-D)"),
]


# -- Taylor rules (rules/taylor.py) ------------------------------------------------------------


def _prod_taylor(b, args, series, out, axis=None, keepdims=False, **_):
    """Order 1 is the JVP (exact with zeros); higher orders use log-derivatives
    (prod = exp(sum(log x)) as series), which need nonzero elements (zeros give inf/nan)."""
    x = args[0]
    K = T.order_of(series)
    if K == 1 or x.type.ndim == 0:
        return T.coefficientwise(_prod_jvp)(b, args, series, out, axis=axis, keepdims=keepdims)
    logs = T.log_series(b, T.full(x, series[0], K), None, K)
    total = [None] + [None if c is None else b.sum(c, axis=axis, keepdims=keepdims)
                      for c in logs[1:]]
    return T.exp_series(b, total, out, K)[1:]


T.attach(PRIMS, coefficientwise_=("sum", "mean", "cumsum", "amax", "amin"),
         rules={"prod": _prod_taylor})

__all__ = ["PRIMS", "expand_reduced", "norm_axes"]
