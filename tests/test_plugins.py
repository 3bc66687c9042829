"""User transforms and passes (chainrule.plugins, docs/plugins.md), checked by values."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import plugins
from chainrule.errors import ChainruleError
from chainrule.examples.op_count import count_ops
from chainrule.ir.nodes import Assign, Const, Function, Var, walk


def horner(x, coeffs):
    s = 0.0
    for k in range(coeffs.shape[0]):
        s = s * x + coeffs[k]
    if x > 1.0:
        s = s + 1.0
    return s


def python_ops(x, coeffs):
    return 2 * coeffs.shape[0] + (1 if x > 1.0 else 0)  # a mul and an add per trip, the if


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_operation_count_interpretation(backend):
    c = np.array([1.0, -2.0, 0.5, 3.0])
    f = count_ops(horner, backend=backend)
    for x in (0.3, 1.7):
        value, n = f(x, c)
        assert value == pytest.approx(horner(x, c))
        assert n == python_ops(x, c)
    value, n = f(0.3, np.ones(9))  # a run-time trip count: same code, another count
    assert n == 18


def test_user_transform_composes_with_grad():
    c = np.array([1.0, -2.0, 0.5, 3.0])

    def value_only(x, c):
        return count_ops(horner)(x, c)[0]

    g = cr.grad(value_only)(0.7, c)
    h = 1e-6
    fd = (horner(0.7 + h, c) - horner(0.7 - h, c)) / (2 * h)
    assert g == pytest.approx(fd, rel=1e-6)


def _times_two_to_times_plus(fn: Function, names) -> Function:
    """x * 2.0 -> x + x, everywhere (an exact rewrite)."""
    def visit(block):
        for i, s in enumerate(block):
            if isinstance(s, Assign) and s.prim == "mul" and isinstance(s.args[1], Const) \
                    and s.args[1].value == 2.0:
                block[i] = Assign(s.out, "add", (s.args[0], s.args[0]), s.params, s.loc)
            for inner in ("then", "orelse", "body", "cond_body"):
                if hasattr(s, inner):
                    visit(getattr(s, inner))
    visit(fn.body)
    return fn


def doubled_square(x):
    return (x * 2.0) ** 2


@pytest.mark.parametrize("stage", ["before", "after"])
def test_registered_pass_runs_and_keys_the_cache(stage):
    x = 1.5
    plugins.register_pass(_times_two_to_times_plus, stage=stage)
    try:
        src = cr.show(cr.grad(doubled_square), x)
        assert "= x + x" in src and "= x * 2.0" not in src
        assert cr.grad(doubled_square)(x) == pytest.approx(8.0 * x)
        assert cr.jit(doubled_square)(x) == pytest.approx(9.0)
    finally:
        plugins.unregister_pass(_times_two_to_times_plus)
    assert "= x * 2.0" in cr.show(cr.jit(doubled_square), x)  # a new key without the pass


def _broken_pass(fn: Function, names) -> Function:
    for s in walk(fn.body):
        if isinstance(s, Assign):
            s.args = (Var("never_defined", s.out.type),) + tuple(s.args[1:])
    return fn


def test_a_pass_producing_invalid_ir_is_an_error():
    plugins.register_pass(_broken_pass, stage="before")
    try:
        with pytest.raises(ChainruleError, match="never_defined"):
            cr.jit(lambda x: np.sin(x) * x)(0.5)
    finally:
        plugins.unregister_pass(_broken_pass)
    assert cr.jit(lambda x: np.sin(x) * x)(0.5) == pytest.approx(np.sin(0.5) * 0.5)
