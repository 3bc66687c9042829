"""Shape manipulation and array creation.

Reshaping: ``reshape ravel squeeze expand_dims broadcast_to flip``; joining: ``concatenate stack
column_stack pack`` (``pack`` is ``np.array([a, b, ...])`` of same-ndim items; a nested list is a
``pack`` of ``pack``s); creation: ``zeros ones empty full eye arange linspace ones_like
empty_like full_like``. Sizes are dynamic: a shape is given as int atoms in ``args`` (after the
array, if any), and only its length -- the result's ndim -- is static. Results that NumPy returns
as views (reshape, squeeze, expand_dims, broadcast_to, flip) are views here too.
"""

from __future__ import annotations

from ..errors import ChainruleTypeError
from ..ir.types import DTYPES, Type, float_dtype, promote_dtypes
from . import taylor as T
from .registry import Primitive


def _need(cond: bool, message: str) -> None:
    if not cond:
        raise ChainruleTypeError(message)


def _shape_types(types) -> None:
    for t in types:
        _need(not t.tape and t.ndim == 0 and t.dtype == "int64",
              "array sizes must be integer scalars")


def _tuple_src(srcs) -> str:
    return "(" + ", ".join(srcs) + ("," if len(srcs) == 1 else "") + ")"


def _scalar_suffix(n: int) -> str:
    """``[()]`` turns a 0-d array into a NumPy scalar, matching the IR's scalar type."""
    return "[()]" if n == 0 else ""


def _dtype_opt(dtype) -> str:
    return "" if dtype is None else f", dtype=np.{dtype}"


def _check_dtype(dtype) -> None:
    _need(dtype is None or dtype in DTYPES, f"unsupported dtype {dtype!r}")


def _axis_in(axis, n: int, what: str) -> int:
    """``axis`` normalised into ``range(n)``."""
    _need(isinstance(axis, int) and -n <= axis < n,
          f"{what}: axis {axis!r} is out of bounds for {n} dimensions")
    return axis % n


def shape_of(b, x) -> list:
    """The shape of ``x`` as int atoms, one per dimension."""
    return [b.shape(x, axis=a) for a in range(x.type.ndim)]


def _zero_like(b, t, x):
    """A tangent ``t`` or, when it is None, a zero of the shape of ``x``."""
    if t is not None:
        return t
    return 0.0 if x.type.ndim == 0 else b.zeros_like(x)


def _float_out(out) -> bool:
    return out.type.is_float


# -- reshape, ravel, squeeze, expand_dims, broadcast_to, flip ----------------------------------


def _reshape_type(types, ndim=None, **_):
    _shape_types(types[1:])
    _need(ndim in (None, len(types) - 1), "reshape: ndim must equal the number of shape entries")
    return Type(types[0].dtype, len(types) - 1)


def _reshape_emit(srcs, **_):
    return f"np.reshape({srcs[0]}, {_tuple_src(srcs[1:])}){_scalar_suffix(len(srcs) - 1)}"


def _reshape_jvp(b, args, tans, out, **_):
    return None if tans[0] is None else b.reshape(tans[0], *args[1:], ndim=out.type.ndim)


def reshape_like(b, g, x):
    """``g`` reshaped to the shape of ``x``."""
    return b.reshape(g, *shape_of(b, x), ndim=x.type.ndim)


def _reshape_vjp(b, args, out, g, **_):
    return [reshape_like(b, g, args[0])] + [None] * (len(args) - 1)


def _ravel_jvp(b, args, tans, out, **_):
    return None if tans[0] is None else b.ravel(tans[0])


def _ravel_vjp(b, args, out, g, **_):
    return [reshape_like(b, g, args[0])]


def _squeeze_type(types, axis=None, **_):
    x = types[0]
    _need(axis is not None, "squeeze needs an explicit axis: which axes have size 1 is only "
          "known at run time, and the result's ndim must be known when compiling")
    _axis_in(axis, x.ndim, "squeeze")
    return x.with_ndim(x.ndim - 1)


def _squeeze_emit(srcs, axis, **_):
    # ``[()]`` makes squeezing a 1-D array give a scalar; on other results it is a no-op view.
    return f"np.squeeze({srcs[0]}, axis={axis})[()]"


def _squeeze_jvp(b, args, tans, out, axis, **_):
    return None if tans[0] is None else b.squeeze(tans[0], axis=axis)


