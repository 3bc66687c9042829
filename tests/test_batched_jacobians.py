"""``jacfwd``, ``jacrev`` and ``hessian`` as users call them, under Numba: the batched sweep
(all basis directions in one pass, the default) and the loop over directions
(``jacobian.BATCH = False``) give the same values, and both match central differences; array
code takes the batched sweep (no loop over directions in the generated code), scalar loops fall
back to the loop, and a primitive without a batch rule runs its statement once per direction
inside an otherwise batched sweep."""

from __future__ import annotations

import re

import numpy as np
import pytest

import chainrule as cr
from chainrule.transforms import jacobian

RNG = np.random.default_rng(7)
W = RNG.normal(size=(4, 3))
B = RNG.normal(size=4)


def layer(x):
    return np.tanh(W @ x + B)


def loss(x):
    h = np.tanh(W @ x + B)
    return np.sum(h * h) + 0.5 * np.sum(x ** 3)


def inplace(x):
    y = np.zeros(x.shape[0] + 1)
    y[1:] = x * x
    y[0] = np.sum(np.sin(x))
    y[2] *= y[0]
    return y


def pytree(p):
    a, b = p["a"], p["b"]
    return {"u": np.sum(a * a) * b[0], "v": np.cos(a) * b[1]}


def with_inv(x):
    m = np.diag(x) + 3.0 * np.eye(x.shape[0])
    return np.linalg.inv(m) @ x


def scalar_loop(x):
    s = 0.0
    out = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        s = s * 0.5 + np.sin(x[i])
        out[i] = s
    return out


def _fd(f, x, h=1e-6):
    x = np.asarray(x, dtype=np.float64)
    y0 = np.asarray(f(x))
    jac = np.zeros(y0.shape + x.shape)
    for k in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[k] += h
        xm[k] -= h
        jac[(Ellipsis,) + k] = (np.asarray(f(xp)) - np.asarray(f(xm))) / (2 * h)
    return jac


def _both_sweeps(transform, f, *args):
    """The transform's values with the batched sweep and with the loop over directions."""
    got = []
    for batch in (True, False):
        jacobian.BATCH = batch
        try:
            got.append(transform(f, backend="numba")(*args))
        finally:
            jacobian.BATCH = True
    return got


LOOP = re.compile(r"for k(_\d+)? in range")
# (inv has no batch rule: its statement loops over the directions; Numba takes ~30-50 s to
# compile that sweep, so it runs with -m slow, as do in-place writes, to keep the default run
# short)
CASES = [(layer, 3), (scalar_loop, 5), pytest.param(inplace, 4, marks=pytest.mark.slow),
         pytest.param(with_inv, 3, marks=pytest.mark.slow)]


@pytest.mark.parametrize("f,n", CASES, ids=lambda c: getattr(c, "__name__", str(c)))
@pytest.mark.parametrize("transform", [cr.jacfwd, cr.jacrev], ids=["jacfwd", "jacrev"])
def test_jacobians_batched_and_looped_match_fd(transform, f, n) -> None:
    x = RNG.normal(size=n)
    batched, looped = _both_sweeps(transform, f, x)
    np.testing.assert_allclose(batched, looped, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(batched, _fd(f, x), rtol=1e-6, atol=1e-8)


def test_hessian_batched_and_looped_match_fd() -> None:
    x = RNG.normal(size=3)
    batched, looped = _both_sweeps(cr.hessian, loss, x)
    np.testing.assert_allclose(batched, looped, rtol=1e-10, atol=1e-12)
    grad = cr.grad(loss, backend="numba")
    np.testing.assert_allclose(batched, _fd(grad, x), rtol=1e-6, atol=1e-8)


def test_pytree_in_and_out() -> None:
    p = {"a": RNG.normal(size=3), "b": RNG.normal(size=2)}
    for transform in (cr.jacfwd, cr.jacrev):
        batched, looped = _both_sweeps(transform, pytree, p)
        for out in ("u", "v"):
            for arg in ("a", "b"):
                np.testing.assert_allclose(batched[out][arg], looped[out][arg], rtol=1e-10,
                                           atol=1e-12)

                def part(z, out=out, arg=arg):
                    q = dict(p)
                    q[arg] = z
                    return pytree(q)[out]

                np.testing.assert_allclose(batched[out][arg], _fd(part, p[arg]), rtol=1e-6,
                                           atol=1e-8)


def test_empty_input_and_scalar_input() -> None:
    for transform in (cr.jacfwd, cr.jacrev):
        jac = transform(layer_of_any, backend="numba")(np.zeros(0))
        assert jac.shape == (2, 0)
        d = transform(scalar_fn, backend="numba")(0.3)
        np.testing.assert_allclose(d, np.cos(0.3) * 2.0 + 2 * 0.3, rtol=1e-12)


def layer_of_any(x):
    return np.array([np.sum(x), np.sum(x * x)])


def scalar_fn(x):
    return 2.0 * np.sin(x) + x * x


def test_array_code_is_batched_and_scalar_loops_are_not() -> None:
    x = RNG.normal(size=3)
    src = cr.show(cr.jacfwd(layer, backend="numba"), x)
    assert not LOOP.search(src), src
    assert "matmul(" in src
    src = cr.show(cr.jacfwd(scalar_loop, backend="numba"), x)
    assert LOOP.search(src), src
