"""Straight-line array code after differentiation: common array subexpressions
(passes/array_cse.py), first adjoint accumulations as copies and dropped zeroing
(passes/adjoints.py), and elementwise helpers on the Numba backend (backend/nbelementwise.py).
Values against finite differences; the code shapes the passes promise, by ``show``."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import testing

RNG = np.random.default_rng(7)
X = RNG.normal(size=(5, 3))
W = RNG.normal(size=(3, 4))
B = RNG.normal(size=4)


def two_layers_twice(W, b, X):
    """The same first layer written twice (as two jets of one network compute it)."""
    h1 = np.tanh(X @ W + b)
    h2 = np.tanh(X @ W + b)
    return np.sum(h1 * h2) + np.sum(np.exp(-(X @ W) ** 2))


def written_between(x):
    """``x * 2.0`` twice with an in-place write into the first result in between: the second
    is a new array (no common subexpression across a write)."""
    a = x * 2.0
    a[0] = 5.0
    b = x * 2.0
    return np.sum(a * b)


def view_read_after(x):
    """An adjoint flows through a view; the view's base is read after (zeroing is kept)."""
    y = np.sin(x)
    t = y.T
    z = t @ y
    return np.sum(z * z) + np.sum(t[0] * y[:, 0])


def test_gradients_of_straight_line_array_code() -> None:
    for f, args in ((two_layers_twice, (W, B, X)), (written_between, (X.copy(),)),
                    (view_read_after, (X,))):
        for k in range(len(args) if f is two_layers_twice else 1):
            g = cr.grad(f, argnums=k, backend="numpy")(*args)
            fd = testing.numerical_grad(f, args, argnum=k)
            np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8, err_msg=f.__name__)


@pytest.mark.slow
def test_numba_elementwise_operations_call_compiled_helpers() -> None:
    g = cr.grad(two_layers_twice, backend="numba")
    np.testing.assert_allclose(g(W, B, X), testing.numerical_grad(two_layers_twice, (W, B, X)),
                               rtol=1e-6, atol=1e-8)
    src = g.executable((W, B, X)).source
    # (an array operand: the compiled helper, the vectorisable map of backend/nbmath.py, or
    # a fused loop nest computing tanh per element; for 2-d and larger arrays a flat loop)
    assert any(h in src for h in ("_rt.ew_tanh(", "_rt.map_tanh(", "_rt.tanh_from("))
    assert "_rt.ew_mul(" in src or "_rt.mul(" in src or "@_rt.kernel" in src
    assert "np.tanh(" not in _code(src)


def _code(src: str) -> str:
    return "\n".join(ln for ln in src.splitlines() if not ln.strip().startswith("#"))


def test_repeated_array_computation_is_computed_once() -> None:
    src = _code(cr.show(cr.grad(two_layers_twice, backend="numpy"), W, B, X))
    assert src.count("np.tanh(") == 1
    src = _code(cr.show(cr.jit(written_between, backend="numpy"), X.copy()))
    assert src.count("x * 2.0") == 2


def test_straight_line_adjoints_have_no_zero_fill_or_sizing() -> None:
    """In code without loops, each adjoint starts as a copy of its first contribution, and no
    adjoint is zeroed after its last use."""
    src = cr.show(cr.grad(two_layers_twice, backend="numpy"), W, B, X)
    assert "materialize" not in src
    assert "[...] = 0.0" not in src
    assert "broadcast_like" in src
