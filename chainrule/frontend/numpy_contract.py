"""Tensor contractions ``np.tensordot`` and ``np.einsum``, lowered to ``transpose``,
``reshape``, ``sum``, ``matmul`` and broadcasting products (no primitive of their own, so
every derivative mode comes from those rules).

A two-operand contraction groups the letters (axes) into batch letters (in both operands and the
output), contracted letters (in both, not in the output) and the free letters of each operand; it
transposes each operand to ``(batch, free, contracted)`` / ``(batch, contracted, free)``, flattens
each group into one axis, multiplies with one ``matmul`` (with batch letters: a broadcast product
summed over the contracted axis) and unflattens. A letter found in
one operand only and not in the output is summed first. More than two operands are contracted
left to right. One operand supports summing, transposing and the diagonal of a square matrix
(``'ii->'``, ``'ii->i'``). Ellipses and other repeated letters are rejected.
"""

from __future__ import annotations

from ..errors import ChainruleTypeError, UnsupportedCallError
from ..ir.builder import const
from .numpy_args import atom
from .numpy_more import diagonal_of, static_int
from .signatures import Signed
from .values import static_number


class _Operand:
    """An array with one letter per axis."""

    def __init__(self, x, letters: str):
        self.x, self.letters = x, letters

    def dim(self, b, letter: str):
        return b.shape(self.x, axis=self.letters.index(letter))


def _product(b, dims: list):
    out = const(1)
    for d in dims:
        out = b.mul(out, d)
    return out


def _permute(b, op: _Operand, order: str) -> _Operand:
    if order == op.letters:
        return op
    axes = tuple(op.letters.index(c) for c in order)
    return _Operand(b.transpose(op.x, axes=axes), order)


def _sum_out(b, op: _Operand, keep: str) -> _Operand:
    """Sum the axes of ``op`` whose letter is not in ``keep``."""
    drop = tuple(i for i, c in enumerate(op.letters) if c not in keep)
    if not drop:
        return op
    letters = "".join(c for c in op.letters if c in keep)
    axis = drop if len(drop) > 1 else drop[0]
    return _Operand(b.sum(op.x, axis=axis, keepdims=False), letters)


def _grouped(b, op: _Operand, order: str, groups: list, dims: dict):
    """``op`` transposed to ``order`` (the groups one after the other) and reshaped to one axis
    per group (an empty group gives an axis of length 1)."""
    x = _permute(b, op, order).x
    if all(len(g) == 1 for g in groups):
        return x
    return b.reshape(x, *[_product(b, [dims[c] for c in g]) for g in groups])


def contract_pair(b, x: _Operand, y: _Operand, out: str) -> _Operand:
    """The contraction of ``x`` and ``y`` whose result has the letters ``out`` (any order)."""
    x = _sum_out(b, x, y.letters + out)
    y = _sum_out(b, y, x.letters + out)
    if not x.letters or not y.letters:
        return _Operand(b.mul(x.x, y.x), x.letters + y.letters)
    batch = "".join(c for c in x.letters if c in y.letters and c in out)
    summed = "".join(c for c in x.letters if c in y.letters and c not in out)
    free_x = "".join(c for c in x.letters if c not in y.letters)
    free_y = "".join(c for c in y.letters if c not in x.letters)
    dims = {c: x.dim(b, c) for c in x.letters}
    dims.update({c: y.dim(b, c) for c in y.letters if c not in dims})
    lead = [batch] if batch else []
    xm = _grouped(b, x, batch + free_x + summed, lead + [free_x, summed], dims)
    ym = _grouped(b, y, batch + summed + free_y, lead + [summed, free_y], dims)
    if batch:  # (B, FX, C) x (B, C, FY) by broadcasting: runs on every backend
        prod = b.sum(b.mul(b.getitem(xm, spec=("s000",) * 3 + ("n",)),
                           b.getitem(ym, spec=("s000", "n", "s000", "s000"))),
                     axis=2, keepdims=False)
    else:
        prod = b.matmul(xm, ym)
    letters = batch + free_x + free_y
    if not letters:
        return _Operand(b.sum(prod, axis=None, keepdims=False), "")
    if len(batch) <= 1 and len(free_x) == 1 and len(free_y) == 1:
        return _Operand(prod, letters)
    return _Operand(b.reshape(prod, *[dims[c] for c in letters]), letters)


