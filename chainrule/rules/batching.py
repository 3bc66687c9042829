"""Batch rules: each primitive applied to operands with a leading batch axis.

``transforms/batch_axis.py`` gives every value computed from a batched parameter one more
leading axis, the batch axis. A primitive's ``batch`` rule builds its batched result::

    batch(ctx, b, args, batched, out, **params) -> Atom | None

``args`` are the operands, the batched ones already with their batch axis (``batched`` flags
them); ``out`` is the unbatched result variable (its type is the example's). ``ctx`` offers
``ctx.size`` (the batch size), ``ctx.pad(x, ndim)`` (a batched ``x`` whose example gets axes of
size 1 in front, up to ``ndim`` dimensions, so that it broadcasts like the example did),
``ctx.spread(x)`` (an unbatched value copied into every example) and ``ctx.view(x)`` (the same
without a copy, read-only). A rule returns the batched result, or None where the primitive runs
one example at a time instead (the transform's loop over the batch, correct for every
primitive that computes a value). :func:`attach` sets the rules on the records of the table;
the families are listed below, and every other primitive loops (docs/vmap.md lists them).
"""

from __future__ import annotations

from .registry import Registry

# Elementwise primitives (NumPy broadcasting; scalars of the example become arrays of B).
ELEMENTWISE = frozenset({
    "abs", "add", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2", "arctanh",
    "cbrt", "ceil", "clip", "cos", "cosh", "div", "fdiv", "eq", "erf", "erfc", "exp", "expm1", "floor",
    "floordiv", "gamma", "ge", "gt", "hypot", "id", "le", "lgamma", "log", "log10", "log1p",
    "log2", "logical_and", "logical_not", "logical_or", "lt", "maximum", "minimum", "mod", "mul",
    "ne", "neg", "polygamma", "pow", "reciprocal", "round", "sign", "sin", "sinh", "sqrt",
    "square", "stop_gradient", "sub", "tan", "tanh", "where", "zmul", "astype", "copy",
    "zeros_like", "ones_like", "empty_like"})
# Scalar-only primitives and the elementwise primitive that does the same on arrays.
_SCALAR_TO_ARRAY = {"and_": "logical_and", "or_": "logical_or", "not_": "logical_not"}
_CASTS = {"to_float": "float64", "to_int": "int64", "to_bool": "bool"}
REDUCTIONS = frozenset({"sum", "mean", "prod", "amax", "amin", "argmax", "argmin"})


def _shift(axis, ndim: int):
    """An axis (or tuple of axes) of the example as an axis of the batched array."""
    if isinstance(axis, tuple):
        return tuple(_shift(a, ndim) for a in axis)
    return axis + 1 if axis >= 0 else axis


def _elementwise(prim: str):
    def rule(ctx, b, args, batched, out, **params):
        n = out.type.ndim
        ops = [ctx.pad(a, n) if f else a for a, f in zip(args, batched)]
        if "scalar" in params:  # (zmul's flag: both operands scalars)
            params["scalar"] = all(a.type.ndim == 0 for a in ops)
        return b.emit(prim, *ops, **params)
    return rule


def _cast(dtype: str):
    def rule(ctx, b, args, batched, out, **params):
        return b.astype(args[0], dtype=dtype)
    return rule


def _reduction(prim: str):
    def rule(ctx, b, args, batched, out, axis=None, **params):
        x = args[0]
        n = x.type.ndim - 1
        if n == 0:
            return None
        if axis is None:
            r = b.emit(prim, _flat(ctx, b, x), axis=1,
                       **{k: v for k, v in params.items() if k != "keepdims"})
            if params.get("keepdims"):
                r = b.reshape(r, ctx.size, *([1] * n))
            return r
        return b.emit(prim, x, axis=_shift(axis, n), **params)
    return rule


def _flat(ctx, b, x):
    return b.reshape(x, ctx.size, -1)


def _cumsum(ctx, b, args, batched, out, axis=None, **params):
    x = args[0]
    if axis is None:
        return b.cumsum(_flat(ctx, b, x), axis=1, **params)
    return b.cumsum(x, axis=_shift(axis, x.type.ndim - 1), **params)


# -- shapes -------------------------------------------------------------------------------------
def _reshape(ctx, b, args, batched, out, **params):
    if any(batched[1:]):
        return None
    if "ndim" in params:
        params["ndim"] = params["ndim"] + 1
    return _value(b, b.reshape(args[0], ctx.size, *args[1:], **params), out)


