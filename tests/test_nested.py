"""Composition of transforms: higher derivatives, Hessian-vector products in every mode pairing,
Hessians from jacfwd/jacrev, and perturbation-confusion regressions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from corpus_programs import logsumexp_softmax, newton_root, trig_suite

import chainrule as cr
from chainrule.testing import numerical_grad

# -------- scalar functions


def sin_cubic(x):
    return math.sin(x) * x**3


def sin_cubic_d2(x):
    return -(x**3) * math.sin(x) + 6.0 * x**2 * math.cos(x) + 6.0 * x * math.sin(x)


def exp_sin(x):
    return np.exp(np.sin(x))


def exp_sin_d3(x):
    c, s = math.cos(x), math.sin(x)
    return math.exp(s) * (-c - 3.0 * s * c + c**3)


def test_grad_of_grad():
    x = 0.9
    d2 = cr.grad(cr.grad(sin_cubic))(x)
    assert abs(d2 - sin_cubic_d2(x)) < 1e-12
    first = numerical_grad(sin_cubic, (x,))
    assert abs(cr.grad(sin_cubic)(x) - first) < 1e-7
    fd_d2 = numerical_grad(lambda t: numerical_grad(sin_cubic, (t,), eps=1e-4), (x,), eps=1e-4)
    assert abs(d2 - fd_d2) < 1e-5


def test_third_derivative():
    x = 0.4
    d3 = cr.grad(cr.grad(cr.grad(exp_sin)))(x)
    assert abs(d3 - exp_sin_d3(x)) < 1e-11


def test_second_derivative_through_newton_loop():
    # x(a) solves x**3 + a x - 2 = 0; differentiate the implicit relation twice.
    a = 1.5
    x = newton_root(a)
    q = 3.0 * x**2 + a
    x1 = -x / q
    x2 = -(x1 * q - x * (6.0 * x * x1 + 1.0)) / q**2
    assert abs(cr.grad(newton_root)(a) - x1) < 1e-10
    assert abs(cr.grad(cr.grad(newton_root))(a) - x2) < 1e-9
    _, t = cr.jvp(cr.grad(newton_root), (a,), (1.0,))
    assert abs(t - x2) < 1e-9


# -------- Hessian-vector products


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosenbrock_grad_exact(x):
    g = np.zeros_like(x)
    g[:-1] = -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
    return g


X0 = np.array([0.3, -0.8, 1.1, 0.5])
V0 = np.array([0.7, -0.2, 0.4, 1.3])


@pytest.fixture(scope="module")
def rosen_hessian():
    """Hessian by central differences of the hand-written gradient."""
    assert np.allclose(rosenbrock_grad_exact(X0), numerical_grad(rosenbrock, (X0,)), rtol=1e-6)
    h = numerical_grad(rosenbrock_grad_exact, (X0,), eps=1e-5)
    return 0.5 * (h + h.T)


def test_hvp_forward_over_reverse(rosen_hessian):
    _, hv = cr.jvp(cr.grad(rosenbrock), (X0,), (V0,))
    np.testing.assert_allclose(hv, rosen_hessian @ V0, rtol=1e-7, atol=1e-7)


def test_hvp_reverse_over_reverse(rosen_hessian):
    _, vjp_fn = cr.vjp(cr.grad(rosenbrock), X0)
    (hv,) = vjp_fn(V0)
    np.testing.assert_allclose(hv, rosen_hessian @ V0, rtol=1e-7, atol=1e-7)


def test_hvp_reverse_over_forward(rosen_hessian):
    hv = cr.grad(lambda y: cr.jvp(rosenbrock, (y,), (V0,))[1])(X0)
    np.testing.assert_allclose(hv, rosen_hessian @ V0, rtol=1e-7, atol=1e-7)


def test_hvp_forward_over_forward(rosen_hessian):
    _, vhv = cr.jvp(lambda y: cr.jvp(rosenbrock, (y,), (V0,))[1], (X0,), (V0,))
    assert abs(vhv - V0 @ rosen_hessian @ V0) < 1e-6 * max(1.0, abs(vhv))


def hvp_in_user_code(x, v):
    return cr.jvp(cr.grad(rosenbrock), (x,), (v,))[1]


def test_hvp_written_in_user_function(rosen_hessian):
    np.testing.assert_allclose(hvp_in_user_code(X0, V0), rosen_hessian @ V0, rtol=1e-7,
                               atol=1e-7)
    # And differentiate through it: d/dv <w, H v> = H^T w (H does not depend on v).
    w = np.array([0.1, 0.5, -0.3, 0.2])
    gv = cr.grad(lambda v: np.dot(w, hvp_in_user_code(X0, v)))(V0)
    np.testing.assert_allclose(gv, rosen_hessian.T @ w, rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("prog,x", [
    (trig_suite, np.array([0.3, -0.7, 1.1])),
    (logsumexp_softmax, np.array([0.3, 1.7, -0.5, 0.9])),
], ids=["trig_suite", "logsumexp_softmax"])
def test_hvp_corpus_programs_vs_fd_of_gradient(prog, x):
    v = np.linspace(-1.0, 1.0, x.size)
    # Hessian from finite differences of the (finite-difference) gradient.
    h = numerical_grad(lambda y: numerical_grad(prog, (y,), eps=1e-4), (x,), eps=1e-4)
    want = h @ v
    _, hv = cr.jvp(cr.grad(prog), (x,), (v,))
    np.testing.assert_allclose(hv, want, rtol=1e-4, atol=1e-5)
    # ... and from finite differences of chainrule's own reverse-mode gradient (tighter).
    h2 = numerical_grad(cr.grad(prog), (x,), eps=1e-5)
    np.testing.assert_allclose(hv, h2 @ v, rtol=1e-6, atol=1e-8)


# -------- Hessians


def test_jacfwd_of_jacrev_is_hessian(rosen_hessian):
    h1 = cr.jacfwd(cr.jacrev(rosenbrock))(X0)
    h2 = cr.jacrev(cr.jacfwd(rosenbrock))(X0)
    h3 = cr.hessian(rosenbrock)(X0)
    for h in (h1, h2, h3):
        assert np.shape(h) == (4, 4)
        np.testing.assert_allclose(h, rosen_hessian, rtol=1e-7, atol=1e-6)
    np.testing.assert_allclose(h1, h3, rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(h1, h1.T, rtol=1e-12, atol=1e-10)


def coupled(x, y):
    return np.sum(x * y**2) + np.sin(x[0]) * y[1]


def test_mixed_partials_with_argnums():
    x = np.array([0.5, -0.3])
    y = np.array([1.2, 0.7])
    dxdy = cr.jacfwd(cr.grad(coupled, argnums=1), argnums=0)(x, y)
    # d/dx_j of dF/dy_i where dF/dy = 2 x y + [0, sin(x0)]
    want = np.diag(2.0 * y)
    want[1, 0] += math.cos(x[0])
    np.testing.assert_allclose(dxdy, want, rtol=1e-12, atol=1e-14)
    hy = cr.hessian(coupled, argnums=1)(x, y)
    np.testing.assert_allclose(hy, np.diag(2.0 * x), rtol=1e-12, atol=1e-14)


def test_hessian_of_scalar_function():
    h = cr.hessian(sin_cubic)(0.9)
    assert abs(float(np.asarray(h)) - sin_cubic_d2(0.9)) < 1e-12


# -------- perturbation confusion


def siskind_pearlmutter(x):
    def shift(y):
        return x + y

    return x * cr.grad(shift)(1.0)


def test_perturbation_confusion_user_function():
    # d/dx [x * (d/dy (x + y))(1)] = d/dx [x * 1] = 1 (a confused implementation gives 2).
    assert abs(cr.grad(siskind_pearlmutter)(1.0) - 1.0) < 1e-14
    assert abs(siskind_pearlmutter(1.0) - 1.0) < 1e-14


def test_perturbation_confusion_lambda():
    d = cr.grad(lambda x: x * cr.grad(lambda y: x + y)(1.0))(1.0)
    assert abs(d - 1.0) < 1e-14


def nested_product(x):
    def times_x(y):
        return x * y

    return x * cr.grad(times_x)(3.0)


def test_nested_product_user_function():
    # D(x -> x * D(y -> x * y)(3))(5) = d/dx [x * x] at 5 = 10.
    assert abs(cr.grad(nested_product)(5.0) - 10.0) < 1e-13
    assert abs(nested_product(5.0) - 25.0) < 1e-13


def test_nested_product_lambda():
    d = cr.grad(lambda x: x * cr.grad(lambda y: x * y)(3.0))(5.0)
    assert abs(d - 10.0) < 1e-13


def forward_derivative(g, x):
    return cr.jvp(g, (x,), (1.0,))[1]


def test_perturbation_confusion_forward_over_forward():
    d1 = forward_derivative(lambda x: x * forward_derivative(lambda y: x + y, 1.0), 1.0)
    assert abs(d1 - 1.0) < 1e-14
    d2 = forward_derivative(lambda x: x * forward_derivative(lambda y: x * y, 3.0), 5.0)
    assert abs(d2 - 10.0) < 1e-13


def test_perturbation_confusion_mixed_modes():
    d1 = cr.grad(lambda x: x * forward_derivative(lambda y: x + y, 1.0))(1.0)
    assert abs(d1 - 1.0) < 1e-14
    _, d2 = cr.jvp(lambda x: x * cr.grad(lambda y: x * y)(3.0), (5.0,), (1.0,))
    assert abs(d2 - 10.0) < 1e-13


def test_nested_closure_over_array():
    # d/dx sum(x * grad(y -> sum(x * y**2))(y0)) = d/dx sum(2 x**2 y0) = 4 x y0
    y0 = np.array([0.5, -1.5, 2.0])
    x = np.array([0.3, 0.8, -0.4])
    g = cr.grad(lambda x: np.sum(x * cr.grad(lambda y: np.sum(x * y**2))(y0)))(x)
    np.testing.assert_allclose(g, 4.0 * x * y0, rtol=1e-13, atol=1e-15)


# -------- deep nesting written in user code


def sin_loop(x):
    s = x
    for _ in range(2):
        s = np.sin(s)
    return s


def sin_sin(x):
    return np.sin(np.sin(x))


# d^k/dx^k sin(sin(x)) at 1.3, k = 1..8 (computed symbolically)
SIN_SIN_DERIVATIVES = [0.15263523985845295, -0.6085711859239172, 0.4714583711424959,
                       -1.2622736520616473, -5.1896047990742815, 16.98179397721271,
                       26.084352783751626, -128.5458921091561]


def nested_in_user_code(f, k):
    """``g_k(x) = grad(g_{k-1})(x)`` with each level a Python function calling ``cr.grad``."""
    g = f
    for _ in range(k):
        g = (lambda h: (lambda x: cr.grad(h)(x)))(g)
    return g


def one_trip_loop(x):
    s = x
    for _ in range(1):
        s = np.sin(s)
    return s


def test_third_order_reverse_through_loop_in_user_code():
    # reverse over reverse over reverse of a loop (each level a tape); the pop that undoes a
    # push of reverse-over-reverse code must push an adjoint too
    def g1(x):
        return cr.grad(one_trip_loop)(x)

    def g2(x):
        return cr.grad(g1)(x)

    def g3(x):
        return cr.grad(g2)(x)

    assert abs(cr.jit(g3)(1.3) + math.cos(1.3)) < 1e-12
    assert abs(cr.grad(g2)(1.3) + math.cos(1.3)) < 1e-12
    assert abs(cr.grad(cr.grad(g1))(1.3) + math.cos(1.3)) < 1e-12


def test_third_order_reverse_of_array_loop_matches_fd():
    # no scalar chain here (array argument): reverse mode applied three times to a loop
    def loss(w):
        s = w
        for _ in range(2):
            s = np.sin(s)
        return np.sum(s)

    def l2(w):
        return np.sum(cr.grad(loss)(w) ** 2)

    def l3(w):
        return np.sum(cr.grad(l2)(w) ** 2)

    w = np.array([0.3, -0.7, 1.1])
    fd = numerical_grad(cr.jit(l3), (w,), eps=1e-5)
    np.testing.assert_allclose(cr.grad(l3)(w), fd, rtol=1e-6)


@pytest.mark.parametrize("f", [sin_sin, pytest.param(sin_loop, marks=pytest.mark.slow)])
def test_grad_nested_eight_times_in_user_code(f):
    for k in (1, 3, 8):
        got = cr.jit(nested_in_user_code(f, k))(1.3)
        ref = SIN_SIN_DERIVATIVES[k - 1]
        assert abs(got - ref) < 1e-9 * max(1.0, abs(ref)), k


@pytest.mark.parametrize("f", [sin_sin, sin_loop])
def test_grad_nested_eight_times_from_python(f):
    h = f
    for _ in range(8):
        h = cr.grad(h)
    assert abs(h(1.3) - SIN_SIN_DERIVATIVES[7]) < 1e-9 * abs(SIN_SIN_DERIVATIVES[7])
    # grad from Python of user code that nests grad 4 times: the 8th derivative
    g = cr.grad(cr.grad(cr.grad(cr.grad(nested_in_user_code(f, 4)))))
    assert abs(g(1.3) - SIN_SIN_DERIVATIVES[7]) < 1e-9 * abs(SIN_SIN_DERIVATIVES[7])


@pytest.mark.slow  # a Numba compile of many functions; a smaller case runs by default
def test_grad_nested_in_user_code_numba():
    got = cr.jit(nested_in_user_code(sin_loop, 8), backend="numba")(1.3)
    assert abs(got - SIN_SIN_DERIVATIVES[7]) < 1e-9 * abs(SIN_SIN_DERIVATIVES[7])
    def g3(x):
        return cr.grad(lambda y: cr.grad(lambda z: cr.grad(one_trip_loop)(z))(y))(x)
    assert abs(cr.jit(g3, backend="numba")(1.3) + math.cos(1.3)) < 1e-12


def two_arg_loop(x, y):
    s = x
    for _ in range(2):
        s = np.sin(s * y)
    return s


# d/dx, d/dy, d/dx, ... of two_arg_loop at (0.7, 1.1), orders 1..5 (computed symbolically)
ALTERNATING_PARTIALS = [0.6261939687118961, -0.038430093192025616, -3.372907520576344,
                        -1.2514891134600101, 50.16533201408513]


def test_alternating_argnums_nested_in_user_code():
    g = two_arg_loop
    for j in range(5):
        g = (lambda h, a: (lambda x, y: cr.grad(h, argnums=a)(x, y)))(g, j % 2)
        ref = ALTERNATING_PARTIALS[j]
        assert abs(cr.jit(g)(0.7, 1.1) - ref) < 1e-9 * max(1.0, abs(ref)), j + 1
    h = two_arg_loop
    for j in range(4):
        h = cr.grad(h, argnums=j % 2)
    assert abs(h(0.7, 1.1) - ALTERNATING_PARTIALS[3]) < 1e-9 * abs(ALTERNATING_PARTIALS[3])


def test_chain_not_taken_when_inner_reads_the_differentiated_variable():
    # d/dy [d/dx sin(x y)]_(x=y) = cos(y^2) - 2 y^2 sin(y^2): the inner derivative's closure
    # reads y, so grad of it is not the second derivative of sin(x y) in x
    def outer(y):
        return cr.grad(lambda x: np.sin(x * y))(y)

    y = 0.8
    ref = math.cos(y * y) - 2 * y * y * math.sin(y * y)
    assert abs(cr.grad(outer)(y) - ref) < 1e-12
    assert abs(cr.jit(lambda t: cr.grad(outer)(t))(y) - ref) < 1e-12
    # the same with the closure value computed from y inside the outer function
    def outer2(y):
        c = 2.0 * y
        return cr.grad(lambda x: np.sin(x * c))(y)

    ref2 = 2.0 * math.cos(2 * y * y) - 8.0 * y * y * math.sin(2 * y * y)
    assert abs(cr.jit(lambda t: cr.grad(outer2)(t))(y) - ref2) < 1e-12


def write_then_grad(x, arr):
    arr[0] = 2.0 * x
    return cr.grad(lambda z, a: np.sin(z * a[0]))(x, arr)


def write_then_sin(x, arr):
    arr[0] = 2.0 * x
    return np.sin(x * arr[0])


def test_chain_not_taken_when_inner_reads_an_array_written_from_x():
    # write_then_grad(x) = 2x cos(2x^2): the array the inner derivative reads depends on x
    x = 0.7
    want = 2.0 * math.cos(2 * x * x) - 8.0 * x * x * math.sin(2 * x * x)
    assert abs(cr.grad(write_then_grad)(x, np.ones(2)) - want) < 1e-12
    assert abs(cr.grad(write_then_grad)(x, np.ones(9)) - want) < 1e-12


def test_forward_and_taylor_through_a_write_into_a_fixed_argument():
    # the array argument is not differentiated but becomes active by the write
    x = 0.7
    want = 4.0 * x * math.cos(2 * x * x)
    for arr in (np.ones(2), np.ones(9)):
        assert abs(cr.jacfwd(write_then_sin)(x, arr.copy()) - want) < 1e-12
        assert abs(cr.derivative(write_then_sin, 1)(x, arr.copy()) - want) < 1e-12
        d2 = cr.derivative(write_then_sin, 2)(x, arr.copy())
        fd = numerical_grad(lambda t: cr.grad(write_then_sin)(t, arr.copy()), (x,), eps=1e-5)
        assert abs(d2 - fd) < 1e-6
