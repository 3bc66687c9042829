"""The compile driver is the one path from a user's function to running code.

Every public transform's compilation goes through ``chainrule.driver.compile`` and every
``Executable`` (freshly compiled or loaded from the disk cache) is made inside the driver; the
values are checked against closed forms.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import driver
from chainrule.api import Transformed
from chainrule.backend import executable as executable_mod
from chainrule.cache import disk


@pytest.fixture
def path_log(monkeypatch, tmp_path):
    """Counts ``driver.compile`` calls per kind and records, for each Executable made, whether
    the driver made it."""
    monkeypatch.setenv("CHAINRULE_CACHE_DIR", str(tmp_path))
    log = {"kinds": [], "made": []}
    real_compile = driver.compile
    real_init = executable_mod.Executable.__init__

    def counting(kind, fn, args, options=None):
        log["kinds"].append(kind)
        return real_compile(kind, fn, args, options)

    def init(self, *a, **k):
        frame, inside = sys._getframe(1), False
        while frame is not None:
            if frame.f_code.co_filename == driver.__file__:
                inside = True
                break
            frame = frame.f_back
        log["made"].append(inside)
        real_init(self, *a, **k)

    monkeypatch.setattr(driver, "compile", counting)
    monkeypatch.setattr(executable_mod.Executable, "__init__", init)
    return log


def _sq(x):
    return np.sum(np.sin(x) ** 2)


def _sin(x):
    return np.sin(x)


def _kink(x):
    return np.maximum(x, 0.0) - np.maximum(-x, 0.0)


def _vec(x):
    return np.sin(x) * x[0]


def _rhs(du, u):
    du[:] = u * u


def test_every_public_transform_compiles_through_the_driver(path_log):
    x = np.linspace(0.1, 1.0, 5)
    d = 2 * np.sin(x) * np.cos(x)
    be = "numpy"  # (the path is the same for both backends; the Numba one is checked below)
    checks = {
        "grad": (lambda: cr.grad(_sq, backend=be)(x), d),
        "value_and_grad": (lambda: cr.value_and_grad(_sq, backend=be)(x)[1], d),
        "jit": (lambda: cr.jit(_sq, backend=be)(x), _sq(x)),
        "jacfwd": (lambda: cr.jacfwd(_sin, backend=be)(x), np.diag(np.cos(x))),
        "jacrev": (lambda: cr.jacrev(_sin, backend=be)(x), np.diag(np.cos(x))),
        "hessian": (lambda: cr.hessian(_sq, backend=be)(x), np.diag(2 * np.cos(2 * x))),
        "jvp": (lambda: cr.jvp(_sq, (x,), (np.ones(5),), backend=be)[1], d.sum()),
        "vjp": (lambda: cr.vjp(_sq, x, backend=be)[1](1.0)[0], d),
        "derivative": (lambda: cr.derivative(np.sin, 3, backend=be)(0.3), -np.cos(0.3)),
        "laplacian": (lambda: cr.laplacian(_sq, backend=be)(x), np.sum(2 * np.cos(2 * x))),
        "jet": (lambda: cr.jet(_sin, (x,), ([np.ones(5)],), backend=be)[1][0], np.cos(x)),
        "directional": (lambda: cr.directional_derivative(_kink, (0.0,), (1.0,),
                                                          backend=be)[1], 1.0),
        "vmap": (lambda: cr.vmap(_sq, backend=be)(np.stack([x, 2 * x])),
                 [_sq(x), _sq(2 * x)]),
        "into": (lambda: cr.into(_rhs, backend=be)(np.zeros(5), x), x * x),
        "vjp_into": (lambda: cr.vjp_into(_rhs, np.zeros(5), x, backend=be)[1](np.ones(5))[1],
                     2 * x),
        "jvp_into": (lambda: cr.jvp_into(_rhs, (np.zeros(5), x), (np.zeros(5), np.ones(5)),
                                         backend=be)[1], 2 * x),
        "plugin": (lambda: cr.plugins.define_transform("ident", lambda c, names: c)(
            _sq, backend=be)(x), _sq(x)),
    }
    for name, (run, want) in checks.items():
        before = len(path_log["kinds"])
        np.testing.assert_allclose(run(), want, rtol=1e-9, atol=1e-12, err_msg=name)
        assert len(path_log["kinds"]) > before, f"{name} did not reach driver.compile"
    assert path_log["made"] and all(path_log["made"]), "an Executable was made elsewhere"
    assert {"transform", "jvp", "vjp", "jet", "directional"} <= set(path_log["kinds"])


def test_disk_cache_hits_are_made_by_the_driver_too(path_log, monkeypatch):
    def cube(x):
        return np.sum(x ** 3)

    x = np.arange(1.0, 4.0)
    np.testing.assert_allclose(cr.grad(cube)(x), 3 * x ** 2)
    assert disk.explain(Transformed("grad", cube), x) == "hit"
    fresh = Transformed("grad", cube)  # (a new object: its own in-memory table is empty)
    exe = fresh.executable((x,))
    assert exe.compiled is None  # (served from the disk cache)
    np.testing.assert_allclose(fresh(x), 3 * x ** 2)
    assert all(path_log["made"])


def test_numba_backend_through_the_driver(path_log):
    x = np.linspace(0.2, 0.9, 4)
    g = cr.grad(_sq, backend="numba")
    np.testing.assert_allclose(g(x), 2 * np.sin(x) * np.cos(x), rtol=1e-12)
    assert g.executable((x,)).backend == "numba"
    _, tangent = cr.jvp(_sin, (x,), (np.ones(4),), backend="numba")
    np.testing.assert_allclose(tangent, np.cos(x), rtol=1e-12)
    assert all(path_log["made"]) and {"transform", "jvp"} <= set(path_log["kinds"])


def test_in_memory_caches_are_keyed_by_argument_kinds(path_log, monkeypatch):
    made = []
    real = driver._executable

    def counting(*a, **k):
        made.append(a[0])
        return real(*a, **k)

    monkeypatch.setattr(driver, "_executable", counting)
    x = np.linspace(0.1, 1.0, 6)
    for _ in range(3):
        cr.jvp(_vec, (x,), (np.ones(6),), backend="numpy")
    assert made == ["jvp"]
    cr.jvp(_vec, (x.astype(np.float32),), (np.ones(6),), backend="numpy")
    cr.jvp(_vec, (x[None],), (np.ones((1, 6)),), backend="numpy")
    assert made == ["jvp"] * 3  # (another dtype, another ndim: compiled again)
    # a held transform written inline is one object, compiled once
    ts = {id(cr.grad(_sq, backend="numpy")) for _ in range(3)}
    assert len(ts) == 1


def test_the_driver_imports_no_public_module():
    """The driver sits below the public modules: they call it, it calls down only."""
    from test_layers import imported_modules

    public = {"chainrule.api", "chainrule.taylor_api", "chainrule.nonsmooth",
              "chainrule.inplace", "chainrule.vmap_api", "chainrule.in_code",
              "chainrule.api_hooks", "chainrule.plugins", "chainrule.custom",
              "chainrule.testing"}
    imports = {t for _, t in imported_modules(Path(driver.__file__))}
    assert not imports & public, imports & public


def _ends(x):
    return x[0] * x[-1] + x[1]


def test_jet_of_small_arrays_is_compiled_per_size():
    """Code specialised on a small array's size is keyed by it for every kind (a jet compiled
    for 3 elements once answered for 4 with x[-1] read as x[2])."""
    for n in (3, 4, 5):
        x = np.arange(1.0, n + 1)
        y, (s,) = cr.jet(_ends, (x,), ([np.ones(n)],), backend="numba")
        assert y == pytest.approx(_ends(x)) and s == pytest.approx(1 + x[0] + x[-1])
        _, t = cr.jvp(_ends, (x,), (np.ones(n),), backend="numba")
        assert t == pytest.approx(1 + x[0] + x[-1])
