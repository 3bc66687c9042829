"""A read of a local variable assigned on some paths only (one branch of an ``if``, a loop that
may make no trip) raises ``UnboundLocalError`` on the paths where Python raises it, naming the
variable and the user's line, in every mode and on both backends; on the other paths the
values and derivatives are Python's. Code whose variables are assigned on every path has no
check (the benchmark workloads' code is unchanged)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.testing import numerical_grad


def one_branch(x, n):
    if x > 0:
        y = x * 2.0
    return y * n


def range_zero_trips(x, n):
    for i in range(n):
        y = x * i
    return y


def temporary_read_after(x, n):
    s = 0.0
    for _ in range(n):
        t = x * 2.0
        s = s + t
    return s + t


def while_zero_trips(x, n):
    while x > 10.0:
        z = x
        x = x / 2.0
    return z + x * n


def array_in_loop(x, n):
    for _ in range(n):
        v = x * np.ones(3)
    return np.sum(v * v)


def index_after_loop(x, n):
    for i in range(n):  # noqa: B007  (the index is read after the loop)
        x = x * 1.5
    return x * i


def nested(x, n):
    for i in range(n):
        if i > 1:
            w = x * i
    return w


# (function, arguments where Python raises, arguments where it does not, the variable)
CASES = [
    (one_branch, (-1.0, 2), (1.5, 2), "y"),
    (range_zero_trips, (1.5, 0), (1.5, 3), "y"),
    (temporary_read_after, (1.5, 0), (1.5, 3), "t"),
    (while_zero_trips, (1.0, 2), (100.0, 2), "z"),
    (array_in_loop, (1.5, 0), (1.5, 2), "v"),
    (index_after_loop, (1.5, 0), (1.5, 3), "i"),
    (nested, (1.5, 2), (1.5, 4), "w"),
]
IDS = [c[0].__name__ for c in CASES]


def _transforms(backend):
    return {
        "jit": cr.jit,
        "grad": cr.grad,
        "jvp": lambda f, backend: (lambda x, n: cr.jvp(f, (x, n), (1.0, 0), backend=backend)),
        "vjp": lambda f, backend: (lambda x, n: cr.vjp(f, x, n, backend=backend)[1](1.0)),
    }


@pytest.mark.parametrize("backend", ["numpy", pytest.param("numba", marks=pytest.mark.slow)])
@pytest.mark.parametrize("f, bad, good, name", CASES, ids=IDS)
def test_raises_where_python_raises(f, bad, good, name, backend):
    with pytest.raises(UnboundLocalError):
        f(*bad)
    for make in _transforms(backend).values():
        with pytest.raises(UnboundLocalError, match=rf"test_unbound_reads.py:\d+: cannot access "
                                                    rf"local variable '{name}'"):
            make(f, backend=backend)(*bad)


@pytest.mark.parametrize("backend", ["numpy", pytest.param("numba", marks=pytest.mark.slow)])
@pytest.mark.parametrize("f, bad, good, name", CASES, ids=IDS)
def test_values_and_gradients_where_assigned(f, bad, good, name, backend):
    x, n = good
    assert np.isclose(cr.jit(f, backend=backend)(x, n), f(x, n), rtol=1e-14)
    want = numerical_grad(lambda v: f(v, n), (x,))
    np.testing.assert_allclose(cr.grad(f, backend=backend)(x, n), want, rtol=1e-6, atol=1e-9)


def test_under_numba():
    # the default run's Numba check: a branch and a loop in one function
    def both(x, n):
        if x > 0:
            y = x
        for _ in range(n):
            z = y * x
        return z

    g = cr.grad(both, backend="numba")
    assert np.isclose(g(1.5, 2), 3.0)
    with pytest.raises(UnboundLocalError, match="'z'"):
        g(1.5, 0)
    with pytest.raises(UnboundLocalError, match="'y'"):
        g(-1.5, 2)


def assigned_everywhere(x, n):
    if x > 0:
        y = x * 2.0
    else:
        y = -x
    z = 0.0
    for i in range(n):
        z = z + y * i
    return z


def test_no_check_where_every_path_assigns():
    src = cr.show(cr.grad(assigned_everywhere), 1.5, 3)
    assert "check_bound" not in src
    src = cr.show(cr.grad(range_zero_trips), 1.5, 3)
    assert src.count("check_bound") >= 1
