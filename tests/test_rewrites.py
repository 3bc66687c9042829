"""Rewrite rules (chainrule/rewrites): one row per built-in rule, checking that it fires on a small
IR function and that the rewritten function computes what the original did (bit for bit with
special values where the rule claims so); places where no rule may fire (reassignments, in-place
writes, unknown shapes, aliasing); the engine inside the real pipeline."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import chainrule as cr
from chainrule.ir.builder import Builder, Names, const
from chainrule.ir.nodes import Function, Var
from chainrule.ir.types import BOOL, F64, I64, Type
from chainrule.ir.verify import verify
from chainrule.rewrites import engine
from tests.rule_harness import compile_fn

V1 = Type("float64", 1)
V2 = Type("float64", 2)
V3 = Type("float64", 3)
SPECIAL = np.array([0.0, -0.0, 1.5, -2.25, np.inf, -np.inf, np.nan, 1e308, -5e-324])


@dataclass
class Row:
    rule: str
    params: list  # types of the parameters
    body: Callable  # (b, *params) -> result atom
    stage: str = "before"
    bitwise: bool = True
    inputs: Callable | None = None  # rng -> list of argument tuples


def _scalars(n: int) -> Callable:
    def make(rng):
        cases = [tuple(rng.standard_normal(n) * 3) for _ in range(5)]
        cases += [tuple(np.resize(np.roll(SPECIAL, k), n)) for k in range(len(SPECIAL))]
        return cases
    return make


def _vectors(n: int, shape: tuple = (6,)) -> Callable:
    def make(rng):
        return [tuple(rng.standard_normal(shape) for _ in range(n)) for _ in range(3)] + \
            [tuple(np.resize(np.roll(SPECIAL, k), shape) for k in range(n))]
    return make


def _ints(rng):
    return [(int(v),) for v in rng.integers(-10**12, 10**12, 5)] + [(0,), (-1,)]


def _dims(a, b):
    return b.size(a)


ROWS = [
    Row("mul_by_one", [F64], lambda b, x: b.mul(const(1.0), x)),
    Row("mul_by_one", [I64], lambda b, x: b.mul(x, 1), inputs=_ints),
    Row("mul_by_one", [V1], lambda b, x: b.mul(x, 1.0), inputs=_vectors(1)),
    Row("div_by_one", [F64], lambda b, x: b.div(x, 1.0)),
    Row("pow_one", [F64], lambda b, x: b.pow(x, 1.0)),
    Row("mul_by_minus_one", [F64], lambda b, x: b.mul(x, -1.0)),
    Row("div_by_minus_one", [V1], lambda b, x: b.div(x, -1.0), inputs=_vectors(1)),
    Row("sub_zero", [F64], lambda b, x: b.sub(x, 0.0)),
    Row("add_minus_zero", [F64], lambda b, x: b.add(const(-0.0), x)),
    Row("add_int_zero", [I64], lambda b, x: b.add(x, 0), inputs=_ints),
    Row("neg_neg", [F64], lambda b, x: b.neg(b.neg(x))),
    Row("not_not", [F64], lambda b, x: b.not_(b.not_(b.gt(x, 0.0)))),
    Row("add_neg", [F64, F64], lambda b, x, y: b.add(b.neg(y), x), inputs=_scalars(2)),
    Row("sub_neg", [V1, V1], lambda b, x, y: b.sub(x, b.neg(y)), inputs=_vectors(2)),
    Row("neg_times_neg", [F64, F64], lambda b, x, y: b.mul(b.neg(x), b.neg(y)),
        inputs=_scalars(2)),
    Row("square_neg", [F64], lambda b, x: b.square(b.neg(x))),
    Row("neg_of_product", [F64], lambda b, x: b.neg(b.mul(x, 3.1))),
    Row("neg_of_quotient", [V1], lambda b, x: b.neg(b.div(x, 0.7)), inputs=_vectors(1)),
    Row("div_by_power_of_two", [F64], lambda b, x: b.div(x, 0.25)),
    Row("div_by_power_of_two", [V1], lambda b, x: b.div(x, -2.0**-1000),
        inputs=_vectors(1, (9,))),
    Row("transpose_transpose", [V2], lambda b, x: b.mul(b.transpose(b.transpose(x)), 2.0),
        inputs=_vectors(1, (3, 4))),
    Row("transpose_transpose", [V3],
        lambda b, x: b.mul(b.transpose(b.transpose(x, axes=(1, 2, 0)), axes=(1, 2, 0)), 2.0),
        inputs=_vectors(1, (2, 3, 4))),
    Row("zmul_by_one", [F64], lambda b, x: b.zmul(x, 1.0, scalar=True), stage="after"),
    Row("unbroadcast_same_shape", [V2],
        lambda b, x: b.unbroadcast(b.exp(x), b.mul(x, 2.0)), stage="after",
        inputs=_vectors(1, (3, 4))),
    Row("log_exp", [F64], lambda b, x: b.log(b.exp(x)), bitwise=False,
        inputs=lambda rng: [(v,) for v in rng.uniform(-30, 30, 8)]),
    Row("sum_of_products_is_dot", [V1], lambda b, x: b.sum(b.mul(b.sin(x), b.cos(x))),
        bitwise=False, inputs=_vectors(1, (50,))),
    Row("sum_of_squares_is_dot", [V1], lambda b, x: b.sum(b.square(b.exp(x))),
        bitwise=False, inputs=_vectors(1, (50,))),
]


def _function(row: Row) -> Function:
    b = Builder(Names())
    params = [Var(f"p{i}", t) for i, t in enumerate(row.params)]
    out = row.body(b, *params)
    return Function("f", params, b.block, [b.atom(out)])


def _rewrite(fn: Function, stage: str) -> tuple[Function, list]:
    from chainrule import rewrites

    with rewrites.recording() as log:
        new = engine.run(copy.deepcopy(fn), rewrites.rules(), stage)
    verify(new, "test")
    return new, [f.rule for f in log]


def _same(a, b, bitwise: bool) -> None:
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    if bitwise:
        np.testing.assert_array_equal(a, b)
        if a.dtype.kind == "f":  # signed zeros too (a NaN's sign bit is not part of its value)
            keep = ~np.isnan(a)
            np.testing.assert_array_equal(np.signbit(a)[keep], np.signbit(b)[keep])
    else:
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.rule}-{i}" for i, r in enumerate(ROWS)])
def test_rule_fires_and_keeps_values(row: Row) -> None:
    fn = _function(row)
    new, fired = _rewrite(fn, row.stage)
    assert row.rule in fired, fired
    other = "after" if row.stage == "before" else "before"
    rule = next(r for r in cr.rewrites.rules() if r.name == row.rule)
    assert (row.rule in _rewrite(fn, other)[1]) == (rule.stage == "both")
    before, after = compile_fn(fn), compile_fn(new)
    rng = np.random.default_rng(7)
    with np.errstate(all="ignore"):
        for args in (row.inputs or _scalars(len(row.params)))(rng):
            _same(before(*args)[0], after(*args)[0], row.bitwise)


def test_every_builtin_rule_has_a_row() -> None:
    assert {r.name for r in cr.rewrites.rules() if not r.user} == {r.rule for r in ROWS}


# -- where rules must not fire ---------------------------------------------------------------
def _log_exp_blocked(build: Callable, params: list) -> None:
    b = Builder(Names())
    ps = [Var(f"p{i}", t) for i, t in enumerate(params)]
    out = build(b, *ps)
    fn = Function("f", ps, b.block, [b.atom(out)])
    new, fired = _rewrite(fn, "before")
    assert "log_exp" not in fired and "neg_neg" not in fired, fired


def test_no_match_across_a_reassignment() -> None:
    def build(b, x):
        t = b.exp(x)
        b.emit("add", x, 1.0, out=x)  # x changes between exp(x) and log(t)
        return b.log(t)
    _log_exp_blocked(build, [F64])


def test_no_match_across_an_in_place_write() -> None:
    def build(b, a):
        t = b.exp(a)
        b.effect("setitem", a, const(5.0), const(0), spec=("i",))
        return b.log(t)
    _log_exp_blocked(build, [V1])


def test_no_match_across_a_write_through_a_view() -> None:
    def build(b, a):
        v = b.getitem(a, const(1), spec=("s100",))
        t = b.exp(v)
        b.effect("setitem", a, const(5.0), const(2), spec=("i",))
        return b.log(t)
    _log_exp_blocked(build, [V1])


def test_no_match_through_a_value_a_loop_changes() -> None:
    from chainrule.ir.nodes import ForRange

    def build(b, x):
        s = b.emit("id", 0.0, out=Var("s", F64))
        t = b.neg(x)
        loop = ForRange(Var("i", I64), const(0), const(3), const(1))
        with b.nested(loop.body):
            b.emit("add", s, b.neg(t), out=s)  # -(-x) with the x of this trip ...
            b.emit("mul", x, 0.5, out=x)  # ... which the previous trip changed
        b.append(loop)
        return s
    _log_exp_blocked(build, [F64])


def test_sum_of_products_needs_known_equal_shapes() -> None:
    b = Builder(Names())
    u, v = Var("u", V1), Var("v", V1)
    out = b.sum(b.mul(u, v))  # v may have size 1 and broadcast
    fn = Function("f", [u, v], b.block, [out])
    _, fired = _rewrite(fn, "before")
    assert "sum_of_products_is_dot" not in fired
    assert np.isclose(compile_fn(fn)(np.arange(3.0), np.ones(1))[0], 3.0)


# -- in the pipeline ---------------------------------------------------------------------------
def _with_rewrites(flag: str, thunk: Callable):
    old = os.environ.get("CHAINRULE_REWRITES")
    os.environ["CHAINRULE_REWRITES"] = flag
    try:
        return thunk()
    finally:
        if old is None:
            del os.environ["CHAINRULE_REWRITES"]
        else:
            os.environ["CHAINRULE_REWRITES"] = old


def log_of_exp(x, y):
    return np.sum(np.log(np.exp(x * y))) + np.sum(x * x)


@pytest.mark.parametrize("backend", ["numpy", pytest.param("numba", marks=pytest.mark.slow)])
def test_rules_fire_before_and_after_differentiation(backend) -> None:
    x, y = np.linspace(-1.0, 2.0, 7), 0.3
    fired = [f.rule for f in cr.rewrites.fired(cr.grad(log_of_exp, backend=backend), x, y)]
    assert "log_exp" in fired and "sum_of_squares_is_dot" not in fired  # (x * x: mul)
    assert "sum_of_products_is_dot" in fired
    got = cr.grad(log_of_exp, backend=backend)(x, y)
    np.testing.assert_allclose(got, y + 2 * x, rtol=1e-13)
    plain = _with_rewrites("0", lambda: cr.grad(log_of_exp, backend=backend)(x, y))
    np.testing.assert_allclose(got, plain, rtol=1e-13)
    code = [ln for ln in cr.show(cr.grad(log_of_exp, backend=backend), x, y).splitlines()
            if not ln.strip().startswith("#")]
    assert not any("np.log" in ln or "np.exp" in ln for ln in code), code
    primal = cr.show(cr.jit(log_of_exp, backend=backend), x, y)
    assert "np.dot(x, x)" in primal or "matmul(x, x)" in primal, primal


def test_rewritten_gradient_compiles_with_numba() -> None:
    x, y = np.linspace(-1.0, 2.0, 7), 0.3
    got = cr.grad(log_of_exp, argnums=(0, 1), backend="numba")(x, y)
    np.testing.assert_allclose(got[0], y + 2 * x, rtol=1e-13)
    np.testing.assert_allclose(got[1], np.sum(x), rtol=1e-13)


def scaled_copy(a):
    return a * 1.0


def test_an_array_result_never_becomes_the_argument() -> None:
    a = np.arange(4.0)
    out = cr.jit(scaled_copy)(a)
    assert "mul_by_one" in [f.rule for f in cr.rewrites.fired(scaled_copy, a)]
    assert out is not a and not np.shares_memory(out, a)
    out[0] = 9.0
    assert a[0] == 0.0


def test_show_rewrites_prints_each_rule(capfd) -> None:
    os.environ["CHAINRULE_SHOW_REWRITES"] = "1"
    try:
        cr.rewrites.fired(lambda x: -(-x), 1.0)
    finally:
        del os.environ["CHAINRULE_SHOW_REWRITES"]
    assert "neg_neg (before) at" in capfd.readouterr().err


# -- user rules (the example of docs/rewrites.md) -----------------------------------------------
def register_stable_logsumexp():
    from chainrule.rewrites import is_array, op, register, var

    a = var("a", is_array)

    @register(op.log(op.sum(op.exp(a))), exact="rounding (no overflow)")
    def stable_logsumexp(b, a):
        m = b.amax(a)
        return b.add(b.log(b.sum(b.exp(b.sub(a, m)))), m)


def naive_logsumexp(a):
    return np.log(np.sum(np.exp(a)))


@pytest.mark.parametrize("backend", ["numpy", pytest.param("numba", marks=pytest.mark.slow)])
def test_a_user_rule_from_the_documentation(backend) -> None:
    a = np.array([1000.0, 1000.5, 999.0])
    assert not np.isfinite(cr.jit(naive_logsumexp, backend=backend)(a))  # overflows
    register_stable_logsumexp()
    try:
        assert [f.rule for f in cr.rewrites.fired(naive_logsumexp, a)] == ["stable_logsumexp"]
        m = a.max()
        want = m + np.log(np.sum(np.exp(a - m)))
        np.testing.assert_allclose(cr.jit(naive_logsumexp, backend=backend)(a), want,
                                   rtol=1e-15)
        softmax = np.exp(a - want)
        np.testing.assert_allclose(cr.grad(naive_logsumexp, backend=backend)(a), softmax,
                                   rtol=1e-13)
    finally:
        assert cr.rewrites.unregister("stable_logsumexp")
    assert not np.isfinite(cr.jit(naive_logsumexp, backend=backend)(a))


def test_the_disk_cache_key_covers_user_rules() -> None:
    from chainrule.rewrites import op, register, var

    def twice_exp(x):
        return np.exp(x) * 2.0

    x = 0.5
    assert cr.jit(twice_exp)(x) == np.exp(x) * 2.0
    assert cr.cache.explain(cr.jit(twice_exp), x) == "hit"
    register(op.exp(var("x")), lambda b, x: b.add(x, 1.0), name="wrong_exp")  # (a bad rule)
    try:
        assert cr.cache.explain(cr.jit(twice_exp), x) != "hit"
        assert cr.jit(twice_exp)(x) == (x + 1.0) * 2.0
        assert cr.cache.explain(cr.jit(twice_exp), x) == "hit"
        register(op.exp(var("x")), lambda b, x: b.add(x, 2.0), name="wrong_exp")
        assert cr.cache.explain(cr.jit(twice_exp), x) != "hit"  # the rule's code changed
        assert cr.jit(twice_exp)(x) == (x + 2.0) * 2.0
    finally:
        cr.rewrites.unregister("wrong_exp")
    assert cr.cache.explain(cr.jit(twice_exp), x) == "hit"
    assert cr.jit(twice_exp)(x) == np.exp(x) * 2.0
    off = _with_rewrites("0", lambda: cr.cache.explain(cr.jit(twice_exp), x))
    assert off != "hit"


def test_rule_records_are_checked() -> None:
    from chainrule.rewrites import op, register, var

    with pytest.raises(TypeError):
        register(var("x"), lambda b, x: x)  # the root must be a primitive
    with pytest.raises(ValueError):
        register(op.neg(var("x")), lambda b, x: x, stage="later")
    assert not cr.rewrites.unregister("no_such_rule")
