"""The rule table through ``jacobian_ir``: for every row of ``tests/test_rules_table.py``, the
Jacobian of the one-primitive function by forward mode and by reverse mode, each both with all
directions in one batched sweep (the primitives' batch rules, rules/batching.py) and as a loop
over directions (one JVP per input element, learning the output shapes in its first trip; one
VJP per output element, or one for a scalar output), agree with each other and with central
differences, element by element, for every differentiated argument; and representative rows
(every row with ``-m slow``) compile with Numba and give the NumPy backend's values."""

from __future__ import annotations

import numpy as np
import pytest
import rule_harness
from numba_harness import Recorder, run_batched
from rule_harness import Row, _all_names, compile_fn, primal_fn, value_type
from test_rules_table import TABLE

from chainrule.frontend.compile import Compiled
from chainrule.ir.builder import Names
from chainrule.passes.cleanup import simplify
from chainrule.transforms import jacobian
from chainrule.transforms.wrap import Signature


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


def check_jacobians(row: Row, compile_fn=compile_fn, sweeps=(True, False), richest=False) -> None:
    """Both sweeps (batched and a loop over directions) in both modes against each other and
    central differences; at the row's first case, or with ``richest`` its case of most
    dimensions."""
    cases = row.cases(np.random.default_rng(3))
    args = list(max(cases, key=lambda a: sum(np.ndim(v) for v in a)) if richest else cases[0])
    types = [value_type(a) for a in args]
    diff = tuple(row.diff if row.diff is not None else
                 [i for i, t in enumerate(types) if t.is_float])
    fn = primal_fn(row.prim, types, row.params)
    if not fn.results[0].type.is_float or not diff:
        pytest.skip("no float output or no float argument")
    f = rule_harness.compile_fn(fn)
    got = {}
    for batch in sweeps:
        jacobian.BATCH = batch
        try:
            for mode in ("fwd", "rev"):
                base = Compiled(fn, fn.results[0], list(fn.params))
                jac = jacobian.jacobian_ir(base, Signature(list(fn.params)), diff, mode,
                                           Names(_all_names(fn)), as_tuple=True)
                got[mode, batch] = compile_fn(simplify(jac.fn))(*args)
        finally:
            jacobian.BATCH = True
    tol = dict(rtol=max(row.rtol, 1e-6), atol=max(row.atol, 1e-8))
    loose = dict(rtol=max(row.rtol, 1e-4), atol=max(row.atol, 1e-6))
    for k, i in enumerate(diff):
        fd = _fd_jacobian(f, args, i, row.h)
        loop = np.asarray(got["fwd", sweeps[-1]][k], dtype=np.float64)
        for (mode, batch), res in got.items():
            jac = np.asarray(res[k], dtype=np.float64)
            what = f"{row.id}: {mode} ({'batched' if batch else 'loop'}), arg {i}"
            assert jac.shape == fd.shape, (what, jac.shape, fd.shape)
            np.testing.assert_allclose(jac, loop, **tol, err_msg=f"{what} vs fwd")
            np.testing.assert_allclose(jac, fd, **loose, err_msg=f"{what} vs FD")


@pytest.mark.parametrize("row", TABLE, ids=lambda r: r.id)
def test_jacobians_of_every_rule(row: Row) -> None:
    check_jacobians(row)


def _under_numba(rows) -> None:
    rec = Recorder()
    for row in rows:
        rec.label = row.id
        try:
            check_jacobians(row, rec.compile_fn, sweeps=(True,), richest=True)
        except pytest.skip.Exception:
            pass
    problems = run_batched(rec.calls, "numba_jacobians")
    assert not problems, "\n".join(problems)


# Rows whose batch rules do more than pad an operand (reductions over an axis or all of them,
# index reads, stacking) and one without a batch rule (inv), whose statement runs in a loop over
# the batch. Batched sweeps at each row's richest case. Numba takes 5-30 s per row here (new
# specialisations of 4-D to 6-D array helpers), so the rows with heavier compiles (matrix
# products, solves, cumulative sums, transposes, maximum) run with ``-m slow``; a layer's
# batched Jacobians under Numba are checked in ``test_batched_jacobians.py``.
NUMBA_ROWS = ("sum(axis=-1,keepdims=True)", "getitem(spec=('s000', 'i'))",
              "concatenate(axis=-1)", "inv")
SLOW_NUMBA_ROWS = ("matmul", "solve", "cumsum(axis=-1)", "transpose(axes=(1, 2, 0))", "maximum",
                   "sum", "getitem(spec=('m',))")
BY_ID = {r.id: r for r in TABLE}


def test_batched_jacobians_under_numba() -> None:
    """The batched Jacobians of representative rows compile with Numba (no fallback) and give
    the NumPy backend's values."""
    _under_numba([BY_ID[i] for i in NUMBA_ROWS])


@pytest.mark.slow
def test_heavier_batched_jacobians_under_numba() -> None:
    _under_numba([BY_ID[i] for i in SLOW_NUMBA_ROWS])


@pytest.mark.slow
@pytest.mark.parametrize("k", range(0, len(TABLE), 16))
def test_every_rule_jacobians_under_numba(k) -> None:
    _under_numba(TABLE[k:k + 16])


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
