"""The supported NumPy / ``math`` / builtin functions and array methods, mapped to primitives.

``handler_for(obj)`` finds the handler of a callable (by identity); ``call_method`` handles
``x.sum()``-style calls and ``array_attribute`` handles ``x.shape``, ``x.T``... A handler takes
``(lowerer, args, kwargs, node)`` and returns a value. Calls on compile-time numbers are folded.
"""

from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np

from ..errors import ChainruleTypeError, UnsupportedCallError
from ..ir.builder import const
from ..ir.nodes import Const
from .values import BoundMethod, EnumerateVal, RangeVal, ZipVal, is_atom, static_number

UNARY = [
    "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh",
    "arccosh", "arctanh", "exp", "expm1", "log", "log1p", "log2", "log10", "sqrt", "cbrt",
    "square", "reciprocal", "abs", "sign", "floor", "ceil", "round",
]
MATH_UNARY = {
    "sin": "sin", "cos": "cos", "tan": "tan", "asin": "arcsin", "acos": "arccos",
    "atan": "arctan", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "asinh": "arcsinh",
    "acosh": "arccosh", "atanh": "arctanh", "exp": "exp", "expm1": "expm1", "log1p": "log1p",
    "log2": "log2", "log10": "log10", "sqrt": "sqrt", "fabs": "abs", "cbrt": "cbrt",
}
BINARY = {"arctan2": "arctan2", "hypot": "hypot", "maximum": "maximum", "minimum": "minimum",
          "power": "pow", "add": "add", "subtract": "sub", "multiply": "mul", "divide": "div",
          "true_divide": "div", "mod": "mod", "floor_divide": "floordiv"}
REDUCTIONS = {"sum": "sum", "mean": "mean", "prod": "prod", "max": "amax", "amax": "amax",
              "min": "amin", "amin": "amin", "argmax": "argmax", "argmin": "argmin"}
DTYPES = {float: "float64", int: "int64", bool: "bool", np.float64: "float64",
          np.float32: "float32", np.int64: "int64", np.bool_: "bool", "float64": "float64",
          "float32": "float32", "int64": "int64", "bool": "bool", "float": "float64",
          "int": "int64", np.int32: "int64", np.double: "float64"}


def _atom(lw, v):
    return lw.as_atom(v)


def _fold(fn, *vals):
    return const(fn(*[v.value for v in vals]))


def unary(prim: str, npfn=None):
    def h(lw, args, kw, node):
        (x,) = args
        if static_number(x) and npfn is not None:
            return const(float(npfn(x.value)) if prim not in ("sign",) else npfn(x.value))
        return lw.b.emit(prim, _atom(lw, x))
    return h


def binary(prim: str, npfn=None):
    def h(lw, args, kw, node):
        x, y = args[:2]
        if static_number(x) and static_number(y) and npfn is not None:
            return const(float(npfn(x.value, y.value)))
        return lw.b.emit(prim, _atom(lw, x), _atom(lw, y))
    return h


def _axis_param(lw, v):
    if v is None:
        return None
    if isinstance(v, tuple):
        return tuple(_axis_param(lw, a) for a in v)
    if static_number(v):
        return int(v.value)
    raise ChainruleTypeError("axis must be a compile-time integer", lw.b.loc)


def reduction(prim: str):
    def h(lw, args, kw, node):
        x = _atom(lw, args[0])
        axis = _axis_param(lw, args[1] if len(args) > 1 else kw.get("axis"))
        keep = kw.get("keepdims", const(False))
        params = {"axis": axis}
        if prim != "cumsum":
            params["keepdims"] = bool(keep.value)
        if x.type.ndim == 0 and prim in ("sum", "prod", "amax", "amin", "mean"):
            return x
        return lw.b.emit(prim, x, **params)
    return h


def _dtype(lw, v, default="float64"):
    if v is None:
        return default
    key = v.value if isinstance(v, Const) else v
    try:
        return DTYPES[key]
    except (KeyError, TypeError):
        raise ChainruleTypeError(f"unsupported dtype {key!r}", lw.b.loc,
                                 "use float, int, bool, np.float64 or np.float32") from None


