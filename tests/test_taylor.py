"""Taylor mode through whole programs: ``jet``, ``derivative`` and ``laplacian`` against closed
forms, through control flow, loops and in-place writes, on both backends."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import MissingRuleError, NonDifferentiableError


def sin_exp(x):
    return np.sin(x) * np.exp(x)


def sin_exp_derivative(x, k):
    # d^k/dx^k e^x sin x = 2^(k/2) e^x sin(x + k pi / 4)
    return 2.0 ** (k / 2) * math.exp(x) * math.sin(x + k * math.pi / 4)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_derivative_of_every_order(backend) -> None:
    x = 0.37
    for k in (1, 2, 5, 8):
        got = cr.derivative(sin_exp, k, backend=backend)(x)
        assert got == pytest.approx(sin_exp_derivative(x, k), rel=1e-12)


def test_jet_convention_is_derivatives() -> None:
    """A linear input curve x + t gives the plain derivatives of f; terms are derivatives (not
    coefficients divided by k!), as in JAX's jet."""
    x = 0.9
    y, terms = cr.jet(sin_exp, (x,), ([1.0, 0.0, 0.0, 0.0],))
    assert y == pytest.approx(sin_exp(x))
    assert terms == pytest.approx([sin_exp_derivative(x, k) for k in range(1, 5)], rel=1e-12)


def test_jet_of_a_curve_matches_the_composition() -> None:
    """Input terms of every order: jet(f, x, [x1, x2, x3]) is the derivatives of f(c(t)) with
    c(t) = x + x1 t + x2 t^2/2 + x3 t^3/6 (checked with closed forms for f = exp)."""
    x, x1, x2, x3 = 0.3, 0.7, -1.1, 0.4
    _, terms = cr.jet(np.exp, (x,), ([x1, x2, x3],))
    e = math.exp(x)
    expected = [e * x1, e * (x1 ** 2 + x2), e * (x1 ** 3 + 3 * x1 * x2 + x3)]
    assert terms == pytest.approx(expected, rel=1e-12)


def test_jet_with_arrays_and_two_arguments() -> None:
    def f(a, b):
        return np.sum(a * np.tanh(b))

    a, b = np.array([0.5, -1.0, 2.0]), np.array([0.1, 0.4, -0.3])
    da, db = np.array([1.0, 0.5, -0.2]), np.array([0.3, -0.7, 0.2])
    # along the line (a + t da, b + t db): check order 1 against the product rule and order
    # 2 against central differences of the order-1 term.
    _, (d1, d2) = cr.jet(f, (a, b), ([da, np.zeros(3)], [db, np.zeros(3)]))
    sech2 = 1 - np.tanh(b) ** 2
    assert d1 == pytest.approx(np.sum(da * np.tanh(b) + a * sech2 * db), rel=1e-12)

    def first(t):
        _, (g,) = cr.jet(f, (a + t * da, b + t * db), ([da], [db]))
        return g

    h = 1e-5
    assert d2 == pytest.approx((first(h) - first(-h)) / (2 * h), rel=1e-6)


def horner(c, x):
    acc = 0.0
    for i in range(c.shape[0]):
        acc = acc * x + c[i]
    return acc


def branchy(x):
    if x > 0.0:
        y = np.exp(x)
    else:
        y = np.cos(x)
    return y * y


