"""Opaque calls: code chainrule does not compile, run by the interpreter inside custom rules
(the escape hatch) or through ``chainrule.opaque``; values checked against finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sl
import scipy.special as sp

import chainrule as cr
from chainrule.errors import MissingRuleError, UnsupportedCallError
from chainrule.testing import numerical_grad


@cr.custom_jvp
def bessel_j0(x):
    return sp.j0(x)  # a SciPy ufunc chainrule has no rule for: runs in the interpreter


@bessel_j0.defjvp
def _bessel_j0_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return bessel_j0(x), -sp.j1(x) * t


def _bessel_loss(x):
    return np.sum(bessel_j0(x * x) * np.cos(x))


@cr.custom_vjp
def expm(a):
    return sl.expm(a)


def _expm_fwd(a):
    return expm(a), a


def _expm_bwd(a, g):
    """The adjoint of expm through the block matrix [[a.T, g], [0, a.T]]."""
    n = a.shape[0]
    big = np.zeros((2 * n, 2 * n))
    big[:n, :n] = a.T
    big[n:, n:] = a.T
    big[:n, n:] = g
    return (sl.expm(big)[:n, n:],)


expm.defvjp(_expm_fwd, _expm_bwd)


def _expm_loss(a):
    e = expm(a * 0.5)
    return np.sum(e * e) + e[0, 1]


X = np.array([0.7, 1.3, 2.5])
A = np.array([[0.1, 0.4], [-0.3, 0.2]])


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_custom_jvp_around_scipy_gives_every_first_order_mode(backend) -> None:
    fd = numerical_grad(_bessel_loss, (X,))
    np.testing.assert_allclose(cr.grad(_bessel_loss, backend=backend)(X), fd, rtol=1e-6)
    t = np.array([0.3, -1.0, 0.5])
    val, tan = cr.jvp(_bessel_loss, (X,), (t,), backend=backend)
    assert val == pytest.approx(_bessel_loss(X))
    assert tan == pytest.approx(fd @ t, rel=1e-6)
    np.testing.assert_allclose(cr.jit(_bessel_loss, backend=backend)(X), _bessel_loss(X))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_custom_vjp_around_scipy_matrix_function(backend) -> None:
    fd = numerical_grad(_expm_loss, (A,))
    np.testing.assert_allclose(cr.grad(_expm_loss, backend=backend)(A), fd, rtol=1e-6)


def test_opaque_code_has_no_derivative_of_its_own() -> None:
    with pytest.raises(MissingRuleError, match="opaque"):
        cr.grad(lambda x: cr.grad(_bessel_loss)(x)[0])(X)
    with pytest.raises(MissingRuleError, match="jvp"):  # custom_vjp gives reverse mode only
        cr.jvp(_expm_loss, (A,), (A,))


def _plain_scipy(x):
    return np.sum(sp.j0(x))


def test_outside_custom_rules_library_code_is_still_an_error() -> None:
    with pytest.raises(UnsupportedCallError, match="opaque"):
        cr.grad(_plain_scipy)(X)


lse = cr.opaque(sp.logsumexp, ndim=0)
undeclared = cr.opaque(sp.logsumexp)


def _with_lse(x):
    return lse(x) * 2.0 + np.sum(x)


def _with_undeclared(x):
    return np.sum(undeclared(x))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_opaque_wrapper_runs_library_code_in_compiled_functions(backend) -> None:
    assert cr.jit(_with_lse, backend=backend)(X) == pytest.approx(_with_lse(X))
    assert lse(X) == pytest.approx(sp.logsumexp(X))  # from Python: the function itself
    with pytest.raises(MissingRuleError, match="logsumexp"):
        cr.grad(_with_lse, backend=backend)(X)


def test_opaque_result_of_another_ndim_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match=r"ndim=0"):
        cr.jit(_with_undeclared, backend="numpy")(X)