def _squeeze_vjp(b, args, out, g, axis, **_):
    return [b.expand_dims(g, axis=_axis_in(axis, args[0].type.ndim, "squeeze"))]


def _expand_type(types, axis, **_):
    x = types[0]
    _axis_in(axis, x.ndim + 1, "expand_dims")
    return x.with_ndim(x.ndim + 1)


def _expand_jvp(b, args, tans, out, axis, **_):
    return None if tans[0] is None else b.expand_dims(tans[0], axis=axis)


def _expand_vjp(b, args, out, g, axis, **_):
    return [b.squeeze(g, axis=_axis_in(axis, out.type.ndim, "expand_dims"))]


def _broadcast_to_type(types, **_):
    _shape_types(types[1:])
    _need(len(types) - 1 >= types[0].ndim, "broadcast_to cannot remove dimensions")
    return Type(types[0].dtype, len(types) - 1)


def _broadcast_to_emit(srcs, **_):
    return f"np.broadcast_to({srcs[0]}, {_tuple_src(srcs[1:])}){_scalar_suffix(len(srcs) - 1)}"


def _broadcast_to_jvp(b, args, tans, out, **_):
    return None if tans[0] is None else b.broadcast_to(tans[0], *args[1:])


def _broadcast_to_vjp(b, args, out, g, **_):
    x = args[0]
    gx = b.sum(g, axis=None, keepdims=False) if x.type.ndim == 0 else b.unbroadcast(g, x)
    return [gx] + [None] * (len(args) - 1)


def _flip_type(types, axis=None, **_):
    if axis is not None:
        _axis_in(axis, types[0].ndim, "flip")
    return types[0]


def _flip_emit(srcs, axis=None, **_):
    return f"np.flip({srcs[0]})" if axis is None else f"np.flip({srcs[0]}, axis={axis})"


def _flip_jvp(b, args, tans, out, axis=None, **_):
    return None if tans[0] is None else b.flip(tans[0], axis=axis)


def _flip_vjp(b, args, out, g, axis=None, **_):
    return [b.flip(g, axis=axis)]


# -- joining -----------------------------------------------------------------------------------


def _slice_along(b, g, axis: int, start, stop):
    """``g[:, ..., start:stop]`` with the slice at position ``axis``."""
    return b.getitem(g, start, stop, spec=("s000",) * axis + ("s110",))


def _take_along(b, g, axis: int, i):
    """``g[:, ..., i]`` with the integer index at position ``axis``."""
    return b.getitem(g, i, spec=("s000",) * axis + ("i",))


def _plus(b, start, width):
    """``start + width`` for int atoms, folding Python ints."""
    if isinstance(start, int) and isinstance(width, int):
        return start + width
    return width if isinstance(start, int) and start == 0 else b.add(start, width)


def _same_ndim(types, what: str) -> int:
    _need(len(types) >= 1, f"{what} needs at least one array")
    _need(not any(t.tape for t in types), f"{what}: a tape is not an array")
    _need(len({t.ndim for t in types}) == 1, f"{what}: all arrays must have the same ndim")
    return types[0].ndim


def _joined_dtype(types, dtype=None) -> str:
    return dtype or promote_dtypes(*(t.dtype for t in types))


def _concat_type(types, axis=0, **_):
    n = _same_ndim(types, "concatenate")
    _axis_in(axis, n, "concatenate")
    return Type(_joined_dtype(types), n)


def _concat_emit(srcs, axis=0, **_):
    return f"np.concatenate({_tuple_src(srcs)}, axis={axis})"


def _concat_jvp(b, args, tans, out, axis=0, **_):
    if all(t is None for t in tans):
        return None
    return b.concatenate(*(_zero_like(b, t, x) for t, x in zip(tans, args)), axis=axis)


def _concat_vjp(b, args, out, g, axis=0, **_):
    ax = _axis_in(axis, out.type.ndim, "concatenate")
    grads, start = [], 0
    for x in args:
        stop = _plus(b, start, b.shape(x, axis=ax))
        grads.append(_slice_along(b, g, ax, start, stop) if x.type.is_float else None)
        start = stop
    return grads


def _stack_type(types, axis=0, **_):
    n = _same_ndim(types, "stack")
    _axis_in(axis, n + 1, "stack")
    return Type(_joined_dtype(types), n + 1)


