"""Regressions: programs that once gave wrong numbers in silence or crashed inside chainrule.

Each test checks values against finite differences, plain NumPy, or the other backend.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import chainrule as cr
from chainrule.testing import numerical_grad

BACKENDS = ["numpy", "numba"]

# -- forward mode: a tangent broadcast against an operand without one ----------------------------
C34 = np.linspace(0.5, 2.0, 12).reshape(3, 4)
C4 = np.array([1.5, 2.5, 3.5, 4.5])


def _add(u, v):
    return u + v


def _sub(u, v):
    return u - v


def _mul(u, v):
    return u * v


def _div(u, v):
    return u / v


def _pow(u, v):
    return u ** v


def _mod(u, v):
    return u % v


def _where(u, v):
    return np.where(v > 1.2, u, v)


def _clip(u, v):
    return np.clip(u, v - 1.0, v + 1.0)


BINARY = {"add": _add, "sub": _sub, "mul": _mul, "div": _div, "pow": _pow, "mod": _mod,
          "maximum": np.maximum, "minimum": np.minimum, "arctan2": np.arctan2,
          "hypot": np.hypot, "where": _where, "clip": _clip}


def _fd_directional(f, x, t, eps=1e-6):
    return (f(x + eps * t) - f(x - eps * t)) / (2 * eps)


@pytest.mark.parametrize("op", sorted(BINARY))
@pytest.mark.parametrize("const_first", [False, True])
@pytest.mark.parametrize("x", [np.array([[0.7, 1.1, 1.9, 1.3]]), 0.8], ids=["row", "scalar"])
def test_jvp_broadcast_against_constant(op, const_first, x):
    fn = BINARY[op]
    if const_first and op in ("where", "clip"):
        pytest.skip("the constant is the selector/bounds here")

    def f(v):
        return np.sum(fn(C34, v) if const_first else fn(v, C34))

    t = np.full_like(x, 0.6) if np.ndim(x) else 0.6
    val, tan = cr.jvp(f, (x,), (t,))
    assert np.isclose(val, f(x))
    assert np.isclose(tan, _fd_directional(f, x, t), rtol=1e-6, atol=1e-8), (tan, op)
    # reverse mode agrees
    g = cr.grad(f)(x)
    assert np.isclose(np.sum(g * t), tan, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_jvp_broadcast_examples(backend):
    x, t = np.ones((1, 4)), np.ones((1, 4))
    _, tan = cr.jvp(lambda v: np.sum(v + C34), (x,), (t,), backend=backend)
    assert tan == 12.0
    _, tan = cr.jvp(lambda a: np.sum(a % C4), (1.0,), (1.0,), backend=backend)
    assert tan == 4.0
    val, tan = cr.jvp(lambda a: np.sum(a + C34), (1.0,), (1.0,), backend=backend)
    assert np.isclose(val, np.sum(1.0 + C34)) and tan == 12.0
    _, tan = cr.jvp(lambda a: np.sum(np.where(C4 > 2, a, C4)), (1.0,), (1.0,), backend=backend)
    assert tan == 3.0


# -- crashes on valid programs ---------------------------------------------------------------
EXPONENTS = np.array([1.5, 2.0, 3.0])


def _pow_const_array(x):
    return np.sum(x ** EXPONENTS)


@pytest.mark.parametrize("backend", BACKENDS)
def test_power_by_constant_array(backend):
    x = np.array([0.7, 1.3, 2.1])
    assert np.isclose(cr.jit(_pow_const_array, backend=backend)(x), _pow_const_array(x))
    g = cr.grad(_pow_const_array, backend=backend)(x)
    assert np.allclose(g, numerical_grad(_pow_const_array, (x,)), rtol=1e-6)


# -- module-level values are read at call time ---------------------------------------------------
W = np.array([1.0, 2.0, 3.0])
SCALE = 2.0
PAIR = (np.array([1.0, -1.0, 0.5]), 3.0)


def _loss_w(x):
    return np.sum(W * np.sin(x)) * SCALE


def _loss_w_expected(x):
    return np.sum(W * np.sin(x)) * SCALE, W * np.cos(x) * SCALE


def _check_all_modes(backend, held):
    """Every held transform gives what plain NumPy gives now."""
    x = np.array([0.3, -0.7, 1.1])
    t = np.array([0.5, 1.0, -2.0])
    value, grad = _loss_w_expected(x)
    assert np.isclose(held["jit"](x), value)
    assert np.allclose(held["grad"](x), grad)
    v, tan = cr.jvp(held["fn"], (x,), (t,), backend=backend)
    assert np.isclose(v, value) and np.isclose(tan, np.dot(grad, t))
    v, pullback = cr.vjp(held["fn"], x, backend=backend)
    assert np.isclose(v, value) and np.allclose(pullback(1.0)[0], grad)


@pytest.mark.parametrize("backend", BACKENDS)
def test_held_transforms_see_changed_globals(backend):
    global W, SCALE
    saved = W, SCALE
    try:
        held = {"fn": _loss_w, "jit": cr.jit(_loss_w, backend=backend),
                "grad": cr.grad(_loss_w, backend=backend)}
        _check_all_modes(backend, held)
        W = np.array([4.0, -1.0, 0.5])  # rebound
        _check_all_modes(backend, held)
        W[1] = 7.0  # written in place
        _check_all_modes(backend, held)
        SCALE = -0.5  # a folded scalar rebound
        _check_all_modes(backend, held)
        SCALE = 3  # an int now: compiled again for the new type
        _check_all_modes(backend, held)
        W = np.array([1, 2, 3])  # an integer array now
        _check_all_modes(backend, held)
        W = np.ones((2, 3))  # a 2-D array now
        x = np.array([0.3, -0.7, 1.1])
        assert np.allclose(held["grad"](x), np.sum(W, axis=0) * np.cos(x) * SCALE)
    finally:
        W, SCALE = saved


def _loss_pair(x):
    a, s = PAIR
    return np.sum(a * x ** 2) * s


@pytest.mark.parametrize("backend", BACKENDS)
def test_arrays_inside_a_global_tuple(backend):
    global PAIR
    saved = PAIR
    try:
        g = cr.grad(_loss_pair, backend=backend)
        x = np.array([1.0, 2.0, 3.0])
        assert np.allclose(g(x), 2 * PAIR[0] * x * PAIR[1])
        PAIR[0][:] = [2.0, 2.0, 2.0]
        assert np.allclose(g(x), 2 * PAIR[0] * x * PAIR[1])
        PAIR = (np.array([0.0, 1.0, 0.0]), -1.0)
        assert np.allclose(g(x), 2 * PAIR[0] * x * PAIR[1])
    finally:
        PAIR = saved


def _make_counter_loss():
    weights = np.array([1.0, 2.0])
    power = 2.0

    def loss(x):
        return np.sum(weights * x ** power)

    def update(new_power, new_weights):
        nonlocal power, weights
        power, weights = new_power, new_weights

    return loss, update, weights


@pytest.mark.parametrize("backend", BACKENDS)
def test_changed_closure_cells(backend):
    loss, update, weights = _make_counter_loss()
    g = cr.grad(loss, backend=backend)
    x = np.array([1.5, 0.5])
    assert np.allclose(g(x), 2.0 * np.array([1.0, 2.0]) * x)
    weights[0] = 10.0  # in place
    assert np.allclose(g(x), 2.0 * np.array([10.0, 2.0]) * x)
    update(3.0, np.array([1.0, 1.0]))  # nonlocal rebinding
    assert np.allclose(g(x), 3.0 * x ** 2)
    assert np.isclose(cr.jit(loss, backend=backend)(x), np.sum(x ** 3))



# on Numba the 3-D case by default, the others with -m slow (each compiles for ~8 s)
@pytest.mark.parametrize("backend, shape", [
    ("numpy", (4,)), ("numpy", (2, 3)), ("numpy", (2, 3, 2)), ("numba", (2, 3, 2)),
    pytest.param("numba", (4,), marks=pytest.mark.slow),
    pytest.param("numba", (2, 3), marks=pytest.mark.slow)])
def test_column_stack_of_one_array(backend, shape):
    x = np.linspace(-1.0, 2.0, int(np.prod(shape))).reshape(shape)
    assert np.allclose(cr.jit(np.column_stack, backend=backend)(x), np.column_stack(x))

    def f(v):
        w = np.column_stack(v)
        return np.sum(w * w * np.arange(w.size).reshape(w.shape))

    assert np.isclose(cr.jit(f, backend=backend)(x), f(x))
    assert np.allclose(cr.grad(f, backend=backend)(x), numerical_grad(f, (x,)), rtol=1e-6)


def _constant(x):
    return 3.0


def _constant_and_double(x):
    return 3.0, 2.0 * x


@pytest.mark.parametrize("backend", BACKENDS)
def test_derivatives_of_constant_functions(backend):
    out, pullback = cr.vjp(_constant, 1.5, backend=backend)
    assert out == 3.0 and pullback(1.0) == (0.0,)
    out, pullback = cr.vjp(_constant_and_double, 1.5, backend=backend)
    assert out == (3.0, 3.0) and pullback((1.0, 1.0)) == (2.0,)
    assert cr.jvp(_constant, (1.5,), (1.0,), backend=backend) == (3.0, 0.0)
    assert cr.grad(_constant, backend=backend)(1.5) == 0.0


# -- mixed integer / slice / integer-array indexing (advanced dimensions first when separated) ---
def _ix0(v):
    return v[3, :, [1, 3]]


def _ix1(v):
    return v[3, 2:, [1, 3]]


def _ix2(v):
    return v[:, 3, [1, 3]]


def _ix3(v):
    return v[[1, 3], :, 2]


def _ix4(v):
    return v[[0, 2, 2], 1]


def _ix5(v):
    return v[1:, [0, 3, 3], 2]


def _ix6(v):
    return v[[4, 0], 1:3, 5]


def _ix7(v):
    return v[2, [0, 3]]


def _jx0(v):
    return v[:, [1, 2], :, 2]


def _jx1(v):
    return v[1, :, :, [0, 5]]


def _jx2(v):
    return v[:, 1, [0, 2], :]


def _jx3(v):
    return v[2, [0, 3], 1:3, 4]


def _jx4(v):
    return v[1:, 2, ::2, [1, 1, 4]]


MIXED_3D = [_ix0, _ix1, _ix2, _ix3, _ix4, _ix5, _ix6, _ix7]
MIXED_4D = [_jx0, _jx1, _jx2, _jx3, _jx4]


def _weighted(v, pick):
    s = pick(v)
    return np.sum(s * s * np.arange(s.size).reshape(s.shape))


def _numba_subset(picks, keep):
    """Every pick on NumPy; on Numba the first ``keep`` by default, the rest under ``-m slow``
    (each Numba case is a separate compile of a gradient)."""
    out = [pytest.param("numpy", p, id=f"{p.__name__}-numpy") for p in picks]
    for i, p in enumerate(picks):
        marks = () if i < keep else (pytest.mark.slow,)
        out.append(pytest.param("numba", p, id=f"{p.__name__}-numba", marks=marks))
    return out


@pytest.mark.parametrize("backend, pick", _numba_subset(MIXED_3D, 2) + _numba_subset(MIXED_4D, 0))
def test_mixed_advanced_indexing(backend, pick):
    shape = (5, 4, 6) if pick in MIXED_3D else (3, 4, 5, 6)
    x = np.random.default_rng(7).normal(size=shape)
    assert np.array_equal(cr.jit(pick, backend=backend)(x), pick(x))
    g = cr.grad(_weighted, backend=backend)(x, pick)
    assert np.allclose(g, cr.grad(_weighted, backend="numpy")(x, pick))
    fd = numerical_grad(lambda v: _weighted(v, pick), (x,))
    assert np.allclose(g, fd, rtol=1e-6, atol=1e-7)


class _Tagged(np.ndarray):
    """An array subclass: read as a constant (it is not a hidden input)."""


TAGGED = np.array([1.0, 2.0]).view(_Tagged)


def _reads_tagged(x):
    return np.sum(TAGGED * x)


def test_array_subclass_global_is_a_guarded_constant():
    global TAGGED
    saved = TAGGED
    try:
        g = cr.grad(_reads_tagged)
        assert np.allclose(g(np.ones(2)), [1.0, 2.0])
        assert np.allclose(g(np.ones(2)), [1.0, 2.0])
        TAGGED = np.array([3.0, 4.0]).view(_Tagged)
        assert np.allclose(g(np.ones(2)), [3.0, 4.0])
    finally:
        TAGGED = saved


LOSSES = {
    "square": lambda v: np.sum(v**2),
    "cube": lambda v: np.sum(
        v**3
    ),
    "pair": (lambda v: np.sum(np.sin(v)), lambda v: np.sum(np.cos(v))),
}


def test_lambda_inside_multiline_literal_is_found() -> None:
    x = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(cr.grad(LOSSES["square"])(x), 2 * x)
    np.testing.assert_allclose(cr.grad(LOSSES["cube"])(x), 3 * x**2)
    np.testing.assert_allclose(cr.grad(LOSSES["pair"][0])(x), np.cos(x))
    np.testing.assert_allclose(cr.grad(LOSSES["pair"][1])(x), -np.sin(x))


def _pows(x, n):
    k = pow(2, 3)
    return x * k + pow(x, n) + pow(n, 2) + pow(2.0, n), k


def test_builtin_pow_behaves_as_the_power_operator() -> None:
    val, k = cr.jit(_pows)(1.5, 3)
    assert (val, k) == _pows(1.5, 3) and type(k) is int
    assert cr.grad(lambda x: _pows(x, 3)[0])(1.5) == pytest.approx(8 + 3 * 1.5**2)


def _traced(fn):
    import functools

    @functools.wraps(fn)
    def wrapper(w):
        return 2.0 * fn(w)

    return wrapper


@_traced
def _decorated_loss(w):
    return np.sum(w**2)


def test_function_made_by_functools_wraps_compiles_its_own_source() -> None:
    """`functools.wraps` sets __wrapped__; the wrapper's own code must be compiled."""
    x = np.array([1.0, -2.0])
    np.testing.assert_allclose(cr.grad(_decorated_loss)(x), 4 * x)
    np.testing.assert_allclose(cr.jit(_decorated_loss)(x), 2 * np.sum(x**2))


