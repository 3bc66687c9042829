"""The rule table through ``jacobian_ir``: for every row of ``tests/test_rules_table.py``, the
Jacobian of the one-primitive function by forward mode (a loop over input directions that learns
the output shapes in its first trip) and by reverse mode (a loop over output elements, or one
VJP for a scalar output) agree with each other and with central differences, element by
element, for every differentiated argument."""

from __future__ import annotations

import numpy as np
import pytest
from rule_harness import Row, _all_names, compile_fn, primal_fn, value_type
from test_rules_table import TABLE

from chainrule.frontend.compile import Compiled
from chainrule.ir.builder import Names
from chainrule.passes.cleanup import simplify
from chainrule.transforms.wrap import Signature, jacobian_ir


def _fd_jacobian(f, args: list, i: int, h: float) -> np.ndarray:
    x = np.asarray(args[i], dtype=np.float64)
    out = np.asarray(f(*args)[0], dtype=np.float64)
    jac = np.zeros(out.shape + x.shape)
    for k in np.ndindex(x.shape):
        moved = [list(args), list(args)]
        for sign, m in zip((1.0, -1.0), moved):
            xk = x.copy()
            xk[k] += sign * h
            m[i] = xk.astype(np.asarray(args[i]).dtype) if np.ndim(args[i]) else float(xk)
        d = (np.asarray(f(*moved[0])[0], dtype=np.float64)
             - np.asarray(f(*moved[1])[0], dtype=np.float64)) / (2 * h)
        jac[(Ellipsis,) + k] = d
    return jac


@pytest.mark.parametrize("row", TABLE, ids=lambda r: r.id)
def test_jacobians_of_every_rule(row: Row) -> None:
    rng = np.random.default_rng(3)
    args = list(row.cases(rng)[0])
    types = [value_type(a) for a in args]
    diff = tuple(row.diff if row.diff is not None else
                 [i for i, t in enumerate(types) if t.is_float])
    fn = primal_fn(row.prim, types, row.params)
    if not fn.results[0].type.is_float or not diff:
        pytest.skip("no float output or no float argument")
    f = compile_fn(fn)
    got = {}
    for mode in ("fwd", "rev"):
        base = Compiled(fn, fn.results[0], list(fn.params))
        jac = jacobian_ir(base, Signature(list(fn.params)), diff, mode, Names(_all_names(fn)),
                          as_tuple=True)
        got[mode] = compile_fn(simplify(jac.fn))(*args)
    tol = dict(rtol=max(row.rtol, 1e-6), atol=max(row.atol, 1e-8))
    loose = dict(rtol=max(row.rtol, 1e-4), atol=max(row.atol, 1e-6))
    for k, i in enumerate(diff):
        fwd, rev = (np.asarray(got[m][k], dtype=np.float64) for m in ("fwd", "rev"))
        fd = _fd_jacobian(f, args, i, row.h)
        assert fwd.shape == fd.shape and rev.shape == fd.shape, (fwd.shape, rev.shape, fd.shape)
        np.testing.assert_allclose(fwd, rev, **tol, err_msg=f"{row.id}: jacfwd vs jacrev, arg {i}")
        np.testing.assert_allclose(fwd, fd, **loose, err_msg=f"{row.id}: jacfwd vs FD, arg {i}")


def _stats(x, y):
    return {"m": np.sum(x) * y + np.ones(2) * np.sum(x * x), "s": np.sum(np.sin(x)) * y}


@pytest.mark.parametrize("n", [0, 1, 4])
def test_jacobian_shapes_come_from_the_first_direction(n):
    import chainrule as cr
    from chainrule.testing import numerical_grad

    x, y = np.linspace(0.1, 0.9, n), 1.5
    for tr in (cr.jacfwd, cr.jacrev):
        jac = tr(_stats, argnums=(0, 1))(x, y)
        assert jac["m"][0].shape == (2, n) and jac["m"][1].shape == (2,)
        assert jac["s"][0].shape == (n,) and np.shape(jac["s"][1]) == ()
        for key in ("m", "s"):
            for k in (0, 1):
                ref = numerical_grad(lambda *a, key=key: _stats(*a)[key], (x, y), argnum=k)
                np.testing.assert_allclose(jac[key][k], ref, rtol=1e-6, atol=1e-9)
    h = cr.hessian(lambda x: np.sum(np.sin(x) * x[::-1]))(x)
    assert h.shape == (n, n)
    np.testing.assert_allclose(h, numerical_grad(cr.grad(lambda x: np.sum(np.sin(x) * x[::-1])),
                                                 (x,)), rtol=1e-6, atol=1e-8)
