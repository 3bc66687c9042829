"""Taylor mode called inside compiled code and differentiated again (reverse over Taylor):
``grad`` of a loss that calls ``jet`` / ``laplacian`` / ``derivative`` on a function closing over
the differentiated weights, checked against finite differences and against nested forward mode;
and the PINN example (chainrule/examples/pinn_heat.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import testing
from chainrule.errors import ChainruleError
from chainrule.examples import pinn_heat


def small_params(seed: int = 3, width: int = 4) -> tuple:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(2, width)), rng.normal(size=width) * 0.3,
            rng.normal(size=(width, width)) / 2, rng.normal(size=width) * 0.3,
            rng.normal(size=width), 0.2)


def small_problem(seed: int = 4) -> tuple:
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(6, 2))
    X_init = np.column_stack([np.linspace(0, 1, 4), np.zeros(4)])
    X_bound = np.array([[0.0, 0.1], [1.0, 0.3]])
    return X, X_init, np.sin(np.pi * X_init[:, 0]), X_bound


def leafwise_fd(f, params: tuple, data: tuple) -> list:
    """Central differences of ``f(params, *data)`` w.r.t. each leaf of the tuple ``params``."""
    out = []
    for j in range(len(params)):

        def f_leaf(leaf, j=j):
            p = list(params)
            p[j] = leaf
            return f(tuple(p), *data)

        out.append(testing.numerical_grad(f_leaf, (params[j],), argnum=0))
    return out


def residual_nested_forward(params, X):
    """u_t - u_xx with forward over forward mode (jvp of jvp): an independent route."""
    E, T = pinn_heat.directions(X.shape[0])

    def u_x(Z):
        return cr.jvp(lambda W: pinn_heat.net(params, W), (Z,), (E,))[1]

    _, u_xx = cr.jvp(u_x, (X,), (E,))
    _, u_t = cr.jvp(lambda Z: pinn_heat.net(params, Z), (X,), (T,))
    return u_t - u_xx


def loss_nested_forward(params, X, X_init, u_init, X_bound):
    r = residual_nested_forward(params, X)
    return np.mean(r ** 2) + np.mean((pinn_heat.net(params, X_init) - u_init) ** 2) + \
        np.mean(pinn_heat.net(params, X_bound) ** 2)


def test_jet_inside_compiled_code_gives_the_derivatives() -> None:
    """Values of a jet called inside jit: sin(x) along v with closed forms, and a term written
    as 0.0 (a compile-time zero) equals a zero array."""

    def f(x, v):
        y, (d1, d2, d3) = cr.jet(np.sin, (x,), ([v, 0.0, np.zeros_like(x)],))
        return y, d1, d2, d3

    x, v = np.array([0.3, -1.2, 2.0]), np.array([1.0, 0.5, -2.0])
    y, d1, d2, d3 = cr.jit(f)(x, v)
    np.testing.assert_allclose(y, np.sin(x), rtol=1e-14)
    np.testing.assert_allclose(d1, np.cos(x) * v, rtol=1e-13)
    np.testing.assert_allclose(d2, -np.sin(x) * v ** 2, rtol=1e-13)
    np.testing.assert_allclose(d3, -np.cos(x) * v ** 3, rtol=1e-13)


def test_residual_by_jet_matches_nested_forward_mode() -> None:
    params, (X, *_) = small_params(), small_problem()
    by_jet = cr.jit(pinn_heat.residual)(params, X)
    by_jvp = cr.jit(residual_nested_forward)(params, X)
    np.testing.assert_allclose(by_jet, by_jvp, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("backend", ["numpy", pytest.param("numba", marks=pytest.mark.slow)])
def test_pinn_loss_gradient_matches_finite_differences_and_nested_forward(backend) -> None:
    params, data = small_params(), small_problem()
    value, grads = cr.value_and_grad(pinn_heat.loss, backend=backend)(params, *data)
    assert value == pytest.approx(pinn_heat.loss(params, *data), rel=1e-12)
    fd = leafwise_fd(pinn_heat.loss, params, data)
    nested = cr.grad(loss_nested_forward, backend=backend)(params, *data)
    for g, d, n in zip(grads, fd, nested):
        np.testing.assert_allclose(g, d, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(g, n, rtol=1e-10, atol=1e-12)


def taylor_losses():
    """Losses over a weight vector ``w`` that call each Taylor transform on a function closing
    over ``w``."""

    def u(w, x):
        return np.tanh(w[0] * x + w[1]) * np.exp(w[2] * x)

    def by_jet(w, xs):
        _, (d1, d2, d3) = cr.jet(lambda z: u(w, z), (xs,), ([np.ones_like(xs), 0.0, 0.0],))
        return np.sum(d1 * d3) + np.sum(d2 ** 2)

    def by_derivative(w, x):
        return cr.derivative(lambda z: u(w, z), 3)(x) ** 2

    def by_laplacian(w, xs):
        return cr.laplacian(lambda z: np.sum(u(w, z) * z))(xs)

    return u, by_jet, by_derivative, by_laplacian


@pytest.mark.parametrize("backend", ["numpy", pytest.param("numba", marks=pytest.mark.slow)])
def test_grad_over_taylor_transforms_inside_code(backend) -> None:
    """grad w.r.t. the closed-over weights of jet / derivative / laplacian inside the loss, on
    both backends, against finite differences of the plain-Python loss and against nested
    forward mode (the d^k/dz^k as k nested jvps) for the jet."""
    u, by_jet, by_derivative, by_laplacian = taylor_losses()
    w, xs, x = np.array([0.7, -0.3, 0.4]), np.array([0.2, -0.5, 1.1]), 0.35

    for f, arg in ((by_jet, xs), (by_derivative, x), (by_laplacian, xs)):
        g = cr.grad(f, backend=backend)(w, arg)
        fd = testing.numerical_grad(f, (w, arg), argnum=0)
        np.testing.assert_allclose(g, fd, rtol=2e-6, atol=1e-8)

    def by_nested_jvp(w, xs):
        ones = np.ones_like(xs)

        def d1(z):
            return cr.jvp(lambda y: u(w, y), (z,), (ones,))[1]

        def d2(z):
            return cr.jvp(d1, (z,), (ones,))[1]

        def d3(z):
            return cr.jvp(d2, (z,), (ones,))[1]

        return np.sum(d1(xs) * d3(xs)) + np.sum(d2(xs) ** 2)

    np.testing.assert_allclose(cr.grad(by_jet, backend=backend)(w, xs),
                               cr.grad(by_nested_jvp, backend=backend)(w, xs), rtol=1e-11)


def test_grad_over_jet_inside_code_numba() -> None:
    """The Numba subset: reverse over a jet called inside the loss (scalar Taylor code)."""
    u, by_jet, _, _ = taylor_losses()
    w, x = np.array([0.7, -0.3, 0.4]), 0.35

    def scalar_jet_loss(w, x):
        _, (d1, d2) = cr.jet(lambda z: u(w, z), (x,), ([1.0, 0.0],))
        return d1 * d2

    g = cr.grad(scalar_jet_loss, backend="numba")(w, x)
    fd = testing.numerical_grad(scalar_jet_loss, (w, x), argnum=0)
    np.testing.assert_allclose(g, fd, rtol=2e-6, atol=1e-8)


def test_jet_inside_code_rejects_malformed_series() -> None:
    def bad_lengths(x):
        _, terms = cr.jet(np.sin, (x,), ([1.0], [1.0, 0.0]))
        return terms[0]

    def not_a_list(x):
        _, terms = cr.jet(np.sin, (x,), (1.0,))
        return terms[0]

    for f in (bad_lengths, not_a_list):
        with pytest.raises(ChainruleError, match="jet"):
            cr.jit(f)(0.5)


def test_pinn_example_trains_a_few_steps() -> None:
    """Three Adam steps lower the loss, and the step is what Adam's formula gives."""
    params, history = pinn_heat.train(steps=3)  # (the Numba backend)
    assert history[2] < history[0]
    assert all(math.isfinite(h) for h in history)
    p0 = pinn_heat.init_params(0)
    # (the transform train used: its compiled code is reused)
    _, g0 = cr.value_and_grad(pinn_heat.loss)(p0, *pinn_heat.problem())
    one, _ = pinn_heat.adam(lambda p, *d: (0.0, g0), p0, (), 1, lr=0.01)
    # the first Adam step moves every weight by lr * g / (|g| + eps)
    np.testing.assert_allclose(one[0] - p0[0], -0.01 * g0[0] / (np.abs(g0[0]) + 1e-8),
                               rtol=1e-9)


