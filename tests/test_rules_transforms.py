"""The rule table run through the real transforms (not the rules called directly).

For every row of ``tests/test_rules_table.py``: the one-primitive function is transformed with
``jvp_function`` and ``vjp_function`` (and, for second order, ``jvp_function`` of the VJP and
``vjp_function`` of the JVP); forward mode is compared with finite differences, reverse mode
with forward mode, and the two second-order compositions with each other.
"""

from __future__ import annotations

import numpy as np
import pytest
from rule_harness import Row, axpy, compile_fn, inner, primal_fn, random_like, value_type
from test_rules_table import TABLE

from chainrule.transforms.forward import jvp_function
from chainrule.transforms.reverse import vjp_function


def _close(got, want, row: Row, what: str) -> None:
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64),
                               np.asarray(want, dtype=np.float64),
                               rtol=max(row.rtol, 1e-6), atol=max(row.atol, 1e-8),
                               err_msg=f"{row.id}: {what}")


def _check(row: Row, args: tuple, rng: np.random.Generator) -> None:
    types = [value_type(a) for a in args]
    diff = list(row.diff if row.diff is not None else
                [i for i, t in enumerate(types) if t.is_float])
    fn = primal_fn(row.prim, types, row.params)
    wrt = [i in diff for i in range(len(args))]
    f = compile_fn(fn)
    out = f(*args)[0]
    vs = [random_like(rng, args[i]) for i in diff]

    jfn = jvp_function(fn, wrt)
    jv = compile_fn(jfn)(*args, *vs)[1]
    moved = [list(args), list(args)]
    for i, v in zip(diff, vs):
        moved[0][i] = axpy(args[i], row.h, v)
        moved[1][i] = axpy(args[i], -row.h, v)
    fd = (np.asarray(f(*moved[0])[0], dtype=np.float64)
          - np.asarray(f(*moved[1])[0], dtype=np.float64)) / (2 * row.h)
    _close(jv, fd, row, "transformed JVP vs finite differences")

    g = random_like(rng, out)
    vfn = vjp_function(fn, wrt)
    cots = compile_fn(vfn)(*args, g)[1:]
    lhs = inner(g, jv)
    rhs = sum(inner(c, v) for c, v in zip(cots, vs))
    _close(rhs, lhs, row, "transformed VJP vs transformed JVP")

    if not row.second:
        return
    # Second order, two ways: d/dt <g, J(x + t v) w> via forward-over-reverse (jvp of vjp)
    # and reverse-over-forward (vjp of jvp, contracted with w).
    ws = [random_like(rng, args[i]) for i in diff]
    fr = jvp_function(vfn, wrt + [False])
    fr_out = compile_fn(fr)(*args, g, *vs)
    n_cots = len(diff)
    d_cots = fr_out[2 + n_cots:]
    a = sum(inner(dc, w) for dc, w in zip(d_cots, ws))
    # reverse over forward: cotangent 1 on the tangent output, 0 on the primal output
    rf = vjp_function(jfn, list(wrt) + [False] * len(diff),
                      diff_results=[False, True])
    tangent_g = g
    rf_out = compile_fn(rf)(*args, *ws, tangent_g)
    grads = rf_out[2:]
    b = sum(inner(gr, v) for gr, v in zip(grads, vs))
    _close(a, b, row, "forward-over-reverse vs reverse-over-forward")


@pytest.mark.parametrize("row", TABLE, ids=lambda r: r.id)
def test_rule_through_transforms(row: Row) -> None:
    rng = np.random.default_rng(1)
    for args in row.cases(rng):
        _check(row, tuple(args), rng)