def _ravel(ctx, b, args, batched, out, **params):
    return _flat(ctx, b, args[0])


def _axis_param(prim: str):
    def rule(ctx, b, args, batched, out, axis=None, **params):
        if axis is None:
            return None
        r = b.emit(prim, args[0], axis=_shift(axis, args[0].type.ndim - 1), **params)
        return _value(b, r, out)
    return rule


def _transpose(ctx, b, args, batched, out, axes=None, **params):
    n = args[0].type.ndim - 1
    if axes is None:
        new = (0,) + tuple(range(n, 0, -1))
    else:
        new = (0,) + tuple(a % n + 1 for a in axes)
    return b.transpose(args[0], axes=new, **params)


def _broadcast_to(ctx, b, args, batched, out, **params):
    if any(batched[1:]):
        return None
    dims = args[1:]
    return b.broadcast_to(ctx.pad(args[0], len(dims)), ctx.size, *dims, **params)


def _joined(prim: str):
    def rule(ctx, b, args, batched, out, axis=0, **params):
        ops = [a if f else ctx.view(a) for a, f in zip(args, batched)]
        return b.emit(prim, *ops, axis=_shift(axis, out.type.ndim), **params)
    return rule


def _pack(ctx, b, args, batched, out, dtype=None, **params):
    ops = [a if f else ctx.view(a) for a, f in zip(args, batched)]
    r = b.stack(*ops, axis=1)
    return r if dtype is None or r.type.dtype == dtype else b.astype(r, dtype=dtype)


def _full_like(ctx, b, args, batched, out, dtype=None, **params):
    x, v = args
    like = x if batched[0] else ctx.view(x)
    if not batched[1]:
        return b.full_like(like, v, dtype=dtype, **params)
    r = b.broadcast_like(ctx.pad(v, x.type.ndim - batched[0]), like)
    dt = dtype or out.type.dtype
    return r if r.type.dtype == dt else b.astype(r, dtype=dt)


# -- indexing ---------------------------------------------------------------------------------
def index_keeps_place(spec: tuple) -> bool:
    """Whether ``x[(slice(None),) + index]`` is ``x[index]`` with the batch axis in front: true
    unless advanced indices (arrays, masks, and integers beside them) are separated, which
    NumPy moves to the front of the result."""
    adv = [k for k, code in enumerate(spec) if code in ("a", "m")]
    if not adv:
        return True
    pos = [k for k, code in enumerate(spec) if code in ("a", "m", "i")]
    return pos == list(range(pos[0], pos[-1] + 1))


def _getitem(ctx, b, args, batched, out, spec, **params):
    if any(batched[1:]) or not index_keeps_place(spec):
        return None
    r = b.getitem(args[0], *args[1:], spec=("s000",) + tuple(spec), **params)
    return _value(b, r, out)


def _value(b, r, out):
    """A scalar of the example is a value, not a view of an array that may be written later:
    its batched form is a copy."""
    return b.copy(r) if out.type.ndim == 0 else r


def _shape(ctx, b, args, batched, out, axis, **params):
    return b.shape(args[0], axis=_shift(axis, args[0].type.ndim - 1), **params)


def _size(ctx, b, args, batched, out, **params):
    return b.floordiv(b.size(args[0]), ctx.size)


# -- linear algebra -----------------------------------------------------------------------------
def _matmul(ctx, b, args, batched, out, **params):
    """``a @ c`` with either or both operands batched, as one matrix product where NumPy's
    broadcasting allows (a batched vector times a matrix is a matrix times its transpose)."""
    a, c = args
    fa, fc = batched
    na, nc = a.type.ndim - fa, c.type.ndim - fc
    if na == 0 or nc == 0:
        return None
    if na >= 2 and nc >= 2:
        if fc and not fa and na == 2:  # (a @ c[k] = (c[k]^T a^T)^T: one matrix product)
            swap = tuple(range(nc - 1)) + (nc, nc - 1)
            r = b.matmul(b.transpose(c, axes=swap), b.transpose(a, axes=None))
            return b.transpose(r, axes=swap)
        n = max(na, nc)
        return b.matmul(ctx.pad(a, n) if fa else a, ctx.pad(c, n) if fc else c)
    if na == 1 and nc == 1:
        if fa and fc:
            return b.sum(b.mul(a, c), axis=1)
        return b.matmul(a, c) if fa else b.matmul(c, a)
    if na == 1:  # vector @ matrix (stack)
        if not fa:
            return b.matmul(a, c)
        if not fc and nc == 2:
            return b.matmul(a, c)
        if nc == 2:
            return b.squeeze(b.matmul(b.expand_dims(a, axis=1), c), axis=1)
        return None
    # matrix (stack) @ vector
    if not fc:
        return b.matmul(a, c)
    if not fa and na == 2:
        return b.matmul(c, b.transpose(a, axes=None))
    col = ctx.pad(b.expand_dims(c, axis=-1), na)
    return b.squeeze(b.matmul(ctx.pad(a, na) if fa else a, col), axis=-1)


