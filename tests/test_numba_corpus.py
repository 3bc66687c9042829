"""The corpus, the demo and the benchmark workloads under Numba, with no fallback to NumPy.

Forward and reverse mode of every corpus program run with ``backend="numba"`` (which raises
instead of falling back) and must equal the NumPy backend's values, which tests/test_corpus.py
checks against finite differences. The default run takes a representative subset; ``pytest -m
slow`` runs the whole corpus. The demo and the benchmark workloads run with the user's default
backend and the fallback warning made an error.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from corpus_programs import CASES
from test_corpus import assert_close, float_part, random_like, rng_for, tangents_for

import chainrule as cr
from chainrule.errors import BackendFallbackWarning
from chainrule.testing import numerical_grad

# Forward mode in the default run: loops, branches, early exits, views, gathers, axis
# reductions, float32. (tests/test_numba_backend.py runs reverse mode on a similar subset.)
# (reductions over an axis under Numba: tests/test_numba_backend.py by default)
DEFAULT_FORWARD = {"flagship_newton", "stencil_slices", "while_continue_break", "gather_index",
                   "f32_while"}


def _params(default: set):
    return [pytest.param(c, id=c.name, marks=[] if c.name in default else [pytest.mark.slow])
            for c in CASES]


def _tol(case) -> tuple[float, float]:
    return (1e-5, 1e-6) if "f32" in case.name else (1e-9, 1e-11)


@pytest.mark.parametrize("case", _params(DEFAULT_FORWARD))
def test_forward_mode_under_numba(case) -> None:
    tangents = tangents_for(case, rng_for(case.name))
    out, t_out = cr.jvp(case.fn, case.args, tangents, backend="numba")
    ref_out, ref_t = cr.jvp(case.fn, case.args, tangents, backend="numpy")
    rtol, atol = _tol(case)
    assert_close(float_part(out), float_part(ref_out), rtol, atol, "jvp output")
    assert_close(float_part(t_out), float_part(ref_t), rtol, atol, f"jvp of {case.name}")


@pytest.mark.parametrize("case", _params(set()))
def test_reverse_mode_under_numba(case) -> None:
    out, vjp_fn = cr.vjp(case.fn, *case.args, backend="numba")
    ref_out, ref_vjp = cr.vjp(case.fn, *case.args, backend="numpy")
    ct = random_like(ref_out, rng_for(case.name))
    rtol, atol = _tol(case)
    assert_close(float_part(out), float_part(ref_out), rtol, atol, "vjp output")
    got, want = vjp_fn(ct), ref_vjp(ct)
    for i in case.argnums:
        assert_close(got[i], want[i], rtol, atol, f"vjp of {case.name}, argument {i}")


@pytest.fixture
def numba_by_default(monkeypatch):
    """The user's default backend (Numba, falling back to NumPy), every fallback an error."""
    monkeypatch.setenv("CHAINRULE_BACKEND", "auto")
    with warnings.catch_warnings():
        warnings.simplefilter("error", BackendFallbackWarning)
        yield


@pytest.mark.slow  # runs every demo example on Numba (minutes of compiling)
def test_demo_runs_without_fallback(numba_by_default, capsys) -> None:
    from chainrule.examples import demo

    assert demo.main() == 0
    assert "FAIL" not in capsys.readouterr().out


@pytest.mark.parametrize("name", ["lorenz", pytest.param("brusselator", marks=pytest.mark.slow),
                                  "newton", "mlp", "gmm"])
def test_benchmark_workload_without_fallback(numba_by_default, name) -> None:
    from benchmarks import spec

    wl = next(w for w in spec.WORKLOADS.values() if w.name == name)
    args = spec.small_args(name)
    value, grads = cr.value_and_grad(wl.fn, argnums=wl.argnums)(*args)
    assert value == pytest.approx(wl.fn(*args), rel=1e-10)
    want = numerical_grad(wl.fn, args, wl.argnums)
    np.testing.assert_allclose(spec.flat(grads), spec.flat(want), rtol=1e-5, atol=1e-7)


def keepdims_logsumexp(x):
    return np.sum(np.log(np.sum(np.exp(x), axis=1, keepdims=True)) * x)


def clip_scalar_bounds(x):
    return np.sum(np.clip(x, -0.5, 0.5) ** 2) + np.clip(x[0, 0], -0.1, 0.1)


def cumsum_rows(x):
    return np.sum(np.cumsum(x, axis=1) ** 2)


def linear_algebra(a, b):
    return (np.sum(np.linalg.solve(a, b)) + np.linalg.det(a) + np.sum(np.linalg.inv(a))
            + np.linalg.norm(b))


def negative_axes(x):
    return np.sum(np.sum(x, axis=-1) ** 2) + np.sum(np.max(x, axis=-2))


def sin_scaled(x):
    return np.sum(np.sin(x) * x[0])


def test_once_unsupported_programs_compile_with_numba() -> None:
    x = np.random.default_rng(0).standard_normal((3, 4))
    a, b = np.eye(3) * 3.0 + 0.1, np.array([1.0, -2.0, 0.5])
    for f, args, argnums in [(keepdims_logsumexp, (x,), (0,)), (clip_scalar_bounds, (x,), (0,)),
                             (cumsum_rows, (x,), (0,)), (negative_axes, (x[None],), (0,)),
                             (linear_algebra, (a, b), (0, 1))]:
        got = cr.grad(f, argnums=argnums, backend="numba")(*args)
        want = numerical_grad(f, args, argnums)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-8, err_msg=f.__name__)
    v = np.array([0.3, 0.5, 0.7])
    hess = cr.jacrev(cr.grad(sin_scaled), backend="numba")(v)
    np.testing.assert_allclose(hess, cr.hessian(sin_scaled, backend="numpy")(v), rtol=1e-12)
    assert hess[0, 0] == pytest.approx(2 * np.cos(v[0]) - v[0] * np.sin(v[0]))
