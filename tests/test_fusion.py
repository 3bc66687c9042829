"""Loop fusion on the Numba backend (chainrule/passes/fusion.py, chainrule/rules/fused.py):
fused code gives the values of the unfused code (``CHAINRULE_FUSION=0``) -- to a few units in
the last place where exp, expm1 and tanh (backend/nbmath.py) are involved -- with broadcasting,
views, non-contiguous arrays, reductions with an axis and keepdims, shapes the guard rejects,
and gradients checked against finite differences."""

from __future__ import annotations

import re

import numpy as np
import pytest

import chainrule as cr
from chainrule.testing import numerical_grad

numba = pytest.importorskip("numba")


FUSED = re.compile(r"\b_fu\d+")


def fused_count(src: str) -> int:
    return len(set(FUSED.findall(src)))


def run(fun, *args, fusion: bool, grad=None):
    """``fun(*args)`` (or its gradient w.r.t. ``grad``) compiled by Numba with or without fusion;
    with the generated source."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CHAINRULE_FUSION", "1" if fusion else "0")
        t = cr.jit(fun, backend="numba") if grad is None else cr.grad(
            fun, argnums=grad, backend="numba")
        return t(*args), cr.show(t, *args)


def both(fun, *args, grad=None):
    (a, src_on), (b, src_off) = (run(fun, *args, fusion=f, grad=grad) for f in (True, False))
    assert fused_count(src_off) == 0
    return a, b, src_on


def near(a, b):
    """Equal up to the last bits of exp/tanh (backend/nbmath.py) and their sums."""
    np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-300)


def leaves(x):
    return [np.asarray(y) for y in (x if isinstance(x, tuple) else (x,))]


rng = np.random.default_rng(7)


# -- primal values ------------------------------------------------------------------------------
def chain(x, y):
    return np.exp(x - y) * 0.5 + y * y


def test_elementwise_chain_is_fused_and_equal():
    x, y = rng.standard_normal((5, 7)), rng.standard_normal((5, 7))
    a, b, src = both(chain, x, y)
    # one loop, out of line, reading the elements of its arguments in place
    assert fused_count(src) > 0 and "_rt.fexp((a0[" in src and "= _kernel0(x, y)" in src
    near(a, b)
    np.testing.assert_allclose(a, chain(x, y), rtol=1e-15)


def bcast(x, means, s):
    z = (x[:, None, :] - means[None, :, :]) * np.exp(-s)[None, :, :]
    return np.sum(z * z, axis=2)


@pytest.mark.slow
def test_broadcast_views_and_axis_sum_equal():
    x, m, s = rng.standard_normal((9, 4)), rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    a, b, src = both(bcast, x, m, s)
    assert src.count("ok = ") >= 1
    near(a, b)
    np.testing.assert_allclose(a, bcast(x, m, s), rtol=1e-14)
    # leaves that broadcast where the pass expected full extents: the guard takes the old code
    x, m = rng.standard_normal((1, 4)), rng.standard_normal((3, 1))
    a, b, _ = both(bcast, x, m, s)
    near(a, b)
    np.testing.assert_allclose(a, bcast(x, m, s), rtol=1e-14)


def lse(a):
    m = np.max(a, axis=1, keepdims=True)
    return np.log(np.sum(np.exp(a - m), axis=1, keepdims=True)) + m


@pytest.mark.slow
def test_keepdims_reduction_and_whole_sum():
    a = rng.standard_normal((6, 5))
    f = lambda a: np.sum(lse(a) * 2.0 + 1.0)
    out, ref, src = both(lse, a)
    assert fused_count(src) > 0
    near(out, ref)
    assert out.shape == (6, 1)
    out, ref, _ = both(f, a)
    assert out == pytest.approx(ref, rel=1e-15, abs=0)


def stencil(u, dt):
    u = u.copy()
    for _ in range(3):
        lap = u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2] - 4.0 * u[1:-1, 1:-1]
        u[1:-1, 1:-1] = u[1:-1, 1:-1] + dt * lap - dt * u[1:-1, 1:-1] ** 3
    return u


@pytest.mark.slow
def test_slices_inside_a_loop_and_a_write_into_the_read_array():
    u = rng.random((8, 7))
    a, b, src = both(stencil, u, 0.1)
    assert fused_count(src) > 0
    np.testing.assert_allclose(a, b, rtol=1e-15, atol=0)
    np.testing.assert_allclose(a, stencil(u, 0.1), rtol=1e-14)


def test_non_contiguous_inputs():
    x = rng.standard_normal((10, 14))[::2, ::3]  # strided
    y = rng.standard_normal((5, 5)).T  # Fortran order
    a, b, _ = both(chain, x, y)
    near(a, b)
    np.testing.assert_allclose(a, chain(x, y), rtol=1e-15)


def test_guard_falls_back_on_unforeseen_broadcasting():
    # the pass assumes x and y have one shape; here y broadcasts along a dimension of size 1
    x, y = rng.standard_normal((5, 7)), rng.standard_normal((1, 7))
    a, b, _ = both(chain, x, y)
    near(a, b)
    np.testing.assert_allclose(a, chain(x, y), rtol=1e-15)


def test_incompatible_shapes_still_raise():
    with pytest.raises(ValueError):
        run(chain, np.ones((3, 4)), np.ones((2, 4)), fusion=True)


def test_fusion_off_by_environment():
    _, src = run(chain, np.ones((2, 2)), np.ones((2, 2)), fusion=False)
    assert fused_count(src) == 0


# -- gradients ----------------------------------------------------------------------------------
def gmm(means, log_sigmas, logits, x):
    log_w = logits - lse(logits[None, :])[0]
    z = (x[:, None, :] - means[None, :, :]) * np.exp(-log_sigmas)[None, :, :]
    terms = log_w[None, :] - np.sum(log_sigmas, axis=1)[None, :] - 0.5 * np.sum(z * z, axis=2)
    return -np.sum(lse(terms))


@pytest.mark.slow
def test_gmm_gradient_fused_matches_unfused_and_finite_differences():
    args = (rng.standard_normal((3, 2)), 0.1 * rng.standard_normal((3, 2)),
            rng.standard_normal(3), rng.standard_normal((7, 2)))
    g, g0, src = both(gmm, *args, grad=(0, 1, 2))
    assert fused_count(src) > 10
    for a, b in zip(leaves(g), leaves(g0)):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)
    for k in range(3):
        np.testing.assert_allclose(leaves(g)[k], numerical_grad(gmm, args, argnum=k),
                                   rtol=1e-6, atol=1e-7)


def loss(w, x):
    h = np.tanh(x * w[None, :] + 0.5)
    return np.sum(h * h) + np.sum(np.exp(-w) * w)


@pytest.mark.slow  # a Numba compile of many functions; a smaller case runs by default
def test_gradient_with_broadcast_adjoint_matches_finite_differences():
    w, x = rng.standard_normal(4), rng.standard_normal((6, 4))
    g, g0, src = both(loss, w, x, grad=0)
    assert fused_count(src) > 0
    np.testing.assert_allclose(g, g0, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(g, numerical_grad(loss, (w, x)), rtol=1e-6, atol=1e-8)


def zero_after_use(x):
    s = np.sum(np.exp(x) * 2.0)
    x[...] = 0.0
    return s


def test_a_write_into_an_argument_is_kept():
    # the pass drops a final zeroing of a buffer nobody reads again, never of an argument's
    x = rng.standard_normal(5)
    expected = np.sum(np.exp(x) * 2.0)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CHAINRULE_FUSION", "1")
        f = cr.jit(zero_after_use, backend="numba")
        assert f(x) == pytest.approx(expected, rel=1e-15)
    np.testing.assert_array_equal(x, np.zeros(5))


# -- the scalar functions of fused loops (backend/nbmath.py) -----------------------------------
def test_fused_exp_expm1_tanh_against_numpy():
    from chainrule.backend import nbmath

    @numba.njit
    def apply(which, x):
        out = np.empty_like(x)
        for i in range(x.shape[0]):
            v = x[i]
            if which == 0:
                out[i] = nbmath.fexp(v)
            elif which == 1:
                out[i] = nbmath.fexpm1(v)
            else:
                out[i] = nbmath.tanh_from(nbmath.fexpm1(-2.0 * min(abs(v), 40.0)), v)
        return out

    r = np.random.default_rng(3)
    special = np.array([0.0, -0.0, 1e-300, -1e-300, 5e-324, np.inf, -np.inf, np.nan, 709.78,
                        709.79, -708.5, -745.1, -745.2, 0.3465, -0.3466, 40.0, -41.0])
    for which, f, lo, hi, ulps in ((0, np.exp, -750, 712, 1), (1, np.expm1, -40, 40, 4),
                                   (2, np.tanh, -25, 25, 4)):
        x = np.concatenate([r.uniform(lo, hi, 20000), r.standard_normal(5000) * 1e-3,
                            r.standard_normal(5000), special])
        with np.errstate(over="ignore"):
            ref = f(x)
        got = apply(which, x)
        fin = np.isfinite(ref)
        np.testing.assert_array_max_ulp(got[fin], ref[fin], maxulp=ulps)
        np.testing.assert_array_equal(got[~fin], ref[~fin])  # inf, -inf, nan
        assert np.array_equal(np.signbit(got[ref == 0]), np.signbit(ref[ref == 0]))


def quotient(x, y):
    return np.exp(x) / y + 1.0 / (y - 1.0)


def test_fused_division_by_zero_is_numpy_division():
    x, y = rng.standard_normal(4), np.array([0.0, 1.0, -0.0, 2.0])
    with np.errstate(divide="ignore"):
        a, b, src = both(quotient, x, y)
        ref = quotient(x, y)
    assert "_rt.fdiv(" in src
    np.testing.assert_array_equal(np.isinf(a), np.isinf(ref))
    near(a[np.isfinite(ref)], ref[np.isfinite(ref)])
    np.testing.assert_array_equal(np.isinf(b), np.isinf(ref))
