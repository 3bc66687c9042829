"""More NumPy / SciPy functions, each lowered to a composition of existing primitives.

Statistics (``var std``), matrix helpers (``diag trace tril triu kron``), array manipulation
(``diff roll flip tile repeat append vstack hstack``), ``logaddexp``, ``real``, ``round`` with
``decimals``, ``np.linalg.norm`` with ``ord``/``axis``/``keepdims`` and
``scipy.special.logsumexp``/``expit`` (other special functions: :mod:`.special_api`). No function here has a rule of its own: derivatives (every
order and mode, and every backend) come from the primitives the composition emits. Shapes are
run-time values, so sizes are read with ``shape`` and positions built with ``arange``. Contractions
(``einsum``, ``tensordot``) live in :mod:`.numpy_contract`.
"""

from __future__ import annotations

import numpy as np

from ..errors import ChainruleTypeError, UnsupportedCallError
from ..ir.builder import const
from .numpy_args import atom, axis_param, static_flag
from .numpy_reduce import _reduce
from .signatures import Signed
from .values import static_number

ALL = "s000"  # the index code of a full slice ``:``


def axes_of(lw, axis, ndim: int, name: str) -> tuple:
    """``axis`` (None, an int or a tuple) as a tuple of non-negative static axes."""
    ax = axis_param(lw, axis)
    if ax is None:
        return tuple(range(ndim))
    ax = ax if isinstance(ax, tuple) else (ax,)
    for a in ax:
        if not -ndim <= a < max(ndim, 1):
            raise ChainruleTypeError(f"`{name}`: axis {a} is out of bounds for an array of "
                                     f"ndim {ndim}", lw.b.loc)
    return tuple(a % ndim for a in ax) if ndim else ()


def static_int(lw, v, name: str, what: str) -> int:
    if static_number(v) and not isinstance(v.value, float):
        return int(v.value)
    raise ChainruleTypeError(f"`{name}`: `{what}` must be a compile-time integer", lw.b.loc,
                             f"write {what} as an integer literal")


def along(b, x, axis: int, code: str, *atoms):
    """``x[:, ..., <code>, ...]`` with ``code`` (a slice or ``"a"``) at position ``axis``."""
    return b.getitem(x, *atoms, spec=(ALL,) * axis + (code,))


def dim(b, x, axis: int):
    return b.shape(x, axis=axis)


# -- statistics ---------------------------------------------------------------------------------
def _var(lw, p, node, name="np.var"):
    b = lw.b
    x = atom(lw, p.a)
    if not x.type.is_float:
        x = b.astype(x, dtype="float64")
    keep = static_flag(lw, p.keepdims, name, "keepdims")
    axes = axes_of(lw, p.axis, x.type.ndim, name)
    if x.type.ndim == 0:
        return b.mul(b.sub(x, x), 0.0)
    ax = axes if len(axes) > 1 else axes[0]
    centred = b.sub(x, b.mean(x, axis=ax, keepdims=True))
    total = b.sum(b.square(centred), axis=ax, keepdims=keep)
    count = const(1)
    for a in axes:
        count = b.mul(count, dim(b, x, a))
    return b.div(total, b.sub(count, atom(lw, p.ddof)))


def _std(lw, p, node):
    return lw.b.sqrt(_var(lw, p, node, "np.std"))


# -- matrices -----------------------------------------------------------------------------------
def _need_k0(lw, p, name):
    if static_int(lw, p.k, name, "k") != 0:
        raise UnsupportedCallError(f"`{name}` with k != 0 is not supported", lw.b.loc,
                                   "slice the result (e.g. x[:-1, 1:]) to reach an off-diagonal")


def diagonal_of(lw, x):
    """The main diagonal of the 2-D ``x`` (length min(rows, cols))."""
    b = lw.b
    n = b.minimum(dim(b, x, 0), dim(b, x, 1))
    step = b.add(dim(b, x, 1), const(1))
    flat_positions = b.mul(b.arange(const(0), n, const(1)), step)
    return b.getitem(b.ravel(x), flat_positions, spec=("a",))


