"""Matrix decompositions of one 2-D matrix: ``slogdet`` (``logabsdet``, ``detsign``),
``cholesky``, ``eigh`` (``eigvalsh``, ``eigh_vectors``) and the reduced SVD (``svd_u``,
``svd_s``, ``svd_vt``).

The IR gives each primitive one result, so each factor of a decomposition is its own primitive
(``np.linalg.eigh(a)[1]`` ...) and a call that uses several factors computes the
decomposition once per factor. ``cholesky`` and ``eigh`` read only the lower triangle of ``a``
(as NumPy and Numba do), so their derivatives are those of the symmetric matrix
``tril(a) + tril(a, -1).T``: with respect to ``a`` they live in the lower triangle.
Rules (Giles 2008, "Extended collection of matrix derivative results"; Townsend 2016 for the
SVD) are written with primitives, so they are differentiated again for higher orders.
Eigenvector and singular vector rules divide by differences of eigenvalues (squared singular
values): at repeated ones the derivative does not exist and the rules give inf/nan in the
entries that couple them, except where the cotangent (tangent) there is exactly zero.
"""

from __future__ import annotations

from ..errors import ChainruleTypeError
from ..ir.types import Type, float_dtype
from . import taylor as T
from .common import zmul
from .linalg import _inv_series, swap_last
from .registry import FLAT, JUMP, KINK, RAISES, Kink, Primitive


def _matrix_type(what: str, ndim: int):
    def infer(types, **_):
        t = types[0]
        if t.tape or t.ndim != 2:
            raise ChainruleTypeError(f"{what} takes a 2-D matrix (batched matrices are not "
                                     "supported)")
        return Type(float_dtype(t.dtype), ndim)

    return infer


def _emit(call: str, index: int):
    return lambda srcs, **_: f"{call}({srcs[0]})[{index}]"


# -- triangles ---------------------------------------------------------------------------------


def _row_col(b, x):
    rows = b.arange(0, b.shape(x, axis=0), 1)
    cols = b.arange(0, b.shape(x, axis=1), 1)
    return b.getitem(rows, spec=("s000", "n")), cols


def _phi(b, x):
    """The strict lower triangle of ``x`` plus half its diagonal."""
    r, c = _row_col(b, x)
    return b.where(b.gt(r, c), x, b.where(b.eq(r, c), b.mul(x, 0.5), 0.0))


def _symmetric_from_lower(b, t):
    """``tril(t) + tril(t, -1).T``: the symmetric matrix a lower-triangle reader sees."""
    r, c = _row_col(b, t)
    return b.add(b.where(b.ge(r, c), t, 0.0), b.where(b.lt(r, c), swap_last(b, t), 0.0))


def _to_lower(b, g):
    """The adjoint of :func:`_symmetric_from_lower`: ``tril(g) + tril(g.T, -1)``."""
    r, c = _row_col(b, g)
    return b.add(b.where(b.ge(r, c), g, 0.0), b.where(b.gt(r, c), swap_last(b, g), 0.0))


# -- slogdet -----------------------------------------------------------------------------------


def _logabsdet_jvp(b, args, tans, out, **_):
    t = tans[0]
    if t is None:
        return None
    return b.sum(b.mul(swap_last(b, b.inv(args[0])), t), axis=None, keepdims=False)


def _logabsdet_vjp(b, args, out, g, **_):
    return [b.mul(g, swap_last(b, b.inv(args[0])))]


def _logabsdet_series(b, a, out, K):
    """``y' = tr(inv(a) a')``: the series of the trace, integrated."""
    w = _inv_series(b, a, b.inv(a[0]), K - 1)
    da = [T.sscale(b, a[i + 1], i + 1) for i in range(K)]

    def trace_of_product(b_, p, q):
        return b_.sum(b_.mul(p, swap_last(b_, q)), axis=None, keepdims=False)

    return [out] + [T.sscale(b, T.cauchy(b, w, da, k - 1, op=trace_of_product), 1.0 / k)
                    for k in range(1, K + 1)]


# -- cholesky ----------------------------------------------------------------------------------


def _cholesky_tangent(b, low, s_dot):
    """``L Phi(L^-1 S' L^-T)`` for a symmetric ``S'``."""
    x = b.solve(low, s_dot)
    m = swap_last(b, b.solve(low, swap_last(b, x)))
    return b.matmul(low, _phi(b, m))


def _cholesky_jvp(b, args, tans, out, **_):
    t = tans[0]
    return None if t is None else _cholesky_tangent(b, out, _symmetric_from_lower(b, t))


def _cholesky_vjp(b, args, out, g, **_):
    z = _phi(b, b.matmul(swap_last(b, out), g))
    lt = swap_last(b, out)
    w = b.solve(lt, z)
    gs = swap_last(b, b.solve(lt, swap_last(b, w)))  # L^-T Phi(L^T g) L^-1
    return [_to_lower(b, gs)]