def _shape_atoms(lw, shape):
    if isinstance(shape, (tuple, list)):
        return [_atom(lw, s) for s in shape]
    return [_atom(lw, shape)]


def creation(prim: str):
    def h(lw, args, kw, node):
        dims = _shape_atoms(lw, args[0] if args else kw["shape"])
        dtype = _dtype(lw, args[1] if len(args) > 1 else kw.get("dtype"))
        return lw.b.emit(prim, *dims, dtype=dtype)
    return h


def _full(lw, args, kw, node):
    dims = _shape_atoms(lw, args[0])
    value = _atom(lw, args[1] if len(args) > 1 else kw["fill_value"])
    default = "float64" if value.type.is_float else value.type.dtype
    dtype = _dtype(lw, kw.get("dtype"), default)
    return lw.b.emit("full", *dims, value, dtype=dtype)


def like(prim: str):
    def h(lw, args, kw, node):
        x = _atom(lw, args[0])
        if prim == "zeros_like":
            return lw.b.zeros_like(x)
        return lw.b.emit(prim, x)
    return h


def _full_like(lw, args, kw, node):
    return lw.b.full_like(_atom(lw, args[0]), _atom(lw, args[1]))


def _array(lw, args, kw, node):
    v = args[0]
    dtype = kw.get("dtype")
    if isinstance(v, (tuple, list)):
        out = lw.pack(v)
    else:
        out = lw.b.copy(_atom(lw, v)) if is_atom(v) and v.type.ndim > 0 else _atom(lw, v)
    if dtype is not None:
        out = lw.b.astype(out, dtype=_dtype(lw, dtype))
    return out


def _asarray(lw, args, kw, node):
    v = args[0]
    if isinstance(v, (tuple, list)):
        return lw.pack(v)
    return _atom(lw, v)


def _copy(lw, args, kw, node):
    return lw.b.copy(_atom(lw, args[0]))


def _reshape(lw, args, kw, node):
    x = _atom(lw, args[0])
    shape = args[1:] if len(args) > 2 else (args[1] if len(args) > 1 else kw["newshape"])
    dims = _shape_atoms(lw, shape)
    return lw.b.reshape(x, *dims)


def _simple(prim: str, **fixed):
    def h(lw, args, kw, node):
        return lw.b.emit(prim, *[_atom(lw, a) for a in args], **fixed)
    return h


def _with_axis(prim: str, default=0):
    def h(lw, args, kw, node):
        x = _atom(lw, args[0])
        axis = _axis_param(lw, args[1] if len(args) > 1 else kw.get("axis", const(default)))
        return lw.b.emit(prim, x, axis=axis)
    return h


def _sequence_prim(prim: str):
    def h(lw, args, kw, node):
        seq = args[0]
        if not isinstance(seq, (tuple, list)):
            raise ChainruleTypeError(f"np.{prim} needs a tuple or list of arrays", lw.b.loc)
        axis = _axis_param(lw, args[1] if len(args) > 1 else kw.get("axis", const(0)))
        return lw.b.emit(prim, *[_atom(lw, a) for a in seq], axis=axis)
    return h


def _column_stack(lw, args, kw, node):
    if is_atom(args[0]):  # one array: a sequence of its rows (sub-arrays along axis 0)
        return _column_stack_array(lw.b, _atom(lw, args[0]))
    cols = [_atom(lw, a) for a in args[0]]
    cols = [lw.b.reshape(c, lw.b.size(c), 1) if c.type.ndim == 1 else c for c in cols]
    return lw.b.concatenate(*cols, axis=1)


def _column_stack_array(b, x):
    """``np.column_stack(x)`` of one array: its rows, each made a column (a 1-D row) or
    joined along axis 1 (rows of 2 or more dimensions)."""
    if x.type.ndim == 0:
        raise ChainruleTypeError("np.column_stack needs a sequence of arrays, got a scalar",
                                 b.loc, "pass a tuple or list of arrays")
    if x.type.ndim == 1:
        return b.reshape(x, 1, b.size(x))
    if x.type.ndim == 2:
        return b.transpose(x, axes=None)
    dims = [b.shape(x, axis=i) for i in range(x.type.ndim)]
    axes = (1, 0) + tuple(range(2, x.type.ndim))
    moved = b.copy(b.transpose(x, axes=axes))  # contiguous, so Numba can reshape it
    return b.reshape(moved, dims[1], b.mul(dims[0], dims[2]), *dims[3:])