def _diag(lw, p, node):
    _need_k0(lw, p, "np.diag")
    b = lw.b
    v = atom(lw, p.v)
    if v.type.ndim == 1:
        return b.mul(b.eye(b.size(v)), v)
    if v.type.ndim == 2:
        return diagonal_of(lw, v)
    raise ChainruleTypeError("np.diag takes a 1-D or 2-D array", b.loc)


def _trace(lw, p, node):
    b = lw.b
    x = atom(lw, p.a)
    pair = tuple(static_int(lw, a, "np.trace", "axis") for a in (p.axis1, p.axis2))
    if x.type.ndim != 2 or static_int(lw, p.offset, "np.trace", "offset") != 0 \
            or pair not in ((0, 1), (1, 0)):
        raise UnsupportedCallError("np.trace is supported for 2-D arrays with offset=0", b.loc,
                                   "use np.sum(np.diag(x)) after transposing/slicing")
    return b.sum(diagonal_of(lw, x), axis=None, keepdims=False)


def _triangle(lower: bool):
    name = "np.tril" if lower else "np.triu"

    def h(lw, p, node):
        b = lw.b
        x = atom(lw, p.m)
        nd = x.type.ndim
        if nd < 2:
            raise ChainruleTypeError(f"`{name}` takes an array of 2 or more dimensions", b.loc)
        rows = b.arange(const(0), dim(b, x, nd - 2), const(1))
        cols = b.arange(const(0), dim(b, x, nd - 1), const(1))
        rows = b.getitem(rows, spec=(ALL, "n"))
        shifted = b.add(rows, atom(lw, p.k))
        keep = b.ge(shifted, cols) if lower else b.le(shifted, cols)
        return b.where(keep, x, b.zeros_like(x))
    return h


def _kron(lw, p, node):
    b = lw.b
    x, y = atom(lw, p.a), atom(lw, p.b)
    if x.type.ndim == y.type.ndim == 1:
        return b.ravel(b.outer(x, y))
    if x.type.ndim == 1 and y.type.ndim == 2:
        x = b.getitem(x, spec=("n", ALL))
    if y.type.ndim == 1 and x.type.ndim == 2:
        y = b.getitem(y, spec=("n", ALL))
    if x.type.ndim != 2 or y.type.ndim != 2:
        raise UnsupportedCallError("np.kron is supported for 1-D and 2-D arrays", b.loc,
                                   "reshape the operands to 2-D first")
    xe = b.getitem(x, spec=(ALL, "n", ALL, "n"))
    ye = b.getitem(y, spec=("n", ALL, "n", ALL))
    prod = b.mul(xe, ye)
    return b.reshape(prod, b.mul(dim(b, x, 0), dim(b, y, 0)), b.mul(dim(b, x, 1), dim(b, y, 1)))


# -- array manipulation ---------------------------------------------------------------------------
def _diff(lw, p, node):
    b = lw.b
    x = atom(lw, p.a)
    if x.type.ndim == 0:
        raise ChainruleTypeError("np.diff needs an array of at least one dimension", b.loc)
    if p.prepend is not None or p.append is not None:
        raise UnsupportedCallError("np.diff: prepend=/append= are not supported", b.loc,
                                   "concatenate the values first")
    (axis,) = axes_of(lw, p.axis, x.type.ndim, "np.diff")
    for _ in range(static_int(lw, p.n, "np.diff", "n")):
        x = b.sub(along(b, x, axis, "s100", const(1)), along(b, x, axis, "s010", const(-1)))
    return x