def _dot(ctx, b, args, batched, out, **params):
    if any(a.type.ndim - f == 0 for a, f in zip(args, batched)):
        return None
    return _matmul(ctx, b, args, batched, out)


def _outer(ctx, b, args, batched, out, **params):
    a, c = args
    a2 = b.expand_dims(a, axis=2 if batched[0] else 1)
    c2 = b.expand_dims(c, axis=1) if batched[1] else c
    return b.mul(a2, c2)


def _solve(ctx, b, args, batched, out, **params):
    a, c = args
    if batched[0] or c.type.ndim != 2:  # (a batched vector right-hand side only)
        return None
    return b.transpose(b.solve(a, b.transpose(c, axes=None)), axes=None)


# -- adjoint bookkeeping -------------------------------------------------------------------------
def _like_second(prim: str):
    """``materialize`` and ``dematerialize``: the first operand's values, the second's shape."""
    def rule(ctx, b, args, batched, out, **params):
        x, like = args
        x = x if batched[0] else ctx.spread(x)
        like = like if batched[1] else ctx.view(like)
        return b.emit(prim, x, like, **params)
    return rule


def _unbroadcast(ctx, b, args, batched, out, **params):
    g, like = args
    if not batched[0]:
        return None
    n_like = like.type.ndim - batched[1]
    extra = g.type.ndim - 1 - n_like
    if n_like == 0:
        return b.sum(_flat(ctx, b, g), axis=1)
    if extra > 0:
        g = b.sum(g, axis=tuple(range(1, extra + 1)))
    return b.unbroadcast(g, like if batched[1] else ctx.view(like), **params)


def _broadcast_like(prim: str):
    def rule(ctx, b, args, batched, out, **params):
        g, like = args
        if not batched[0]:
            return b.emit(prim, g, like, **params)
        n = like.type.ndim - batched[1]
        return b.emit(prim, ctx.pad(g, n), like if batched[1] else ctx.view(like), **params)
    return rule


def attach(table: Registry) -> None:
    """Set the ``batch`` rule of every primitive that has one."""
    rules = {name: _elementwise(name) for name in ELEMENTWISE}
    rules.update({name: _elementwise(arr) for name, arr in _SCALAR_TO_ARRAY.items()})
    rules.update({name: _cast(dt) for name, dt in _CASTS.items()})
    rules.update({name: _reduction(name) for name in REDUCTIONS})
    rules.update({
        "cumsum": _cumsum, "reshape": _reshape, "ravel": _ravel, "transpose": _transpose,
        "squeeze": _axis_param("squeeze"), "expand_dims": _axis_param("expand_dims"),
        "flip": _axis_param("flip"), "broadcast_to": _broadcast_to,
        "concatenate": _joined("concatenate"), "stack": _joined("stack"), "pack": _pack,
        "full_like": _full_like, "getitem": _getitem, "shape": _shape, "size": _size,
        "matmul": _matmul, "dot": _dot, "inner": _dot, "outer": _outer, "solve": _solve,
        "materialize": _like_second("materialize"),
        "dematerialize": _like_second("dematerialize"), "unbroadcast": _unbroadcast,
        "broadcast_like": _broadcast_like("broadcast_like"),
        "broadcast_as": _broadcast_like("broadcast_as"),
    })
    for name, rule in rules.items():
        if name in table:
            table[name].batch = rule


__all__ = ["ELEMENTWISE", "REDUCTIONS", "attach", "index_keeps_place"]