def _transpose(lw, args, kw, node):
    x = _atom(lw, args[0])
    axes = args[1] if len(args) > 1 else kw.get("axes")
    if axes is not None:
        axes = tuple(int(a.value) for a in axes)
    return lw.b.transpose(x, axes=axes)


def _clip(lw, args, kw, node):
    x, lo, hi = args[0], args[1] if len(args) > 1 else kw.get("a_min"), \
        args[2] if len(args) > 2 else kw.get("a_max")
    return lw.b.clip(_atom(lw, x), _atom(lw, lo), _atom(lw, hi))


def _where(lw, args, kw, node):
    if len(args) != 3:
        raise UnsupportedCallError("np.where needs three arguments (condition, x, y)",
                                   lw.b.loc, "use boolean indexing x[mask] for the 1-arg form")
    c, x, y = (_atom(lw, a) for a in args)
    return lw.b.where(c, x, y)


def _arange(lw, args, kw, node):
    vals = [_atom(lw, a) for a in args]
    if len(vals) == 1:
        vals = [const(0), vals[0], const(1)]
    elif len(vals) == 2:
        vals = [vals[0], vals[1], const(1)]
    return lw.b.arange(*vals)


def _linspace(lw, args, kw, node):
    num = args[2] if len(args) > 2 else kw.get("num", const(50))
    return lw.b.linspace(_atom(lw, args[0]), _atom(lw, args[1]), _atom(lw, num))


def _eye(lw, args, kw, node):
    return lw.b.eye(_atom(lw, args[0]))


def _squeeze(lw, args, kw, node):
    axis = args[1] if len(args) > 1 else kw.get("axis")
    if axis is None:
        raise UnsupportedCallError("np.squeeze needs an explicit axis in compiled code", lw.b.loc,
                                   "write np.squeeze(x, axis=k) (the result's ndim must be known)")
    return lw.b.squeeze(_atom(lw, args[0]), axis=_axis_param(lw, axis))


def _norm(lw, args, kw, node):
    if len(args) > 1 or any(k in kw for k in ("ord", "axis")):
        raise UnsupportedCallError("np.linalg.norm with ord/axis is not supported", lw.b.loc,
                                   "use np.sqrt(np.sum(x**2, axis=...)) or the default 2-norm")
    return lw.b.norm(_atom(lw, args[0]))


# -- writing into existing arrays: out=, np.copyto --------------------------------------------
def with_out(h, name: str, nin: int | None):
    """``h`` accepting NumPy's ``out=`` (for ufuncs also positionally, after the ``nin``
    inputs): the result is written into the given array, in place, and that array is returned.
    Other keywords of a ufunc (``where=``, ``dtype=``, ...) are rejected, not ignored."""

    def wrapped(lw, args, kw, node):
        kw = dict(kw)
        out = kw.pop("out", None)
        if nin is not None:
            if len(args) > nin:
                if out is not None or len(args) > nin + 1:
                    raise UnsupportedCallError(f"np.{name}: too many arguments", lw.b.loc)
                out = args[nin]
                args = args[:nin]
            if kw:
                raise UnsupportedCallError(
                    f"np.{name}: keyword(s) {', '.join(sorted(kw))} are not supported",
                    lw.b.loc, "compute the value and assign it (y[mask] = ...), or use out=")
        if isinstance(out, tuple) and len(out) == 1:
            out = out[0]
        value = h(lw, args, kw, node)
        if out is None:
            return value
        if not (is_atom(out) and out.type.ndim > 0):
            raise ChainruleTypeError(f"np.{name}: out= must be an array", lw.b.loc)
        lw.write_into(out, ("e",), [], value)
        return out

    return wrapped


