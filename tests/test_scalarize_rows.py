"""Rows of matrices with short rows become scalars (passes/scalarize.py, passes/specialize.py):
``pos[i] - pos[j]`` of an (n, 3) argument inside a loop is read as ``pos[i, 0], pos[i, 1], ...``.
Values of jit against plain Python, gradients against finite differences, on both backends;
that the rows really became scalars; that a matrix written through a row view, a rebound
argument and long rows keep arrays and exact values; one compilation per row length."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.passes import specialize
from chainrule.testing import check_grads, numerical_grad

BACKENDS = ["numpy", "numba"]
RNG = np.random.default_rng(11)


def close(a, b, rtol=1e-7, atol=1e-9):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def energy(pos, m):
    n = pos.shape[0]
    e = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            r = pos[i] - pos[j]
            e = e - m[i] * m[j] / np.sqrt(np.dot(r, r) + 0.01)
    return e


def kernel_sum(x, c):
    t = 0.0
    for i in range(x.shape[0]):
        for j in range(c.shape[0]):
            d = x[i, :] - c[j]
            t = t + np.exp(-np.sum(d * d)) * x[i][0]
    return t


def picked_rows(x, k, n):
    t = 0.0
    for _ in range(n):
        r = x[k] * 2.0
        t = t + r[0] - r[-1] * np.sum(r)
    return t


def written_through_a_row(x):
    t = 0.0
    for i in range(x.shape[0]):
        r = x[i]
        x[i, 0] = 2.0 * x[i, 1]  # r is a view: r[0] sees this write
        t = t + r[0] * r[1]
    return t


def rebound(x):
    x = x[::-1] * 2.0
    t = 0.0
    for i in range(x.shape[0]):
        r = x[i]
        t = t + r[0] * r[1]
    return t


def straight_rows(x):
    r = x[0] - x[1]
    return np.sum(r * r)


def _ir(f, *args) -> str:
    return cr.show_ir(cr.jit(f), *args)


@pytest.mark.parametrize("backend", BACKENDS)
def test_pairwise_loops_over_rows(backend):
    pos, m = RNG.normal(size=(7, 3)), RNG.random(7) + 0.5
    x, c = RNG.normal(size=(6, 2)), RNG.normal(size=(3, 2))
    for f, args in ((energy, (pos, m)), (kernel_sum, (x, c))):
        assert cr.jit(f, backend=backend)(*args) == pytest.approx(f(*args), rel=1e-13)
        g = cr.grad(f, argnums=(0, 1), backend=backend)(*args)
        for k in (0, 1):
            close(g[k], numerical_grad(f, args, k), rtol=1e-6)


def test_rows_become_scalar_reads():
    pos, m = RNG.normal(size=(5, 3)), RNG.random(5)
    ir = _ir(energy, pos, m)
    assert "getitem(pos, i, 0; spec=('i', 'i'))" in ir and "getitem(pos, j, 2;" in ir
    assert "f64[:] = getitem(pos" not in ir  # no row array is made
    assert specialize.known_sizes_of(energy, (pos, m)) == ((0, 3),)
    ir = _ir(kernel_sum, np.ones((4, 2)), np.ones((3, 2)))
    assert "getitem(x, i, 1; spec=('i', 'i'))" in ir and "getitem(c, j, 0;" in ir


def test_rows_second_order_and_forward():
    pos, m = RNG.normal(size=(4, 2)), RNG.random(4) + 0.5
    check_grads(energy, (pos, m), order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_runtime_row_index_negative_and_out_of_range(backend):
    x = RNG.normal(size=(5, 3))
    f = cr.jit(picked_rows, backend=backend)
    for k in (0, 3, -1, -5):
        assert f(x, k, 3) == pytest.approx(picked_rows(x, k, 3), rel=1e-14)
    close(cr.grad(picked_rows, backend=backend)(x, -2, 3), numerical_grad(picked_rows,
                                                                          (x, -2, 3), 0))
    with pytest.raises(IndexError, match="test_scalarize_rows.py"):
        f(x, 5, 3)
    with pytest.raises(IndexError):
        f(x, -6, 3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_matrix_written_through_a_row_view_stays_exact(backend):
    x = RNG.normal(size=(4, 2))
    want_x = x.copy()
    want = written_through_a_row(want_x)
    got_x = x.copy()
    assert cr.jit(written_through_a_row, backend=backend)(got_x) == pytest.approx(want,
                                                                                 rel=1e-14)
    close(got_x, want_x, rtol=0, atol=0)
    assert "f64[:] = getitem(x, i" in _ir(written_through_a_row, x.copy())


@pytest.mark.parametrize("backend", BACKENDS)
def test_rebound_argument_stays_exact(backend):
    x = RNG.normal(size=(5, 2))
    assert cr.jit(rebound, backend=backend)(x) == pytest.approx(rebound(x), rel=1e-14)
    close(cr.grad(rebound, backend=backend)(x), numerical_grad(rebound, (x,), 0))


def test_one_compilation_per_row_length():
    g = cr.grad(kernel_sum)
    c = RNG.normal(size=(3, 2))
    for d in (2, 3, 2, 12, 9):
        x, cd = RNG.normal(size=(4, d)), RNG.normal(size=(3, d))
        close(g(x, cd), numerical_grad(kernel_sum, (x, cd), 0), rtol=1e-6)
    assert len(g._cache) == 3  # rows of 2 and of 3; one size-generic version for 9 and 12
    assert specialize.known_sizes_of(kernel_sum, (np.ones((4, 12)), np.ones((3, 12)))) == ()
    assert cr.jit(kernel_sum)(np.ones((2, 2)), c) == pytest.approx(
        kernel_sum(np.ones((2, 2)), c), rel=1e-14)


def test_rows_outside_loops_stay_size_generic():
    x = RNG.normal(size=(3, 2))
    assert cr.jit(straight_rows)(x) == pytest.approx(straight_rows(x), rel=1e-14)
    assert specialize.known_sizes_of(straight_rows, (x,)) == ()


def test_row_specialisation_is_found_in_the_disk_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAINRULE_CACHE_DIR", str(tmp_path))

    def h(x, c):
        t = 0.0
        for i in range(x.shape[0]):
            d = x[i] - c[0]
            t = t + d[0] * d[-1]
        return t

    x, c = RNG.normal(size=(5, 2)), RNG.normal(size=(2, 2))
    assert cr.cache.explain(cr.grad(h), x, c).startswith("miss")
    first = cr.grad(h)(x, c)
    specialize._DECISIONS.clear()  # as in a new process
    assert cr.cache.explain(cr.grad(h), x, c) == "hit"
    close(cr.grad(h)(x, c), first, rtol=0, atol=0)
    x3, c3 = RNG.normal(size=(5, 3)), RNG.normal(size=(2, 3))
    assert cr.cache.explain(cr.grad(h), x3, c3).startswith("miss")
    close(cr.grad(h)(x3, c3), numerical_grad(h, (x3, c3), 0))


def normalised_rows(x, c):
    t = 0.0
    for i in range(x.shape[0]):
        d = (x[i] - c[0]) / np.exp(c[1])
        u = d / np.sqrt(np.sum(d * d))
        t = t + u[0] * x[i][1]
    return t


def zero_divisor(a, b):
    v = np.array([a, b])
    w = v / (v - a)
    return w[1] + (w[0] != w[0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_division_by_run_time_values_is_scalarised(backend):
    x, c = RNG.normal(size=(5, 2)), RNG.normal(size=(2, 2))
    assert cr.jit(normalised_rows, backend=backend)(x, c) == pytest.approx(
        normalised_rows(x, c), rel=1e-13)
    g = cr.grad(normalised_rows, argnums=(0, 1), backend=backend)(x, c)
    for k in (0, 1):
        close(g[k], numerical_grad(normalised_rows, (x, c), k), rtol=1e-6)
    assert "fdiv(" in _ir(normalised_rows, x, c)
    with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 is nan, as NumPy divides
        assert cr.jit(zero_divisor, backend=backend)(0.5, 2.0) == zero_divisor(0.5, 2.0)
    assert "fdiv(" in _ir(zero_divisor, 0.5, 2.0)
    check_grads(normalised_rows, (x, c), order=2, modes=("fwd", "rev"))
