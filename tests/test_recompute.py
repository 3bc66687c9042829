"""Reverse mode recomputes loop trips instead of storing their intermediates
(transforms/recompute.py): gradients against finite differences on both backends, and the tape
pinned (``tape_stats``) so that a loop cannot silently go back to storing every temporary."""

from __future__ import annotations

import math

import numpy as np
import pytest
from golden_programs import newton_root as newton

import chainrule as cr
from chainrule.testing import numerical_grad, tape_stats


def close(a, b, rtol=1e-6, atol=1e-8):
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                               rtol=rtol, atol=atol)


def lorenz_scalar(u, p, n):
    x, y, z = u[0], u[1], u[2]
    for _ in range(n):
        dx = p[0] * (y - x)
        dy = x * (p[1] - z) - y
        dz = x * y - p[2] * z
        x = x + 0.001 * dx
        y = y + 0.001 * dy
        z = z + 0.001 * dz
    return x * x + y * y + z * z


def lorenz_array(u0, p, n):
    u = u0.copy()
    k = np.zeros(3)
    for _ in range(n):
        k[0] = p[0] * (u[1] - u[0])
        k[1] = u[0] * (p[1] - u[2]) - u[1]
        k[2] = u[0] * u[1] - p[2] * u[2]
        u += 0.001 * k
    return np.sum(u * u)


def stencil_steps(u0, c, n):
    u = u0.copy()
    du = np.zeros_like(u0)
    m = u.shape[0]
    for _ in range(n):
        for i in range(m):
            left = u[(i - 1) % m]
            right = u[(i + 1) % m]
            du[i] = c * (left + right - 2.0 * u[i]) - u[i] * u[i] * u[i]
        u += 0.01 * du
    return np.sum(u * u)


def branchy(v, a):
    s = 0.0
    t = 0.0
    for i in range(v.shape[0]):
        t = math.sin(v[i] * a)
        if t > 0.2:
            s = s + t * t
        elif v[i] < -0.5:
            s = s - a * v[i]
        else:
            s = s * 0.9 + v[i]
    return s + t


def damped_steps(u0, n):
    u = u0.copy()
    for _ in range(n):
        u *= 0.9  # read, then overwritten whole: a snapshot per trip
        u += 0.1 * np.sin(u)  # whose contents the rule of sin reads
    return np.sum(u * u)


def prefix_in_place(x):
    a = x * 1.0
    for i in range(1, a.shape[0]):
        a[i] = a[i] * a[i - 1] + 0.1
    return np.sum(a)


U0 = np.array([1.0, 1.0, 1.0])
P = np.array([10.0, 28.0, 8.0 / 3.0])
V = np.array([0.5, -0.4, -2.0, 1.5, 0.1, -0.7])