def _cholesky_series(b, a, out, K):
    """``L L^T = S``: coefficient k solves ``L0 Lk^T + Lk L0^T = S_k - sum L_j L_{k-j}^T``."""
    low = [out]
    for k in range(1, K + 1):
        s_k = None if a[k] is None else _symmetric_from_lower(b, a[k])
        rest = T.ssum(b, [b.matmul(low[j], swap_last(b, low[k - j])) for j in range(1, k)
                          if low[j] is not None and low[k - j] is not None])
        r = T.ssub(b, s_k, rest)
        low.append(None if r is None else _cholesky_tangent(b, out, r))
    return low


# -- eigh --------------------------------------------------------------------------------------


def _eigvalsh_jvp(b, args, tans, out, **_):
    t = tans[0]
    if t is None:
        return None
    v = b.eigh_vectors(args[0])
    return b.sum(b.mul(v, b.matmul(_symmetric_from_lower(b, t), v)), axis=0, keepdims=False)


def _eigvalsh_vjp(b, args, out, g, **_):
    v = b.eigh_vectors(args[0])
    return [_to_lower(b, b.matmul(b.mul(v, g), swap_last(b, v)))]


def _gaps_inverse(b, w):
    """``F[i, j] = 1 / (w[j] - w[i])`` off the diagonal, 0 on it (inf where w[i] == w[j])."""
    gaps = b.sub(b.getitem(w, spec=("n", "s000")), b.getitem(w, spec=("s000", "n")))
    r, c = _row_col(b, gaps)
    diag = b.eq(r, c)
    return b.where(diag, 0.0, b.reciprocal(b.where(diag, 1.0, gaps)))


def _eigh_vectors_jvp(b, args, tans, out, **_):
    t = tans[0]
    if t is None:
        return None
    f = _gaps_inverse(b, b.eigvalsh(args[0]))
    inner = b.matmul(swap_last(b, out), b.matmul(_symmetric_from_lower(b, t), out))
    return b.matmul(out, zmul(b, inner, f))


def _eigh_vectors_vjp(b, args, out, g, **_):
    f = _gaps_inverse(b, b.eigvalsh(args[0]))
    inner = zmul(b, b.matmul(swap_last(b, out), g), f)
    return [_to_lower(b, b.matmul(b.matmul(out, inner), swap_last(b, out)))]


# -- svd (reduced: U m x k, S k, Vt k x n with k = min(m, n)) ----------------------------------


def _svd_parts(b, a):
    u, s, vt = b.svd_u(a), b.svd_s(a), b.svd_vt(a)
    sq = b.square(s)
    return u, s, swap_last(b, vt), _gaps_inverse(b, sq)


def _complement(b, q, x):
    """``(I - q q^T) x``."""
    return b.sub(x, b.matmul(q, b.matmul(swap_last(b, q), x)))


def _svd_s_jvp(b, args, tans, out, **_):
    t = tans[0]
    if t is None:
        return None
    u, v = b.svd_u(args[0]), swap_last(b, b.svd_vt(args[0]))
    return b.sum(b.mul(u, b.matmul(t, v)), axis=0, keepdims=False)


def _svd_s_vjp(b, args, out, g, **_):
    return [b.matmul(b.mul(b.svd_u(args[0]), g), b.svd_vt(args[0]))]


def _svd_vectors_jvp(left: bool):
    """JVP of U (``left``) or of Vt: ``U (F o (dP S + S dP^T)) + (I - U U^T) dA V / S`` and its
    mirror for V, with ``dP = U^T dA V``."""

    def jvp(b, args, tans, out, **_):
        t = tans[0]
        if t is None:
            return None
        u, s, v, f = _svd_parts(b, args[0])
        dp = b.matmul(swap_last(b, u), b.matmul(t, v))
        col = b.getitem(s, spec=("s000", "n"))
        if left:
            sym = b.add(b.mul(dp, s), b.mul(col, swap_last(b, dp)))
            q, moved = u, b.matmul(t, v)
        else:
            sym = b.add(b.mul(col, dp), b.mul(swap_last(b, dp), s))
            q, moved = v, b.matmul(swap_last(b, t), u)
        d = b.add(b.matmul(q, zmul(b, sym, f)), b.div(_complement(b, q, moved), s))
        return d if left else swap_last(b, d)

    return jvp


def _svd_u_vjp(b, args, out, g, **_):
    u, s, v, f = _svd_parts(b, args[0])
    utg = b.matmul(swap_last(b, u), g)
    core = b.mul(zmul(b, b.sub(utg, swap_last(b, utg)), f), s)
    rest = b.div(_complement(b, u, g), s)
    return [b.matmul(b.add(b.matmul(u, core), rest), swap_last(b, v))]


def _svd_vt_vjp(b, args, out, g, **_):
    u, s, v, f = _svd_parts(b, args[0])
    gv = swap_last(b, g)
    vtg = b.matmul(swap_last(b, v), gv)
    core = b.mul(b.getitem(s, spec=("s000", "n")), zmul(b, b.sub(vtg, swap_last(b, vtg)), f))
    rest = b.matmul(b.div(u, s), swap_last(b, _complement(b, v, gv)))
    return [b.add(b.matmul(b.matmul(u, core), swap_last(b, v)), rest)]


# -- the table ---------------------------------------------------------------------------------

