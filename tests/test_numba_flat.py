"""Flat loops of the Numba runtime (backend/nbrt_flat.py): n-d ``+ - *``, ``+=``, whole-array
assignment and fill, and the zero-safe product, on C-contiguous arrays (the flat path) and on
everything that must take the general path: Fortran-ordered arrays, strided and reversed views,
broadcasting, mixed dtypes, overlapping source and target. Values against NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.testing import numerical_grad

numba = pytest.importorskip("numba")
from chainrule.backend import nbrt as _rt  # noqa: E402


@numba.njit
def _binary(a, b):
    return _rt.add(a, b), _rt.sub(a, b), _rt.mul(a, b), _rt.zmul(a, b)


@numba.njit
def _iadd(x, v):
    _rt.iadd(x, v)


@numba.njit
def _assign(x, v):
    _rt.assign(x, v)


@numba.njit
def _fill(x, v):
    _rt.fill(x, v)


RNG = np.random.default_rng(1)
A = RNG.standard_normal((4, 5, 3))
B = RNG.standard_normal((4, 5, 3))
A[0, 1, 2] = 0.0
B[0, 1, 2] = np.inf  # zmul: zero where a is zero, even against inf
B[1, 1, 1] = np.nan


def _zmul(a, b):
    with np.errstate(invalid="ignore"):
        return np.where(np.asarray(a) == 0, 0.0, np.asarray(a) * b)


BINARY_CASES = {
    "c-contiguous": (A, B),
    "array-scalar": (A, 2.5),
    "scalar-array": (-1.5, A),
    "array-int-scalar": (A, 3),
    "fortran": (np.asfortranarray(A), B),
    "both-fortran": (np.asfortranarray(A), np.asfortranarray(B)),
    "strided-view": (A[:, ::2], B[:, ::2]),
    "reversed-view": (A[::-1], B),
    "broadcast-same-ndim": (A, B[:1]),
    "broadcast-lower-ndim": (A, B[0]),
    "float32": (A.astype(np.float32), B.astype(np.float32)),
    "2-d": (A[0], B[0]),
}


def _cases(table, quick):
    """Each case compiles its own specialisations: all but a few quick ones are slow."""
    return [pytest.param(k, marks=[] if k in quick else [pytest.mark.slow]) for k in table]


@pytest.mark.parametrize("case", _cases(BINARY_CASES, ("c-contiguous", "broadcast-same-ndim")))
def test_elementwise_values_match_numpy(case):
    a, b = BINARY_CASES[case]
    got = _binary(a, b)
    with np.errstate(invalid="ignore"):
        want = (a + b, a - b, a * b, _zmul(a, b))
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)


INPLACE_CASES = {
    "c-contiguous": lambda: (A.copy(), B.copy()),
    "scalar": lambda: (A.copy(), 2.0),
    "fortran": lambda: (np.asfortranarray(A), B.copy()),
    "strided-target": lambda: (A.copy()[:, ::2], B[:, ::2].copy()),
    "broadcast-source": lambda: (A.copy(), B[:1].copy()),
    "reversed-source": lambda: (A.copy(), B[::-1]),
}


@pytest.mark.parametrize("case", _cases(INPLACE_CASES, ("c-contiguous", "fortran")))
def test_in_place_updates_match_numpy(case):
    x, v = INPLACE_CASES[case]()
    want = x.copy()
    want += v
    _iadd(x, v)
    np.testing.assert_array_equal(x, want)
    x, v = INPLACE_CASES[case]()
    want = x.copy()
    want[...] = v
    (_fill if np.ndim(v) == 0 else _assign)(x, v)
    np.testing.assert_array_equal(x, want)


def test_overlapping_source_and_target_are_read_before_written():
    for target, source in ((slice(1, None), slice(None, -1)), (slice(None, -1), slice(1, None))):
        m = np.arange(20.0).reshape(4, 5)
        want = m.copy()
        want[target] += want[source].copy()
        _iadd(m[target], m[source])  # both C-contiguous, one shape, sharing memory
        np.testing.assert_array_equal(m, want)
        m = np.arange(20.0).reshape(4, 5)
        want = m.copy()
        want[target] = want[source].copy()
        _assign(m[target], m[source])
        np.testing.assert_array_equal(m, want)
    m = np.arange(20.0).reshape(4, 5)
    _iadd(m, m)  # the very same elements: elementwise, no copy needed
    np.testing.assert_array_equal(m, 2.0 * np.arange(20.0).reshape(4, 5))


def grid_steps(u0, v, c, n):
    u = u0.copy()
    w = np.zeros_like(u0)
    for _ in range(n):
        w = u * v - c * u * u
        u += 0.1 * w
        u = u + (v - u) * 0.05
    return np.sum(u * u * v)


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["c", "fortran", "strided", "broadcast"])
def test_gradients_through_flat_and_general_paths(layout):
    u0 = np.linspace(0.1, 0.9, 12).reshape(3, 4)
    v = np.linspace(1.0, 2.0, 12).reshape(3, 4)
    if layout == "fortran":
        u0, v = np.asfortranarray(u0), np.asfortranarray(v)
    elif layout == "strided":
        u0 = np.linspace(0.1, 0.9, 24).reshape(3, 8)[:, ::2]
    elif layout == "broadcast":
        v = v[:1]
    args = (u0, v, 0.3, 4)
    np.testing.assert_allclose(cr.jit(grid_steps)(*args), grid_steps(*args), rtol=1e-12)
    got = cr.grad(grid_steps, argnums=(0, 1, 2))(*args)
    for g, k in zip(got, (0, 1, 2)):
        np.testing.assert_allclose(g, numerical_grad(grid_steps, args, argnum=k),
                                   rtol=1e-6, atol=1e-8)
