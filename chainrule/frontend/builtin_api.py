"""Python builtins in compiled code (``range``, ``len``, ``abs``, ``min``/``max``, ``sum``,
``float``/``int``/``bool``, ``round``, ``pow``, ``enumerate``, ``zip``, ``tuple``, ``list``),
each bound to its declared signature (see :mod:`.signatures`)."""

from __future__ import annotations

import ast
import builtins

from ..errors import ChainruleTypeError, UnsupportedCallError
from ..ir.builder import const
from ..ir.nodes import Const
from .numpy_args import atom
from .signatures import signed
from .values import EnumerateVal, RangeVal, RunList, ZipVal, static_number


@signed("range", "start, stop=None, step=None, /")
def _range(lw, p, node):
    vals = [atom(lw, v) for v in (p.start, p.stop, p.step) if v is not None]
    for v in vals:
        if v.type.dtype not in ("int64", "bool") or v.type.ndim:
            raise ChainruleTypeError("range() arguments must be integers", lw.b.loc,
                                     "convert with int(...)")
    if len(vals) == 1:
        return RangeVal(const(0), vals[0], const(1))
    if len(vals) == 2:
        return RangeVal(vals[0], vals[1], const(1))
    return RangeVal(*vals)


@signed("len", "obj, /")
def _len(lw, p, node):
    v = p.obj
    if isinstance(v, (tuple, list, dict)):
        return const(len(v))
    if isinstance(v, RunList):
        return lw.list_length(v)
    if isinstance(v, RangeVal):
        if all(isinstance(a, Const) for a in (v.start, v.stop, v.step)):
            return const(len(range(v.start.value, v.stop.value, v.step.value)))
        n = lw.b.floordiv(lw.b.add(lw.b.sub(v.stop, v.start), lw.b.sub(v.step, 1)), v.step)
        return lw.b.maximum(n, 0)
    x = atom(lw, v)
    if x.type.ndim == 0:
        raise ChainruleTypeError("len() of a scalar", lw.b.loc)
    n = lw.b.shape(x, axis=0)
    lw.note_length(n, x, 0)
    return n


def _minmax(name: str, prim: str, pyfn, red: str):
    @signed(name, "*args, key=None, default=None", unsupported="key default")
    def h(lw, p, node):
        args = p.args
        if len(args) == 1 and isinstance(args[0], RunList):
            if args[0].item_ndim:
                raise ChainruleTypeError(f"{name}() of a list of arrays", lw.b.loc,
                                         f"use np.{name}(np.array(xs), axis=0)")
            return lw.b.emit(red, lw.list_array(args[0]), axis=None, keepdims=False)
        items = list(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else args
        if not items:
            raise UnsupportedCallError(f"{name}() of nothing", lw.b.loc)
        if len(items) == 1:
            return lw.b.emit(red, atom(lw, items[0]), axis=None, keepdims=False)
        acc = items[0]
        for it in items[1:]:
            if static_number(acc) and static_number(it):
                acc = const(pyfn(acc.value, it.value))
            else:
                acc = lw.b.emit(prim, atom(lw, acc), atom(lw, it))
        return acc
    return h


@signed("sum", "iterable, /, start=0")
def _sum(lw, p, node):
    v, start = p.iterable, p.start
    if isinstance(v, RunList):
        return lw.list_sum(v, start)
    if isinstance(v, (tuple, list)):
        acc = start
        for it in v:
            acc = lw.binop_add(acc, it)
        return acc
    x = atom(lw, v)
    total = lw.b.sum(x, axis=0 if x.type.ndim > 1 else None, keepdims=False) if x.type.ndim else x
    return lw.binop_add(start, total)


def _cast(prim: str, pyfn, spec: str = "x=None, /", unsupported: str = ""):
    @signed(pyfn.__name__, spec, unsupported)
    def h(lw, p, node):
        v = p.x
        if v is None:
            return const(pyfn())
        if static_number(v):
            return const(pyfn(v.value))
        x = atom(lw, v)
        if x.type.ndim:
            raise ChainruleTypeError(f"{pyfn.__name__}() of an array", lw.b.loc,
                                     "index the element first, e.g. x[0]")
        if prim == "to_float" and x.type.dtype == "float64":
            return x
        return lw.b.emit(prim, x)
    return h


@signed("abs", "x, /")
def _abs(lw, p, node):
    if static_number(p.x):
        return const(abs(p.x.value))
    return lw.b.abs(atom(lw, p.x))


@signed("round", "number, ndigits=None", unsupported="ndigits",
        hint="use np.round(x * 10**k) / 10**k")
def _round(lw, p, node):
    v = p.number
    if static_number(v):
        return const(round(v.value))
    return lw.b.to_int(lw.b.round(atom(lw, v)))


@signed("pow", "base, exp, mod=None", unsupported="mod")
def _pow(lw, p, node):
    return lw.binop(ast.Pow(), p.base, p.exp, node)  # exactly as `base ** exp`


@signed("enumerate", "iterable, start=0")
def _enumerate(lw, p, node):
    return EnumerateVal(p.iterable, p.start)


@signed("zip", "*iterables, strict=False", unsupported="strict")
def _zip(lw, p, node):
    return ZipVal(list(p.iterables))


def _sequence(kind):
    @signed(kind.__name__, "iterable=(), /")
    def h(lw, p, node):
        v = p.iterable
        if isinstance(v, (tuple, list)):
            return lw.note_new_list(list(v)) if kind is list else tuple(v)
        if isinstance(v, dict):
            return lw.note_new_list(list(v)) if kind is list else tuple(v)
        if kind is list:
            return lw.list_from(v, node)
        raise ChainruleTypeError("tuple() of a value of run-time length", lw.b.loc,
                                 "use list(...) or np.array(...)")
    return h


@signed("print", "*args, sep=' ', end='\\n', file=None, flush=False")
def _print(lw, p, node):
    raise UnsupportedCallError("print() is not supported inside compiled functions", lw.b.loc,
                               "return the value (use has_aux=True for extra outputs)")


def builtin_handlers() -> dict:
    return {
        builtins.range: _range,
        builtins.len: _len,
        builtins.abs: _abs,
        builtins.min: _minmax("min", "minimum", min, "amin"),
        builtins.max: _minmax("max", "maximum", max, "amax"),
        builtins.sum: _sum,
        builtins.float: _cast("to_float", float),
        builtins.int: _cast("to_int", int, "x=None, /, base=10", "base"),
        builtins.bool: _cast("to_bool", bool),
        builtins.round: _round,
        builtins.pow: _pow,
        builtins.enumerate: _enumerate,
        builtins.zip: _zip,
        builtins.tuple: _sequence(tuple),
        builtins.list: _sequence(list),
        builtins.print: _print,
    }