_REPEATED = ("the derivative does not exist; entries coupling equal values are inf/nan unless "
             "the tangent/cotangent there is exactly 0 (derivatives of functions invariant "
             "under rotations within the eigenspace are then exact)")


def _repeated(b, values):
    """Whether any two of ``values`` are equal (one bool)."""
    f = _gaps_inverse(b, values)
    return b.logical_not(b.eq(b.sum(b.where(b.eq(b.abs(f), float("inf")), 1, 0), axis=None,
                                    keepdims=False), 0))


def _singular_repeated(b, a):
    s = b.svd_s(a)
    zero = b.logical_not(b.eq(b.sum(b.where(b.eq(s, 0.0), 1, 0), axis=None, keepdims=False), 0))
    return b.logical_or(_repeated(b, b.square(s)), zero)


PRIMS = [
    Primitive("logabsdet", _matrix_type("slogdet", 0), _emit("np.linalg.slogdet", 1),
              _logabsdet_jvp, _logabsdet_vjp,
              doc="log |det(a)| (np.linalg.slogdet(a)[1])",
              kinks=Kink(RAISES, "singular a (the value is -inf)",
                         "LinAlgError: the derivative inv(a).T is computed with inv",
                         mask=lambda b, args, out, **_: b.eq(out, float("-inf")))),
    Primitive("detsign", _matrix_type("slogdet", 0), _emit("np.linalg.slogdet", 0),
              nondiff=True, doc="the sign of det(a): -1, 0 or 1 (np.linalg.slogdet(a)[0])",
              kinks=Kink(FLAT, "singular a (a jump)", "0",
                         mask=lambda b, args, out, **_: b.eq(out, 0.0))),
    Primitive("cholesky", _matrix_type("cholesky", 2), lambda srcs, **_:
              f"np.linalg.cholesky({srcs[0]})", _cholesky_jvp, _cholesky_vjp,
              doc="the lower Cholesky factor of a symmetric positive definite a (reads the "
                  "lower triangle; LinAlgError where it is not positive definite)"),
    Primitive("eigvalsh", _matrix_type("eigh", 1), _emit("np.linalg.eigh", 0), _eigvalsh_jvp,
              _eigvalsh_vjp, doc="eigenvalues of a symmetric a, ascending (reads the lower "
                                 "triangle)",
              kinks=Kink(KINK, "repeated eigenvalues",
                         "v_i v_i^T (lower-triangle part) for the eigenvectors v_i LAPACK "
                         "returned: an element of the Clarke generalized gradient, not the "
                         "minimum-norm one", clarke="the convex hull of u u^T over unit "
                         "vectors u of the eigenspace",
                         mask=lambda b, args, out, **_: _repeated(b, out))),
    Primitive("eigh_vectors", _matrix_type("eigh", 2), _emit("np.linalg.eigh", 1),
              _eigh_vectors_jvp, _eigh_vectors_vjp,
              doc="eigenvectors (columns) of a symmetric a (reads the lower triangle)",
              kinks=Kink(JUMP, "repeated eigenvalues", _REPEATED,
                         mask=lambda b, args, out, **_: _repeated(b, b.eigvalsh(args[0])))),
    Primitive("svd_s", _matrix_type("svd", 1), lambda srcs, **_:
              f"np.linalg.svd({srcs[0]}, full_matrices=False)[1]", _svd_s_jvp, _svd_s_vjp,
              doc="singular values, descending",
              kinks=Kink(KINK, "repeated singular values",
                         "u_i v_i^T for the singular vectors LAPACK returned: an element of "
                         "the Clarke generalized gradient, not the minimum-norm one",
                         clarke="the convex hull of u v^T over singular pairs of the value",
                         mask=lambda b, args, out, **_: _repeated(b, out))),
    Primitive("svd_u", _matrix_type("svd", 2), lambda srcs, **_:
              f"np.linalg.svd({srcs[0]}, full_matrices=False)[0]", _svd_vectors_jvp(True), _svd_u_vjp,
              doc="left singular vectors (reduced: m x min(m, n))",
              kinks=Kink(JUMP, "repeated or zero singular values", _REPEATED,
                         mask=lambda b, args, out, **_: _singular_repeated(b, args[0]))),
    Primitive("svd_vt", _matrix_type("svd", 2), lambda srcs, **_:
              f"np.linalg.svd({srcs[0]}, full_matrices=False)[2]", _svd_vectors_jvp(False), _svd_vt_vjp,
              doc="right singular vectors, as rows (reduced: min(m, n) x n)",
              kinks=Kink(JUMP, "repeated or zero singular values", _REPEATED,
                         mask=lambda b, args, out, **_: _singular_repeated(b, args[0]))),
]

_FIRST = "use jacfwd/hessian (nested first-order transforms) for higher derivatives"
T.attach(PRIMS, rules={
    "logabsdet": T.unary_rule(_logabsdet_series),
    "cholesky": T.unary_rule(_cholesky_series),
    **{p.name: T.first_order_only(p.jvp, p.name, _FIRST)
       for p in PRIMS if p.name in ("eigvalsh", "eigh_vectors", "svd_s", "svd_u", "svd_vt")},
})

__all__ = ["PRIMS"]
