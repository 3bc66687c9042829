"""Numba compiling in a background thread (backend/background.py): with the default backend
choice and ``CHAINRULE_NUMBA_WAIT=0``, the first calls run on NumPy while Numba compiles, give
the same values, and later calls run the Numba code; a compile error still falls back with the
warning; ``backend="numba"`` always waits."""

from __future__ import annotations

import itertools
import linecache
import threading

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import BackendFallbackWarning
from chainrule.testing import numerical_grad

LOSS_SOURCE = """
def loss(w, x):
    h = np.tanh(x @ w)
    return np.sum(h * h) + np.sum(np.exp(-w * w))
"""


_COUNT = itertools.count()


def fresh_loss():
    """A new function object and code object each time (transforms are remembered per
    function: a test needs one that has not been compiled yet)."""
    name = f"<loss {next(_COUNT)}>"
    linecache.cache[name] = (len(LOSS_SOURCE), None, LOSS_SOURCE.splitlines(True), name)
    namespace = {"np": np}
    exec(compile(LOSS_SOURCE, name, "exec"), namespace)
    return namespace["loss"]


loss = fresh_loss()


W = np.linspace(-1.0, 1.0, 12).reshape(4, 3)
X = np.cos(np.arange(20.0)).reshape(5, 4)


@pytest.fixture
def no_wait(monkeypatch):
    monkeypatch.setenv("CHAINRULE_BACKEND", "auto")
    monkeypatch.setenv("CHAINRULE_NUMBA_WAIT", "0")
    monkeypatch.setenv("CHAINRULE_PROGRESS", "0")


def test_first_calls_on_numpy_then_numba(no_wait):
    g = cr.grad(fresh_loss())
    first = g(W, X)
    ex = g.executable((W, X))
    assert ex.backend == "numba"
    want = numerical_grad(loss, (W, X))
    np.testing.assert_allclose(first, want, rtol=1e-6, atol=1e-8)
    assert ex.wait_for_numba(timeout=300)
    assert not ex.compiling_in_background
    assert ex.py is ex._numba_py  # the Numba dispatcher, not the NumPy function
    np.testing.assert_allclose(g(W, X), first, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(g(2 * W, X), numerical_grad(loss, (2 * W, X)), rtol=1e-6,
                               atol=1e-8)


def test_calls_while_compiling_run_the_numpy_code(no_wait, monkeypatch):
    from chainrule.backend import background

    release = threading.Event()
    run = background.Compilation._run

    def held(self, dispatcher, types):  # the compilation starts only when released
        release.wait(300)
        run(self, dispatcher, types)

    monkeypatch.setattr(background.Compilation, "_run", held)
    g = cr.grad(fresh_loss())
    first = g(W, X)
    ex = g.executable((W, X))
    assert ex.compiling_in_background
    calls = []
    numpy_py = ex._numpy_py
    ex._numpy_py = lambda *a: calls.append(1) or numpy_py(*a)
    for k in (1, 2, 3):
        np.testing.assert_allclose(g(k * W, X), numerical_grad(loss, (k * W, X)), rtol=1e-6,
                                   atol=1e-8)
    assert len(calls) == 3 and ex.compiling_in_background
    release.set()
    assert ex.wait_for_numba(timeout=300)
    np.testing.assert_allclose(g(W, X), first, rtol=1e-13, atol=1e-15)
    assert len(calls) == 3  # the Numba code ran


def test_a_compile_error_in_the_background_falls_back_with_the_warning(no_wait, monkeypatch):
    g = cr.jit(fresh_loss())
    g(W, X)
    ex = g.executable((W, X))
    ex.wait_for_numba(timeout=300)
    # an executable whose background compilation failed: the next call reports and falls back
    from chainrule.backend import background

    class Failing:
        def compile(self, types):
            raise RuntimeError("cannot compile")

    job = background.Compilation(Failing(), (), "f")
    job.wait()
    ex._job, ex._numba_py = job, ex.py
    ex._numpy_py = ex.py
    ex.py = ex._while_compiling
    monkeypatch.setattr("chainrule.backend.executable._WARNED", set())
    with pytest.warns(BackendFallbackWarning, match="cannot compile"):
        value = g(W, X)
    assert ex.backend == "numpy"
    assert np.isclose(value, loss(W, X))


def test_explicit_numba_waits(monkeypatch):
    monkeypatch.setenv("CHAINRULE_NUMBA_WAIT", "0")
    g = cr.grad(fresh_loss(), backend="numba")
    g(W, X)
    ex = g.executable((W, X))
    assert not ex.compiling_in_background and ex._job is None


def test_wait_setting(monkeypatch):
    from chainrule.backend.background import DEFAULT_WAIT, wait_seconds

    for text, want in (("", DEFAULT_WAIT), ("0", 0.0), ("3.5", 3.5), ("inf", float("inf")),
                       ("nonsense", DEFAULT_WAIT), ("-1", DEFAULT_WAIT)):
        monkeypatch.setenv("CHAINRULE_NUMBA_WAIT", text)
        assert wait_seconds() == want


def test_one_line_per_function(monkeypatch, capsys):
    from chainrule.backend import background

    monkeypatch.setenv("CHAINRULE_PROGRESS", "1")
    monkeypatch.setattr(background, "_SAID", set())

    class Quick:
        def compile(self, types):
            pass

    for _ in range(3):
        job = background.Compilation(Quick(), (), "grad(f) (f.py:1)")
        job.wait()
        job.announce_background()
        job.announce_switch()
    err = capsys.readouterr().err
    assert err.count("goes on in the background") == 1
    assert err.count("runs on Numba from this call on") == 1
