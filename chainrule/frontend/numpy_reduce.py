"""Reductions (``np.sum``, ``np.mean``, ``np.prod``, ``np.max``/``np.min``, ``argmax``,
``cumsum``) with their ``axis``/``keepdims``/``where``/``initial`` arguments, and the ranges
``np.arange``/``np.linspace`` with ``dtype``/``endpoint``.

``where=m`` is lowered as the reduction of ``np.where(m, x, identity)`` (for ``mean``: the masked
sum over the masked count), ``initial=v`` as one more combination with ``v``, so derivatives come
from the rules of ``where`` and of the reduction.
"""

from __future__ import annotations

from ..errors import ChainruleTypeError, UnsupportedKeywordError
from ..ir.builder import const
from .numpy_args import atom, axis_param, dtype_of, is_static_true, static_flag

_IDENTITY = {"sum": 0.0, "prod": 1.0, "amax": float("-inf"), "amin": float("inf")}
_COMBINE = {"sum": "add", "prod": "mul", "amax": "maximum", "amin": "minimum"}
_SCALAR_IS_RESULT = ("sum", "prod", "amax", "amin", "mean")


def reduction(prim: str, name: str):
    def h(lw, p, node):
        x = atom(lw, p.a)
        axis = axis_param(lw, p.axis)
        keep = static_flag(lw, getattr(p, "keepdims", False), name, "keepdims")
        where = getattr(p, "where", True)
        masked = not is_static_true(where)
        initial = getattr(p, "initial", None)
        b = lw.b
        if masked:
            if prim in ("amax", "amin") and initial is None:
                raise UnsupportedKeywordError(
                    f"`{name}` with `where=` needs `initial=` (the reduction has no identity)",
                    b.loc, "pass initial=..., as NumPy requires")
            m = atom(lw, where)
            if prim == "mean":
                total = _reduce(lw, "sum", b.where(m, x, const(0.0)), axis, keep)
                count = _reduce(lw, "sum", b.where(m, b.ones_like(x), b.zeros_like(x)), axis,
                                keep)
                return b.div(total, count)
            x = b.where(m, x, const(_IDENTITY[prim]))
        if prim == "cumsum":
            return b.emit(prim, x, axis=axis)
        out = _reduce(lw, prim, x, axis, keep)
        if initial is not None:
            out = b.emit(_COMBINE[prim], out, atom(lw, initial))
        return out
    return h


def _reduce(lw, prim: str, x, axis, keep: bool):
    if x.type.ndim == 0 and prim in _SCALAR_IS_RESULT:
        return x
    return lw.b.emit(prim, x, axis=axis, keepdims=keep)


def arange(lw, p, node):
    first, stop = p.start_or_stop, p.stop
    start, stop = (const(0), first) if stop is None else (first, stop)
    out = lw.b.arange(atom(lw, start), atom(lw, stop), atom(lw, p.step))
    if p.dtype is None:
        return out
    dtype = dtype_of(lw, p.dtype)
    if dtype == out.type.dtype:
        return out
    if out.type.dtype == "int64" and dtype in ("float64", "float32"):
        return lw.b.astype(out, dtype=dtype)
    raise ChainruleTypeError(f"np.arange with dtype={dtype} of {out.type.dtype} bounds is not "
                             "supported", lw.b.loc, "pass bounds of the wanted dtype")


def linspace(lw, p, node):
    b = lw.b
    start, stop, num = atom(lw, p.start), atom(lw, p.stop), atom(lw, p.num)
    if static_flag(lw, p.endpoint, "np.linspace", "endpoint"):
        out = b.linspace(start, stop, num)
    else:
        step = b.div(b.sub(stop, start), b.maximum(num, const(1)))
        out = b.add(start, b.mul(b.arange(const(0), num, const(1)), step))
    if p.dtype is not None:
        dtype = dtype_of(lw, p.dtype)
        if dtype not in ("float64", "float32"):
            raise ChainruleTypeError("np.linspace with an integer dtype is not supported",
                                     b.loc, "round the float result explicitly")
        if dtype != out.type.dtype:
            out = b.astype(out, dtype=dtype)
    return out
