"""The hand-written Numba adjoints in benchmarks/ (the reference of the benchmark suite) agree
with the plain workloads, with chainrule's gradients and with finite differences, on tiny sizes.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba")

import chainrule as cr
from benchmarks import hand_adjoints as H
from benchmarks import spec as S


@pytest.mark.parametrize("name", [
    "lorenz",
    "newton",
    "gmm_bcast",
    "heat",
    pytest.param("brusselator", marks=pytest.mark.slow),  # ~10 s: compiling the workload
])
def test_hand_adjoint_matches_chainrule_and_fd(name):
    wl = S.WORKLOADS[name]
    args = S.small_args(name)
    primal, grad, adapt = H.HAND[name]
    hargs = adapt(args)

    assert primal(*hargs) == pytest.approx(wl.fn(*args), rel=1e-12)

    g_hand = grad(*hargs)
    g_hand = g_hand if isinstance(g_hand, tuple) else (g_hand,)
    g_cr = cr.grad(wl.fn, argnums=wl.argnums)(*args)
    assert len(g_hand) == len(g_cr)
    for gh, gc in zip(g_hand, g_cr):
        np.testing.assert_allclose(gh, gc, rtol=1e-10, atol=1e-12)

    assert S.directional_fd(wl.fn, args, wl.argnums, g_hand) < 1e-6


def test_newton_implicit_gradient_formula():
    a = 2.5
    x = H.newton_primal(a)
    assert abs(x**3 + a * x - 2.0) < 1e-12
    h = 1e-6
    fd = (H.newton_primal(a + h) - H.newton_primal(a - h)) / (2 * h)
    assert H.newton_grad(a) == pytest.approx(fd, rel=1e-7)
