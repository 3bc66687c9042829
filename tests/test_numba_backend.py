"""The Numba backend on a representative subset: same values as the NumPy backend, compiled
with Numba (no silent fallback). The fallback itself: tests/test_numba_fallback.py."""

from __future__ import annotations

import numpy as np
import pytest
from corpus_programs import CASES

import chainrule as cr
from chainrule.backend.executable import BackendError
from chainrule.testing import numerical_grad

SUBSET = ["flagship_newton", "rk4_lotka_volterra", "mlp_loss", "stencil_slices", "write_loop",
          "while_continue_break", "gather_index", "reductions_axis", "early_return_in_loop",
          "tuple_result", "f32_while", "heat_explicit"]
BY_NAME = {c.name: c for c in CASES}


# reductions over an axis (~20 s of compiling) are checked by the dtype and several-axes tests
# below by default; here with -m slow
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow)
                                  if n == "reductions_axis" else n for n in SUBSET])
def test_numba_matches_numpy(name: str) -> None:
    case = BY_NAME[name]
    argnums = case.argnums
    fast = cr.vjp(case.fn, *case.args, backend="numba")
    ref = cr.vjp(case.fn, *case.args, backend="numpy")
    out_fast, out_ref = fast[0], ref[0]
    tol = 1e-5 if name.startswith("f32") else 1e-10
    for x, y in zip(_leaves(out_fast), _leaves(out_ref)):
        np.testing.assert_allclose(x, y, rtol=tol, atol=tol)
    ct = np.ones_like(np.asarray(out_ref, dtype=float)) if not isinstance(out_ref, tuple) else \
        tuple(np.ones_like(np.asarray(o, dtype=float)) for o in out_ref)
    if isinstance(out_ref, tuple):
        ct = tuple(c if np.ndim(c) else float(c) for c in ct)
    elif np.ndim(ct) == 0:
        ct = float(ct)
    g_fast, g_ref = fast[1](ct), ref[1](ct)
    for k in argnums:
        a, b = g_fast[k], g_ref[k]
        for x, y in zip(_leaves(a), _leaves(b)):
            np.testing.assert_allclose(x, y, rtol=tol, atol=tol)


def _leaves(x):
    if isinstance(x, (tuple, list)):
        return [v for item in x for v in _leaves(item)]
    if isinstance(x, dict):
        return [v for item in x.values() for v in _leaves(item)]
    return [np.asarray(x, dtype=float)]


def test_grad_runs_compiled_code() -> None:
    case = BY_NAME["flagship_newton"]
    g = cr.grad(case.fn, argnums=case.argnums, backend="numba")
    g(*case.args)
    exe = g.executable(case.args)
    assert exe.backend == "numba" and exe.fallback_reason is None
    assert type(exe.py).__name__ == "CPUDispatcher"


def cumsum_axis(a):
    return np.sum(np.cumsum(a, axis=0) ** 2)


def test_unknown_backend_is_an_error() -> None:
    with pytest.raises(BackendError, match="unknown backend"):
        cr.grad(cumsum_axis, backend="cuda")(np.ones((2, 2)))


def _site_a(x, i):
    return x[i] * 2.0


def _site_b(x, i):
    return x[i + 1] * 3.0


def test_bounds_check_sites_share_one_helper_compilation() -> None:
    """Each check site passes its own message; the helper must not be compiled per message."""
    from chainrule.backend import nbrt

    x = np.ones(4)
    assert cr.jit(_site_a, backend="numba")(x, 1) == 2.0
    assert cr.jit(_site_b, backend="numba")(x, 1) == 3.0
    with pytest.raises(IndexError, match="_site_b"):
        cr.jit(_site_b, backend="numba")(x, 3)
    messages = {str(sig[3]) for sig in nbrt.index_error.signatures}
    assert not any("Literal" in m for m in messages), messages


def test_every_compiled_helper_a_record_names_exists() -> None:
    """A record given a compiled elementwise helper (rules/common.compiled_helper) emits a call
    of ``_rt.ew_<name>``: the helper must exist, and every helper belongs to a record."""
    from chainrule.backend import nbelementwise
    from chainrule.backend.numba_backend import overrides
    from chainrule.ir.types import Type
    from chainrule.rules import PRIMS

    named = {getattr(p.numba_emit, "helper", None) for p in PRIMS.all()} - {None}
    assert named and all(hasattr(nbelementwise, h) for h in named)
    assert set(nbelementwise.__all__) - named == {"ew_clip"}  # clip's own emission calls it
    emit = overrides()["sin"]
    assert emit(["x"], types=(Type("float64", 1),)) == "_rt.ew_sin(x)"
    assert emit(["x"], types=(Type("float64", 0),)) == "np.sin(x)"
    emit = overrides()["tanh"]  # float64 arrays: backend/nbmath.py's vectorised loop
    assert emit(["x"], types=(Type("float64", 2),)) == "_rt.map_tanh(x)"
    assert emit(["x"], types=(Type("float32", 1),)) == "_rt.ew_tanh(x)"
    assert overrides()["add"](["a", "b"], types=(Type("float64", 2),) * 2) == "_rt.add(a, b)"


def _int_reductions(a):
    m = a.reshape(2, 3)
    return (np.prod(m, axis=0), np.sum(m, axis=1), np.max(m, axis=0), np.min(m > 2, axis=1),
            np.sum(m > 2, axis=0), np.mean(m, axis=1))


def test_reductions_over_an_axis_keep_numpy_dtypes_for_integers():
    a = np.arange(1, 7)
    got = cr.jit(_int_reductions, backend="numba")(a)
    for g, want in zip(got, _int_reductions(a)):
        assert g.dtype == want.dtype, (g, want)
        np.testing.assert_array_equal(g, want)


def _several_axes(x):
    return np.sum(np.sin(np.sum(x, axis=(0, 2))) ** 2 + np.mean(x, axis=(2, 0))) + np.sum(
        np.prod(x, axis=(0, 2), keepdims=True) * np.max(x, axis=(1, 2), keepdims=True)) + \
        np.sum(np.min(x ** 2, axis=(0, -2)))


def _two_axes(x):
    return np.sum(np.sin(np.sum(x, axis=(0, 2))) ** 2)


# the light case by default; every reduction (a gradient Numba compiles for ~60 s) with -m slow
@pytest.mark.parametrize("f", [_two_axes, pytest.param(_several_axes, marks=pytest.mark.slow)])
def test_reductions_over_several_axes_compile_with_numba(f):
    x = np.random.default_rng(4).standard_normal((2, 3, 4))
    assert np.isclose(cr.jit(f, backend="numba")(x), f(x), rtol=1e-12)
    np.testing.assert_allclose(cr.grad(f, backend="numba")(x),
                               numerical_grad(f, (x,)), rtol=1e-6, atol=1e-8)


def _stacked_products(a, b):
    return np.sum(np.sin(a @ b))


@pytest.mark.parametrize("b_shape", [(2, 4, 5), (4, 5), (1, 4, 5)])
def test_stacks_of_matrix_products_compile_with_numba(b_shape):
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal(b_shape)
    assert np.isclose(cr.jit(_stacked_products, backend="numba")(a, b), _stacked_products(a, b))
    got = cr.grad(_stacked_products, argnums=(0, 1), backend="numba")(a, b)
    for g, n in zip(got, numerical_grad(_stacked_products, (a, b), argnum=(0, 1))):
        np.testing.assert_allclose(g, n, rtol=1e-6, atol=1e-8)
