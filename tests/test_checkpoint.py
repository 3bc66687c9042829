"""Checkpointing of long loops in reverse mode (transforms/checkpoint.py): gradients equal the
non-checkpointed ones to rounding and agree with finite differences, for every trip count
around the segment length; the tape stays O(n / K + K) (``tape_stats``); the 10^6-step memory
target (slow)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from test_recompute import lorenz_scalar, slot_of_the_previous_trip

import chainrule as cr
from chainrule.cache.key import describe
from chainrule.testing import numerical_grad, tape_stats

U0 = np.array([1.0, 1.0, 1.0])
P = np.array([10.0, 28.0, 8.0 / 3.0])


def lorenz_in_place(u0, p, n):
    u = u0.copy()
    k = np.zeros(3)
    for _ in range(n):
        k[0] = p[0] * (u[1] - u[0])  # slots of k overwritten
        k[1] = u[0] * (p[1] - u[2]) - u[1]
        k[2] = u[0] * u[1] - p[2] * u[2]
        u += 0.001 * k  # u read, then overwritten whole: a snapshot
    return np.sum(u * u)


def rk2_rebinding(u0, p, n):
    def f(u):
        return np.array([p[0] * (u[1] - u[0]), u[0] * (p[1] - u[2]) - u[1],
                         u[0] * u[1] - p[2] * u[2]])

    u = u0.copy()
    for _ in range(n):
        k1 = f(u)
        u = u + 0.001 * f(u + 0.0005 * k1)  # a new array each trip (kept by reference)
    return np.sum(u * u)


def trajectory(x0, c, n):
    traj = np.zeros(n + 1)
    x = x0
    for i in range(n):
        traj[i] = x  # one slot of an array the loop writes in place
        x = math.sin(c * x) + 0.5 * x
    traj[n] = x
    return np.sum(traj * traj)


def branchy(v, a, lo, hi, step):
    s = 0.0
    t = 0.0
    for i in range(lo, hi, step):
        t = math.sin(v[i] * a + s)
        if t > 0.2:
            s = s + t * t
        else:
            s = s * 0.9 + v[i]
    return s + t


def nested(u0, c, n, m):
    u = u0.copy()
    total = 0.0
    for j in range(n):
        x = u[j % 3]
        for _ in range(m + j):  # an inner loop whose trip count changes per outer trip
            x = x - 0.1 * math.sin(c * x)
        u[j % 3] = x
        total = total + x * u[(j + 1) % 3]
    return total


def while_loop(x, n):
    i = 0
    while i < n:
        x = x - 0.1 * math.sin(x) * x
        i += 1
    return x * x


V = np.sin(np.arange(23.0))


def _cases():
    for n in (0, 1, 2, 7, 10):
        yield lorenz_scalar, (U0, P, n), (0, 1)
        yield lorenz_in_place, (U0, P, n), (0, 1)
        yield trajectory, (0.3, 1.7, n), (0, 1)
        yield slot_of_the_previous_trip, (0.4, 0.8, n), (0, 1)
    yield rk2_rebinding, (U0, P, 9), (0, 1)
    yield branchy, (V, 1.3, 1, 22, 3), (0, 1)
    yield branchy, (V, 1.3, 21, 0, -2), (0, 1)
    yield nested, (U0, 0.7, 5, 3), (0, 1)
    yield while_loop, (0.9, 8), (0,)


def _close(a, b, rtol, atol):
    for x, y in zip(a, b):
        np.testing.assert_allclose(np.asarray(x, float), np.asarray(y, float), rtol=rtol,
                                   atol=atol)


@pytest.mark.parametrize("case", list(_cases()), ids=lambda c: f"{c[0].__name__}")
def test_checkpointed_gradients_match_plain_ones_and_finite_differences(case):
    fn, args, argnums = case
    plain = cr.grad(fn, argnums=argnums, checkpoint=False)(*args)
    fd = tuple(numerical_grad(fn, args, argnum=k) for k in argnums)
    _close(plain, fd, rtol=1e-5, atol=1e-7)
    for k in (1, 2, 3, 4):  # segments shorter and longer than the loops
        got = cr.grad(fn, argnums=argnums, checkpoint=k)(*args)
        _close(got, plain, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("fn,args,argnums", [
    (lorenz_in_place, (U0, P, 7), (0, 1)),
    (trajectory, (0.3, 1.7, 6), (0, 1)),
    (nested, (U0, 0.7, 4, 3), (0, 1)),
])
def test_checkpointed_gradients_on_numba(fn, args, argnums):
    plain = cr.grad(fn, argnums=argnums, checkpoint=False, backend="numba")(*args)
    got = cr.grad(fn, argnums=argnums, checkpoint=3, backend="numba")(*args)
    _close(got, plain, rtol=1e-13, atol=1e-13)
    _close(got, tuple(numerical_grad(fn, args, argnum=k) for k in argnums), rtol=1e-5,
           atol=1e-7)


def test_value_and_grad_and_higher_order_with_checkpoints():
    value, g = cr.value_and_grad(lorenz_scalar, checkpoint=2)(U0, P, 7)
    np.testing.assert_allclose(value, lorenz_scalar(U0, P, 7), rtol=1e-14)
    np.testing.assert_allclose(g, cr.grad(lorenz_scalar, checkpoint=False)(U0, P, 7), rtol=1e-13)

    def inner(u):  # grad with checkpoints inside compiled code, differentiated again
        return np.sum(cr.grad(lorenz_scalar, checkpoint=2)(u, P, 7) ** 2)

    plain = numerical_grad(inner, (U0,))
    np.testing.assert_allclose(cr.grad(inner)(U0), plain, rtol=1e-5, atol=1e-6)


def _max_elements(fn, args, checkpoint):
    return tape_stats(cr.grad(fn, argnums=(0, 1), checkpoint=checkpoint), *args)["max_elements"]


def test_checkpointed_tape_is_n_over_k_plus_k():
    n = 4000
    plain = _max_elements(lorenz_scalar, (U0, P, n), False)
    assert plain >= 3 * n  # three floats per trip
    for k in (20, 63, 200):
        got = _max_elements(lorenz_scalar, (U0, P, n), k)
        bound = 3 * (math.ceil(n / k) + k) + 16
        assert got <= bound, (k, got, bound)
    # snapshots of the array state and the overwritten slots, per segment and per trip
    got = _max_elements(lorenz_in_place, (U0, P, n), 63)
    assert got <= 6 * (math.ceil(n / 63) + 63) + 16, got


def test_auto_policy_checkpoints_only_above_the_bound():
    u0 = np.linspace(0.2, 0.9, 20000)  # a 20 000-element state, read then overwritten

    def damped(u0, c, n):
        u = u0.copy()
        for _ in range(n):
            u *= c
            u += 0.1 * np.sin(u)
        return np.sum(u * u)

    small = tape_stats(cr.grad(damped, argnums=(0, 1), checkpoint="auto"), u0, 0.9,
                       20)["max_elements"]
    assert small >= 20 * 20000  # 400 000 elements: under the bound, taped per trip
    big = tape_stats(cr.grad(damped, argnums=(0, 1), checkpoint="auto"), u0, 0.9,
                     100)["max_elements"]
    # over the bound: K = sqrt(100) = 10 trips per segment, 10 checkpoints (and the slots of
    # one trip's whole-array write, restored within the trip)
    assert big <= (2 * 10 + 1) * 20000 + 100, big
    off = tape_stats(cr.grad(damped, argnums=(0, 1), checkpoint=False), u0, 0.9, 100)
    assert off["max_elements"] >= 100 * 20000


def test_option_is_validated_and_part_of_the_cache_key():
    for bad in (0, -3, "sqrt", 2.5):
        with pytest.raises(ValueError, match="checkpoint="):
            cr.grad(lorenz_scalar, checkpoint=bad)
    keys = {json.dumps(describe(cr.grad(lorenz_scalar, checkpoint=c))) for c in
            ("auto", False, 5, 6)}
    assert len(keys) == 4
    assert describe(cr.grad(lorenz_scalar, checkpoint=None)) == \
        describe(cr.grad(lorenz_scalar, checkpoint="auto"))
    assert describe(cr.grad(lorenz_scalar, checkpoint=False)) == \
        describe(cr.grad(lorenz_scalar))  # off by default


_MEMORY_SCRIPT = """
import json, resource, sys, time
import numpy as np
import chainrule as cr
sys.path.insert(0, {tests!r})
from test_checkpoint import lorenz_in_place, U0
P = np.array([10.0, 0.5, 8.0 / 3.0])  # (rho < 1: not chaotic, so the gradient stays finite)
option = json.loads(sys.argv[1])
g = cr.grad(lorenz_in_place, argnums=(0, 1), backend="numba", checkpoint=option)
g(U0, P, 10)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
out = g(U0, P, 1_000_000)
seconds = time.perf_counter() - t
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"added_mb": (after - before) / 1024, "peak_mb": after / 1024,
                  "seconds": seconds, "grad": [list(map(float, x)) for x in out]}}))
"""


def _measure(option) -> dict:
    here = os.path.dirname(os.path.abspath(__file__))
    script = _MEMORY_SCRIPT.format(tests=here)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(here))
    out = subprocess.run([sys.executable, "-c", script, json.dumps(option)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_million_steps_in_bounded_memory():
    plain = _measure(False)
    checkpointed = _measure("auto")
    assert plain["added_mb"] <= 200, plain
    assert checkpointed["added_mb"] <= 100, checkpointed
    assert checkpointed["added_mb"] < plain["added_mb"] / 4, (plain, checkpointed)
    assert np.all(np.isfinite(np.concatenate(plain["grad"]))), plain["grad"]
    _close(checkpointed["grad"], plain["grad"], rtol=1e-10, atol=0)