def _copyto(lw, args, kw, node):
    kw = dict(kw)
    dst = args[0] if args else kw.pop("dst")
    src = args[1] if len(args) > 1 else kw.pop("src")
    if len(args) > 2 or set(kw) - {"casting"}:
        raise UnsupportedCallError("np.copyto with where= is not supported", lw.b.loc,
                                   "write dst[mask] = src[mask] instead")
    if not (is_atom(dst) and dst.type.ndim > 0):
        raise ChainruleTypeError("np.copyto: the destination must be an array", lw.b.loc)
    lw.write_into(dst, ("e",), [], src)


# -- builtins ----------------------------------------------------------------------------
def _range(lw, args, kw, node):
    vals = [_atom(lw, a) for a in args]
    for v in vals:
        if v.type.dtype not in ("int64", "bool") or v.type.ndim:
            raise ChainruleTypeError("range() arguments must be integers", lw.b.loc,
                                     "convert with int(...)")
    if len(vals) == 1:
        return RangeVal(const(0), vals[0], const(1))
    if len(vals) == 2:
        return RangeVal(vals[0], vals[1], const(1))
    return RangeVal(*vals)


def _len(lw, args, kw, node):
    (v,) = args
    if isinstance(v, (tuple, list, dict)):
        return const(len(v))
    if isinstance(v, RangeVal):
        if all(isinstance(a, Const) for a in (v.start, v.stop, v.step)):
            return const(len(range(v.start.value, v.stop.value, v.step.value)))
        n = lw.b.floordiv(lw.b.add(lw.b.sub(v.stop, v.start), lw.b.sub(v.step, 1)), v.step)
        return lw.b.maximum(n, 0)
    x = _atom(lw, v)
    if x.type.ndim == 0:
        raise ChainruleTypeError("len() of a scalar", lw.b.loc)
    return lw.b.shape(x, axis=0)


