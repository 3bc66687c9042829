"""Regressions: programs that once gave wrong numbers in silence or crashed inside chainrule.

Each test checks values against finite differences, plain NumPy, or the other backend.
"""

from __future__ import annotations

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
