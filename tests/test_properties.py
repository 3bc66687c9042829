"""Property tests (hypothesis) on smooth corpus programs at random inputs: forward mode equals
reverse mode and both match finite differences; linearity (gradient of a sum, scaling by a
constant); Euler's identity for a homogeneous program."""

from __future__ import annotations

import numpy as np
from corpus_programs import (
    exp_log_suite,
    logsumexp_softmax,
    poly_rational,
    rk4_lotka_volterra,
    solve_quadratic,
    stencil_slices,
    trig_suite,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import chainrule as cr
from chainrule.testing import numerical_grad

SETTINGS = settings(deadline=None, max_examples=25, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


def vectors(lo, hi, min_size=3, max_size=6):
    return st.integers(min_size, max_size).flatmap(
        lambda n: arrays(np.float64, n, elements=st.floats(lo, hi, allow_nan=False)))


def close(a, b, rtol, atol=0.0):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    scale = float(np.max(np.abs(b), initial=0.0))
    err = float(np.max(np.abs(a - b), initial=0.0))
    assert err <= atol + rtol * scale, f"differ by {err:.3e}\n  got  {a!r}\n  want {b!r}"


def check_modes_agree(prog, x, t, fd_rtol=1e-5):
    g = cr.grad(prog)(x)
    _, jt = cr.jvp(prog, (x,), (t,))
    close(jt, np.sum(np.asarray(g) * t), rtol=1e-9, atol=1e-12 * (1.0 + np.sum(np.abs(g * t))))
    close(g, numerical_grad(prog, (x,)), rtol=fd_rtol, atol=1e-7)
    return g


# ----------------------------------------------------------------------------- fwd == rev == FD


@SETTINGS
@given(st.floats(-3.0, 3.0), st.floats(-2.0, 2.0))
def test_poly_rational_scalar(x, t):
    g = cr.grad(poly_rational)(x)
    want = 9.0 * x**2 - 4.0 * x + 1.0 + 10.0 * x / (1.0 + x * x) ** 2
    close(g, want, rtol=1e-12, atol=1e-12)
    _, jt = cr.jvp(poly_rational, (x,), (t,))
    close(jt, want * t, rtol=1e-12, atol=1e-12)


@SETTINGS
@given(vectors(-0.9, 0.9), st.randoms(use_true_random=False))
def test_trig_suite_modes(x, r):
    t = np.array([r.uniform(-1.0, 1.0) for _ in range(x.size)])
    check_modes_agree(trig_suite, x, t)


@SETTINGS
@given(vectors(0.2, 3.0), st.randoms(use_true_random=False))
def test_exp_log_suite_modes(x, r):
    t = np.array([r.uniform(-1.0, 1.0) for _ in range(x.size)])
    check_modes_agree(exp_log_suite, x, t)


@SETTINGS
@given(vectors(-3.0, 3.0, min_size=2), st.randoms(use_true_random=False))
def test_logsumexp_modes(x, r):
    t = np.array([r.uniform(-1.0, 1.0) for _ in range(x.size)])
    g = check_modes_agree(logsumexp_softmax, x, t)
    # Shifting every entry by c gives f(x + c) = f(x) + 2 c, so the gradient sums to 2.
    close(np.sum(g), 2.0, rtol=1e-10, atol=1e-10)


@SETTINGS
@given(vectors(0.5, 1.5, min_size=4, max_size=4), vectors(0.2, 1.5, min_size=2, max_size=2))
def test_rk4_modes(p, u0):
    g_p, g_u = cr.grad(rk4_lotka_volterra, argnums=(0, 1))(p, u0)
    t_p = np.linspace(-1.0, 1.0, 4)
    t_u = np.array([0.3, -0.6])
    _, jt = cr.jvp(rk4_lotka_volterra, (p, u0), (t_p, t_u))
    close(jt, g_p @ t_p + g_u @ t_u, rtol=1e-9, atol=1e-12)
    fd_p, fd_u = numerical_grad(rk4_lotka_volterra, (p, u0), (0, 1))
    close(g_p, fd_p, rtol=1e-5, atol=1e-7)
    close(g_u, fd_u, rtol=1e-5, atol=1e-7)


@SETTINGS
@given(arrays(np.float64, (3, 3), elements=st.floats(-0.5, 0.5)),
       arrays(np.float64, 3, elements=st.floats(-2.0, 2.0)))
def test_solve_adjoint_formula(noise, b):
    a = 3.0 * np.eye(3) + noise  # diagonally dominant, well conditioned
    g_a, g_b = cr.grad(solve_quadratic, argnums=(0, 1))(a, b)
    # f = x.x + b.x with a x = b: adjoint lam = a^-T (2 x + b); df/db = lam + x, df/da = -lam x^T
    x = np.linalg.solve(a, b)
    lam = np.linalg.solve(a.T, 2.0 * x + b)
    close(g_b, lam + x, rtol=1e-9, atol=1e-12)
    close(g_a, -np.outer(lam, x), rtol=1e-9, atol=1e-12)


# ----------------------------------------------------------------------------- linearity


def sum_of_programs(x):
    return trig_suite(x) + logsumexp_softmax(x) + stencil_slices(x)


def scaled_program(c, x):
    return c * trig_suite(x)


@SETTINGS
@given(vectors(-0.9, 0.9))
def test_grad_of_sum_is_sum_of_grads(x):
    total = cr.grad(sum_of_programs)(x)
    parts = cr.grad(trig_suite)(x) + cr.grad(logsumexp_softmax)(x) + cr.grad(stencil_slices)(x)
    close(total, parts, rtol=1e-11, atol=1e-12)
    close(total, numerical_grad(sum_of_programs, (x,)), rtol=1e-5, atol=1e-7)


@SETTINGS
@given(st.floats(-5.0, 5.0), vectors(-0.9, 0.9))
def test_scaling_law(c, x):
    g_c, g_x = cr.grad(scaled_program, argnums=(0, 1))(c, x)
    close(g_x, c * cr.grad(trig_suite)(x), rtol=1e-12, atol=1e-12)
    close(g_c, trig_suite(x), rtol=1e-12, atol=1e-12)
    _, jt = cr.jvp(scaled_program, (c, x), (0.0, np.ones_like(x)))
    close(jt, c * np.sum(cr.grad(trig_suite)(x)), rtol=1e-10, atol=1e-12)


@SETTINGS
@given(vectors(-2.0, 2.0, min_size=3, max_size=8), st.floats(0.25, 4.0))
def test_homogeneous_program(u, s):
    # stencil_slices is a quadratic form: <grad f(u), u> = 2 f(u) and grad f(s u) = s grad f(u).
    g = cr.grad(stencil_slices)(u)
    close(np.dot(g, u), 2.0 * stencil_slices(u), rtol=1e-10, atol=1e-10)
    close(cr.grad(stencil_slices)(s * u), s * g, rtol=1e-10, atol=1e-10)