def writes(x):
    n = 5
    y = np.zeros(n)
    for i in range(n):
        y[i] = x * (i + 1.0)
    y[2] += x * x
    return np.sum(np.sin(y))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_loops_branches_and_in_place_writes(backend) -> None:
    c = np.array([0.5, -1.0, 2.0, 3.0, -0.25, 1.0])
    x = 0.8
    poly = np.poly1d(c)
    for k in (1, 3, 6):
        got = cr.derivative(horner, k, argnums=1, backend=backend)(c, x)
        assert got == pytest.approx(np.polyder(poly, k)(x), rel=1e-12)
    for xv, closed in ((0.6, lambda k, x: 2.0 ** k * math.exp(2 * x)),
                       (-0.6, lambda k, x: 2.0 ** (k - 1) * math.cos(2 * x + k * math.pi / 2))):
        for k in (1, 4):
            got = cr.derivative(branchy, k, backend=backend)(xv)
            assert got == pytest.approx(closed(k, xv), rel=1e-12)
    # y_i = i x (and y_2 + x^2): derivatives of sum(sin(y)) along x, against a jet of the
    # same function written without in-place writes.

    def pure(x):
        return (np.sin(1.0 * x) + np.sin(2.0 * x) + np.sin(3.0 * x + x * x) + np.sin(4.0 * x)
                + np.sin(5.0 * x))

    for k in (1, 2, 5):
        expected = cr.derivative(pure, k, backend="numpy")(0.4)
        assert cr.derivative(writes, k, backend=backend)(0.4) == pytest.approx(expected,
                                                                              rel=1e-12)
    # and the first order against grad
    assert cr.derivative(writes, 1)(0.4) == pytest.approx(cr.grad(writes)(0.4), rel=1e-12)


def test_while_loop_and_natural_powers_at_zero() -> None:
    def newton_like(x):
        y = x
        i = 0
        while i < 3:
            y = y - 0.1 * y ** 3
            i += 1
        return y

    # against the composition of the cubic map written out
    def unrolled(x):
        y1 = x - 0.1 * x ** 3
        y2 = y1 - 0.1 * y1 ** 3
        return y2 - 0.1 * y2 ** 3

    for k in (2, 5):
        assert cr.derivative(newton_like, k)(0.7) == pytest.approx(
            cr.derivative(unrolled, k)(0.7), rel=1e-12)
    # x ** 3 at x = 0: natural powers use products, so the third derivative is exactly 6
    assert cr.derivative(lambda x: x ** 3, 3)(0.0) == 6.0


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_laplacian(backend) -> None:
    def u(x):
        return np.sum(np.sin(x) * x ** 2) + x[0] * x[1] ** 3

    x = np.array([0.3, -0.5, 1.2])
    expected = np.sum(-np.sin(x) * x ** 2 + 4 * x * np.cos(x) + 2 * np.sin(x)) + 6 * x[0] * x[1]
    assert cr.laplacian(u, backend=backend)(x) == pytest.approx(expected, rel=1e-12)
    assert cr.laplacian(u)(x) == pytest.approx(np.trace(cr.hessian(u)(x)), rel=1e-10)


def test_grad_of_a_second_derivative() -> None:
    """Reverse over Taylor: d/dw of u''(x) for u(x) = sin(w x)."""

    def u(x, w):
        return np.sin(w * x)

    uxx = cr.derivative(u, 2)  # -w^2 sin(w x)
    x, w = 0.4, 1.3
    assert uxx(x, w) == pytest.approx(-w * w * math.sin(w * x), rel=1e-12)
    expected = -2 * w * math.sin(w * x) - w * w * x * math.cos(w * x)
    assert cr.grad(uxx, argnums=1)(x, w) == pytest.approx(expected, rel=1e-12)


def test_errors() -> None:
    with pytest.raises(NonDifferentiableError):
        cr.derivative(lambda x: np.sum(x), 2)(np.ones(3))
    with pytest.raises(ValueError):
        cr.derivative(np.sin, 0)

    @cr.custom_jvp
    def f(x):
        return np.sin(x)

    @f.defjvp
    def f_jvp(primals, tangents):
        return np.sin(primals[0]), np.cos(primals[0]) * tangents[0]

    assert cr.derivative(lambda x: f(x) * 2.0, 1)(0.3) == pytest.approx(2 * math.cos(0.3))
    with pytest.raises(MissingRuleError):
        cr.derivative(lambda x: f(x) * 2.0, 2)(0.3)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_jet_of_elementwise_array_code_runs_per_element(backend) -> None:
    """Elementwise array code runs as one loop of scalar Taylor code; the values are those of
    the scalar jet at each element (2-D arrays, two arguments)."""

    def f(a, b):
        return np.sin(np.sin(a)) * np.exp(b) + a / b

    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.5, 1.5, (2, 3)), rng.uniform(0.5, 1.5, (2, 3))
    ta = [rng.standard_normal((2, 3)) for _ in range(3)]
    tb = [rng.standard_normal((2, 3)) for _ in range(3)]
    y, terms = cr.jet(f, (a, b), (ta, tb), backend=backend)
    assert y.shape == (2, 3) and len(terms) == 3
    for idx in np.ndindex(2, 3):
        ys, ts = cr.jet(f, (a[idx], b[idx]), ([t[idx] for t in ta], [t[idx] for t in tb]),
                        backend="numpy")
        assert y[idx] == pytest.approx(ys, rel=1e-13)
        assert [t[idx] for t in terms] == pytest.approx(ts, rel=1e-12)


