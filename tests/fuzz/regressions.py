"""Shrunk programs the fuzzer found failing, kept as regression tests.

Each entry is a plain program ``f(x, a, n)`` (source text), its arguments, and, while the bug is
open, the reason it still fails (the test is then a strict ``xfail``: it starts to fail when
the bug is fixed, as a reminder to drop the reason). ``test_fuzz.py`` checks each exactly as
the fuzzer does: plain Python against ``jit``, ``jvp`` and ``grad``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

A = (0.367, -0.17, 0.234, -0.969, 0.132, -0.177)


@dataclass(frozen=True)
class Regression:
    name: str
    source: str
    x: float = 0.533
    a: tuple = A
    n: int = 3
    backend: str = "numpy"
    open_bug: str = ""  # why it still fails (strict xfail), empty once fixed

    def args(self) -> tuple:
        return self.x, np.array(self.a), self.n



REGRESSIONS = [
    # Reverse mode zeroed the target's adjoint after adding it into the value's: when the
    # value is the target itself, the gradient was lost.
    Regression("setitem_of_itself", """\
import numpy as np

def f(x, a, n):
    a[0:6] = a
    s2 = a[4]
    return s2 + x
"""),
    # Forward mode gave a new array its operand's tangent buffer (``c4 = 0.39 + a`` had
    # ``dc4 = da``), so the helper's in-place ``v += c`` changed ``da`` too.
    Regression("tangent_of_new_array_written_in_place", """\
import numpy as np

def h0(v, c):
    v += c
    return v[0]

def f(x, a, n):
    c4 = 0.39 + a
    s5 = h0(c4, a[2])
    return s5 + np.sum(a)
""", x=0.707, a=(0.816, -0.198, -0.873, 0.012, 0.349, -0.972), n=1),
    # A function with a run-time ``return`` is lowered again after a first attempt; the views
    # that attempt recorded (by variable name) stayed, so a value of the next pass that got
    # the same name was taken for a view: the helper's ``c`` became ``v[1:3]``, and ``c9`` below
    # became ``a[4:5]``.
    Regression("helper_argument_replaced_by_view", """\
import numpy as np

def h0(v, c):
    v[1:3] *= c

def f(x, a, n):
    if 1.22 < 0.65:
        return x
    h0(a, np.dot(a, a))
    if a[4] < 1.41:
        return np.sum(np.sin(a))
    return x
""", x=0.477, a=(-0.18, 0.949, -0.273, 0.857, 0.964, -0.135), n=2),
    Regression("value_taken_for_a_stale_view", """\
import numpy as np

def f(x, a, n):
    s4 = 1.0
    if s4 > 0.02:
        if 1.0 < -1.07:
            return x
        b5 = a
    c9 = a * 1.0
    if np.dot(a, a) > 0.01:
        a[5:6] = a[4:5]
        return np.sum(np.sin(c9))
    return x
""", x=0.19, a=(0.642, -0.25, 0.273, -0.495, 0.655, -0.232), n=2),
    # Two nested ``for`` loops that may leave early (here a return folded away) shared one
    # counter slot: the inner loop dropped the outer loop's counter, which never advanced.
    Regression("nested_loops_leaving_early", """\
import numpy as np

def f(x, a, n):
    s = x
    for i2 in range(1, 3):
        for i3 in range(n):
            s = s * a[i3]
            if 1.0 < 0.16:
                return x
        s = s + a[i2]
    return s
""", x=-0.558, a=(0.31, 0.598, 0.576, -0.852, -0.766, 0.823), n=3),
    # (the join after the first ``if`` copied the loop index, which a loop that ran zero times
    # never set: the generated code raised UnboundLocalError; Python never reads it here)
    Regression("loop_index_after_zero_trips", """\
import numpy as np

def f(x, a, n):
    s = x
    if x > 0.0:
        for i in range(n):
            s = s * a[i]
    if x > 0.0 and n > 0:
        s = s + a[i]
    return s
""", x=0.5, n=0),
    Regression("for_body_ending_in_continue", """\
import numpy as np

def f(x, a, n):
    s = x
    for k in range(3):
        s = 0.5 * s + a[k]
        continue
    return s
"""),
    # (a while body ending in continue used to lose its counter update: the loop never ended)
    Regression("while_body_ending_in_continue", """\
import numpy as np

def f(x, a, n):
    k = 0
    while k < 2:
        k += 1
        x = x * a[k]
        continue
    return x
"""),
    # (view records of the speculative pass that finds the return values leaked into the final
    # pass, where the same temporary name held a product: ``c5`` was read as ``a[0:1]``)
    Regression("view_record_of_a_speculative_pass", """\
import numpy as np

def f(x, a, n):
    v1 = a[4:5:2]
    if v1[-1] > 1.31:
        v1 += v1
        return x
    c5 = a[0:1] * v1
    return np.sum(c5)
"""),
    # (the IR verifier did not see that a reverse sweep's ``if c1: if c3: if t4:`` reads what
    # the recomputed ``if c1: if c3: t4 = ...`` defined: nested conditions were not correlated)
    Regression("nested_branches_recomputed_in_the_reverse_sweep", """\
import numpy as np

def f(x, a, n):
    for i3 in range(2):
        if x < 0.5:
            if x < -0.07:
                continue
            if x < 0.78:
                continue
        c4 = a * 2.0
    return x + np.sum(c4)
""", x=0.9, n=1),
    # (a range loop's index read after the loop was undefined when the loop made no trip)
    Regression("loop_index_read_after_a_loop_without_trips", """\
import numpy as np

def f(x, a, n):
    i1 = 2
    for i1 in range(n):
        x = x * a[i1]
    return x * i1
""", n=0),
]
