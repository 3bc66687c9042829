"""Python's own semantics where a numeric shortcut would give a different number: ``and``/``or``
(their values and short-circuit), assignment expressions, ``~`` of a scalar boolean, the domain
errors of ``math`` functions, and NumPy's:
``flatten`` copies, ``np.flip`` is a view, integer-array writes with repeated indices keep the
last write. Values against plain Python, derivatives against finite differences, both backends
(Numba under ``-m slow`` except one representative)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import UnsupportedMutationError, UnsupportedSyntaxError
from chainrule.testing import numerical_grad

BACKENDS = ["numpy", pytest.param("numba", marks=pytest.mark.slow)]


def close(a, b, rtol=1e-7, atol=1e-9, err_msg=""):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=err_msg)


def copied(args):
    return tuple(np.copy(a) if isinstance(a, np.ndarray) else a for a in args)


def or_value(x):
    return (x or 2.0) * 3.0


def and_value(x, y):
    return (x and y) * 2.0


def int_and(x, n):
    return x * (n and 5)


def or_of_ints(n):
    return n or 3


def short_circuit_write(a, n):
    y = a.copy()

    def bump():
        y[0] = 10.0 * y[0]
        return True

    if n > 5 and bump():
        y[1] = y[1] * 3.0
    if n < 5 or bump():
        y[2] = y[2] + 1.0
    return np.sum(y * y)


def search(a, t):
    i = 0
    while i < len(a) and a[i] < t:
        i += 1
    return i * 1.0 + a[min(i, len(a) - 1)]


def guarded_division(x, y):
    if y != 0.0 and x / y > 1.0:
        return x * y
    return x + y


def assigned_on_one_path(x, flag):
    if flag:
        best = x * 2.0
    if flag and best > 0:
        return best
    return x


def plain_conditions(x, y):
    s = 0.0
    for i in range(5):
        if x > i and y < 3.0 or x * y > 10.0:
            s = s + x * y
    return s


def walrus(x):
    if (y := x * 2.0) > 1.0:
        return y * y
    return y


CASES = [
    (or_value, (1.5,)), (or_value, (0.0,)), (and_value, (2.0, 1.5)), (and_value, (0.0, 1.5)),
    (int_and, (1.3, 2)), (int_and, (1.3, 0)), (short_circuit_write, (np.array([0.3, 0.2, 0.9]), 3)),
    (short_circuit_write, (np.array([0.3, 0.2, 0.9]), 7)), (search, (np.array([0.3, 0.2, 0.9]), 0.5)),
    (search, (np.array([0.3, 0.2, 0.9]), 5.0)), (guarded_division, (3.0, 0.0)),
    (guarded_division, (3.0, 2.0)), (assigned_on_one_path, (1.5, False)),
    (assigned_on_one_path, (1.5, True)), (plain_conditions, (2.5, 1.0)), (walrus, (1.3,)),
    (walrus, (0.2,)),
]


@pytest.mark.parametrize("backend", BACKENDS)
def test_values_and_gradients_as_python(backend):
    for f, args in CASES:
        got = cr.jit(f, backend=backend)(*copied(args))
        assert got == pytest.approx(f(*copied(args)), rel=1e-14), (f.__name__, args)
        if isinstance(args[0], float) and args[0] == 0.0:
            continue  # a kink: the operand chosen switches there
        g = cr.grad(f, backend=backend)(*copied(args))
        close(g, numerical_grad(f, copied(args), 0), rtol=1e-6, atol=1e-7)
    assert cr.jit(or_of_ints, backend=backend)(5) == 5
    assert cr.jit(or_of_ints, backend=backend)(0) == 3
    # the operand's value, not a truth value: d/dx of (x or 2) * 3 is 3; at 0 it is 2's, 0
    assert cr.grad(or_value, backend=backend)(0.0) == 0.0
    assert cr.grad(and_value, argnums=1, backend=backend)(2.0, 1.5) == 2.0


def test_plain_conditions_stay_branch_free():
    ir = cr.show_ir(cr.jit(plain_conditions), 2.5, 1.0)
    assert "and_(" in ir and "or_(" in ir and ir.count("if ") == 1
    assert "where(" in cr.show_ir(cr.jit(or_value), 1.5)


def test_invert_of_a_scalar_boolean_is_refused():
    def f(x):
        return x * (~(x > 1.0))

    with pytest.raises(UnsupportedSyntaxError, match="use `not`"):
        cr.jit(f)(1.5)

    def g(a):
        return np.sum(a * ~(a > 1.0))

    a = np.array([0.5, 1.5])
    assert cr.jit(g)(a) == g(a)


def math_domains(x, y):
    return math.log(x) + math.sqrt(y) + math.pow(x - 2.0, y) + math.acos(y / 10.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_math_functions_raise_outside_their_domains(backend):
    f = cr.jit(math_domains, backend=backend)
    assert f(3.0, 2.0) == pytest.approx(math_domains(3.0, 2.0), rel=1e-14)
    close(cr.grad(math_domains, argnums=(0, 1), backend=backend)(3.0, 2.0),
          [numerical_grad(math_domains, (3.0, 2.0), k) for k in (0, 1)], rtol=1e-6)
    assert np.isnan(f(float("nan"), 2.0))  # nan passes, as in Python
    for args in ((-1.0, 2.0), (0.0, 2.0), (3.0, -1.0), (1.0, 0.5), (3.0, 20.0)):
        with pytest.raises(ValueError, match="test_python_semantics.py:.*math domain error"):
            f(*args)
        with pytest.raises(ValueError):
            math_domains(*args)


def flatten_then_write(A):
    r = A.flatten()
    r[0] = 100.0
    return np.sum(A * A) + r[0] * r[1]


def write_through_flip(a):
    b = np.flip(a)
    b[0] = 5.0 * a[0]
    return np.sum(a * a)


@pytest.mark.parametrize("backend", BACKENDS)
def test_flatten_copies_and_flip_is_a_view(backend):
    A = np.array([[1.0, 2.0], [3.0, 4.0]])
    A1 = A.copy()
    assert cr.jit(flatten_then_write, backend=backend)(A1) == flatten_then_write(A.copy())
    close(A1, A, rtol=0, atol=0)  # the caller's array is unchanged, as in NumPy
    close(cr.grad(flatten_then_write, backend=backend)(A),
          numerical_grad(flatten_then_write, (A,), 0), rtol=1e-6)
    a = np.array([1.0, 2.0, 3.0])
    assert cr.jit(write_through_flip, backend=backend)(a.copy()) == write_through_flip(a.copy())
    t = cr.jvp(write_through_flip, (a.copy(),), (np.array([1.0, 0.0, 0.0]),), backend=backend)[1]
    assert t == pytest.approx(52.0)  # 2 a0 + 50 a0 (the write lands in a[-1])
    with pytest.raises(UnsupportedMutationError):
        cr.grad(write_through_flip, backend=backend)(a.copy())


def set_repeated(a):
    y = np.zeros(2)
    y[np.array([0, 0])] = a
    return np.sum(y * y)


def add_repeated(a, v):
    y = a.copy()
    y[np.array([0, 2, 0])] += v
    return np.sum(y * y * np.arange(1.0, 5.0))


def scalar_into_repeated(a, s):
    y = a.copy()
    y[np.array([1, 1, 3])] = s * 2.0
    return np.sum(y ** 3)


def pairs_repeated(A, v):
    Y = A.copy()
    Y[np.array([0, 1, 0]), np.array([1, 1, 1])] = v
    return np.sum(Y * Y * A)


def rows_repeated(A, V):
    Y = A.copy()
    Y[np.array([2, 0, 2])] = V
    return np.sum(np.sin(Y))


def test_repeated_indices_keep_the_last_write_on_numba():
    g = cr.grad(set_repeated, backend="numba")(np.array([2.0, 3.0]))
    close(g, [0.0, 6.0], rtol=0, atol=0)  # y[0] = a[1]: a[0]'s write is overwritten


@pytest.mark.parametrize("backend", BACKENDS)
def test_repeated_indices_keep_the_last_write(backend):
    rng = np.random.default_rng(5)
    g = cr.grad(set_repeated, backend=backend)(np.array([2.0, 3.0]))
    close(g, [0.0, 6.0], rtol=0, atol=0)  # y[0] = a[1]: a[0]'s write is overwritten
    cases = [(add_repeated, (rng.normal(size=4), rng.normal(size=3))),
             (scalar_into_repeated, (rng.normal(size=4), 0.7)),
             (pairs_repeated, (rng.normal(size=(3, 2)), rng.normal(size=3))),
             (rows_repeated, (rng.normal(size=(3, 2)), rng.normal(size=(3, 2))))]
    for f, args in cases:
        assert cr.jit(f, backend=backend)(*copied(args)) == pytest.approx(f(*copied(args)),
                                                                         rel=1e-13)
        got = cr.grad(f, argnums=(0, 1), backend=backend)(*args)
        for k in (0, 1):
            close(got[k], numerical_grad(f, args, k), rtol=1e-6, err_msg=f.__name__)


def item_of_an_element(x):
    return x[0].item() * np.sum(x)


def item_of_an_array(x):
    return x.item() * 2.0


def sample_variance(x):
    return np.var(x, ddof=1) + np.mean(x, axis=0) * np.argmax(x, axis=0)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_item_and_reductions_of_vectors_over_axis_0(backend):
    x = np.array([1.0, 4.0, 2.0, 3.0])
    assert cr.jit(item_of_an_element, backend=backend)(x) == item_of_an_element(x)
    close(cr.grad(item_of_an_element, backend=backend)(x), [11.0, 1.0, 1.0, 1.0], rtol=0)
    close(cr.grad(item_of_an_array, backend=backend)(np.array([3.0])), [2.0], rtol=0)
    with pytest.raises(ValueError, match="test_python_semantics.py.*size 1"):
        cr.jit(item_of_an_array, backend=backend)(x)
    # (a reduction of a vector over axis 0 is a scalar on Numba too, also in a fused loop)
    assert cr.jit(sample_variance, backend=backend)(x) == pytest.approx(sample_variance(x),
                                                                      rel=1e-14)
    close(cr.grad(sample_variance, backend=backend)(x), numerical_grad(sample_variance, (x,), 0),
          rtol=1e-6)