def _roll(lw, p, node):
    b = lw.b
    x = atom(lw, p.a)
    if isinstance(p.shift, tuple):
        raise UnsupportedCallError("np.roll with a tuple of shifts is not supported", b.loc,
                                   "call np.roll once per axis")
    flat = p.axis is None
    y = b.ravel(x) if flat else x
    (axis,) = (0,) if flat else axes_of(lw, p.axis, x.type.ndim, "np.roll")
    n = dim(b, y, axis)
    idx = b.mod(b.sub(b.arange(const(0), n, const(1)), atom(lw, p.shift)), n)
    out = along(b, y, axis, "a", idx)
    if flat and x.type.ndim != 1:
        return b.reshape(out, *[dim(b, x, i) for i in range(x.type.ndim)])
    return out


def _flip(lw, p, node):
    x = atom(lw, p.m)
    axes = axes_of(lw, p.axis, x.type.ndim, "np.flip")
    for a in axes:
        x = lw.b.flip(x, axis=a)
    return x


def _static_ints(lw, v, name, what) -> tuple:
    vals = v if isinstance(v, (tuple, list)) else (v,)
    return tuple(static_int(lw, r, name, what) for r in vals)


def _tile(lw, p, node):
    b = lw.b
    x = atom(lw, p.A)
    reps = _static_ints(lw, p.reps, "np.tile", "reps")
    nd = max(x.type.ndim, len(reps))
    reps = (1,) * (nd - len(reps)) + reps
    if x.type.ndim < nd:
        x = b.getitem(x, spec=("n",) * (nd - x.type.ndim) + ("e",))
    for axis, r in enumerate(reps):
        if r < 1:
            raise UnsupportedCallError("np.tile with reps < 1 is not supported", b.loc)
        if r > 1:
            x = b.concatenate(*([x] * r), axis=axis)
    return x


def _repeat(lw, p, node):
    b = lw.b
    x = atom(lw, p.a)
    r = atom(lw, p.repeats)
    if r.type.ndim != 0 or r.type.is_float:
        raise UnsupportedCallError("np.repeat takes an integer number of repeats", b.loc,
                                   "per-element repeat counts are not supported")
    if p.axis is None:
        x, axis = b.ravel(x), 0
    else:
        (axis,) = axes_of(lw, p.axis, x.type.ndim, "np.repeat")
    idx = b.floordiv(b.arange(const(0), b.mul(dim(b, x, axis), r), const(1)), r)
    return along(b, x, axis, "a", idx)


def _append(lw, p, node):
    b = lw.b
    x, v = atom(lw, p.arr), atom(lw, p.values)
    if p.axis is None:
        return b.concatenate(b.ravel(x), b.ravel(v), axis=0)
    (axis,) = axes_of(lw, p.axis, x.type.ndim, "np.append")
    return b.concatenate(x, v, axis=axis)


def _arrays(lw, p, name):
    seq = p.tup
    if not isinstance(seq, (tuple, list)):
        raise ChainruleTypeError(f"{name} needs a tuple or list of arrays", lw.b.loc)
    return [atom(lw, a) for a in seq]


def _vstack(lw, p, node):
    b = lw.b
    rows = [b.getitem(a, spec=("n", "e")) if a.type.ndim < 2 else a
            for a in _arrays(lw, p, "np.vstack")]
    if any(a.type.ndim == 1 for a in rows):
        raise ChainruleTypeError("np.vstack of scalars is not supported", b.loc)
    return b.concatenate(*rows, axis=0)


def _hstack(lw, p, node):
    arrs = _arrays(lw, p, "np.hstack")
    arrs = [lw.b.getitem(a, spec=("n",)) if a.type.ndim == 0 else a for a in arrs]
    return lw.b.concatenate(*arrs, axis=0 if arrs[0].type.ndim == 1 else 1)


# -- elementwise ---------------------------------------------------------------------------------
def _logaddexp(lw, p, node):
    """``m + log(exp(x - m) + exp(y - m))`` with ``m = max(x, y)`` held constant: the result
    does not depend on ``m``, so its derivative (``exp(x - out)``, ...) needs none of max's."""
    b = lw.b
    x, y = atom(lw, p.x), atom(lw, p.y)
    m = _finite_shift(b, b.maximum(x, y))
    return b.add(m, b.log(b.add(b.exp(b.sub(x, m)), b.exp(b.sub(y, m)))))