def _stack_emit(srcs, axis=0, **_):
    return f"np.stack({_tuple_src(srcs)}, axis={axis})"


def _stack_jvp(b, args, tans, out, axis=0, **_):
    if all(t is None for t in tans):
        return None
    return b.stack(*(_zero_like(b, t, x) for t, x in zip(tans, args)), axis=axis)


def _stack_vjp(b, args, out, g, axis=0, **_):
    ax = _axis_in(axis, out.type.ndim, "stack")
    return [_take_along(b, g, ax, i) if x.type.is_float else None for i, x in enumerate(args)]


def _pack_type(types, dtype=None, **_):
    _check_dtype(dtype)
    n = _same_ndim(types, "pack")
    return Type(_joined_dtype(types, dtype), n + 1)


def _pack_emit(srcs, dtype=None, **_):
    return f"np.array([{', '.join(srcs)}]{_dtype_opt(dtype)})"


def _pack_jvp(b, args, tans, out, dtype=None, **_):
    if all(t is None for t in tans) or not _float_out(out):
        return None
    return b.pack(*(_zero_like(b, t, x) for t, x in zip(tans, args)), dtype=dtype)


def _pack_vjp(b, args, out, g, **_):
    return [_take_along(b, g, 0, i) if x.type.is_float else None for i, x in enumerate(args)]


def _column_stack_type(types, **_):
    _need(len(types) >= 1, "column_stack needs at least one array")
    _need(all(not t.tape and t.ndim in (1, 2) for t in types),
          "column_stack takes 1-D or 2-D arrays")
    return Type(_joined_dtype(types), 2)


def _column_stack_jvp(b, args, tans, out, **_):
    if all(t is None for t in tans):
        return None
    return b.column_stack(*(_zero_like(b, t, x) for t, x in zip(tans, args)))


def _column_stack_vjp(b, args, out, g, **_):
    grads, start = [], 0
    for x in args:
        if x.type.ndim == 1:
            grads.append(_take_along(b, g, 1, start) if x.type.is_float else None)
            start = _plus(b, start, 1)
        else:
            stop = _plus(b, start, b.shape(x, axis=1))
            grads.append(_slice_along(b, g, 1, start, stop) if x.type.is_float else None)
            start = stop
    return grads


# -- creation ----------------------------------------------------------------------------------


def _filled_type(types, dtype="float64", **_):
    _check_dtype(dtype)
    _shape_types(types)
    return Type(dtype, len(types))


def _filled_emit(fn: str):
    def emit(srcs, dtype="float64", **_):
        return f"{fn}({_tuple_src(srcs)}, dtype=np.{dtype}){_scalar_suffix(len(srcs))}"

    return emit


def _value_dtype(t: Type, dtype) -> str:
    _check_dtype(dtype)
    _need(not t.tape and t.ndim == 0, "the fill value must be a scalar")
    return dtype or t.dtype


def _full_type(types, dtype=None, **_):
    _shape_types(types[:-1])
    return Type(_value_dtype(types[-1], dtype), len(types) - 1)


def _full_emit(srcs, dtype=None, **_):
    shape = _tuple_src(srcs[:-1])
    return f"np.full({shape}, {srcs[-1]}{_dtype_opt(dtype)}){_scalar_suffix(len(srcs) - 1)}"


def _full_jvp(b, args, tans, out, dtype=None, **_):
    if tans[-1] is None or not _float_out(out):
        return None
    return b.full(*args[:-1], tans[-1], dtype=dtype)


def _total_for_value(b, args, out, g):
    """Cotangent of a fill value: the sum of the cotangent over the array."""
    value = args[-1]
    if not (value.type.is_float and _float_out(out)):
        return None
    return g if out.type.ndim == 0 else b.sum(g, axis=None, keepdims=False)


def _full_vjp(b, args, out, g, **_):
    return [None] * (len(args) - 1) + [_total_for_value(b, args, out, g)]


def _like_type(types, dtype=None, **_):
    _check_dtype(dtype)
    return Type(dtype or types[0].dtype, types[0].ndim)


def _like_emit(fn: str):
    def emit(srcs, dtype=None, **_):
        return f"{fn}({', '.join(srcs)}{_dtype_opt(dtype)})"

    return emit


def _full_like_type(types, dtype=None, **_):
    _value_dtype(types[1], None)
    return _like_type(types[:1], dtype)


