"""Perturbation confusion: an inner derivative inside an outer one must keep its own
perturbation, in all four forward/reverse pairings, with derivative operators that take and
return functions (Manzyuk et al., "Perturbation confusion in forward automatic differentiation
of higher-order functions", JFP 2019), a min-max saddle point by gradient descent inside
gradient descent, and a particle integrated until it crosses y = 0 under a force that is minus
the gradient of a potential depending on the outer parameter. Values are checked against closed
forms or finite differences of plain Python.
(Siskind-Pearlmutter and ReverseDiff #45 are in test_nested.py.)"""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from benchmarks.gradbench import particle


def rev(f):
    """d/dx f(x) for a scalar x, reverse mode."""
    return lambda x: cr.grad(f)(x)


def fwd(f):
    """d/dx f(x) for a scalar x, forward mode."""
    return lambda x: cr.jvp(f, (x,), (1.0,))[1]


MODES = {"rev": rev, "fwd": fwd}
PAIRINGS = [(o, i) for o in MODES for i in MODES]


# -- derivative operators over functions that take and return functions ---------------------
def d_curried(d, F):
    """The derivative of a function returning a function, ``F: R -> (R -> R)``, with
    derivative operator ``d``: ``d_curried(d, F)(u)(z) = d/du F(u)(z)``."""
    return lambda u: (lambda z: d(lambda v: F(v)(z))(u))


def shift(u):
    """``s u f x = f(x + u)`` (Manzyuk et al.): its derivative at 0 is the derivative operator."""
    return lambda f: (lambda x: f(x + u))


def d_shift(d):
    """``(D s) 0``, the derivative of ``shift`` at 0, taken with ``d``: a function taking a
    function ``f`` and returning the function ``x -> f'(x)``."""
    return lambda f: (lambda x: d(lambda u: shift(u)(f)(x))(0.0))


@pytest.mark.parametrize("outer,inner", PAIRINGS)
def test_derivative_of_shift_composed_with_itself(outer, inner):
    # ((D s) 0 . (D s) 0) exp at 1 = exp''(1) = e; sin: -sin(1). A confused implementation
    # shares one perturbation between the two levels.
    def second(x):
        return d_shift(MODES[outer])(d_shift(MODES[inner])(np.exp))(x)

    assert abs(cr.jit(second)(1.0) - math.e) < 1e-12

    def second_sin(x):
        return d_shift(MODES[outer])(d_shift(MODES[inner])(np.sin))(x)

    assert abs(cr.jit(second_sin)(1.0) + math.sin(1.0)) < 1e-12


@pytest.mark.parametrize("outer,inner", PAIRINGS)
def test_derivative_of_function_returning_function(outer, inner):
    # g = D(x -> (z -> x * x * z)), so g(u)(z) = 2 u z; h(y) = g(y)(y) = 2 y^2; h'(y) = 4 y
    times = lambda x: (lambda z: x * x * z)

    def h(y):
        return d_curried(MODES[inner], times)(y)(y)

    assert abs(cr.jit(h)(1.5) - 4.5) < 1e-12
    assert abs(cr.jit(MODES[outer](h))(1.5) - 6.0) < 1e-12
    # a function returned by a derivative operator, applied under another derivative:
    # k(y) = D_u [u * y](y) = y, so k'(y) = 1 (confusion gives 2)
    mul = lambda x: (lambda z: x * z)
    k = lambda y: d_curried(MODES[inner], mul)(y)(y)
    assert abs(cr.jit(MODES[outer](k))(0.7) - 1.0) < 1e-12


@pytest.mark.parametrize("outer,inner", PAIRINGS)
def test_inner_derivative_inside_outer(outer, inner):
    # d/dx [x * d/dy (x * y^2 + sin(x y))](at y = 2) = d/dx [4x^2 + x^2 cos(2x)]
    def f(x):
        return x * MODES[inner](lambda y: x * y * y + np.sin(x * y))(2.0)

    x = 0.9
    want = 8.0 * x + 2.0 * x * math.cos(2.0 * x) - 2.0 * x * x * math.sin(2.0 * x)
    assert abs(MODES[outer](f)(x) - want) < 1e-12
    assert abs(cr.jit(MODES[outer](f))(x) - want) < 1e-12


