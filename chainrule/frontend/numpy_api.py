"""The supported NumPy / ``math`` functions and array methods, mapped to primitives.

``handler_for(obj)`` finds the handler of a callable (by identity); ``call_method`` handles
``x.sum()``-style calls and ``array_attribute`` handles ``x.shape``, ``x.T``... Every handler is
bound to the callee's declared signature (:mod:`.signatures`), so each keyword is either
implemented or rejected with a typed error; it receives the bound ``Params``. Calls on
compile-time numbers are folded. Reductions and ranges live in :mod:`.numpy_reduce`, builtins
in :mod:`.builtin_api`.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np

from ..errors import ChainruleTypeError, UnsupportedCallError
from ..ir.builder import const
from ..rules import PRIMS
from . import linalg_api, numpy_arrays, numpy_contract, numpy_more, numpy_reduce, special_api
from .builtin_api import builtin_handlers
from .math_domains import MATH_OUTSIDE as _MATH_OUTSIDE
from .math_domains import in_domain as _in_domain
from .math_domains import where_prefix
from .numpy_args import atom as _atom
from .numpy_args import axis_param as _axis_param
from .numpy_args import dtype_of as _dtype
from .numpy_args import shape_atoms as _shape_atoms
from .signatures import Signed, signed
from .values import BoundMethod, RunList, is_atom, static_number

UNARY = [
    "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh",
    "arccosh", "arctanh", "exp", "expm1", "log", "log1p", "log2", "log10", "sqrt", "cbrt",
    "square", "reciprocal", "abs", "sign", "floor", "ceil", "negative",
]
MATH_UNARY = {
    "sin": "sin", "cos": "cos", "tan": "tan", "asin": "arcsin", "acos": "arccos",
    "atan": "arctan", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "asinh": "arcsinh",
    "acosh": "arccosh", "atanh": "arctanh", "exp": "exp", "expm1": "expm1", "log1p": "log1p",
    "log2": "log2", "log10": "log10", "sqrt": "sqrt", "fabs": "abs", "cbrt": "cbrt",
}
BINARY = {"arctan2": "arctan2", "hypot": "hypot", "maximum": "maximum", "minimum": "minimum",
          "power": "pow", "add": "add", "subtract": "sub", "multiply": "mul", "divide": "div",
          "true_divide": "div", "mod": "mod", "floor_divide": "floordiv",
          "logical_and": "logical_and", "logical_or": "logical_or", "matmul": "matmul"}
REDUCTIONS = {"sum": "sum", "mean": "mean", "prod": "prod", "max": "amax", "amax": "amax",
              "min": "amin", "amin": "amin", "argmax": "argmax", "argmin": "argmin",
              "cumsum": "cumsum"}
_REDUCTION_SPECS = {
    "sum": ("a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=True",
            "dtype out"),
    "mean": ("a, axis=None, dtype=None, out=None, keepdims=False, *, where=True", "dtype out"),
    "amax": ("a, axis=None, out=None, keepdims=False, initial=None, where=True", "out"),
    "argmax": ("a, axis=None, out=None, *, keepdims=False", "out"),
    "cumsum": ("a, axis=None, dtype=None, out=None", "dtype out"),
}
_REDUCTION_SPECS["prod"] = _REDUCTION_SPECS["sum"]
_REDUCTION_SPECS["amin"] = _REDUCTION_SPECS["amax"]
_REDUCTION_SPECS["argmin"] = _REDUCTION_SPECS["argmax"]
# NumPy's ufunc keywords other than out= (all rejected unless given their default value).
_UFUNC_KW = "*, where=True, casting='same_kind', order='K', dtype=None, subok=True, signature=None"
_UFUNC_UNSUPPORTED = "where casting order dtype subok signature"


def _fold_unary(prim, npfn, x):
    return const(float(npfn(x.value)) if prim != "sign" else npfn(x.value))


def unary(prim: str, npfn=None):
    def h(lw, p, node):
        if static_number(p.x) and npfn is not None:
            return _fold_unary(prim, npfn, p.x)
        return lw.b.emit(prim if prim != "negative" else "neg", _atom(lw, p.x))
    return h


def binary(prim: str, npfn=None):
    def h(lw, p, node):
        x, y = p.x, p.y
        if static_number(x) and static_number(y) and npfn is not None and \
                PRIMS[prim].fold_statics:
            return const(float(npfn(x.value, y.value)))
        return lw.b.emit(prim, _atom(lw, x), _atom(lw, y))
    return h


def creation(prim: str):
    def h(lw, p, node):
        dims = _shape_atoms(lw, p.shape)
        out = lw.b.emit(prim, *dims, dtype=_dtype(lw, p.dtype))
        lw.note_shape(out, dims)
        return out
    return h


def _full(lw, p, node):
    value = _atom(lw, p.fill_value)
    default = "float64" if value.type.is_float else value.type.dtype
    dims = _shape_atoms(lw, p.shape)
    out = lw.b.emit("full", *dims, value, dtype=_dtype(lw, p.dtype, default))
    lw.note_shape(out, dims)
    return out


def like(prim: str):
    def h(lw, p, node):
        x = _atom(lw, p.a)
        out = lw.b.zeros_like(x) if prim == "zeros_like" else lw.b.emit(prim, x)
        lw.note_same_shape(out, x)
        return out
    return h


def _full_like(lw, p, node):
    return lw.b.full_like(_atom(lw, p.a), _atom(lw, p.fill_value))


def _with_dtype(lw, out, dtype):
    if dtype is None:
        return out
    dtype = _dtype(lw, dtype)
    return out if out.type.dtype == dtype else lw.b.astype(out, dtype=dtype)


def _array(lw, p, node):
    v = p.object
    if isinstance(v, (tuple, list)):
        out = lw.pack(v)
    else:
        out = lw.b.copy(_atom(lw, v)) if is_atom(v) and v.type.ndim > 0 else _atom(lw, v)
    return _with_dtype(lw, out, p.dtype)


def _asarray(lw, p, node):
    v = p.a
    out = lw.pack(v) if isinstance(v, (tuple, list)) else _atom(lw, v)
    return _with_dtype(lw, out, p.dtype)


def _copy(lw, p, node):
    x = _atom(lw, p.a)
    out = lw.b.copy(x)
    lw.note_same_shape(out, x)
    return out


def _reshape(lw, p, node):
    shape = p.shape if p.shape is not None else p.newshape
    if shape is None:
        raise UnsupportedCallError("np.reshape needs a shape", lw.b.loc)
    return lw.b.reshape(_atom(lw, p.a), *_shape_atoms(lw, shape))


def _ravel(lw, p, node):
    return lw.b.emit("ravel", _atom(lw, p.a))


def _simple(prim: str, *names: str):
    def h(lw, p, node):
        return lw.b.emit(prim, *[_atom(lw, getattr(p, n)) for n in names])
    return h


def _expand_dims(lw, p, node):
    return lw.b.emit("expand_dims", _atom(lw, p.a), axis=_axis_param(lw, p.axis))


def _sequence_prim(prim: str):
    def h(lw, p, node):
        seq = p.arrays
        if isinstance(seq, RunList):
            return _run_list_sequence(lw, prim, seq, p.axis)
        if not isinstance(seq, (tuple, list)):
            raise ChainruleTypeError(f"np.{prim} needs a tuple or list of arrays", lw.b.loc)
        if p.axis is None:
            raise UnsupportedCallError(f"np.{prim} with axis=None is not supported", lw.b.loc,
                                       "ravel the arrays first and use axis=0")
        return lw.b.emit(prim, *[_atom(lw, a) for a in seq], axis=_axis_param(lw, p.axis))
    return h


def _run_list_sequence(lw, prim: str, seq, axis):
    """``np.stack(xs)`` / ``np.concatenate(xs)`` of a list of run-time length."""
    arr = lw.list_array(seq)
    nd = arr.type.ndim
    ax = _axis_param(lw, axis) if axis is not None else None
    if prim == "stack" and ax is not None and -nd <= ax < nd:
        ax %= nd
        if ax == 0:
            return arr
        order = list(range(1, nd))
        order.insert(ax, 0)
        return lw.b.transpose(arr, axes=tuple(order))
    if prim == "concatenate" and ax == 0 and nd >= 2:
        b = lw.b
        dims = [b.mul(b.shape(arr, axis=0), b.shape(arr, axis=1))]
        dims += [b.shape(arr, axis=k) for k in range(2, nd)]
        return b.reshape(arr, *dims)
    raise UnsupportedCallError(f"np.{prim} of a list of run-time length with axis={axis}",
                               lw.b.loc, "use np.stack(xs) or np.concatenate(xs) (axis=0)")


def _column_stack(lw, p, node):
    if is_atom(p.tup):  # one array: a sequence of its rows (sub-arrays along axis 0)
        return _column_stack_array(lw.b, _atom(lw, p.tup))
    cols = [_atom(lw, a) for a in p.tup]
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


def _transpose(lw, p, node):
    axes = p.axes
    if axes is not None:
        axes = tuple(int(a.value) for a in axes)
    return lw.b.transpose(_atom(lw, p.a), axes=axes)


def _clip(lw, p, node):
    lo = p.a_min if p.a_min is not None else p.min
    hi = p.a_max if p.a_max is not None else p.max
    x = _atom(lw, p.a)
    if lo is None and hi is None:
        raise UnsupportedCallError("np.clip needs a lower or an upper bound", lw.b.loc)
    if lo is None:
        return lw.b.minimum(x, _atom(lw, hi))
    if hi is None:
        return lw.b.maximum(x, _atom(lw, lo))
    return lw.b.clip(x, _atom(lw, lo), _atom(lw, hi))


def _where(lw, p, node):
    if p.x is None or p.y is None:
        raise UnsupportedCallError("np.where needs three arguments (condition, x, y)",
                                   lw.b.loc, "use boolean indexing x[mask] for the 1-arg form")
    return lw.b.where(*(_atom(lw, a) for a in (p.condition, p.x, p.y)))


def _eye(lw, p, node):
    n = p.N if hasattr(p, "N") else p.n
    return _with_dtype(lw, lw.b.eye(_atom(lw, n)), p.dtype)


def _squeeze(lw, p, node):
    if p.axis is None:
        raise UnsupportedCallError("np.squeeze needs an explicit axis in compiled code", lw.b.loc,
                                   "write np.squeeze(x, axis=k) (the result's ndim must be known)")
    return lw.b.squeeze(_atom(lw, p.a), axis=_axis_param(lw, p.axis))


# -- writing into existing arrays: out=, np.copyto --------------------------------------------
def with_out(h, name: str):
    """``h`` accepting NumPy's ``out=`` (bound like any parameter; for ufuncs also
    positional, after the inputs): the result is written into the given array, in place, and
    that array is returned."""

    def wrapped(lw, p, node):
        out = p.out
        value = h(lw, p, node)
        if isinstance(out, tuple) and len(out) == 1:
            out = out[0]
        if out is None:
            return value
        if not (is_atom(out) and out.type.ndim > 0):
            raise ChainruleTypeError(f"np.{name}: out= must be an array", lw.b.loc)
        lw.write_into(out, ("e",), [], value)
        return out

    return wrapped


@signed("np.copyto", "dst, src, casting='same_kind', where=True", unsupported="where",
        hint="write dst[mask] = src[mask] instead")
def _copyto(lw, p, node):
    dst = p.dst
    if not (is_atom(dst) and dst.type.ndim > 0):
        raise ChainruleTypeError("np.copyto: the destination must be an array", lw.b.loc)
    lw.write_into(dst, ("e",), [], p.src)


def _math_floor(prim):
    def h(lw, p, node):
        if static_number(p.x):
            return const(int(getattr(math, prim)(p.x.value)))
        return lw.b.to_int(lw.b.emit(prim, _atom(lw, p.x)))
    return h


def _math_log(lw, p, node):
    if p.base is None:
        return unary("log", np.log)(lw, p, node)
    return lw.b.div(lw.b.log(_atom(lw, p.x)), lw.b.log(_atom(lw, p.base)))


def _stop_gradient(lw, p, node):
    """``chainrule.stop_gradient(x)``: every float leaf of ``x`` gets a zero derivative."""
    from ..ir.nodes import Var
    from .values import flatten, rebuild

    return rebuild(p.x, [lw.b.stop_gradient(a) if isinstance(a, Var) and a.type.is_float else a
                         for _, a in flatten(p.x)])


def _ufunc(fn, handler, nin: int) -> Signed:
    names = "x, /" if nin == 1 else "x, y, /"
    spec = f"{names}, out=None, {_UFUNC_KW}"
    return Signed(f"np.{fn.__name__}", spec, with_out(handler, fn.__name__),
                  _UFUNC_UNSUPPORTED, hint="compute the value and assign it (y[mask] = ...), "
                  "or use out=")


def _numpy_table() -> dict:
    """{NumPy function: (name, signature, unsupported parameters, handler)}."""
    S = {}
    for name, prim in REDUCTIONS.items():
        spec, unsupported = _REDUCTION_SPECS[prim]
        S[getattr(np, name)] = (spec, unsupported, numpy_reduce.reduction(prim, f"np.{name}"))
    order = "order='C', *, device=None, like=None"
    for name in ("zeros", "ones", "empty"):
        S[getattr(np, name)] = (f"shape, dtype=None, {order}", "device like order",
                                creation(name))
    S[np.full] = (f"shape, fill_value, dtype=None, {order}", "device like order", _full)
    like_kw = "dtype=None, order='K', subok=True, shape=None, *, device=None"
    for name in ("zeros_like", "ones_like", "empty_like"):
        S[getattr(np, name)] = (f"a, {like_kw}", "dtype order subok shape device", like(name))
    S[np.full_like] = (f"a, fill_value, {like_kw}", "dtype order subok shape device",
                       _full_like)
    S[np.array] = ("object, dtype=None, *, copy=True, order='K', subok=False, ndmin=0, "
                   "ndmax=0, like=None", "copy order subok ndmin ndmax like", _array)
    S[np.asarray] = ("a, dtype=None, order=None, *, device=None, copy=None, like=None",
                     "order device copy like", _asarray)
    S[np.copy] = ("a, order='K', subok=False", "order subok", _copy)
    S[np.reshape] = ("a, /, shape=None, order='C', *, newshape=None, copy=None", "order copy",
                     _reshape)
    S[np.ravel] = ("a, order='C'", "order", _ravel)
    seq_kw = "out=None, *, dtype=None, casting='same_kind'"
    S[np.concatenate] = (f"arrays, /, axis=0, {seq_kw}", "out dtype casting",
                         _sequence_prim("concatenate"))
    S[np.stack] = (f"arrays, axis=0, {seq_kw}", "out dtype casting", _sequence_prim("stack"))
    S[np.column_stack] = ("tup", "", _column_stack)
    S[np.squeeze] = ("a, axis=None", "", _squeeze)
    S[np.expand_dims] = ("a, axis", "", _expand_dims)
    S[np.transpose] = ("a, axes=None", "", _transpose)
    S[np.dot] = ("a, b, out=None", "", with_out(_simple("dot", "a", "b"), "dot"))
    S[np.outer] = ("a, b, out=None", "", with_out(_simple("outer", "a", "b"), "outer"))
    S[np.inner] = ("a, b, /", "", _simple("inner", "a", "b"))
    S[np.cross] = ("a, b, axisa=-1, axisb=-1, axisc=-1, axis=None", "axisa axisb axisc axis",
                   _simple("cross", "a", "b"))
    S[np.linalg.solve] = ("a, b", "", _simple("solve", "a", "b"))
    S[np.linalg.inv] = ("a", "", _simple("inv", "a"))
    S[np.linalg.det] = ("a", "", _simple("det", "a"))
    S[np.clip] = ("a, a_min=None, a_max=None, out=None, *, min=None, max=None", "",
                  with_out(_clip, "clip"))
    S[np.where] = ("condition, x=None, y=None, /", "", _where)
    S[np.arange] = ("start_or_stop, /, stop=None, step=1, *, dtype=None, device=None, "
                    "like=None", "device like", numpy_reduce.arange)
    S[np.linspace] = ("start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, "
                      "*, device=None", "retstep axis device", numpy_reduce.linspace)
    S[np.eye] = ("N, M=None, k=0, dtype=None, order='C', *, device=None, like=None",
                 "M k order device like", _eye)
    S[np.identity] = ("n, dtype=None, *, like=None", "like", _eye)
    S[np.copyto] = _copyto
    return S


def _build_table() -> dict:
    t: dict = {}
    for name in UNARY:
        fn = getattr(np, name)
        t[fn] = _ufunc(fn, unary(name, fn), 1)
    t[np.logical_not] = _ufunc(np.logical_not, unary("logical_not"), 1)
    for name, prim in BINARY.items():
        fn = getattr(np, name)
        t[fn] = _ufunc(fn, binary(prim, fn), 2)
    for fn, entry in _numpy_table().items():
        if isinstance(entry, Signed):
            t[fn] = entry
            continue
        spec, unsupported, h = entry
        t[fn] = Signed(f"np.{_np_name(fn)}", spec, h, unsupported)
    for mname, prim in MATH_UNARY.items():
        t[getattr(math, mname)] = Signed(f"math.{mname}", "x, /", _in_domain(
            unary(prim, getattr(np, prim)), _MATH_OUTSIDE.get(mname)))
    t[math.log] = Signed("math.log", "x, base=None, /", _in_domain(_math_log,
                                                                    _MATH_OUTSIDE["log"]))
    t[math.floor] = Signed("math.floor", "x, /", _math_floor("floor"))
    t[math.ceil] = Signed("math.ceil", "x, /", _math_floor("ceil"))
    for mname, prim in (("atan2", "arctan2"), ("hypot", "hypot"), ("pow", "pow")):
        npfn = math.pow if mname == "pow" else getattr(np, prim)
        t[getattr(math, mname)] = Signed(f"math.{mname}", "x, y, /", _in_domain(
            binary(prim, npfn), _MATH_OUTSIDE.get(mname)))
    t.update(numpy_more.more_handlers())
    t.update(numpy_contract.contract_handlers())
    t.update(special_api.special_handlers())
    t.update(numpy_arrays.arrays_handlers())
    t.update(linalg_api.linalg_handlers())
    t.update(builtin_handlers())
    t.update(_REGISTERED)
    if "scipy.special" in sys.modules:
        _add_scipy(t)
    return t


def _np_name(fn) -> str:
    mod = getattr(fn, "__module__", "") or ""
    return f"linalg.{fn.__name__}" if "linalg" in mod else fn.__name__


_TABLE: dict | None = None
# Handlers registered by the layers above the front end (``chainrule.stop_gradient``, user
# primitives of ``chainrule.register_primitive``): kept here so the table can be built lazily.
_REGISTERED: dict = {}


def register_handler(obj: Any, handler: Any) -> None:
    """Map a Python callable to a handler (``chainrule.register_primitive``, ``stop_gradient``)."""
    _REGISTERED[obj] = handler
    if _TABLE is not None:
        _TABLE[obj] = handler


def stop_gradient_handler() -> Any:
    """The handler of ``chainrule.stop_gradient`` (registered by :mod:`chainrule.nonsmooth`)."""
    return Signed("chainrule.stop_gradient", "x", _stop_gradient)


def handler_for(obj: Any):
    global _TABLE
    if _TABLE is None:
        _TABLE = _build_table()
    try:
        hit = _TABLE.get(obj)
    except TypeError:
        return None
    if hit is None and not _SCIPY and "scipy.special" in sys.modules:
        _add_scipy(_TABLE)  # the user's code imported scipy.special since the table was built
        hit = _TABLE.get(obj)
    return hit


_SCIPY: list = []  # [True] once the scipy.special handlers are in the table


def _add_scipy(table: dict) -> None:
    sp = sys.modules["scipy.special"]
    table.update(special_api.scipy_handlers(sp))
    table.update(numpy_more.more_scipy_handlers(sp))
    table.update(_REGISTERED)  # (a user's registration wins)
    _SCIPY.append(True)


# -- array methods and attributes ------------------------------------------------------------
METHODS = {
    "sum": np.sum, "mean": np.mean, "prod": np.prod, "max": np.max, "min": np.min,
    "argmax": np.argmax, "argmin": np.argmin, "cumsum": np.cumsum, "ravel": np.ravel,
    "copy": np.copy, "dot": np.dot, "squeeze": np.squeeze,
    "clip": np.clip, "transpose": np.transpose, "argsort": np.argsort,
}


def _list_append(lw, p, node):
    lw.list_append(p.self, p.object, node)


def _list_extend(lw, p, node):
    lw.list_extend(p.self, p.iterable, node)


def _list_pop(lw, p, node):
    return lw.list_pop(p.self, p.index, node)


def _reshape_method(lw, p, node):
    shape = p.shape[0] if len(p.shape) == 1 else p.shape
    return lw.b.reshape(p.self, *_shape_atoms(lw, shape))


def _item(lw, p, node):
    obj, idx = p.self, p.args
    if not idx and obj.type.ndim == 0:
        return obj  # (of a NumPy scalar: its value)
    if not idx:  # NumPy raises unless the array has one element
        lw.b.emit("check_domain", lw.b.eq(lw.b.size(obj), const(1)),
                  message=f"{where_prefix(lw.b.loc)}can only convert an array of size 1 "
                          "to a Python scalar")
        idx = [const(0)] * obj.type.ndim
    return lw.b.getitem(obj, *[_atom(lw, a) for a in idx], spec=("i",) * len(idx))


def _fill(lw, p, node):
    lw.store(p.self, ("e",), [], _atom(lw, p.value))


def _transpose_method(lw, p, node):
    axes = p.axes[0] if len(p.axes) == 1 and isinstance(p.axes[0], tuple) else p.axes
    return lw.b.transpose(p.self, axes=tuple(int(a.value) for a in axes) if axes else None)


_SPECIAL_METHODS = {
    "append": Signed("list.append", "self, object, /", _list_append),
    "extend": Signed("list.extend", "self, iterable, /", _list_extend),
    "pop": Signed("list.pop", "self, index=-1, /", _list_pop),
    "reshape": Signed("ndarray.reshape", "self, /, *shape, order='C', copy=None",
                      _reshape_method, "order copy"),
    "astype": Signed("ndarray.astype", "self, dtype, order='K', casting='unsafe', "
                     "subok=True, copy=True", lambda lw, p, node: lw.b.astype(
                         p.self, dtype=_dtype(lw, p.dtype)), "order casting subok copy"),
    "fill": Signed("ndarray.fill", "self, value, /", _fill),
    "item": Signed("ndarray.item", "self, /, *args", _item),
    "transpose": Signed("ndarray.transpose", "self, /, *axes", _transpose_method),
    # (always a new array, unlike ravel: writes into it must not reach the original)
    "flatten": Signed("ndarray.flatten", "self, /, order='C'",
                      lambda lw, p, node: lw.b.copy(lw.b.emit("ravel", p.self)), "order"),
    "keys": Signed("dict.keys", "self, /", lambda lw, p, node: list(p.self)),
    "values": Signed("dict.values", "self, /", lambda lw, p, node: list(p.self.values())),
    "items": Signed("dict.items", "self, /", lambda lw, p, node: list(p.self.items())),
    "get": Signed("dict.get", "self, key, default=None, /",
                  lambda lw, p, node: p.self.get(p.key, p.default)),
}


def call_method(lw, m: BoundMethod, args: list, kw: dict, node) -> Any:
    handler = _SPECIAL_METHODS.get(m.name)
    if handler is None:
        fn = METHODS.get(m.name)
        if fn is None:
            raise UnsupportedCallError(f"array method `.{m.name}()` is not supported", lw.b.loc,
                                       "use the NumPy function form from the supported list")
        handler = handler_for(fn)
    return handler(lw, [m.obj, *args], kw, node)


def array_attribute(lw, x, attr: str, node) -> Any:
    if attr == "shape":
        dims = tuple(lw.b.shape(x, axis=i) for i in range(x.type.ndim))
        for i, n in enumerate(dims):
            lw.note_length(n, x, i)
        return dims
    if attr == "ndim":
        return const(x.type.ndim)
    if attr == "size":
        if x.type.ndim == 0:
            return const(1)
        n = lw.b.size(x)
        if x.type.ndim == 1:
            lw.note_length(n, x, 0)
        return n
    if attr == "T":
        return lw.b.transpose(x, axes=None) if x.type.ndim > 1 else x
    if attr in ("real",):
        return x
    if attr in METHODS or attr in ("reshape", "astype", "fill", "item", "flatten"):
        return BoundMethod(x, attr)
    raise UnsupportedCallError(f"array attribute `.{attr}` is not supported", lw.b.loc,
                               "use .shape, .ndim, .size, .T or a supported method")
