"""A primitive's whole contract is its record: the passes and the Numba back end read the
record fields (docs/architecture.md, "Primitives and rules"), so a user primitive that sets
them is treated like a built-in one. Each test checks behaviour through the public API."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.backend import numba_backend
from chainrule.passes.cleanup import kept_prims
from chainrule.passes.scalar_opt import movable_prims
from chainrule.rules import PRIMS
from chainrule.rules.common import float_type, template
from chainrule.rules.registry import Primitive


def test_the_passes_read_the_records():
    assert {"add", "mul", "sin", "getitem"} <= movable_prims()
    assert "zmul" not in movable_prims() and "zmul" in movable_prims(derivatives=True)
    assert {"tape_pop", "check_index", "debug_print"} <= kept_prims()
    assert PRIMS["getitem"].may_raise and PRIMS["reshape"].view
    assert numba_backend.overrides()["getitem"] is PRIMS["getitem"].numba_emit
    assert PRIMS["add"].fold(2, 3) == 5 and PRIMS["matmul"].fold_statics is False
    pow_domain = [k for k in PRIMS["pow"].kinks if k.kind == "domain"]
    assert pow_domain[0].arg == 1
    assert all(k.selects for k in PRIMS["argmax"].kinks)


def _counted(x):
    return x + 1.0


def _counted_jvp(b, args, tans, out, **_):
    return tans[0]


def _counted_vjp(b, args, out, g, **_):
    return [g]


CALLS = []


def _count_and_pass(x):
    CALLS.append(x)
    return x + 1.0


KEPT = cr.register_primitive(
    Primitive("record_test_counted", float_type, template("_count_and_pass({0})"),
              _counted_jvp, _counted_vjp, keep=True,
              doc="x + 1, with a side effect the dead-code pass must keep"),
    function=_counted, namespace={"_count_and_pass": _count_and_pass})


def unused_result(x):
    _counted(x)  # result unused: only the record's keep=True saves the call
    return x * 2.0


def test_keep_on_a_user_primitive_survives_dead_code():
    CALLS.clear()
    assert cr.jit(unused_result, backend="numpy")(3.0) == 6.0
    assert CALLS == [3.0]


def _doubled(x):
    return 2.0 * x


def _numba_doubled(srcs, types=(), **_):
    return f"(({srcs[0]}) + ({srcs[0]}))"


DOUBLED = cr.register_primitive(
    Primitive("record_test_doubled", float_type, template("(2.0 * {0})"),
              lambda b, args, tans, out, **_: None if tans[0] is None else b.mul(2.0, tans[0]),
              lambda b, args, out, g, **_: [b.mul(2.0, g)], numba_emit=_numba_doubled),
    function=_doubled)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_numba_emit_of_a_user_primitive(backend):
    def f(x):
        return np.sum(_doubled(x) ** 2)

    x = np.array([0.5, -1.0, 2.0])
    assert np.isclose(cr.jit(f, backend=backend)(x), np.sum((2 * x) ** 2))
    np.testing.assert_allclose(cr.grad(f, backend=backend)(x), 8.0 * x)
    src = cr.show(cr.jit(f, backend=backend), x)
    numba_form, numpy_form = "= ((x) + (x))", "= (2.0 * x)"
    assert (numba_form in src, numpy_form in src) == ((True, False) if backend == "numba"
                                                       else (False, True))