# -- min-max saddle point: gradient descent inside gradient descent --------------------------
def grad_rev(f, p):
    return cr.grad(f)(p)


def grad_fwd(f, p):
    return np.array([cr.jvp(f, (p,), (np.array([1.0, 0.0]),))[1],
                     cr.jvp(f, (p,), (np.array([0.0, 1.0]),))[1]])


GRADS = {"rev": grad_rev, "fwd": grad_fwd}


def saddle_cost(x, y):
    return (x[0] - 1.0) ** 2 + x[1] ** 2 + x[0] * y[0] + x[1] * y[1] - (y[0] ** 2 + y[1] ** 2)


def ascend(f, grad, y, steps, eta):
    for _ in range(steps):
        y = y + eta * grad(f, y)
    return y


def saddle_point(x0, outer, inner):
    """min over x of max over y of saddle_cost, both by fixed-step gradient descent (the
    outer gradient differentiates through the inner ascent loop)."""
    y0 = np.array([0.3, -0.2])
    x = x0
    for _ in range(40):
        y = ascend(lambda q: saddle_cost(x, q), inner, y0, 30, 0.25)
        x = x - 0.2 * outer(lambda p: saddle_cost(p, ascend(lambda q: saddle_cost(p, q), inner,
                                                                 y0, 30, 0.25)), x)
    y = ascend(lambda q: saddle_cost(x, q), inner, y0, 30, 0.25)
    return np.concatenate((x, y))


def saddle_oracle(x0):
    """The same iteration in plain Python with the gradients written by hand: the inner
    ascent y_{k+1} = y_k + eta (x - 2 y_k) gives y_n = c x + r^n y0, r = 1 - 2 eta,
    c = (1 - r^n) / 2, so d/dx cost(x, y_n(x)) = 2 (x - e0) + y_n + c (x - 2 y_n)."""
    y0 = np.array([0.3, -0.2])
    r = 1.0 - 2.0 * 0.25
    c = (1.0 - r**30) / 2.0
    x = x0
    for _ in range(40):
        y = c * x + r**30 * y0
        g = 2.0 * (x - np.array([1.0, 0.0])) + y + c * (x - 2.0 * y)
        x = x - 0.2 * g
    return np.concatenate((x, c * x + r**30 * y0))


@pytest.mark.parametrize("outer,inner", PAIRINGS)
def test_saddle_point_nested_descent(outer, inner):
    x0 = np.array([1.5, -0.7])
    got = cr.jit(lambda s: saddle_point(s, GRADS[outer], GRADS[inner]))(x0)
    want = saddle_oracle(x0)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    # and it is (close to) the saddle point x = (0.8, 0), y = x / 2
    np.testing.assert_allclose(got, [0.8, 0.0, 0.4, 0.0], atol=1e-3)


# -- particle: Euler steps until y crosses 0, force = -grad_x potential(x; w) ----------------
# (benchmarks/gradbench/particle.py: the potential, the forces by reverse and forward mode, and
# the Euler integration ``naive_euler(w, force)`` returning the squared landing abscissa)
def force_exact(x, w):
    """-grad_x potential(x; w), written by hand."""
    def pull(cx, cy):
        dx, dy = x[0] - cx, x[1] - cy
        r3 = (dx * dx + dy * dy) ** 1.5
        return np.array([dx / r3, dy / r3])

    return pull(10.0, 10.0 - w) + pull(10.0, 0.0)


@pytest.mark.parametrize("outer,inner", PAIRINGS)
def test_particle_landing_derivative(outer, inner):
    force = particle.FORCE[inner[0]]
    d = MODES[outer](lambda w: particle.naive_euler(w, force))
    compiled = cr.jit(d)
    for w in (0.0, 0.3):
        eps = 1e-6
        fd = (particle.naive_euler(w + eps, force_exact)
              - particle.naive_euler(w - eps, force_exact)) / (2 * eps)
        assert abs(compiled(w) - fd) < 1e-5 * max(1.0, abs(fd))


def test_derivative_of_shift_numba():
    def second(x):
        return d_shift(rev)(d_shift(fwd)(np.exp))(x)

    assert abs(cr.jit(second, backend="numba")(1.0) - math.e) < 1e-12