def _full_like_jvp(b, args, tans, out, dtype=None, **_):
    if tans[1] is None or not _float_out(out):
        return None
    return b.full_like(args[0], tans[1], dtype=dtype)


def _full_like_vjp(b, args, out, g, **_):
    return [None, _total_for_value(b, args, out, g)]


def _eye_type(types, dtype="float64", **_):
    _check_dtype(dtype)
    _shape_types(types)
    _need(len(types) == 1, "eye takes one size n")
    return Type(dtype, 2)


def _eye_emit(srcs, dtype="float64", **_):
    return f"np.eye({srcs[0]}, dtype=np.{dtype})"


def _arange_type(types, **_):
    _need(1 <= len(types) <= 3 and all(t.ndim == 0 and not t.tape for t in types),
          "arange takes one to three scalars (start, stop, step)")
    dt = promote_dtypes(*(t.dtype for t in types))
    return Type("int64" if dt == "bool" else dt, 1)


def _arange_emit(srcs, **_):
    return f"np.arange({', '.join(srcs)})"


def _linspace_type(types, endpoint=True, **_):
    start, stop, num = types
    _need(start.is_scalar and stop.is_scalar, "linspace: start and stop must be scalars")
    _shape_types([num])
    return Type(float_dtype(promote_dtypes(start.dtype, stop.dtype)), 1)


def _linspace_emit(srcs, endpoint=True, **_):
    end = "" if endpoint else ", endpoint=False"
    return f"np.linspace({srcs[0]}, {srcs[1]}, {srcs[2]}{end})"


def _linspace_jvp(b, args, tans, out, endpoint=True, **_):
    # linspace is linear in (start, stop): its tangent is the linspace of the tangents.
    ts, te = tans[0], tans[1]
    if ts is None and te is None:
        return None
    return b.linspace(0.0 if ts is None else ts, 0.0 if te is None else te, args[2],
                      endpoint=endpoint)


def _linspace_vjp(b, args, out, g, endpoint=True, **_):
    w = b.linspace(0.0, 1.0, args[2], endpoint=endpoint)  # out = start * (1 - w) + stop * w
    gs = b.sum(b.mul(g, b.sub(1.0, w)), axis=None, keepdims=False)
    ge = b.sum(b.mul(g, w), axis=None, keepdims=False)
    return [gs if args[0].type.is_float else None, ge if args[1].type.is_float else None, None]


# -- Numba emissions (``numba_emit``: where Numba needs other source than NumPy) ---------------
def _squeeze(srcs: list[str], axis, **_) -> str:
    return f"_rt.squeeze({srcs[0]}, {axis})"

def _expand_dims(srcs: list[str], axis, types: tuple = (), **_) -> str:
    if types[0].ndim == 0:
        return f"np.array([{srcs[0]}])"
    return f"np.expand_dims({srcs[0]}, {axis % (types[0].ndim + 1)})"

def _flip(srcs: list[str], axis=None, types: tuple = (), **_) -> str:
    ndim = types[0].ndim
    if ndim == 0:
        return srcs[0]
    axes = range(ndim) if axis is None else [axis % ndim]
    return f"{srcs[0]}[{', '.join('::-1' if k in axes else ':' for k in range(ndim))}]"

def _reshape_numba(srcs: list[str], types: tuple = (), **params) -> str:
    """A scalar (Numba cannot reshape one) becomes an array of its one element (every entry
    of the shape is 1, or -1)."""
    if types and types[0].ndim == 0:
        dims = srcs[1:]
        return srcs[0] if not dims else \
            f"np.full({_tuple_src([f'abs({d})' for d in dims])}, {srcs[0]})"
    if len(srcs) == 1:
        return _reshape_emit(srcs, **params)
    return f"_rt.reshape({srcs[0]}, {_tuple_src(srcs[1:])})"

def _linspace_numba(srcs: list[str], endpoint=True, **_) -> str:
    """Numba's ``np.linspace`` has no ``endpoint``: without the end point it is NumPy's
    ``arange(num) * ((stop - start) / num) + start``."""
    if endpoint:
        return _linspace_emit(srcs)
    a, e, n = srcs
    return f"(np.arange({n}) * (({e} - {a}) / max({n}, 1)) + {a})"

