"""Composition matrix: every transform applied to every other's output.

Each inner transform T turns a function h: R^3 -> R^3 into a function F(x) -> R^3 (grad of
sum(sin(h)), a JVP, a VJP, Jacobian-vector products, a Hessian-vector product, a jet's second
term); each outer transform O is applied to F, written in three ways: O applied from Python to a
Python function calling T (``py``), everything inside one compiled function (``jit``), and,
where the output allows, O applied directly to the transformed function (``direct``). The oracle
is central finite differences of F, where F runs the inner transform alone from Python."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import chainrule as cr

X = np.array([0.4, -0.3, 0.8])
V = np.array([0.6, 0.2, -0.5])
V2 = np.array([-0.3, 0.7, 0.1])
W = np.array([0.5, -1.2, 0.9])


def h_loop(x):
    s = x * 1.0
    for _ in range(3):
        s = np.sin(s) * x + 0.5 * s
    return s


def h_branch(x):
    if np.sum(x) > 0.0:
        y = x**2 * np.exp(-x)
    else:
        y = np.cos(x)
    return y + x[0] * x


def h_inplace(x):
    y = np.zeros(3)
    y[0] = x[0] * x[1]
    y[1:] = np.sin(x[1:]) * x[0]
    y[2] += x[2] ** 3
    return y


FUNCTIONS = {"loop": h_loop, "branch": h_branch, "inplace": h_inplace}


# -- inner transforms: function h -> function F(x) -> 1-D array of 3 ------------------------
def inner(kind: str, h):
    if kind == "grad":
        return lambda x: cr.grad(lambda z: np.sum(np.sin(h(z))))(x)
    if kind == "jvp":
        return lambda x: cr.jvp(h, (x,), (V,))[1]
    if kind == "vjp":
        def f(x):
            y, pullback = cr.vjp(h, x)
            return pullback(W * y)[0]
        return f
    if kind == "jacfwd":
        return lambda x: cr.jacfwd(h)(x) @ V
    if kind == "jacrev":
        return lambda x: W @ cr.jacrev(h)(x)
    if kind == "hessian":
        return lambda x: cr.hessian(lambda z: np.sum(np.sin(h(z))))(x) @ V
    if kind == "jet":
        def f(x):
            _, (t1, t2) = cr.jet(h, (x,), ([V, V2],))
            return t2 + 0.5 * t1
        return f
    raise ValueError(kind)


# -- outer transforms: applied to F at X --------------------------------------------------
def outer(kind: str, F):
    """``x -> O(F)(x)`` as a function a compiled function or Python can call."""
    if kind == "grad":
        return lambda x: cr.grad(lambda z: np.sum(np.sin(F(z))))(x)
    if kind == "jvp":
        return lambda x: cr.jvp(F, (x,), (V,))[1]
    if kind == "vjp":
        def f(x):
            y, pullback = cr.vjp(F, x)
            return pullback(W)[0]
        return f
    if kind == "jacfwd":
        return lambda x: cr.jacfwd(F)(x)
    if kind == "jacrev":
        return lambda x: cr.jacrev(F)(x)
    if kind == "hessian":
        return lambda x: cr.hessian(lambda z: np.sum(np.sin(F(z))))(x)
    if kind == "jet":
        def f(x):
            _, (t1, t2) = cr.jet(F, (x,), ([V, V2],))
            return t1 + t2
        return f
    raise ValueError(kind)


def fd_jacobian(F, x, eps=1e-6):
    cols = []
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = eps
        cols.append((np.asarray(F(x + e)) - np.asarray(F(x - e))) / (2 * eps))
    return np.stack(cols, axis=-1)


def fd_hessian(f, x, eps=1e-4):
    n = x.size
    H = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            ei, ej = np.eye(n)[i] * eps, np.eye(n)[j] * eps
            H[i, j] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) \
                / (4 * eps * eps)
    return H


def oracle(kind: str, F, x):
    """O(F)(x) by finite differences of F (F runs the inner transform from Python)."""
    if kind == "grad":
        return fd_jacobian(lambda z: np.sum(np.sin(F(z))), x)
    if kind == "jvp":
        return fd_jacobian(F, x) @ V
    if kind == "vjp":
        return W @ fd_jacobian(F, x)
    if kind in ("jacfwd", "jacrev"):
        return fd_jacobian(F, x)
    if kind == "hessian":
        return fd_hessian(lambda z: np.sum(np.sin(F(z))), x)
    if kind == "jet":
        eps = 1e-4

        def curve(t):
            return np.asarray(F(x + t * V + 0.5 * t * t * V2))

        t1 = (curve(eps) - curve(-eps)) / (2 * eps)
        t2 = (curve(eps) - 2 * curve(0.0) + curve(-eps)) / (eps * eps)
        return t1 + t2
    raise ValueError(kind)


KINDS = ["grad", "jvp", "vjp", "jacfwd", "jacrev", "hessian", "jet"]
PAIRS = list(itertools.product(KINDS, KINDS))


def _tolerance(kind: str) -> float:
    return 1e-4 if kind in ("hessian", "jet") else 1e-6


def _check(outer_kind, inner_kind, fname, how, backend=None):
    h = FUNCTIONS[fname]
    F = inner(inner_kind, h)
    G = outer(outer_kind, F)
    if how == "py":
        got = G(X)
    else:
        got = cr.jit(G, backend=backend)(X)
    want = oracle(outer_kind, F, X)
    scale = max(1.0, float(np.max(np.abs(want))))
    np.testing.assert_allclose(got, want, atol=_tolerance(outer_kind) * scale,
                               rtol=_tolerance(outer_kind))


# Default run: every pair once, the function cycling over the three.
@pytest.mark.parametrize("outer_kind,inner_kind", PAIRS)
def test_pair(outer_kind, inner_kind):
    fname = list(FUNCTIONS)[PAIRS.index((outer_kind, inner_kind)) % 3]
    how = "jit" if PAIRS.index((outer_kind, inner_kind)) % 2 else "py"
    _check(outer_kind, inner_kind, fname, how)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["py", "jit"])
@pytest.mark.parametrize("fname", list(FUNCTIONS))
@pytest.mark.parametrize("outer_kind,inner_kind", PAIRS)
def test_pair_full(outer_kind, inner_kind, fname, how):
    _check(outer_kind, inner_kind, fname, how)


def test_pair_numba():
    _check("jvp", "grad", "loop", "jit", backend="numba")


@pytest.mark.slow
@pytest.mark.parametrize("outer_kind,inner_kind,fname", [("grad", "jvp", "inplace"),
                                                         ("jet", "vjp", "branch")])
def test_pair_numba_more(outer_kind, inner_kind, fname):
    _check(outer_kind, inner_kind, fname, "jit", backend="numba")


@pytest.mark.slow
@pytest.mark.parametrize("outer_kind,inner_kind", [("jacfwd", "jet"), ("grad", "vjp"),
                                                   ("hessian", "grad"), ("jet", "jacrev")])
def test_pair_numba_large(outer_kind, inner_kind):
    _check(outer_kind, inner_kind, "loop", "jit", backend="numba")


# -- transforms applied directly to transformed functions (no user code in between) ---------
def scalar_of(h):
    return lambda z: np.sum(np.sin(h(z)))


DIRECT = {
    "jacfwd(jacrev)": (lambda h: cr.jacfwd(cr.jacrev(h)), "jac2"),
    "jacrev(jacfwd)": (lambda h: cr.jacrev(cr.jacfwd(h)), "jac2"),
    "jacfwd(grad)": (lambda h: cr.jacfwd(cr.grad(scalar_of(h))), "hess"),
    "jacrev(grad)": (lambda h: cr.jacrev(cr.grad(scalar_of(h))), "hess"),
    "hessian": (lambda h: cr.hessian(scalar_of(h)), "hess"),
    "jacfwd(hessian)": (lambda h: lambda x: cr.jacfwd(cr.hessian(scalar_of(h)))(x) @ V,
                        "hess3"),
}


@pytest.mark.parametrize("name", list(DIRECT))
@pytest.mark.parametrize("fname", list(FUNCTIONS))
def test_direct(name, fname):
    h = FUNCTIONS[fname]
    make, what = DIRECT[name]
    got = make(h)(X)
    if what == "jac2":
        want = fd_jacobian(cr.jacrev(h), X)
    elif what == "hess":
        want = fd_jacobian(cr.grad(scalar_of(h)), X)
    else:
        want = fd_jacobian(cr.hessian(scalar_of(h)), X) @ V
    np.testing.assert_allclose(got, want, atol=1e-6 * max(1.0, np.max(np.abs(want))))


def test_direct_jvp_and_vjp_of_grad():
    g = cr.grad(scalar_of(h_loop))
    H = fd_jacobian(g, X)
    _, t = cr.jvp(g, (X,), (V,))
    np.testing.assert_allclose(t, H @ V, atol=1e-6)
    _, pullback = cr.vjp(g, X)
    np.testing.assert_allclose(pullback(W)[0], W @ H, atol=1e-6)
    _, (t1, t2) = cr.jet(g, (X,), ([V, np.zeros(3)],))
    np.testing.assert_allclose(t1, H @ V, atol=1e-6)


# -- the inner function closes over a variable the outer transform differentiates ----------
def test_inner_closure_over_outer_variable():
    # f(a) = grad_x [ sum(sin(a * x) * a) ] at x0, differentiated in a in every outer mode
    x0 = np.array([0.3, -0.2, 0.5])

    def f(a):
        return cr.grad(lambda x: np.sum(np.sin(a * x) * a))(x0)

    def f_exact(a):  # a**2 cos(a x0)
        return a * a * np.cos(a * x0)

    a = 1.3
    want = fd_jacobian(lambda t: f_exact(t[0]), np.array([a]))[:, 0]
    np.testing.assert_allclose(cr.jacfwd(f)(a), want, atol=1e-7)
    np.testing.assert_allclose(cr.jacrev(f)(a), want, atol=1e-7)
    np.testing.assert_allclose(cr.jvp(f, (a,), (1.0,))[1], want, atol=1e-7)
    np.testing.assert_allclose(cr.jit(lambda t: cr.jacfwd(f)(t))(a), want, atol=1e-7)
    g = cr.grad(lambda t: np.sum(f(t) * W))(a)
    assert abs(g - W @ want) < 1e-7
    _, (t1, t2) = cr.jet(f, (a,), ([1.0, 0.0],))
    np.testing.assert_allclose(t1, want, atol=1e-7)