def test_jet_of_array_code_that_is_not_elementwise() -> None:
    def f(x):
        return np.sin(x) * np.sum(x)

    x = np.array([0.3, -0.2, 0.9])
    v = np.array([1.0, 2.0, -1.0])
    _, (d1, d2) = cr.jet(f, (x,), ([v, np.zeros(3)],))
    s, sv = np.sum(x), np.sum(v)
    assert d1 == pytest.approx(np.cos(x) * v * s + np.sin(x) * sv, rel=1e-12)
    assert d2 == pytest.approx(-np.sin(x) * v * v * s + 2 * np.cos(x) * v * sv, rel=1e-12)


D3 = cr.derivative(np.sin, 3)


def test_derivative_inside_compiled_code() -> None:
    def g(xs):
        d2 = cr.derivative(np.exp, 2)
        total = 0.0
        for i in range(xs.shape[0]):
            total += d2(xs[i]) + D3(xs[i])
        return total

    xs = np.array([0.1, 0.5, -0.3])
    expected = float(np.sum(np.exp(xs) - np.cos(xs)))
    assert cr.jit(g)(xs) == pytest.approx(expected, rel=1e-12)
    assert cr.jit(g, backend="numba")(xs) == pytest.approx(expected, rel=1e-12)


def nest(f, k, **kw):
    for _ in range(k):
        f = cr.grad(f, **kw)
    return f


def test_nested_grad_of_a_scalar_function_is_one_taylor_pass() -> None:
    x = 0.37
    for k in (1, 2, 5, 8):
        g = nest(sin_exp, k)
        assert g(x) == pytest.approx(sin_exp_derivative(x, k), rel=1e-12)
    # no tapes: the whole chain is one forward Taylor pass
    assert "tape" not in cr.show(nest(sin_exp, 3), x)
    assert nest(sin_exp, 3, backend="numba")(x) == pytest.approx(sin_exp_derivative(x, 3),
                                                                   rel=1e-12)


def test_nested_grad_chains_that_do_not_qualify_still_work() -> None:
    def f(a, b):
        return np.sin(a * b) * a

    a, b = 0.4, 1.3
    # the same argnums at every level, other arguments fixed: d^2/db^2
    assert nest(lambda a, b: f(a, b), 2, argnums=1)(a, b) == pytest.approx(
        -a ** 3 * math.sin(a * b), rel=1e-12)
    # mixed partial d/da d/db (level by level)
    mixed = cr.grad(cr.grad(f, argnums=1), argnums=0)
    expected = 2 * a * math.cos(a * b) - a * a * b * math.sin(a * b)
    assert mixed(a, b) == pytest.approx(expected, rel=1e-12)
    # an array argument: reverse mode as before
    x = np.array([0.2, -0.4])
    assert cr.grad(lambda x: np.sum(np.sin(x)))(x) == pytest.approx(np.cos(x), rel=1e-12)


def test_mixed_partials_of_high_order_use_forward_over_reverse() -> None:
    """grad of a gradient w.r.t. a scalar runs as forward mode over it (never reverse over
    reverse, which grew about 4x per level and failed at the fourth)."""

    def f(x, y):
        return np.exp(x * y)

    g = f
    for i in range(4):
        g = cr.grad(g, argnums=i % 2)
    x, y = 0.7, 0.4
    expected = math.exp(x * y) * (x * x * y * y + 4 * x * y + 2)  # d^4/dx^2 dy^2
    assert g(x, y) == pytest.approx(expected, rel=1e-12)
    assert "tape" not in cr.show(cr.grad(cr.grad(f, 1), 0), x, y)