def _real(lw, p, node):
    return atom(lw, p.val)


def _round(lw, p, node):
    b = lw.b
    digits = static_int(lw, p.decimals, "np.round", "decimals")
    if static_number(p.a):
        return const(float(np.round(p.a.value, digits)))
    x = atom(lw, p.a)
    if digits == 0:
        return b.round(x)
    scale = 10.0 ** digits
    return b.div(b.round(b.mul(x, scale)), scale)


def _expit(lw, p, node):
    """``(1 + tanh(x / 2)) / 2``: no overflow for large ``|x|``, in values or derivatives."""
    b = lw.b
    return b.mul(b.add(b.tanh(b.mul(atom(lw, p.x), 0.5)), 1.0), 0.5)


def _logsumexp(lw, p, node):
    """``log(sum(b * exp(a - m))) + m`` with ``m = max(a)`` held constant (0 where infinite);
    ``b`` (scale factors, broadcast against ``a``) is differentiable too."""
    b = lw.b
    x = atom(lw, p.a)
    scale = None if p.b is None else atom(lw, p.b)
    if static_flag(lw, p.return_sign, "logsumexp", "return_sign"):
        raise UnsupportedCallError("scipy.special.logsumexp: return_sign= is not supported",
                                   b.loc, "keep b >= 0 (the result is then the log of a "
                                   "non-negative sum)")
    keep = static_flag(lw, p.keepdims, "logsumexp", "keepdims")
    if scale is not None and scale.type.ndim > x.type.ndim:
        x = b.add(x, b.zeros_like(scale))
    if x.type.ndim == 0:
        return x if scale is None else b.add(x, b.log(scale))
    axes = axes_of(lw, p.axis, x.type.ndim, "logsumexp")
    ax = axes if len(axes) > 1 else axes[0]
    m_kept = _finite_shift(b, b.amax(x, axis=ax, keepdims=True))
    terms = b.exp(b.sub(x, m_kept))
    if scale is not None:
        terms = b.mul(terms, scale)
    total = b.sum(terms, axis=ax, keepdims=keep)
    m = m_kept if keep else _finite_shift(b, b.amax(x, axis=ax, keepdims=False))
    return b.add(b.log(total), m)


def logsumexp_kept(b, x, ax):
    """``logsumexp(x, axis=ax, keepdims=True)`` (the composition of ``_logsumexp``)."""
    m = _finite_shift(b, b.amax(x, axis=ax, keepdims=True))
    return b.add(b.log(b.sum(b.exp(b.sub(x, m)), axis=ax, keepdims=True)), m)


def _finite_shift(b, m):
    """``m`` without derivative, and 0 where it is infinite (so ``x - m`` stays finite)."""
    m = b.stop_gradient(m)
    return b.where(b.eq(b.abs(m), float("inf")), const(0.0), m)


# -- norms -----------------------------------------------------------------------------------------
def safe_sqrt(b, s):
    """sqrt(s) whose derivative at s = 0 is 0 (the convention of the ``norm`` primitive)."""
    zero = b.eq(s, 0.0)
    return b.where(zero, b.mul(s, 0.0), b.sqrt(b.where(zero, b.add(b.mul(s, 0.0), 1.0), s)))


