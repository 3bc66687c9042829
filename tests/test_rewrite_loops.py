"""The loop rule of the rewrite engine: a loop of matrix-vector products over rows becomes one
matrix-matrix product (chainrule/rewrites/loops.py), with the values of the loop, and never
fires where the loop's behaviour could differ."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.testing import numerical_grad

RULE = "matvec_loop_is_matmul"


def layer(W, X, b):
    n = X.shape[0]
    Y = np.zeros((n, W.shape[0]))
    for i in range(n):
        Y[i] = np.tanh(W @ X[i] + b)
    return np.sum(Y ** 2)


def row_times_matrix(A, X):
    Y = np.zeros((X.shape[0], A.shape[1]))
    for i in range(X.shape[0]):
        Y[i] = X[i] @ A * 2.0
    return np.sum(np.sin(Y))


def every_other_row(W, X):
    n = X.shape[0]
    Y = np.ones((n, W.shape[0]))
    for i in range(1, n, 2):
        Y[i] = W @ X[i]
    return np.sum(Y * Y * np.arange(n)[:, None])


def index_read_after(W, X):
    Y = np.zeros((X.shape[0], W.shape[0]))
    i = 0
    for i in range(X.shape[0]):
        Y[i] = W @ X[i]
    return np.sum(Y ** 2) + i


def writes_its_source(W, X):
    X = X.copy()
    for i in range(X.shape[0]):
        X[i] = W @ X[i]  # a later trip reads ... only its own row, but X is written
    return np.sum(X ** 2)


def also_accumulates(W, X):
    Y = np.zeros((X.shape[0], W.shape[0]))
    s = 0.0
    for i in range(X.shape[0]):
        y = W @ X[i]
        s += np.sum(y)
        Y[i] = y
    return np.sum(Y ** 2) + s


def into_argument(W, X, Y):
    for i in range(X.shape[0]):
        Y[i] = W @ X[i]
    return np.sum(Y ** 2)


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(3)


def _fired(f, *args):
    return [x.rule for x in cr.rewrites.fired(cr.grad(f), *args)]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_layer_loop_is_one_product_with_the_loops_values(backend):
    W, X, b = _inputs()
    assert RULE in _fired(layer, W, X, b)
    assert np.isclose(cr.jit(layer, backend=backend)(W, X, b), layer(W, X, b), rtol=1e-13)
    g = cr.grad(layer, argnums=(0, 1, 2), backend=backend)(W, X, b)
    fd = numerical_grad(layer, (W, X, b), argnum=(0, 1, 2))
    for a, c in zip(g, fd):
        np.testing.assert_allclose(a, c, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("f", [row_times_matrix, every_other_row])
def test_other_forms(f):
    W, X, _ = _inputs(1)
    A = W.T if f is row_times_matrix else W  # (4, 3) for rows @ A
    assert RULE in _fired(f, A, X)
    assert np.isclose(cr.jit(f)(A, X), f(A, X), rtol=1e-13)
    g = cr.grad(f, argnums=(0, 1))(A, X)
    fd = numerical_grad(f, (A, X), argnum=(0, 1))
    for a, c in zip(g, fd):
        np.testing.assert_allclose(a, c, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("f", [index_read_after, writes_its_source, also_accumulates])
def test_does_not_fire_where_the_loop_could_behave_differently(f):
    W, X, _ = _inputs(2)
    W = W[:, :4] if f is not writes_its_source else np.eye(4) + 0.1 * W[:1].T @ W[:1, :4]
    assert RULE not in _fired(f, W, X)
    assert np.isclose(cr.jit(f, backend="numpy")(W, X), f(W, X), rtol=1e-13)
    g = cr.grad(f, backend="numpy")(W, X)
    np.testing.assert_allclose(g, numerical_grad(f, (W, X)), rtol=1e-6, atol=1e-8)


def test_does_not_fire_when_the_target_may_share_a_buffer_with_what_it_reads():
    W, X, _ = _inputs(3)
    Y = np.zeros((5, 3))
    assert RULE not in _fired(into_argument, W, X, Y)
    Y2 = np.zeros((5, 3))
    assert np.isclose(cr.jit(into_argument, backend="numpy")(W, X, Y2),
                      into_argument(W, X, np.zeros((5, 3))))