# -- einsum ---------------------------------------------------------------------------------------
def _parse(lw, subscripts: str, n: int):
    spec = subscripts.replace(" ", "")
    if "." in spec:
        raise UnsupportedCallError("np.einsum with '...' is not supported", lw.b.loc,
                                   "write every axis letter explicitly")
    inputs, arrow, out = spec.partition("->")
    terms = inputs.split(",")
    if len(terms) != n:
        raise ChainruleTypeError(f"np.einsum: '{subscripts}' names {len(terms)} operands but "
                                 f"{n} were given", lw.b.loc)
    if not arrow:
        letters = "".join(terms)
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    if not all(c.isalpha() for c in "".join(terms) + out) or len(set(out)) != len(out):
        raise ChainruleTypeError(f"np.einsum: invalid subscripts '{subscripts}'", lw.b.loc)
    return terms, out


def _single(lw, op: _Operand, out: str) -> _Operand:
    b = lw.b
    letters = op.letters
    if len(set(letters)) != len(letters):
        if len(letters) == 2 and op.x.type.ndim == 2 and out in ("", letters[0]):
            d = diagonal_of(lw, op.x)
            return _Operand(b.sum(d, axis=None, keepdims=False) if not out else d, out)
        raise UnsupportedCallError("np.einsum: a letter repeated within one operand is "
                                   "supported only as 'ii->' or 'ii->i'", b.loc,
                                   "take the diagonal with np.diag first")
    return _sum_out(b, op, out)


def _einsum(lw, p, node):
    b = lw.b
    subscripts = p.subscripts.value if static_number(p.subscripts) else p.subscripts
    if not isinstance(subscripts, str):
        raise UnsupportedCallError("np.einsum needs its subscripts as a string literal", b.loc,
                                   "write np.einsum('ij,jk->ik', a, b)")
    ops = [atom(lw, a) for a in p.operands]
    terms, out = _parse(lw, subscripts, len(ops))
    operands = []
    for x, t in zip(ops, terms):
        if x.type.ndim != len(t):
            raise ChainruleTypeError(f"np.einsum: '{t}' has {len(t)} letters for an operand "
                                     f"of ndim {x.type.ndim}", b.loc)
        operands.append(_Operand(x, t))
    for k, op in enumerate(operands):
        others = "".join(o.letters for i, o in enumerate(operands) if i != k)
        operands[k] = _single(lw, op, others + out)
    acc = operands[0]
    for k in range(1, len(operands)):
        later = "".join(o.letters for o in operands[k + 1:])
        acc = contract_pair(b, acc, operands[k], later + out)
    acc = _sum_out(b, acc, out)
    return _permute(b, acc, out).x


# -- tensordot -------------------------------------------------------------------------------------
def _axes_list(lw, v, ndim: int) -> list:
    vals = v if isinstance(v, (tuple, list)) else (v,)
    return [static_int(lw, a, "np.tensordot", "axes") % ndim for a in vals]


def _tensordot(lw, p, node):
    b = lw.b
    x, y = atom(lw, p.a), atom(lw, p.b)
    if static_number(p.axes):
        n = static_int(lw, p.axes, "np.tensordot", "axes")
        ax_x = list(range(x.type.ndim - n, x.type.ndim))
        ax_y = list(range(n))
    elif isinstance(p.axes, (tuple, list)) and len(p.axes) == 2:
        ax_x = _axes_list(lw, p.axes[0], x.type.ndim)
        ax_y = _axes_list(lw, p.axes[1], y.type.ndim)
    else:
        raise ChainruleTypeError("np.tensordot: axes must be an int or a pair of sequences",
                                 b.loc)
    if len(ax_x) != len(ax_y):
        raise ChainruleTypeError("np.tensordot: the two axes lists differ in length", b.loc)
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    lx = letters[:x.type.ndim]
    ly = list(letters[x.type.ndim:x.type.ndim + y.type.ndim])
    for i, j in zip(ax_x, ax_y):
        ly[j] = lx[i]
    ly = "".join(ly)
    out = "".join(c for c in lx if c not in ly) + "".join(c for c in ly if c not in lx)
    res = contract_pair(b, _Operand(x, lx), _Operand(y, ly), out)
    return _permute(b, res, out).x


def contract_handlers() -> dict:
    import numpy as np

    return {
        np.einsum: Signed("np.einsum", "subscripts, *operands, out=None, dtype=None, "
                          "order='K', casting='safe', optimize=False", _einsum,
                          "out dtype order casting"),
        np.tensordot: Signed("np.tensordot", "a, b, axes=2", _tensordot),
    }
