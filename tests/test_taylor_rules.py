"""Every Taylor rule against nested forward mode.

For each row of the rule table (tests/test_rules_table.py) the differentiated arguments move
along a random polynomial curve ``x(t) = x0 + v1 t + ... + vK t^K``. The primitive's Taylor rule
gives the normalised coefficients of ``f(x(t))``; the oracle is the k-th derivative at t = 0 by
k nested JVPs (each primitive's JVP rule, through the forward transform) of ``t -> f(x(t))``,
divided by k!.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from rule_harness import compile_fn, value_type
from test_rules_table import INTERNAL, TABLE

from chainrule.ir.builder import Builder, Names
from chainrule.ir.nodes import Function
from chainrule.ir.types import F64
from chainrule.rules import PRIMS
from chainrule.transforms.forward import jvp_function
from chainrule.transforms.taylor import taylor_function

ORDER = 4
# Primitives whose Taylor rule stops at order 1 (higher orders raise MissingRuleError).
FIRST_ORDER_ONLY = ("eigvalsh", "eigh_vectors", "svd_s", "svd_u", "svd_vt")


def _has_zero(args) -> bool:
    return any(isinstance(a, np.ndarray) and a.dtype.kind == "f" and np.any(a == 0)
               for a in args)


def _series_fn(prim, types, params, diff, K) -> Function:
    b = Builder()
    xs = [b.new_var(f"x{i}", t) for i, t in enumerate(types)]
    out = b.emit(prim, *xs, **params)
    fn = Function(f"f_{prim}", xs, b.block, [out])
    wrt = [i in diff for i in range(len(xs))]
    return taylor_function(fn, wrt, K, Names({x.name for x in xs} | {out.name}))


def _curve_fn(prim, types, params, diff, K) -> Function:
    """``(t, args..., v_ik...) -> f(args with x_i + sum_k v_ik t^k)``, nested K times by JVP
    in t; result 2^k - 1 is the k-th derivative."""
    b = Builder()
    t = b.new_var("t", F64)
    xs = [b.new_var(f"x{i}", ty) for i, ty in enumerate(types)]
    vs = {i: [b.new_var(f"v{i}_{k}", types[i]) for k in range(1, K + 1)] for i in diff}
    powers = [None, t]
    for _ in range(2, K + 1):
        powers.append(b.mul(powers[-1], t))
    args = []
    for i, x in enumerate(xs):
        a = x
        for k, v in enumerate(vs.get(i, []), 1):
            a = b.add(a, b.mul(v, powers[k]))
        args.append(a)
    out = b.emit(prim, *args, **params)
    fn = Function(f"c_{prim}", [t] + xs + [v for i in diff for v in vs[i]], b.block, [out])
    for _ in range(K):
        fn = jvp_function(fn, [p is fn.params[0] or p.name == "t" for p in fn.params])
    return fn


def _check(row, args, rng, K):
    prim, params = row.prim, row.params
    types = [value_type(a) for a in args]
    diff = list(row.diff if row.diff is not None else
                [i for i, t in enumerate(types) if t.is_float])
    coeffs = {i: [np.asarray(rng.standard_normal(np.shape(args[i]))) if np.ndim(args[i])
                  else float(rng.standard_normal()) for _ in range(K)] for i in diff}
    series = compile_fn(_series_fn(prim, types, params, diff, K))
    res = series(*args, *[c for i in diff for c in coeffs[i]])
    oracle = compile_fn(_curve_fn(prim, types, params, diff, K))
    ores = oracle(0.0, *args, *[c for i in diff for c in coeffs[i]], *([1.0] * K))
    for k in range(1, K + 1):
        expected = np.asarray(ores[2 ** k - 1], dtype=np.float64) / math.factorial(k)
        actual = np.asarray(res[k], dtype=np.float64)
        scale = 1.0 + np.max(np.abs(expected)) if np.size(expected) else 1.0
        np.testing.assert_allclose(actual, expected, rtol=1e-7, atol=1e-9 * scale,
                                   err_msg=f"{row.id}: Taylor coefficient {k}")


@pytest.mark.parametrize("row", TABLE + INTERNAL, ids=lambda r: r.id)
def test_taylor_rule_matches_nested_forward_mode(row) -> None:
    rng = np.random.default_rng(3)
    for args in row.cases(rng):
        args = tuple(args)
        order = 3 if row.prim in ("det", "solve", "inv", "logabsdet", "cholesky") else ORDER
        if row.prim in FIRST_ORDER_ONLY:
            order = 1
        if row.prim == "prod" and _has_zero(args):
            order = 1  # (orders >= 2 need nonzero elements: test_prod_with_zeros)
        _check(row, args, rng, order)


def test_prod_with_zeros() -> None:
    """prod's order-1 rule is the JVP (exact with zeros); higher orders go through logarithms
    and give nan or inf where an element is zero, never a finite wrong number."""
    x = np.array([[0.5, 0.0, 2.0], [1.5, 1.0, 3.0]])
    prim = PRIMS["prod"]
    assert prim.taylor is not None
    series = compile_fn(_series_fn("prod", [value_type(x)], {"axis": 1}, [0], 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        res = series(x, np.ones_like(x), np.ones_like(x))
    assert not np.all(np.isfinite(res[2][0]))
    poly = np.array([1.0])
    for xi in x[1]:  # (xi + t + t^2), coefficients from the highest power down
        poly = np.polymul(poly, [1.0, 1.0, xi])
    np.testing.assert_allclose(res[2][1], poly[-3], rtol=1e-12)