def _pack_numba(srcs: list[str], dtype=None, types: tuple = (), **_) -> str:
    """Arrays packed into one: ``np.stack`` (Numba's ``np.array`` takes only scalars)."""
    if types and types[0].ndim > 0:
        cast = f".astype(np.{dtype})" if dtype is not None else ""
        return f"np.stack({_tuple_src(srcs)}){cast}"
    return _pack_emit(srcs, dtype=dtype)


PRIMS = [
    Primitive("reshape", _reshape_type, _reshape_emit, _reshape_jvp, _reshape_vjp,
              diff_args=(0,), doc="np.reshape(x, shape); args: x, then one int per dimension "
              "(-1 allowed); param ndim (optional: the number of shape entries)", view=True,
              numba_emit=_reshape_numba),
    Primitive("ravel", lambda ts, **_: ts[0].with_ndim(1), lambda s, **_: f"np.ravel({s[0]})",
              _ravel_jvp, _ravel_vjp, view=True),
    Primitive("squeeze", _squeeze_type, _squeeze_emit, _squeeze_jvp, _squeeze_vjp,
              doc="np.squeeze(x, axis); the axis is required", view=True,
              numba_emit=_squeeze),
    Primitive("expand_dims", _expand_type, lambda s, axis, **_: f"np.expand_dims({s[0]}, {axis})",
              _expand_jvp, _expand_vjp, view=True,
              numba_emit=_expand_dims),
    Primitive("broadcast_to", _broadcast_to_type, _broadcast_to_emit, _broadcast_to_jvp,
              _broadcast_to_vjp, diff_args=(0,),
              doc="np.broadcast_to(x, shape): a read-only view, as in NumPy", view=True),
    Primitive("flip", _flip_type, _flip_emit, _flip_jvp, _flip_vjp,
              doc="np.flip(x, axis): a view, as in NumPy", view=True, numba_emit=_flip),
    Primitive("concatenate", _concat_type, _concat_emit, _concat_jvp, _concat_vjp,
              doc="np.concatenate((a, b, ...), axis)"),
    Primitive("stack", _stack_type, _stack_emit, _stack_jvp, _stack_vjp,
              doc="np.stack((a, b, ...), axis)"),
    Primitive("column_stack", _column_stack_type,
              lambda s, **_: f"np.column_stack({_tuple_src(s)})",
              _column_stack_jvp, _column_stack_vjp),
    Primitive("pack", _pack_type, _pack_emit, _pack_jvp, _pack_vjp,
              doc="np.array([a, b, ...]) of items of one ndim (scalars give a 1-D array)",
              numba_emit=_pack_numba),
    Primitive("zeros", _filled_type, _filled_emit("np.zeros"), nondiff=True,
              doc="np.zeros(shape, dtype); args: one int per dimension"),
    Primitive("ones", _filled_type, _filled_emit("np.ones"), nondiff=True),
    Primitive("empty", _filled_type, _filled_emit("np.empty"), nondiff=True),
    Primitive("full", _full_type, _full_emit, _full_jvp, _full_vjp,
              doc="np.full(shape, value, dtype); args: sizes, then the value"),
    Primitive("ones_like", _like_type, _like_emit("np.ones_like"), nondiff=True),
    Primitive("empty_like", _like_type, _like_emit("np.empty_like"), nondiff=True),
    Primitive("full_like", _full_like_type, _like_emit("np.full_like"), _full_like_jvp,
              _full_like_vjp, diff_args=(1,), doc="np.full_like(x, value, dtype)"),
    Primitive("eye", _eye_type, _eye_emit, nondiff=True, doc="np.eye(n, dtype)"),
    Primitive("arange", _arange_type, _arange_emit, nondiff=True,
              doc="np.arange(start, stop, step); treated as constant (no derivative)"),
    Primitive("linspace", _linspace_type, _linspace_emit, _linspace_jvp, _linspace_vjp,
              diff_args=(0, 1), doc="np.linspace(start, stop, num, endpoint)",
              numba_emit=_linspace_numba),
]


# Taylor rules (rules/taylor.py): every differentiable primitive here is linear in its
# differentiable arguments, so each Taylor coefficient goes through the JVP rule.
T.attach(PRIMS, coefficientwise_=tuple(p.name for p in PRIMS if p.jvp is not None))

__all__ = ["PRIMS", "reshape_like", "shape_of"]