def check(fn, args, argnums, backend):
    got = cr.grad(fn, argnums=argnums, backend=backend)(*args)
    for g, k in zip(got, argnums):
        close(g, numerical_grad(fn, args, argnum=k), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_recomputed_loops_match_finite_differences(backend):
    check(lorenz_scalar, (U0, P, 50), (0, 1), backend)
    check(lorenz_array, (U0, P, 50), (0, 1), backend)
    check(stencil_steps, (np.linspace(0.1, 0.8, 7), 0.3, 4), (0, 1), backend)
    check(branchy, (V, 1.3), (0, 1), backend)
    check(newton, (1.5,), (0,), backend)
    check(damped_steps, (np.linspace(0.2, 0.9, 4), 6), (0,), backend)
    check(prefix_in_place, (np.linspace(0.2, 0.9, 6),), (0,), backend)


def slot_of_the_previous_trip(x0, c, n):
    a = np.zeros(2)
    m = a.shape[0]
    s = 0.0
    for i in range(n):
        a[i % m] = math.cos(s * c + x0)  # the carried scalar and the slot share a tape
        s = s + a[(i + 1) % m] * a[i % m]  # read after the write: the previous trip's slot
    return s + a[0]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_recomputed_trip_reads_a_slot_an_earlier_trip_wrote(backend):
    check(slot_of_the_previous_trip, (0.4, 0.8, 7), (0, 1), backend)


def test_values_written_by_a_recomputed_loop_are_returned_unchanged():
    value, g = cr.value_and_grad(branchy, argnums=(0, 1))(V, 1.3)
    close(value, branchy(V, 1.3))
    close(g[0], numerical_grad(branchy, (V, 1.3)), rtol=1e-5)


def test_higher_order_through_recomputed_loops():
    h = cr.hessian(lorenz_scalar)(U0, P, 20)
    fd = numerical_grad(lambda u: cr.grad(lorenz_scalar)(u, P, 20), (U0,))
    close(h, fd, rtol=1e-5, atol=1e-6)
    gg = cr.grad(cr.grad(newton))(1.5)
    close(gg, numerical_grad(cr.grad(newton), (1.5,)), rtol=1e-5)


def _per_trip(fn, make_args, sizes=(10, 20)):
    stats = [tape_stats(cr.grad(fn, argnums=(0, 1)), *make_args(n)) for n in sizes]
    return (stats[1]["pushes"] - stats[0]["pushes"]) / (sizes[1] - sizes[0]), stats


def test_scalar_loop_tapes_only_its_carried_state():
    per, stats = _per_trip(lorenz_scalar, lambda n: (U0, P, n))
    assert per <= 3, stats  # x, y, z at each trip's start; every temporary is recomputed


def test_array_loop_tapes_what_a_trip_overwrites():
    per, stats = _per_trip(lorenz_array, lambda n: (U0, P, n))
    # one snapshot of u and the three overwritten slots of k (it was 25 per trip stored)
    assert per <= 4, stats


def test_inner_loop_of_a_stencil_tapes_nothing_per_point():
    u0 = np.linspace(0.1, 0.8, 40)
    per, stats = _per_trip(stencil_steps, lambda n: (u0, 0.3, n))
    # per time step: u's snapshot, the inner loop's range; nothing per grid point
    assert per <= 8, stats


def test_branch_conditions_are_recomputed_not_taped():
    stats = [tape_stats(cr.grad(branchy, argnums=(0, 1)), np.linspace(-1, 1, n), 1.3)
             for n in (10, 20)]
    assert stats[1]["pushes"] - stats[0]["pushes"] <= 10, stats  # s alone, once per trip


def stencil2d_steps(u0, c, n):
    """The inner loop reads du's shape (its bounds checks, ``du.shape[1]``) and writes du:
    a shape read is no read of its contents, so nothing is saved per point."""
    u = u0.copy()
    du = np.zeros_like(u0)
    m = u.shape[0]
    for _ in range(n):
        for i in range(m):
            for j in range(m):
                near = u[(i + 1) % m, j] + u[i, (j + 1) % m] + u[i, (j - 1) % m]
                du[i, j] = c * (near - 3.0 * u[i, j]) - u[i, j] * u[i, j] * u[i, j] \
                    + 0.01 * len(du) * du.shape[1]
        u += 0.01 * du
    return np.sum(u * u)


def rescale_by_own_length(x, n):
    """Each trip sizes with ``w.shape[0]``, writes ``w`` in place, and reads it back."""
    w = x * 1.0
    s = 0.0
    for k in range(n):
        w[k % w.shape[0]] = w[(k + 1) % len(w)] * 0.5 + math.sin(0.3 * s)
        s = s + 0.1 * w[k % w.shape[0]] * w.shape[0]
    return s + np.sum(w * w)


@pytest.mark.parametrize("backend", ["numpy", pytest.param("numba", marks=pytest.mark.slow)])
def test_shape_reads_do_not_save_the_slots_of_arrays_written_later(backend):
    u0 = np.linspace(0.1, 0.8, 9).reshape(3, 3)
    check(stencil2d_steps, (u0, 0.3, 3), (0, 1), backend)
    check(rescale_by_own_length, (np.linspace(0.2, 0.9, 5), 9), (0,), backend)


def test_inner_loop_reading_a_shape_tapes_nothing_per_point():
    def per_step(m):
        u0 = np.linspace(0.1, 0.8, m * m).reshape(m, m)
        stats = [tape_stats(cr.grad(stencil2d_steps, argnums=(0, 1)), u0, 0.3, n)
                 for n in (2, 4)]
        return (stats[1]["pushes"] - stats[0]["pushes"]) / 2, stats

    small, s1 = per_step(4)
    large, s2 = per_step(8)
    # pushes per time step grow with the rows (each row's trip count), not with the points
    assert large - small <= 2 * (8 - 4) + 4, (s1, s2)
