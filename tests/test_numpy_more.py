"""NumPy / SciPy functions lowered to compositions of primitives (numpy_more, numpy_contract):
values against NumPy/SciPy themselves, gradients (grad and jvp) against central differences."""

import numpy as np
import pytest
import scipy.special as sp

import chainrule as cr
from chainrule.testing import numerical_grad

RNG = np.random.default_rng(0)
A = RNG.normal(size=(3, 4))
S = RNG.normal(size=(4, 4))
V = RNG.normal(size=5)
B3 = RNG.normal(size=(2, 3, 4))

CASES = [
    ("var", lambda a: np.var(a), A),
    ("var_axis_ddof", lambda a: np.var(a, axis=0, ddof=1), A),
    ("var_axes_keep", lambda a: np.var(a, axis=(0, 2), keepdims=True), B3),
    ("std_keep", lambda a: np.std(a, axis=1, keepdims=True), A),
    ("std", lambda a: np.std(a, ddof=1), V),
    ("diag_1d", lambda a: np.diag(a), V),
    ("diag_2d", lambda a: np.diag(a), A),
    ("trace", lambda a: np.trace(a), S),
    ("tril", lambda a: np.tril(a), S),
    ("triu_k", lambda a: np.triu(a, 1), A),
    ("tril_neg_k", lambda a: np.tril(a, -1), A),
    ("diff", lambda a: np.diff(a), A),
    ("diff_axis0", lambda a: np.diff(a, axis=0), A),
    ("diff_n2", lambda a: np.diff(a, n=2), V),
    ("roll", lambda a: np.roll(a, 2), V),
    ("roll_axis", lambda a: np.roll(a, -1, axis=1), A),
    ("roll_flat", lambda a: np.roll(a, 3), A),
    ("flip", lambda a: np.flip(a), A),
    ("flip_axis", lambda a: np.flip(a, 1), A),
    ("tile_int", lambda a: np.tile(a, 2), V),
    ("tile_tuple", lambda a: np.tile(a, (2, 1)), A),
    ("tile_promote", lambda a: np.tile(a, (2, 2)), V),
    ("repeat_flat", lambda a: np.repeat(a, 2), A),
    ("repeat_axis", lambda a: np.repeat(a, 3, axis=1), A),
    ("append_flat", lambda a: np.append(a, a * 2.0), A),
    ("append_axis", lambda a: np.append(a, a * 2.0, axis=0), A),
    ("vstack", lambda a: np.vstack((a, a * 2.0)), A),
    ("vstack_1d", lambda a: np.vstack([a, a * 2.0]), V),
    ("hstack", lambda a: np.hstack((a, a * 2.0)), A),
    ("hstack_1d", lambda a: np.hstack((a, a * 2.0)), V),
    ("kron", lambda a: np.kron(a, a[:2, :3]), A),
    ("logaddexp", lambda a: np.logaddexp(a, 2.0 * a), A),
    ("tensordot_2", lambda a: np.tensordot(a, a, 2), A),
    ("tensordot_pair", lambda a: np.tensordot(a, a, axes=([0], [0])), A),
    ("tensordot_1", lambda a: np.tensordot(a, a.T, 1), A),
    ("tensordot_3d", lambda a: np.tensordot(a, a, axes=([0, 2], [0, 2])), B3),
    ("einsum_matmul", lambda a: np.einsum("ij,jk->ik", a, a.T), A),
    ("einsum_frobenius", lambda a: np.einsum("ij,ij->", a, a), A),
    ("einsum_dot", lambda a: np.einsum("i,i->", a, a), V),
    ("einsum_transpose", lambda a: np.einsum("ij->ji", a), A),
    ("einsum_trace", lambda a: np.einsum("ii->", a), S),
    ("einsum_diag", lambda a: np.einsum("ii->i", a), S),
    ("einsum_rowsum", lambda a: np.einsum("ij->i", a), A),
    ("einsum_batched", lambda a: np.einsum("bij,bjk->bik", a, a.transpose(0, 2, 1)), B3),
    ("einsum_outer", lambda a: np.einsum("i,j->ij", a, a), V),
    ("einsum_rowdot", lambda a: np.einsum("ij,ij->i", a, a), A),
    ("einsum_implicit", lambda a: np.einsum("ij,jk", a, a.T), A),
    ("einsum_sum_batch", lambda a: np.einsum("ijk,ikl->jl", a, a.transpose(0, 2, 1)), B3),
    ("einsum_three", lambda a: np.einsum("ij,jk,kl->il", a, a.T, a), A),
    ("einsum_matvec", lambda a: np.einsum("ij,j->i", a, a[0]), A),
    ("round_decimals", lambda a: np.round(a, 2), A),
    ("around", lambda a: np.around(a), A),
    ("real", lambda a: np.real(a), A),
    ("logsumexp", lambda a: sp.logsumexp(a), A),
    ("logsumexp_axis", lambda a: sp.logsumexp(a, axis=1), A),
    ("logsumexp_keep", lambda a: sp.logsumexp(a, axis=0, keepdims=True), A),
    ("expit", lambda a: sp.expit(a), A),
    ("norm", lambda a: np.linalg.norm(a), A),
    ("norm_1", lambda a: np.linalg.norm(a, 1), V),
    ("norm_inf", lambda a: np.linalg.norm(a, np.inf), V),
    ("norm_axis", lambda a: np.linalg.norm(a, axis=1), A),
    ("norm_1_axis", lambda a: np.linalg.norm(a, ord=1, axis=0), A),
    ("norm_fro", lambda a: np.linalg.norm(a, "fro"), A),
    ("norm_neg_inf_keep", lambda a: np.linalg.norm(a, -np.inf, axis=1, keepdims=True), A),
]
IDS = [c[0] for c in CASES]
NUMBA_SUBSET = {"var_axis_ddof", "std_keep", "diag_1d", "diag_2d", "tril", "diff", "roll_axis",
                "repeat_axis", "tile_tuple", "kron", "tensordot_pair", "einsum_batched",
                "einsum_matmul", "einsum_rowdot", "logsumexp_axis", "expit", "norm_axis",
                "logaddexp"}


