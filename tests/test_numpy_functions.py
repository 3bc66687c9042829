"""Sorting, interpolation, padding, ``np.r_``, ``np.kron`` of vectors, special functions
(``math``, ``scipy.special``) and matrix decompositions, called as users call them: values
against NumPy/SciPy themselves, gradients (grad and jvp) against central differences."""

import math

import numpy as np
import pytest
import scipy.special as sp
from test_numpy_more import check_values_and_grads

import chainrule as cr
from chainrule.testing import numerical_grad

RNG = np.random.default_rng(3)
A = RNG.normal(size=(3, 4))
V = RNG.normal(size=6)
POS = RNG.uniform(0.3, 4.0, size=(2, 3))
XP = np.array([0.0, 0.5, 1.5, 2.0, 3.0])
XI = np.array([-0.5, 0.2, 0.5, 1.0, 2.9, 3.5, 3.0])

CASES = [
    ("sort", lambda a: np.sort(a), V),
    ("sort_2d", lambda a: np.sort(a), A),
    ("sort_axis0", lambda a: np.sort(a, axis=0), A),
    ("sort_flat", lambda a: np.sort(a, axis=None), A),
    ("argsort_gather", lambda a: a[np.argsort(a)] * 2.0, V),
    ("argsort_method", lambda a: a[a.argsort()[::-1]], V),
    ("interp_x", lambda a: np.interp(a, XP, np.sin(XP)), np.array([-0.5, 0.2, 0.6, 1.1, 3.5])),
    ("interp_fp", lambda a: np.interp(XI, XP, a), np.cos(XP)),
    ("interp_scalar_lr", lambda a: np.interp(a[0], XP, a[1:6], left=0.0, right=a[2]), V),
    ("interp_xp", lambda a: np.interp(XI[1:5], np.cumsum(np.abs(a)), np.sin(a)), V),
    ("pad_constant", lambda a: np.pad(a, 2), A),
    ("pad_constant_value", lambda a: np.pad(a, ((1, 2), (0, 3)), constant_values=a[0, 0]), A),
    ("pad_edge", lambda a: np.pad(a, (2, 3), mode="edge"), A),
    ("pad_wrap", lambda a: np.pad(a, (2, 7), mode="wrap"), V),
    ("pad_reflect_long", lambda a: np.pad(a, (9, 4), mode="reflect"), V),
    ("pad_symmetric_long", lambda a: np.pad(a, (9, 14), mode="symmetric"), V),
    ("pad_reflect_2d", lambda a: np.pad(a, 2, mode="reflect"), A),
    ("r_", lambda a: np.r_[a, 2.0 * a[:2], 0:3, 1.0], V),
    ("r_linspace", lambda a: np.r_[a[:2], 0:1:5j], V),
    ("kron_1d", lambda a: np.kron(a, a[:3]), V),
    ("kron_1d_2d", lambda a: np.kron(a[:2], A), V),
    ("gammaln", lambda a: sp.gammaln(a), POS),
    ("gamma", lambda a: sp.gamma(a), POS),
    ("digamma", lambda a: sp.digamma(a), POS),
    ("psi", lambda a: sp.psi(a), POS),
    ("polygamma", lambda a: sp.polygamma(2, a), POS),
    ("erf", lambda a: sp.erf(a), A),
    ("erfc", lambda a: sp.erfc(a), A),
    ("xlogy", lambda a: sp.xlogy(a, POS), POS - 1.0),
    ("logit", lambda a: sp.logit(a), POS / 5.0),
    ("softmax", lambda a: sp.softmax(a, axis=1), A),
    ("log_softmax", lambda a: sp.log_softmax(a), A),
    ("logsumexp_b", lambda a: sp.logsumexp(a, axis=0, b=POS[0, :1] + a[0] ** 2), A),
    ("math_special", lambda a: math.erf(a[0]) + math.erfc(a[1]) + math.lgamma(a[2])
     + math.gamma(a[3]), POS.ravel()),
]


def slogdet_both(a):
    sign, logabs = np.linalg.slogdet(a)
    return sign * logabs


def eigh_weighted(a):
    w, v = np.linalg.eigh(a + a.T)
    return np.sum(w * np.arange(4.0)) + np.sum(v[:, 0] ** 2 * np.arange(4.0))


def svd_reduced(a):
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    return np.sum(s ** 3) + np.sum((u[:, 0] * vt[0, 0]) ** 2) + np.sum(u @ np.diag(s) @ vt)


def svd_full_square(a):
    res = np.linalg.svd(a)
    return (res.U * res.S) @ res.Vh


M4 = RNG.normal(size=(4, 4))
CASES += [
    ("slogdet", slogdet_both, M4),
    ("slogdet_attr", lambda a: np.linalg.slogdet(a).logabsdet, M4),
    ("cholesky", lambda a: np.linalg.cholesky(a @ a.T + 4.0 * np.eye(4)), M4),
    ("cholesky_upper", lambda a: np.linalg.cholesky(a @ a.T + np.eye(4), upper=True), M4),
    ("eigh", eigh_weighted, M4),
    ("eigvalsh_upper", lambda a: np.linalg.eigvalsh(a, UPLO="U"), M4),
    ("svd", svd_reduced, A.T),
    ("svd_wide", svd_reduced, A),
    ("svd_square", svd_full_square, M4),
    ("svd_values", lambda a: np.linalg.svd(a, compute_uv=False), A),
]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("name, f, x", CASES, ids=IDS)
def test_numpy(name, f, x):
    check_values_and_grads(f, x, "numpy")


