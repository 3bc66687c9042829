"""Programs that once gave wrong numbers in silence: each is checked against plain Python (the
value) and finite differences (forward and reverse derivatives), on the NumPy backend and, for a
representative subset, on Numba."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.testing import numerical_grad



def check_all(f, args, backend="numpy", rtol=1e-6, atol=1e-8):
    """jit matches Python; grad and jvp (argument 0) match central differences."""
    expect = f(*args)
    np.testing.assert_allclose(cr.jit(f, backend=backend)(*args), expect, rtol=rtol, atol=atol)
    fd = numerical_grad(f, args)
    np.testing.assert_allclose(cr.grad(f, backend=backend)(*args), fd, rtol=1e-5, atol=1e-6)
    x = args[0]
    t = np.ones_like(x) if isinstance(x, np.ndarray) else 1.0
    tangents = (t,) + tuple(np.zeros_like(a) if isinstance(a, np.ndarray) else 0.0
                            for a in args[1:])
    _, dout = cr.jvp(f, tuple(args), tangents, backend=backend)
    np.testing.assert_allclose(dout, np.sum(fd * t), rtol=1e-5, atol=1e-6)


# -- continue / break at the end of a loop body ---------------------------------------------
def continue_at_end(a):
    s = 1.0
    for k in range(3):
        s = 0.5 * s + a
        continue
    return s


def break_at_end(a):
    s = 1.0
    for k in range(3):
        s = 0.5 * s + a
        break
    return s


def continue_in_folded_if(a):
    s = 1.0
    for k in range(4):
        s = 0.5 * s + a
        if np.sin(2.0) > -0.5:
            continue
        s = s * 100.0
    return s


def while_continue_at_end(a):
    s = a
    i = 0
    while i < 5:
        s = s * 0.9 + a
        i += 1
        continue
    return s


def while_continue_in_folded_if(a):
    s = a
    i = 0
    while i < 4:
        i = i + 1
        s = np.sin(s) + a
        if 2 > 1:
            continue
        s = s * 10.0
    return s


def nested_continue_and_break(a):
    s = a
    for i in range(4):
        for j in range(3):
            s = s * 0.8 + a
            if s > 2.5:
                break
            continue
        if i == 2:
            continue
        s = s + 0.1 * a
    return s


def continue_then_break(a):
    s = a
    k = 0
    while True:
        k += 1
        s = s * 1.1 + a
        if k < 3:
            continue
        s = s - 0.5 * a
        if k >= 5:
            break
        continue
    return s


def static_loop_continue(a):
    s = 1.0
    for k in range(3):
        s = 0.5 * s + a
        for j in (1, 2):
            s = s + a * j
            if j == 1:
                continue
            s = s * 0.5
    return s


def static_loop_break(a):
    s = 1.0
    for k in range(3):
        s = 0.5 * s + a
        for j in (1, 2, 3):
            s = s * 0.9
            if j == 2:
                break
    return s


def static_loop_break_runtime(a):
    s = a
    for w in (0.5, 2.0, 3.0):
        s = s * w
        if s > 1.5:
            break
    return s


def static_loop_break_outside_any_loop(a):
    s = a
    for w in (0.5, 2.0, 3.0):
        s = s + w * a
        if w > 1.0:
            break
    return s


LOOP_CASES = [continue_at_end, break_at_end, continue_in_folded_if, while_continue_at_end,
              while_continue_in_folded_if, nested_continue_and_break, continue_then_break,
              static_loop_continue, static_loop_break, static_loop_break_runtime,
              static_loop_break_outside_any_loop]


@pytest.mark.parametrize("f", LOOP_CASES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("a", [0.4, 1.0])
def test_loop_exits_numpy(f, a):
    check_all(f, (a,))


@pytest.mark.parametrize("f", [continue_at_end, while_continue_at_end, nested_continue_and_break,
                               static_loop_break_runtime], ids=lambda f: f.__name__)
def test_loop_exits_numba(f):
    check_all(f, (0.7,), backend="numba")