def loss_of(f):
    def loss(a):
        return np.sum(np.sin(f(a)))
    return loss


def check_values_and_grads(f, x, backend):
    np.testing.assert_allclose(cr.jit(f, backend=backend)(x), f(x), rtol=1e-12, atol=1e-12)
    loss = loss_of(f)
    fd = numerical_grad(loss, (x,))
    np.testing.assert_allclose(cr.grad(loss, backend=backend)(x), fd, rtol=1e-6, atol=1e-8)
    t = np.random.default_rng(1).normal(size=x.shape)
    _, dout = cr.jvp(loss, (x,), (t,), backend=backend)
    np.testing.assert_allclose(dout, np.sum(fd * t), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name, f, x", CASES, ids=IDS)
def test_numpy(name, f, x):
    check_values_and_grads(f, x, "numpy")


# A few Numba cases run by default; the rest of the subset is slow (each compiles three times).
NUMBA_DEFAULT = {"var_axis_ddof", "diag_2d", "roll_axis", "logsumexp_axis"}  # einsum: ~100 s
NUMBA_CASES = [pytest.param(*c, id=c[0], marks=() if c[0] in NUMBA_DEFAULT else pytest.mark.slow)
               for c in CASES if c[0] in NUMBA_SUBSET]


@pytest.mark.parametrize("name, f, x", NUMBA_CASES)
def test_numba(name, f, x):
    check_values_and_grads(f, x, "numba")


def einsum_ellipsis(a):
    return np.einsum("...ij->...ji", a)


def norm_ord3(a):
    return np.linalg.norm(a, 3)


def diag_offset(a):
    return np.diag(a, 1)


def einsum_repeated(a):
    return np.einsum("iij->j", a)


@pytest.mark.parametrize("f, x, match", [
    (einsum_ellipsis, A, "'...'"), (norm_ord3, V, "ord=3"), (diag_offset, V, "k != 0"),
    (einsum_repeated, B3, "repeated"),
])
def test_unsupported_forms_raise_with_location(f, x, match):
    with pytest.raises(cr.errors.ChainruleError, match=match) as info:
        cr.jit(f)(x)
    assert "test_numpy_more.py" in str(info.value)


def test_round_has_zero_derivative_and_expit_no_overflow():
    x = np.array([-800.0, -3.2, 0.0, 2.7, 800.0])
    np.testing.assert_array_equal(cr.grad(lambda a: np.sum(np.round(a, 1)))(x), 0.0)
    g = cr.grad(lambda a: np.sum(sp.expit(a)))(x)
    np.testing.assert_allclose(g, sp.expit(x) * (1 - sp.expit(x)), atol=1e-15)
    lse = cr.grad(lambda a: sp.logsumexp(a))(x)
    np.testing.assert_allclose(lse, np.exp(x - sp.logsumexp(x)), atol=1e-15)