def mixture(a):
    """One function using most of the new functions (one Numba compile for all of them)."""
    s = np.sort(a, axis=0)
    p = np.pad(s, ((1, 1), (2, 0)), mode="reflect")
    q = np.interp(a[0], XP, np.abs(a[1, :5]) + np.r_[0.0:1.0:5j])
    g = sp.gammaln(np.abs(a) + 0.5) + sp.erf(a) + sp.digamma(np.abs(a) + 1.0)
    return np.sum(p) + np.sum(q * g[0]) + np.sum(sp.xlogy(a, np.abs(a) + 1.0)) \
        + math.erf(a[0, 0]) + np.sum(np.kron(a[0], a[1]))


def test_numba():
    check_values_and_grads(mixture, RNG.normal(size=(3, 5)), "numba")


def test_conventions_at_ties_knots_and_poles():
    # sort at a tie: each output gets the derivative of the input a stable sort put there
    w = np.array([0.0, 1.0, 0.0, 0.0])
    g = cr.grad(lambda a: np.sum(np.sort(a) * w))(np.array([2.0, 1.0, 1.0, 0.0]))
    np.testing.assert_array_equal(g, [0.0, 1.0, 0.0, 0.0])
    # interp at a knot: the slope of the interval to the right; at the last knot, the left one
    xp, fp = np.array([0.0, 1.0, 3.0]), np.array([0.0, 2.0, 3.0])
    d = cr.grad(lambda x: np.sum(np.interp(x, xp, fp)))(np.array([0.0, 1.0, 3.0, 4.0, -1.0]))
    np.testing.assert_array_equal(d, [2.0, 0.5, 0.5, 0.0, 0.0])
    # xlogy: derivative log(y) in x also at x == 0, and 0 at x == y == 0
    gx = cr.grad(lambda x, y: np.sum(sp.xlogy(x, y)))(np.array([0.0, 0.0]), np.array([2.0, 0.0]))
    np.testing.assert_array_equal(gx, [np.log(2.0), 0.0])
    # a pole of gammaln: +inf value, the derivative is not finite
    with np.errstate(all="ignore"):
        assert not np.isfinite(cr.grad(lambda x: sp.gammaln(x))(0.0))


def test_second_derivatives_of_special_functions():
    h = cr.hessian(lambda a: np.sum(sp.gammaln(a) * sp.erf(a)))(POS[0])
    fd = numerical_grad(lambda a: cr.grad(lambda b: np.sum(sp.gammaln(b) * sp.erf(b)))(a),
                        (POS[0],))
    np.testing.assert_allclose(h, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.slow  # a Numba compile of many functions; a smaller case runs by default
def test_decompositions_numba_and_second_order():
    def loss(a):
        sign, logabs = np.linalg.slogdet(a)
        w, v = np.linalg.eigh(a @ a.T)
        s = np.linalg.svd(a, compute_uv=False)
        low = np.linalg.cholesky(a @ a.T + np.eye(3))
        return logabs + np.sum(w * v[0]) + np.sum(s ** 2 * np.arange(3.0)) + np.sum(low)

    x = RNG.normal(size=(3, 3)) + 2.0 * np.eye(3)
    check_values_and_grads(loss, x, "numba")
    h = cr.hessian(loss)(x)
    fd = numerical_grad(lambda a: cr.grad(loss)(a), (x,))
    np.testing.assert_allclose(h.reshape(9, 9), fd.reshape(9, 9), rtol=1e-5, atol=1e-7)


def test_full_svd_of_a_rectangular_matrix_raises():
    with pytest.raises(AssertionError, match="full_matrices=False"):
        cr.grad(lambda a: np.sum(np.linalg.svd(a)[1]))(A)
    np.testing.assert_allclose(cr.jit(lambda a: np.linalg.svd(a)[1])(M4),
                               np.linalg.svd(M4)[1], rtol=1e-12)


def test_repeated_eigenvalues_give_inf_or_nan_not_a_wrong_number():
    with np.errstate(all="ignore"):
        g = cr.grad(lambda a: np.sum(np.linalg.eigh(a)[1][:, 0] * np.arange(3.0)))(np.eye(3))
        assert not np.all(np.isfinite(g))
        # a function of the eigenvalues only: exact at a repeated eigenvalue
        g = cr.grad(lambda a: np.sum(np.linalg.eigvalsh(a)))(np.eye(3))
    np.testing.assert_allclose(g, np.eye(3), atol=1e-15)


def pad_mean(a):
    return np.pad(a, 1, mode="mean")


def sort_order(a):
    return np.sort(a, order="x")


def interp_period(a):
    return np.interp(a, XP, XP, period=2.0)


def r_directive(a):
    return np.r_["0,2", a, a]


@pytest.mark.parametrize("f, match", [
    (pad_mean, "mode='mean'"), (sort_order, "order"), (interp_period, "period"),
    (r_directive, "directive"),
])
def test_unsupported_forms_raise_with_location(f, match):
    with pytest.raises(cr.errors.ChainruleError, match=match) as info:
        cr.jit(f)(V)
    assert "test_numpy_functions.py" in str(info.value)
