"""Loop fusion on the Numba backend (chainrule/passes/fusion.py, chainrule/backend/fused_emit.py):
fused code gives the values of the unfused code (``CHAINRULE_FUSION=0``) -- bitwise where the
order of the operations is the same -- with broadcasting, views, non-contiguous arrays,
reductions with an axis and keepdims, shapes the guard rejects, and gradients checked against
finite differences."""

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


def leaves(x):
    return [np.asarray(y) for y in (x if isinstance(x, tuple) else (x,))]


rng = np.random.default_rng(7)


# -- primal values ------------------------------------------------------------------------------
def chain(x, y):
    return np.exp(x - y) * 0.5 + y * y


def test_elementwise_chain_is_fused_and_bitwise_equal():
    x, y = rng.standard_normal((5, 7)), rng.standard_normal((5, 7))
    a, b, src = both(chain, x, y)
    assert fused_count(src) > 0 and "np.exp((x[" in src  # one loop, elements read in place
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, chain(x, y), rtol=1e-15)


def bcast(x, means, s):
    z = (x[:, None, :] - means[None, :, :]) * np.exp(-s)[None, :, :]
    return np.sum(z * z, axis=2)


@pytest.mark.slow
def test_broadcast_views_and_axis_sum_bitwise_equal():
    x, m, s = rng.standard_normal((9, 4)), rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    a, b, src = both(bcast, x, m, s)
    assert src.count("ok = ") >= 1
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, bcast(x, m, s), rtol=1e-14)
    # leaves that broadcast where the pass expected full extents: the guard takes the old code
    x, m = rng.standard_normal((1, 4)), rng.standard_normal((3, 1))
    a, b, _ = both(bcast, x, m, s)
    np.testing.assert_array_equal(a, b)
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
    np.testing.assert_array_equal(out, ref)
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
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, chain(x, y), rtol=1e-15)


def test_guard_falls_back_on_unforeseen_broadcasting():
    # the pass assumes x and y have one shape; here y broadcasts along a dimension of size 1
    x, y = rng.standard_normal((5, 7)), rng.standard_normal((1, 7))
    a, b, _ = both(chain, x, y)
    np.testing.assert_array_equal(a, b)
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