def _minmax(prim: str, pyfn, red: str):
    def h(lw, args, kw, node):
        items = list(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else args
        if len(items) == 1:
            return lw.b.emit(red, _atom(lw, items[0]), axis=None, keepdims=False)
        acc = items[0]
        for it in items[1:]:
            if static_number(acc) and static_number(it):
                acc = const(pyfn(acc.value, it.value))
            else:
                acc = lw.b.emit(prim, _atom(lw, acc), _atom(lw, it))
        return acc
    return h


def _sum(lw, args, kw, node):
    v = args[0]
    start = args[1] if len(args) > 1 else const(0)
    if isinstance(v, (tuple, list)):
        acc = start
        for it in v:
            acc = lw.binop_add(acc, it)
        return acc
    x = _atom(lw, v)
    total = lw.b.sum(x, axis=0, keepdims=False) if x.type.ndim else x
    return lw.binop_add(start, total)


def _cast(prim: str, pyfn):
    def h(lw, args, kw, node):
        if not args:
            return const(pyfn())
        (v,) = args
        if static_number(v):
            return const(pyfn(v.value))
        x = _atom(lw, v)
        if x.type.ndim:
            raise ChainruleTypeError(f"{pyfn.__name__}() of an array", lw.b.loc,
                                     "index the element first, e.g. x[0]")
        if prim == "to_float" and x.type.dtype == "float64":
            return x
        return lw.b.emit(prim, x)
    return h


def _abs(lw, args, kw, node):
    (v,) = args
    if static_number(v):
        return const(abs(v.value))
    return lw.b.abs(_atom(lw, v))


def _round(lw, args, kw, node):
    if len(args) > 1:
        raise UnsupportedCallError("round() with ndigits is not supported", lw.b.loc,
                                   "use np.round(x * 10**k) / 10**k")
    v = args[0]
    if static_number(v):
        return const(round(v.value))
    return lw.b.to_int(lw.b.round(_atom(lw, v)))


def _enumerate(lw, args, kw, node):
    start = args[1] if len(args) > 1 else kw.get("start", const(0))
    return EnumerateVal(args[0], start)


def _zip(lw, args, kw, node):
    return ZipVal(list(args))


def _tuple(lw, args, kw, node):
    v = args[0] if args else ()
    if isinstance(v, (tuple, list)):
        return tuple(v)
    raise ChainruleTypeError("tuple() of a run-time value", lw.b.loc, "unpack explicitly")


def _list(lw, args, kw, node):
    v = args[0] if args else []
    if isinstance(v, (tuple, list)):
        return list(v)
    raise ChainruleTypeError("list() of a run-time value", lw.b.loc, "unpack explicitly")


def _print(lw, args, kw, node):
    raise UnsupportedCallError("print() is not supported inside compiled functions", lw.b.loc,
                               "return the value (use has_aux=True for extra outputs)")


def _math_floor(prim):
    def h(lw, args, kw, node):
        v = args[0]
        if static_number(v):
            return const(int(getattr(math, prim)(v.value)))
        return lw.b.to_int(lw.b.emit(prim, _atom(lw, v)))
    return h


def _stop_gradient(lw, args, kw, node):
    """``chainrule.stop_gradient(x)``: every float leaf of ``x`` gets a zero derivative."""
    from ..ir.nodes import Var
    from .values import flatten, rebuild

    v = args[0] if args else kw["x"]
    return rebuild(v, [lw.b.stop_gradient(a) if isinstance(a, Var) and a.type.is_float else a
                       for _, a in flatten(v)])


def _build_table() -> dict:
    t: dict = {}
    for name in UNARY:
        t[getattr(np, name)] = unary(name, getattr(np, name))
    t[np.absolute] = t[np.abs]
    t[np.negative] = lambda lw, a, k, n: lw.b.neg(_atom(lw, a[0]))
    t[np.around] = t[np.round]
    for mname, prim in MATH_UNARY.items():
        t[getattr(math, mname)] = unary(prim, getattr(np, prim))
    t[math.log] = lambda lw, a, k, n: (unary("log", np.log)(lw, a[:1], k, n) if len(a) == 1
                                       else lw.b.div(lw.b.log(_atom(lw, a[0])),
                                                     lw.b.log(_atom(lw, a[1]))))
    t[math.floor] = _math_floor("floor")
    t[math.ceil] = _math_floor("ceil")
    t[math.atan2] = binary("arctan2", np.arctan2)
    t[math.hypot] = binary("hypot", np.hypot)
    t[math.pow] = binary("pow", math.pow)
    for name, prim in BINARY.items():
        t[getattr(np, name)] = binary(prim, getattr(np, name))
    for name, prim in REDUCTIONS.items():
        t[getattr(np, name)] = reduction(prim)
    t[np.cumsum] = reduction("cumsum")
    t[np.zeros] = creation("zeros")
    t[np.ones] = creation("ones")
    t[np.empty] = creation("empty")
    t[np.full] = _full
    t[np.zeros_like] = like("zeros_like")
    t[np.ones_like] = like("ones_like")
    t[np.empty_like] = like("empty_like")
    t[np.full_like] = _full_like
    t[np.array] = _array
    t[np.asarray] = _asarray
    t[np.copy] = _copy
    t[np.reshape] = _reshape
    t[np.ravel] = _simple("ravel")
    t[np.concatenate] = _sequence_prim("concatenate")
    t[np.stack] = _sequence_prim("stack")
    t[np.column_stack] = _column_stack
    t[np.squeeze] = _squeeze
    t[np.expand_dims] = _with_axis("expand_dims")
    t[np.transpose] = _transpose
    t[np.dot] = _simple("dot")
    t[np.matmul] = _simple("matmul")
    t[np.outer] = _simple("outer")
    t[np.inner] = _simple("inner")
    t[np.cross] = _simple("cross")
    t[np.linalg.norm] = _norm
    t[np.linalg.solve] = _simple("solve")
    t[np.linalg.inv] = _simple("inv")
    t[np.linalg.det] = _simple("det")
    t[np.clip] = _clip
    t[np.where] = _where
    t[np.arange] = _arange
    t[np.linspace] = _linspace
    t[np.eye] = _eye
    t[np.identity] = _eye
    t[np.logical_and] = _simple("logical_and")
    t[np.logical_or] = _simple("logical_or")
    t[np.logical_not] = _simple("logical_not")
    t[np.copyto] = _copyto
    for fn, h in list(t.items()):
        if isinstance(fn, np.ufunc):
            t[fn] = with_out(h, fn.__name__, fn.nin)
    t[np.clip] = with_out(t[np.clip], "clip", None)
    t[builtins.range] = _range
    t[builtins.len] = _len
    t[builtins.abs] = _abs
    t[builtins.min] = _minmax("minimum", min, "amin")
    t[builtins.max] = _minmax("maximum", max, "amax")
    t[builtins.sum] = _sum
    t[builtins.float] = _cast("to_float", float)
    t[builtins.int] = _cast("to_int", int)
    t[builtins.bool] = _cast("to_bool", bool)
    t[builtins.round] = _round
    t[builtins.pow] = binary("pow", pow)
    t[builtins.enumerate] = _enumerate
    t[builtins.zip] = _zip
    t[builtins.tuple] = _tuple
    t[builtins.list] = _list
    t[builtins.print] = _print
    from ..nonsmooth import stop_gradient

    t[stop_gradient] = _stop_gradient
    return t


_TABLE: dict | None = None


def register_handler(obj: Any, handler: Any) -> None:
    """Map a Python callable to a handler (used by ``chainrule.register_primitive``)."""
    global _TABLE
    if _TABLE is None:
        _TABLE = _build_table()
    _TABLE[obj] = handler


def handler_for(obj: Any):
    global _TABLE
    if _TABLE is None:
        _TABLE = _build_table()
    try:
        return _TABLE.get(obj)
    except TypeError:
        return None


# -- array methods and attributes ------------------------------------------------------------
METHODS = {
    "sum": np.sum, "mean": np.mean, "prod": np.prod, "max": np.max, "min": np.min,
    "argmax": np.argmax, "argmin": np.argmin, "cumsum": np.cumsum, "ravel": np.ravel,
    "flatten": np.ravel, "copy": np.copy, "dot": np.dot, "squeeze": np.squeeze,
    "clip": np.clip, "transpose": np.transpose,
}


def call_method(lw, m: BoundMethod, args: list, kw: dict, node) -> Any:
    obj, name = m.obj, m.name
    if isinstance(obj, list) and name == "append":
        if lw.frame.dyn:
            raise UnsupportedCallError("list.append inside a run-time loop or branch", lw.b.loc,
                                       "preallocate an array (np.zeros(n)) and assign y[i] = ...")
        obj.append(args[0])
        return None
    if isinstance(obj, dict):
        return {"keys": lambda: list(obj), "values": lambda: list(obj.values()),
                "items": lambda: list(obj.items()), "get": lambda: obj.get(
                    args[0], args[1] if len(args) > 1 else None)}[name]()
    if name == "reshape":
        return _reshape(lw, [obj, *args], kw, node)
    if name == "astype":
        return lw.b.astype(obj, dtype=_dtype(lw, args[0] if args else kw.get("dtype")))
    if name == "fill":
        lw.store(obj, ("e",), [], _atom(lw, args[0]))
        return None
    if name == "item":
        return lw.b.getitem(obj, *[const(0)] * obj.type.ndim, spec=("i",) * obj.type.ndim) \
            if not args else lw.b.getitem(obj, *[_atom(lw, a) for a in args],
                                          spec=("i",) * len(args))
    if name == "transpose" and args:
        axes = args[0] if isinstance(args[0], tuple) else tuple(args)
        return _transpose(lw, [obj, axes], {}, node)
    fn = METHODS.get(name)
    if fn is None:
        raise UnsupportedCallError(f"array method `.{name}()` is not supported", lw.b.loc,
                                   "use the NumPy function form from the supported list")
    return handler_for(fn)(lw, [obj, *args], kw, node)


def array_attribute(lw, x, attr: str, node) -> Any:
    if attr == "shape":
        return tuple(lw.b.shape(x, axis=i) for i in range(x.type.ndim))
    if attr == "ndim":
        return const(x.type.ndim)
    if attr == "size":
        return lw.b.size(x) if x.type.ndim else const(1)
    if attr == "T":
        return lw.b.transpose(x, axes=None) if x.type.ndim > 1 else x
    if attr in ("real",):
        return x
    if attr in METHODS or attr in ("reshape", "astype", "fill", "item"):
        return BoundMethod(x, attr)
    raise UnsupportedCallError(f"array attribute `.{attr}` is not supported", lw.b.loc,
                               "use .shape, .ndim, .size, .T or a supported method")