@pytest.mark.slow
def test_pinn_example_reaches_its_documented_error() -> None:
    params, history = pinn_heat.train()
    max_err, rel_l2 = pinn_heat.errors(params)
    assert history[-1] < 0.05 * history[0]
    assert rel_l2 < 0.08 and max_err < 0.06


def test_grad_of_a_scalar_function_inside_code_runs_as_forward_or_taylor() -> None:
    """``grad`` chains of a function of a float scalar written inside a loss are lowered as one
    Taylor pass (order 1: forward mode): values against closed forms and finite differences,
    and no reverse-mode adjoint (``bx``: the adjoint of ``x``) in the compiled loss."""

    def u(w, x):
        return np.sin(w[0] * x) * np.exp(w[1] * x)

    def loss(w, xs):
        total = 0.0
        for i in range(xs.shape[0]):
            x = xs[i]
            total = total + cr.grad(u, 1)(w, x) ** 2 + cr.grad(cr.grad(u, 1), 1)(w, x)
        return total

    w, xs = np.array([0.8, -0.4]), np.array([0.1, 0.6, 1.3])
    a, c = w
    ux = a * np.cos(a * xs) * np.exp(c * xs) + c * u(w, xs)
    uxx = (-a * a * np.sin(a * xs) + 2 * a * c * np.cos(a * xs) + c * c * np.sin(a * xs)) * \
        np.exp(c * xs)
    assert cr.jit(loss)(w, xs) == pytest.approx(np.sum(ux ** 2 + uxx), rel=1e-12)
    g = cr.grad(loss)(w, xs)
    fd = testing.numerical_grad(loss, (w, xs), argnum=0)
    np.testing.assert_allclose(g, fd, rtol=1e-6)
    assert " bx" not in cr.show(cr.jit(loss), w, xs)
