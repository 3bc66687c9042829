"""Jacobians and Hessians whose direction-independent code is computed once, in front of the
loop over directions (transforms/hoist.py): values against finite differences and analytic
oracles, on Numba, for code with in-place writes (also into an argument), views, loops,
branches, several arguments and pytrees; and the hoisting itself is checked in the code."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import ChainruleError

RNG = np.random.default_rng(3)
N = 6
W = RNG.normal(size=(N, N)) / 2
B = RNG.normal(size=N)
A = RNG.normal(size=(2 * N, N)) / 2
X = RNG.uniform(0.2, 1.0, size=N)
Y = RNG.uniform(0.2, 1.0, size=N)


def fd_jac(f, x, eps=1e-6):
    cols = []
    for k in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[k] += eps
        xm[k] -= eps
        cols.append((np.asarray(f(xp)) - np.asarray(f(xm))) / (2 * eps))
    return np.stack(cols, axis=-1).reshape(np.shape(f(x.copy())) + x.shape)


def layer(x):
    return np.tanh(W @ x + B)


def loss(x):
    return np.sum(np.log(1.0 + np.exp(A @ x)))


def inplace(x):
    z = W @ x
    y = np.zeros_like(z)
    y[:] = z
    y[0] = y[0] * x[1]
    h = np.tanh(y)
    h[1] += x[0] ** 2
    v = h[2:]
    v *= 3.0  # a write through a view
    return h * np.sum(x)


def writes_arg(x):
    x *= 2.0
    x[0] = x[0] * x[1]
    return np.sin(W @ x) * x[0]


def loopy(x):
    a = W @ x
    s = np.zeros_like(a)
    for i in range(a.shape[0]):
        if a[i] > 0:
            s[i] = a[i] ** 2
        else:
            s[i] = np.sin(a[i]) * x[i]
    return s + np.tanh(a)


def branchy(x):
    a = W @ x
    if np.sum(a) > 0:
        b = np.exp(0.1 * a)
    else:
        b = np.cos(a)
    return b * a


def rosen(x):
    s = 0.0
    for i in range(x.shape[0] - 1):
        s += 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return s + np.sum(np.sin(x) * np.exp(0.1 * x))


def layer_oracle(x):
    return (1.0 - np.tanh(W @ x + B) ** 2)[:, None] * W


def loss_hessian_oracle(x):
    s = 1.0 / (1.0 + np.exp(-(A @ x)))
    return A.T @ ((s * (1.0 - s))[:, None] * A)


@pytest.mark.parametrize("jac", [cr.jacfwd, cr.jacrev])
def test_layer_against_oracle(jac):
    np.testing.assert_allclose(jac(layer, backend="numba")(X), layer_oracle(X), rtol=1e-12,
                               atol=1e-14)


def test_hessian_against_oracle():
    np.testing.assert_allclose(cr.hessian(loss, backend="numba")(X), loss_hessian_oracle(X),
                               rtol=1e-10, atol=1e-12)


def test_primal_moves_out_of_the_direction_loop(monkeypatch):
    # The loop over directions is what runs when the batched sweep is switched off (or a
    # statement has no batch rule): the primal stays in front of it.
    from chainrule.transforms import jacobian
    monkeypatch.setattr(jacobian, "BATCH", False)
    src = cr.show(cr.jacfwd(layer, backend="numba"), X)
    loop = src.index("for k in range")
    assert src.index("matmul(W, x)") < loop  # the primal, once
    assert "matmul(W, t" in src[loop:]  # the tangent, per direction
    src = cr.show(cr.jacrev(layer, backend="numba"), X)
    loop = src.index("for k in range")
    assert "matmul(W, x)" not in src[loop:]  # the forward sweep, once
    src = cr.show(cr.hessian(loss, backend="numba"), X)
    loop = src.index("for k in range")
    assert src.index("matmul(A, x)") < loop
    assert "matmul(A, x)" not in src[loop:]


def test_batched_sweep_computes_the_primal_once():
    # By default all directions go through one sweep: no loop over directions, the primal
    # product once, the tangents as one matrix product with the basis.
    for jac in (cr.jacfwd, cr.jacrev):
        src = cr.show(jac(layer, backend="numba"), X)
        assert "for k in range" not in src
        assert src.count("matmul(W, x)") == 1
    src = cr.show(cr.hessian(loss, backend="numba"), X)
    assert "for k in range" not in src
    assert src.count("matmul(A, x)") == 1


@pytest.mark.parametrize("f", [inplace, loopy, branchy, writes_arg],
                         ids=lambda f: f.__name__)
# the reverse sweeps compile for 8-15 s each under Numba: run with -m slow (the forward ones
# and tests/test_batched_jacobians.py keep both modes in the default run)
@pytest.mark.parametrize("jac", [cr.jacfwd, pytest.param(cr.jacrev, marks=pytest.mark.slow)],
                         ids=["fwd", "rev"])
def test_mutation_loops_branches_against_fd(f, jac):
    x = X.copy()
    J = jac(f, backend="numba")(x)
    np.testing.assert_array_equal(x, X)  # the caller's array is not written
    np.testing.assert_allclose(J, fd_jac(f, X), rtol=1e-6, atol=1e-7)
    xn = -X  # the other branch
    np.testing.assert_allclose(jac(f, backend="numba")(xn), fd_jac(f, xn), rtol=1e-6,
                               atol=1e-7)


def test_hessian_of_a_loop_against_fd():
    H = cr.hessian(rosen, backend="numba")(X)
    G = cr.grad(rosen)
    np.testing.assert_allclose(H, fd_jac(lambda v: G(v), X), rtol=1e-6, atol=1e-5)


def two(x, y):
    return np.tanh(W @ x + y * y) * np.sum(x * y)


@pytest.mark.parametrize("jac", [cr.jacfwd, pytest.param(cr.jacrev, marks=pytest.mark.slow)])
def test_two_arguments(jac):
    Jx, Jy = jac(two, argnums=(0, 1), backend="numba")(X, Y)
    np.testing.assert_allclose(Jx, fd_jac(lambda v: two(v, Y), X), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(Jy, fd_jac(lambda v: two(X, v), Y), rtol=1e-6, atol=1e-7)


def tree(p):
    h = np.tanh(p["w"] @ p["x"] + p["b"])
    return {"h": h, "s": np.sum(h * h)}


@pytest.mark.slow  # tests/test_batched_jacobians.py checks pytrees in the default run
@pytest.mark.parametrize("jac", [cr.jacfwd, cr.jacrev])
def test_pytree_in_and_out(jac):
    p = {"w": W.copy(), "x": X.copy(), "b": B.copy()}
    J = jac(tree, backend="numba")(p)
    for out in ("h", "s"):
        for leaf in ("w", "x", "b"):
            def g(v, leaf=leaf, out=out):
                q = dict(p)
                q[leaf] = v
                return tree(q)[out]
            np.testing.assert_allclose(J[out][leaf], fd_jac(g, p[leaf]), rtol=1e-6, atol=1e-7)


@pytest.mark.slow  # ~20 s of compiling
def test_hessian_of_two_arguments():
    def f(x, y):
        return np.sum(np.log(1.0 + np.exp(A @ (x * y))))
    H = cr.hessian(f, argnums=(0, 1), backend="numba")(X, Y)
    Gx = cr.grad(f, argnums=(0, 1))
    for i, a in enumerate((X, Y)):
        for j in range(2):
            def g(v, i=i, j=j):
                args = [X, Y]
                args[j] = v
                return Gx(*args)[i]
            np.testing.assert_allclose(H[i][j], fd_jac(g, (X, Y)[j]), rtol=1e-6, atol=1e-6)


def test_empty_output_and_input():
    def none_out(x):
        return np.tanh(W[:0] @ x)
    assert cr.jacrev(none_out, backend="numba")(X).shape == (0, N)
    assert cr.jacfwd(layer, backend="numba")(X).shape == (N, N)

    def none_in(x):
        return np.tanh(W[:, :0] @ x + B)
    J = cr.jacfwd(none_in, backend="numba")(np.zeros(0))
    assert J.shape == (N, 0)


def test_an_index_error_is_still_raised():
    def f(x, i):
        return np.tanh(W @ x) * x[i]
    for jac in (cr.jacfwd, cr.jacrev):
        np.testing.assert_allclose(jac(f, backend="numba")(X, 2),
                                   fd_jac(lambda v: f(v, 2), X), rtol=1e-6, atol=1e-7)
        with pytest.raises((IndexError, ChainruleError)):
            jac(f, backend="numba")(X, 50)
