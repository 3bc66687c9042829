"""Clean-up after differentiation (passes/cleanup.simplify): common subexpressions of the
derivative code, copy propagation; values against finite differences, code against repeats."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.testing import check_grads, numerical_grad


def reassigned_sums(x):
    s = x
    for _ in range(3):
        a = s + x
        s = s + x  # the same expression as ``a`` ...
        b = s + x  # ... which must not be reused once ``s`` has changed
        s = a * b * 0.01
    return s


def rational(x):
    return 3.0 * x**3 - 2.0 * x**2 + x - 5.0 / (1.0 + x * x)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_reassigned_variables_are_not_taken_for_common_subexpressions(backend):
    for x in (0.7, -1.3):
        got = cr.grad(reassigned_sums, backend=backend)(x)
        np.testing.assert_allclose(got, numerical_grad(reassigned_sums, (x,)), rtol=1e-6)
    # adjoints accumulate (``bx = bx + t``) in the derivative code differentiated again
    check_grads(rational, (1.3,), order=2)


def test_repeated_derivative_products_are_computed_once():
    src = cr.show(cr.grad(lambda x: x * x * np.sin(x)), 0.4)
    body = [line.strip() for line in src.splitlines() if "=" in line]
    rhs = [line.split("=", 1)[1].strip() for line in body if " if " in line]
    assert len(rhs) == len(set(rhs)), src  # x * x's two equal products: one line
    np.testing.assert_allclose(cr.grad(lambda x: x * x * np.sin(x))(0.4),
                               2 * 0.4 * np.sin(0.4) + 0.16 * np.cos(0.4))


def dead_running_sum(x):
    s = 0.0
    for i in range(x.shape[0]):
        s = s + np.sin(x[i])  # only its own update reads ``s``: dead
    return x[0] * x[1]


def test_a_loop_whose_values_nothing_reads_is_removed():
    x = np.array([0.5, 2.0, 3.0])
    for t in (cr.jit(dead_running_sum), cr.grad(dead_running_sum)):
        code = [ln for ln in cr.show(t, x).splitlines() if not ln.strip().startswith("#")]
        assert not any("for " in ln or "sin" in ln for ln in code)
    assert cr.jit(dead_running_sum)(x) == 1.0
    np.testing.assert_allclose(cr.grad(dead_running_sum)(x), [2.0, 0.5, 0.0])