def _norm(lw, p, node):
    b = lw.b
    x = atom(lw, p.x)
    keep = static_flag(lw, p.keepdims, "np.linalg.norm", "keepdims")
    ordv = p.ord.value if static_number(p.ord) else p.ord
    if p.axis is None and ordv is None and not keep:
        return b.norm(x)
    axes = axes_of(lw, p.axis, x.type.ndim, "np.linalg.norm")
    if ordv == "fro" or ordv is None:
        if ordv == "fro" and len(axes) != 2:
            raise ChainruleTypeError("np.linalg.norm: ord='fro' needs a 2-D array or 2 axes",
                                     b.loc)
        ordv = 2
    elif len(axes) != 1:
        raise UnsupportedCallError(f"np.linalg.norm with ord={ordv!r} is supported for "
                                   "vectors (one axis) only", b.loc,
                                   "matrix norms other than 'fro' are not supported")
    ax = axes if len(axes) > 1 else axes[0]
    a = b.abs(x)
    if ordv == 2:
        return safe_sqrt(b, _reduce(lw, "sum", b.square(x), ax, keep))
    if ordv == 1:
        return _reduce(lw, "sum", a, ax, keep)
    if ordv == float("inf"):
        return _reduce(lw, "amax", a, ax, keep)
    if ordv == float("-inf"):
        return _reduce(lw, "amin", a, ax, keep)
    raise UnsupportedCallError(f"np.linalg.norm: ord={ordv!r} is not supported", b.loc,
                               "use ord=None, 1, 2, np.inf, -np.inf or 'fro'")


def more_handlers() -> dict:
    """{callable: Signed handler} of this module (merged into the NumPy table)."""
    reduce_kw = "a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True, " \
                "mean=None, correction=None"
    t = {
        np.var: Signed("np.var", reduce_kw, _var, "dtype out where mean correction"),
        np.std: Signed("np.std", reduce_kw, _std, "dtype out where mean correction"),
        np.diag: Signed("np.diag", "v, k=0", _diag),
        np.trace: Signed("np.trace", "a, offset=0, axis1=0, axis2=1, dtype=None, out=None",
                         _trace, "dtype out"),
        np.tril: Signed("np.tril", "m, k=0", _triangle(True)),
        np.triu: Signed("np.triu", "m, k=0", _triangle(False)),
        np.kron: Signed("np.kron", "a, b", _kron),
        np.diff: Signed("np.diff", "a, n=1, axis=-1, prepend=None, append=None", _diff),
        np.roll: Signed("np.roll", "a, shift, axis=None", _roll),
        np.flip: Signed("np.flip", "m, axis=None", _flip),
        np.tile: Signed("np.tile", "A, reps", _tile),
        np.repeat: Signed("np.repeat", "a, repeats, axis=None", _repeat),
        np.append: Signed("np.append", "arr, values, axis=None", _append),
        np.vstack: Signed("np.vstack", "tup, *, dtype=None, casting='same_kind'", _vstack,
                          "dtype casting"),
        np.hstack: Signed("np.hstack", "tup, *, dtype=None, casting='same_kind'", _hstack,
                          "dtype casting"),
        np.real: Signed("np.real", "val", _real),
        np.round: Signed("np.round", "a, decimals=0, out=None", _round, "out"),
        np.linalg.norm: Signed("np.linalg.norm", "x, ord=None, axis=None, keepdims=False",
                               _norm),
    }
    t[np.around] = t[np.round]
    ufunc_kw = "out=None, *, where=True, casting='same_kind', order='K', dtype=None, " \
               "subok=True, signature=None"
    t[np.logaddexp] = Signed("np.logaddexp", f"x, y, /, {ufunc_kw}", _logaddexp,
                             "out where casting order dtype subok signature")
    return t


def more_scipy_handlers(sp) -> dict:
    """Handlers of ``scipy.special`` functions built from other primitives (``sp``: the
    module, imported by the user's code)."""
    ufunc_kw = "out=None, *, where=True, casting='same_kind', order='K', dtype=None, " \
               "subok=True, signature=None"
    return {sp.logsumexp: Signed("scipy.special.logsumexp",
                                 "a, axis=None, b=None, keepdims=False, return_sign=False",
                                 _logsumexp),
            sp.expit: Signed("scipy.special.expit", f"x, /, {ufunc_kw}", _expit,
                             "out where casting order dtype subok signature")}
