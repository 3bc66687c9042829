"""``chainrule.vmap``: values against a Python loop over the examples, derivatives against
finite differences, axis conventions (JAX's), pytrees, batch sizes 0 and 1, control flow and
in-place writes, composition with the other transforms, errors, the cache key, and Numba."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import BatchError
from chainrule.testing import numerical_grad

RNG = np.random.default_rng(7)


def loop_oracle(f, xs, *shared, axis=0):
    """``f`` applied example by example in Python, stacked along axis 0."""
    return np.stack([np.asarray(f(x, *shared)) for x in np.moveaxis(xs, axis, 0)])


def mlp(x, w):
    h = np.tanh(w[0] @ x + w[1])
    return np.sum(h * h)


def with_loop_branch_and_write(x, c):
    y = np.zeros_like(x)
    acc = 0.0
    for i in range(x.shape[0]):
        if x[i] > c:
            y[i] = np.sin(x[i]) * x[i]
            acc += x[i]
        else:
            y[i] = x[i] ** 2
    y[0] = y[0] + acc
    return y


def writes_its_argument(x):
    x[0] = x[0] * 3.0
    x *= 2.0
    return np.sum(x * x)


# -- values ---------------------------------------------------------------------------------
def test_in_axes_none_shares_an_argument():
    xs = RNG.normal(size=(5, 3))
    w = (RNG.normal(size=(4, 3)), RNG.normal(size=4))
    got = cr.vmap(mlp, in_axes=(0, None))(xs, w)
    np.testing.assert_allclose(got, loop_oracle(mlp, xs, w), rtol=1e-12)


@pytest.mark.parametrize("axis", [1, -1, 2, -3])
def test_int_and_negative_in_axes(axis):
    xs = RNG.normal(size=(2, 3, 4))
    got = cr.vmap(lambda x: np.sin(x) @ np.ones(x.shape[1]), in_axes=axis)(xs)
    ref = loop_oracle(lambda x: np.sin(x) @ np.ones(x.shape[1]), xs, axis=axis)
    np.testing.assert_allclose(got, ref, rtol=1e-12)


@pytest.mark.parametrize("out_axes", [0, 1, -1])
def test_out_axes(out_axes):
    xs = RNG.normal(size=(4, 3))
    got = cr.vmap(lambda x: np.outer(x, x[:2]), out_axes=out_axes)(xs)
    ref = np.moveaxis(loop_oracle(lambda x: np.outer(x, x[:2]), xs), 0, out_axes)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_out_axes_none_for_an_unbatched_result():
    xs, w = RNG.normal(size=(3, 2)), RNG.normal(size=2)
    ys, ws = cr.vmap(lambda x, w: (x * w, 2.0 * w), in_axes=(0, None), out_axes=(0, None))(xs, w)
    np.testing.assert_allclose(ys, xs * w)
    np.testing.assert_allclose(ws, 2.0 * w)
    with pytest.raises(BatchError, match="out_axes is None"):
        cr.vmap(lambda x, w: (x * w, np.sum(x)), in_axes=(0, None), out_axes=(0, None))(xs, w)


class Params(NamedTuple):
    scale: np.ndarray
    shift: float


def test_pytree_in_axes_and_outputs():
    xs = {"a": RNG.normal(size=(4, 2)), "b": RNG.normal(size=(3, 4))}
    p = Params(RNG.normal(size=2), 0.5)

    def f(d, p):
        return {"u": d["a"] * p.scale + p.shift, "v": np.sum(d["b"]) * d["a"][0]}

    got = cr.vmap(f, in_axes=({"a": 0, "b": 1}, None))(xs, p)
    for i in range(4):
        ref = f({"a": xs["a"][i], "b": xs["b"][:, i]}, p)
        np.testing.assert_allclose(got["u"][i], ref["u"])
        np.testing.assert_allclose(got["v"][i], ref["v"])
    # A NamedTuple of axes maps the fields of a NamedTuple argument.
    ps = Params(RNG.normal(size=(4, 2)), 0.5)
    got = cr.vmap(lambda p: p.scale * p.shift, in_axes=(Params(0, None),))(ps)
    np.testing.assert_allclose(got, ps.scale * 0.5)


@pytest.mark.parametrize("n", [0, 1])
def test_batch_sizes_zero_and_one(n):
    xs = RNG.normal(size=(n, 3))
    got = cr.vmap(lambda x: np.outer(x, x))(xs)
    assert got.shape == (n, 3, 3)
    np.testing.assert_allclose(got, np.einsum("bi,bj->bij", xs, xs))
    g = cr.grad(lambda xs: np.sum(cr.vmap(lambda x: np.sin(x) * x)(xs)))(xs)
    assert g.shape == xs.shape
    np.testing.assert_allclose(g, np.sin(xs) + xs * np.cos(xs))


def test_loops_branches_and_in_place_writes():
    xs = RNG.normal(size=(6, 5))
    got = cr.vmap(with_loop_branch_and_write, in_axes=(0, None))(xs, 0.1)
    np.testing.assert_allclose(got, loop_oracle(with_loop_branch_and_write, xs, 0.1))


def test_writes_into_the_example_never_change_the_batch():
    xs = RNG.normal(size=(3, 4))
    before = xs.copy()
    for v in (cr.vmap(writes_its_argument), cr.jit(cr.vmap(writes_its_argument))):
        got = v(xs)
        np.testing.assert_allclose(got, loop_oracle(writes_its_argument, before.copy()))
        np.testing.assert_array_equal(xs, before)
    g = cr.grad(lambda xs: np.sum(cr.vmap(writes_its_argument)(xs)))(xs)
    np.testing.assert_allclose(g, numerical_grad(
        lambda xs: np.sum(loop_oracle(writes_its_argument, xs.copy())), (xs,)), rtol=1e-6)


def test_integer_and_scalar_examples():
    ks = np.array([1, 2, 3])
    xs = np.array([0.5, 1.5, 2.5])
    got = cr.vmap(lambda k, x: x ** k + (k > 1))(ks, xs)
    np.testing.assert_allclose(got, xs ** ks + (ks > 1))


# -- composition ----------------------------------------------------------------------------
def test_per_example_gradients():
    xs = RNG.normal(size=(5, 3))
    w = (RNG.normal(size=(4, 3)), RNG.normal(size=4))
    per_example = cr.vmap(cr.grad(mlp, argnums=1), in_axes=(0, None))(xs, w)
    assert per_example[0].shape == (5, 4, 3) and per_example[1].shape == (5, 4)
    for i in range(5):
        ref = numerical_grad(mlp, (xs[i], w), argnum=1)
        np.testing.assert_allclose(per_example[0][i], ref[0], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(per_example[1][i], ref[1], rtol=1e-6, atol=1e-9)


def test_grad_through_the_batch_loop():
    xs = RNG.normal(size=(4, 5))

    def loss(xs, c):
        return np.sum(cr.vmap(with_loop_branch_and_write, in_axes=(0, None))(xs, c) ** 2)

    g = cr.grad(loss)(xs, 0.1)
    ref = numerical_grad(lambda xs: np.sum(loop_oracle(with_loop_branch_and_write, xs, 0.1)
                                           ** 2), (xs,))
    np.testing.assert_allclose(g, ref, rtol=1e-6, atol=1e-8)
    # The transform object composes the same way as the call inside the function.
    v = cr.vmap(with_loop_branch_and_write, in_axes=(0, None))
    jac = cr.jacrev(v)(xs[:2], 0.1)
    np.testing.assert_allclose(jac, numerical_grad(lambda xs: v(xs, 0.1), (xs[:2],)),
                               rtol=1e-6, atol=1e-8)


def test_vmap_of_vmap_and_of_jacobians():
    xs = RNG.normal(size=(2, 3, 4))
    got = cr.vmap(cr.vmap(lambda x: np.sum(np.sin(x))))(xs)
    np.testing.assert_allclose(got, np.sum(np.sin(xs), axis=2))
    jac = cr.vmap(cr.jacfwd(lambda x: np.sin(x) * x[0]))(xs[0])
    for i in range(3):
        np.testing.assert_allclose(jac[i], numerical_grad(lambda x: np.sin(x) * x[0],
                                                          (xs[0, i],)), rtol=1e-6)
    h = cr.vmap(cr.hessian(lambda x: np.sum(x ** 3)))(xs[0])
    np.testing.assert_allclose(h, np.stack([np.diag(6 * x) for x in xs[0]]), rtol=1e-12)


def test_forward_mode_through_vmap():
    xs, t = RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4))
    out, tan = cr.jvp(cr.vmap(lambda x: np.cumsum(np.sin(x))), (xs,), (t,))
    np.testing.assert_allclose(out, np.cumsum(np.sin(xs), axis=1))
    np.testing.assert_allclose(tan, np.cumsum(np.cos(xs) * t, axis=1))


# -- errors and caching ---------------------------------------------------------------------
def test_batch_sizes_must_agree():
    f = cr.vmap(lambda x, y: x * y)
    with pytest.raises(BatchError, match=r"argument 1 .*batch size 4, but argument 0 .* has 3"):
        f(np.ones(3), np.ones(4))
    # Called inside compiled code: the message names the call's file:line.
    with pytest.raises(BatchError, match=r"test_vmap.py:\d+.*batch size"):
        cr.grad(lambda x, y: np.sum(f(x, y)))(np.ones(3), np.ones(4))


def test_axis_errors_are_typed():
    with pytest.raises(BatchError, match="out of range"):
        cr.vmap(np.sin, in_axes=2)(np.ones((2, 2)))
    with pytest.raises(BatchError, match="scalar"):
        cr.vmap(lambda x, y: x * y)(np.ones(2), 3.0)
    with pytest.raises(BatchError, match="2 entries for 1"):
        cr.vmap(np.sin, in_axes=(0, 0))(np.ones(2))
    with pytest.raises(BatchError, match="at least one batched"):
        cr.vmap(np.sin, in_axes=None)(np.ones(2))
    with pytest.raises(BatchError, match="does not match"):
        cr.vmap(lambda d: d["a"], in_axes=({"b": 0},))({"a": np.ones(2)})
    with pytest.raises(BatchError, match="ints, None"):
        cr.vmap(np.sin, in_axes="x")


def test_in_axes_are_part_of_the_cache_key(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAINRULE_CACHE_DIR", str(tmp_path))
    xs = np.arange(6.0).reshape(2, 3)
    a = cr.vmap(lambda x: np.sum(x * x), in_axes=0)
    b = cr.vmap(lambda x: np.sum(x * x), in_axes=1)
    np.testing.assert_allclose(a(xs), [5.0, 50.0])
    assert cr.cache.explain(a, xs) == "hit"
    assert cr.cache.explain(b, xs) != "hit"
    np.testing.assert_allclose(b(xs), [9.0, 17.0, 29.0])


# -- Numba ----------------------------------------------------------------------------------
def test_numba_per_example_gradients_and_loops():
    xs = RNG.normal(size=(5, 3))
    w = (RNG.normal(size=(4, 3)), RNG.normal(size=4))
    per_example = cr.vmap(cr.grad(mlp, argnums=1), in_axes=(0, None), backend="numba")(xs, w)
    ref = cr.vmap(cr.grad(mlp, argnums=1), in_axes=(0, None), backend="numpy")(xs, w)
    # Numba's vectorised tanh differs from NumPy's by a few ulp; cancellations in the
    # backward pass turn that into ~1e-15 absolute differences on entries of ~1e-4.
    np.testing.assert_allclose(per_example[0], ref[0], rtol=1e-10, atol=1e-14)
    ys = RNG.normal(size=(4, 5))
    got = cr.vmap(with_loop_branch_and_write, in_axes=(0, None), out_axes=1,
                  backend="numba")(ys, 0.1)
    np.testing.assert_allclose(got, loop_oracle(with_loop_branch_and_write, ys, 0.1).T)
    with pytest.raises(BatchError, match="batch size"):
        cr.vmap(lambda x, y: x * y, backend="numba")(np.ones(3), np.ones(4))


@pytest.mark.slow
def test_numba_reverse_through_vmap_in_compiled_code():
    xs = RNG.normal(size=(4, 5))

    def loss(xs, c):
        return np.sum(cr.vmap(with_loop_branch_and_write, in_axes=(0, None))(xs, c) ** 2)

    g = cr.grad(loss, backend="numba")(xs, 0.1)
    np.testing.assert_allclose(g, cr.grad(loss, backend="numpy")(xs, 0.1), rtol=1e-10, atol=1e-14)