def _sum_of_squares_if(x, c):
    if c > 0:
        return np.sum(x * x)
    return 0.0


def _sum_of_rows(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += np.sum(x[i])
    return s


def test_gradient_no_statement_reached_has_the_argument_shape():
    # The adjoint of an array that no executed statement reads stays the empty "zero" array in
    # the reverse sweep; the gradient returned must still be zeros shaped like the argument.
    g = cr.grad(_sum_of_squares_if)(np.ones(3), -1.0)
    np.testing.assert_array_equal(g, np.zeros(3))
    g = cr.grad(_sum_of_rows)(np.ones((0, 3)))
    assert g.shape == (0, 3)


def test_scipy_special_imported_after_the_first_compile(tmp_path):
    """``import chainrule`` does not import SciPy; a scipy.special function still compiles when
    the user's code imports it after chainrule built its function table."""
    import subprocess
    import sys
    import textwrap

    (tmp_path / "late_scipy.py").write_text(textwrap.dedent("""
        import sys
        import numpy as np
        import chainrule as cr
        assert "scipy" not in sys.modules
        def first(x):
            return np.sin(x)
        assert abs(cr.jit(first, backend="numpy")(0.5) - np.sin(0.5)) < 1e-15
        import scipy.special as sp
        def second(x):
            return sp.gammaln(x) + sp.expit(x)
        g = cr.grad(second, backend="numpy")(2.5)
        expected = sp.digamma(2.5) + sp.expit(2.5) * (1 - sp.expit(2.5))
        assert abs(g - expected) < 1e-12, (g, expected)
        print("ok")
    """))
    out = subprocess.run([sys.executable, str(tmp_path / "late_scipy.py")], capture_output=True,
                         text=True, env={**os.environ, "CHAINRULE_CACHE": "0"}, timeout=600)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]


def _index_after_loop(x, n):
    i = 7
    for i in range(n):
        x = x * 1.5
    return x + i


def _float_index_after_loop(x, n):
    i = 0.5
    for i in range(1, n):
        x = x * i
    return x * i


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("f", [_index_after_loop, _float_index_after_loop])
@pytest.mark.parametrize("n", [0, 1, 3])
def test_loop_index_read_after_the_loop_keeps_its_earlier_value_without_trips(backend, f, n):
    # Python: after a loop with no trip the target keeps the value it had before the loop
    assert cr.jit(f, backend=backend)(1.25, n) == f(1.25, n)
    fd = (f(1.25 + 1e-6, n) - f(1.25 - 1e-6, n)) / 2e-6
    assert np.isclose(cr.grad(f, backend=backend)(1.25, n), fd, rtol=1e-6)
