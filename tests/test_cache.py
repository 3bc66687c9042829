"""The on-disk cache: hits across processes, explained misses, corruption, concurrency,
privacy of the directory, and the ``chainrule cache`` command."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.cache import store

ROOT = Path(__file__).resolve().parent.parent

PROGRAM = textwrap.dedent('''
    import sys, json
    import numpy as np
    import chainrule as cr
    import chainrule.frontend.compile as fc

    SCALE = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0

    def f(x):
        s = 0.0
        for i in range(x.shape[0]):
            s = s + np.sin(x[i]) * SCALE
        return s

    calls = []
    real = fc.compile_function
    def spy(*a, **k):
        calls.append(1)
        return real(*a, **k)
    fc.compile_function = spy
    import chainrule.driver as driver
    driver.compile_function = spy

    g = cr.grad(f)
    x = np.array([0.1, 0.2, 0.3])
    why = cr.cache.explain(g, x)
    out = g(x)
    print(json.dumps({"explain": why, "grad": list(out), "compiled": len(calls)}))
''')


def run_program(tmp_path: Path, cache_dir: Path, *extra: str, backend: str = "numpy") -> dict:
    script = tmp_path / "prog.py"
    script.write_text(PROGRAM)
    env = dict(os.environ, CHAINRULE_CACHE_DIR=str(cache_dir), CHAINRULE_BACKEND=backend,
               PYTHONPATH=str(ROOT))
    res = subprocess.run([sys.executable, str(script), *extra], env=env, capture_output=True,
                         text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_second_process_hits_without_compiling(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = run_program(tmp_path, cache)
    second = run_program(tmp_path, cache)
    assert first["explain"].startswith("miss") and first["compiled"] == 1
    assert second["explain"] == "hit" and second["compiled"] == 0
    np.testing.assert_allclose(second["grad"], 2.0 * np.cos([0.1, 0.2, 0.3]))
    assert first["grad"] == second["grad"]


def test_changed_global_is_detected(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    run_program(tmp_path, cache, "x", "2.0")
    changed = run_program(tmp_path, cache, "x", "3.0")
    assert "SCALE changed" in changed["explain"] and changed["compiled"] == 1
    np.testing.assert_allclose(changed["grad"], 3.0 * np.cos([0.1, 0.2, 0.3]))


def test_numba_backend_hits_across_processes(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    run_program(tmp_path, cache, backend="numba")
    second = run_program(tmp_path, cache, backend="numba")
    assert second["explain"] == "hit" and second["compiled"] == 0
    assert list((cache / "src").rglob("*.nbi")), "Numba keeps its cache beside the source"


def scaled_square(x):
    return np.sum(x * x) * 0.5


def test_explain_names_the_differing_part(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CHAINRULE_CACHE_DIR", str(tmp_path))
    g = cr.grad(scaled_square)
    x64 = np.ones(3)
    assert cr.cache.explain(g, x64) == "miss: no entry for this function yet"
    g(x64)
    assert cr.cache.explain(g, x64) == "hit"
    assert cr.cache.explain(g, np.ones(3, dtype=np.float32)) == (
        "miss: an entry for this function exists but differs in arguments")
    assert cr.cache.explain(g, np.ones((2, 2))) .endswith("differs in arguments")


def test_corrupt_entries_are_ignored_and_rebuilt(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CHAINRULE_CACHE_DIR", str(tmp_path))
    x = np.array([1.0, 2.0])

    def fresh():  # a new transform object reads the disk cache (cr.grad(f) is kept per f)
        return cr.api.Transformed("grad", scaled_square)

    fresh()(x)
    (entry,) = (tmp_path / "entries").glob("*.json")
    entry.write_text("{not json")
    assert cr.cache.explain(cr.grad(scaled_square), x).startswith("miss: unreadable entry")
    np.testing.assert_allclose(fresh()(x), x)
    assert cr.cache.explain(cr.grad(scaled_square), x) == "hit"
    # An entry whose recorded key parts are not the requested ones (a foreign file) is ignored.
    record = json.loads(entry.read_text())
    record["parts"]["options"]["backend"] = "something else"
    entry.write_text(json.dumps(record))
    assert "different key parts" in cr.cache.explain(cr.grad(scaled_square), x)
    np.testing.assert_allclose(fresh()(x), x)


WEIGHTS = np.array([1.0, 2.0, 3.0])


def with_constant(x, w=WEIGHTS):
    # A default value is a constant of the code (module-level arrays are not: they are read
    # at each call).
    return np.sum(x * w)


def test_array_constants_round_trip_without_pickle(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CHAINRULE_CACHE_DIR", str(tmp_path))
    x = np.ones(3)
    cr.grad(with_constant)(x)
    (npz,) = (tmp_path / "entries").glob("*.npz")
    with np.load(npz, allow_pickle=False) as data:
        assert [np.asarray(data[k]).dtype != object for k in data.files]
    np.testing.assert_allclose(cr.grad(with_constant)(x), WEIGHTS)
    # An object array in the constants file is refused (it would need unpickling).
    np.savez(npz, _k0=np.array([{"a": 1}], dtype=object))
    assert "unreadable entry" in cr.cache.explain(cr.grad(with_constant), x)
    np.testing.assert_allclose(cr.grad(with_constant)(x), WEIGHTS)


def test_cache_directory_is_private(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "fresh"
    monkeypatch.setenv("CHAINRULE_CACHE_DIR", str(target))
    cr.grad(scaled_square)(np.ones(2))
    mode = stat.S_IMODE(target.stat().st_mode)
    assert mode & 0o077 == 0, oct(mode)


CONCURRENT = textwrap.dedent('''
    import numpy as np, chainrule as cr
    def h(x):
        y = np.zeros_like(x)
        for i in range(x.shape[0]):
            y[i] = x[i] ** 3
        return np.sum(y)
    print([float(v) for v in cr.grad(h)(np.array([1.0, 2.0]))])
''')


def test_concurrent_processes_share_the_cache(tmp_path: Path) -> None:
    script = tmp_path / "conc.py"
    script.write_text(CONCURRENT)
    env = dict(os.environ, CHAINRULE_CACHE_DIR=str(tmp_path / "cache"),
               CHAINRULE_BACKEND="numpy", PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _, e in outs]
    assert all(o.strip() == "[3.0, 12.0]" for o, _ in outs)
    entries = list((tmp_path / "cache" / "entries").glob("*.json"))
    assert len(entries) == 1 and json.loads(entries[0].read_text())["format"] == 1
    assert not list((tmp_path / "cache" / "entries").glob(".tmp-*"))


def test_cli_cache_info_and_clear(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CHAINRULE_CACHE_DIR", str(tmp_path))
    cr.grad(scaled_square)(np.ones(2))
    from chainrule.cli import main

    assert main(["cache", "info"]) == 0
    assert store.info()["entries"] == 1
    assert main(["cache", "clear"]) == 0
    assert store.info()["entries"] == 0


@pytest.mark.parametrize("value", [0, "0"])
def test_cache_can_be_turned_off(tmp_path: Path, monkeypatch, value) -> None:
    monkeypatch.setenv("CHAINRULE_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CHAINRULE_CACHE", str(value))
    cr.grad(scaled_square)(np.ones(2))
    assert not list((tmp_path / "entries").glob("*.json"))
    assert "off" in cr.cache.explain(cr.grad(scaled_square), np.ones(2))


def _scaled_by(weights):
    def f(x):
        return np.sum(x * weights)

    return f


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_same_source_different_constants_never_share_code(backend: str) -> None:
    # Two closures with identical source but different captured arrays: the generated code
    # differs only in its constants, which must not be confused (module reuse, Numba's cache).
    x = np.ones(3)
    g1 = cr.grad(_scaled_by(np.array([1.0, 2.0, 3.0])), backend=backend)(x)
    g2 = cr.grad(_scaled_by(np.array([4.0, 5.0, 6.0])), backend=backend)(x)
    np.testing.assert_allclose(g1, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(g2, [4.0, 5.0, 6.0])


def test_size_bound_evicts_least_recently_used(tmp_path: Path, monkeypatch) -> None:
    import os
    import time

    monkeypatch.setenv("CHAINRULE_CACHE_DIR", str(tmp_path))
    big = np.ones(20_000)

    def loss_with(k):
        def f(x):
            return np.sum(x * big) * k
        return f

    x = np.ones(20_000)
    fns = [loss_with(float(k)) for k in range(4)]
    for f in fns:
        cr.grad(f)(x)
    entries = sorted((tmp_path / "entries").glob("*.json"), key=lambda p: p.stat().st_mtime)
    assert len(entries) == 4
    old = time.time() - 1000
    for i, path in enumerate(entries):  # make the order of use explicit
        os.utime(path, (old + i, old + i))
        npz = path.with_suffix(".npz")
        if npz.exists():
            os.utime(npz, (old + i, old + i))
    first = entries[0]
    first_payload = json.loads(first.read_text())["parts"]
    assert store.load(first_payload)[0] is not None  # a hit makes the oldest the newest
    total = store.info()["bytes"]
    removed = store.evict(int(total * 0.7))
    assert removed > 0
    assert store.info()["bytes"] <= 0.8 * int(total * 0.7)
    assert first.exists()  # used last, kept
    assert not entries[1].exists()  # least recently used, evicted
    # an evicted function recompiles and gives the same gradient
    g = cr.grad(fns[1])(x)
    np.testing.assert_allclose(g, np.full(20_000, 1.0))


GLOBAL_W = np.array([1.0, 2.0, 3.0])
GLOBAL_S = 2.0


def reads_globals(x):
    return np.sum(GLOBAL_W * x ** 2) * GLOBAL_S


def test_entries_read_module_arrays_at_call_time() -> None:
    """A cache entry holds no module-level array contents: a later hit reads them anew."""
    global GLOBAL_S
    x = np.array([1.0, -1.0, 0.5])
    np.testing.assert_allclose(cr.grad(reads_globals)(x), 2 * GLOBAL_W * x * GLOBAL_S)
    GLOBAL_W[:] = [5.0, -2.0, 1.0]
    fresh = cr.grad(reads_globals)
    assert cr.cache.explain(fresh, x) == "hit"
    np.testing.assert_allclose(fresh(x), 2 * GLOBAL_W * x * GLOBAL_S)
    saved = GLOBAL_S
    try:
        GLOBAL_S = -1.0  # a folded scalar: another entry, and the held transform recompiles
        assert cr.cache.explain(cr.grad(reads_globals), x).startswith("miss")
        np.testing.assert_allclose(fresh(x), 2 * GLOBAL_W * x * GLOBAL_S)
    finally:
        GLOBAL_S = saved


def _twice(x):
    return 2.0 * x


def _user_double_jvp(b, args, tans, out, **_):
    return b.mul(tans[0], 2.0)


def _user_double_vjp_wrong(b, args, out, g, **_):
    return [b.mul(g, 3.0)]


def _user_double_vjp(b, args, out, g, **_):
    return [b.mul(g, 2.0)]


def _user_emit_helper(x):
    return 2.0 * x


def uses_user_double(x):
    return _twice(x) ** 2


def test_entries_depend_on_user_primitive_rules() -> None:
    """Editing a registered primitive's rule (or what its emission names) is a cache miss."""
    from chainrule.rules.common import float_type, template
    from chainrule.rules.registry import Primitive

    prim = cr.register_primitive(
        Primitive("cache_test_double", float_type, template("_user_emit_helper({0})"),
                  _user_double_jvp, _user_double_vjp_wrong),
        function=_twice, namespace={"_user_emit_helper": _user_emit_helper})
    x = 5.0
    assert cr.grad(uses_user_double)(x) == 2 * 10.0 * 3.0  # what the (wrong) rule says
    assert cr.cache.explain(cr.grad(uses_user_double), x) == "hit"
    prim.vjp = _user_double_vjp  # the user fixes the rule (as after editing and restarting)
    assert "rules of cache_test_double changed" in cr.cache.explain(cr.grad(uses_user_double),
                                                                    x)
    assert cr.grad(uses_user_double)(x) == 2 * 10.0 * 2.0
    assert cr.cache.explain(cr.grad(uses_user_double), x) == "hit"
    assert cr.jit(uses_user_double)(x) == 100.0


@cr.custom_jvp
def _cached_custom(x):
    return np.sin(x)


def _custom_rule_wrong(primals, tangents):
    return np.sin(primals[0]), tangents[0]


def _custom_rule(primals, tangents):
    return np.sin(primals[0]), np.cos(primals[0]) * tangents[0]


def uses_custom(x):
    return _cached_custom(x) * 2.0


def test_entries_depend_on_custom_rules() -> None:
    _cached_custom.defjvp(_custom_rule_wrong)
    x = 0.4
    assert cr.grad(uses_custom)(x) == 2.0
    _cached_custom.defjvp(_custom_rule)
    assert np.isclose(cr.grad(uses_custom)(x), 2.0 * np.cos(x))
    assert cr.cache.explain(cr.grad(uses_custom), x) == "hit"


def _memo_loss(w):
    return np.sum(np.tanh(w) ** 2)


def test_a_transform_created_inline_reuses_the_compiled_code() -> None:
    import functools

    w = np.linspace(0.0, 1.0, 5)
    first = cr.grad(_memo_loss)
    first(w)
    for _ in range(3):  # as in a training loop: cr.grad(loss)(w) at every step
        again = cr.grad(_memo_loss)
        assert again is first and len(again._cache) == 1
        np.testing.assert_allclose(again(w), 2 * np.tanh(w) / np.cosh(w) ** 2)
    assert cr.grad(_memo_loss, argnums=(0,)) is not first
    assert cr.value_and_grad(_memo_loss) is not first
    assert cr.grad(cr.grad(lambda x: x**3)) is not cr.grad(lambda x: x**3)

    @functools.wraps(_memo_loss)  # copies the function's __dict__, where the memo lives
    def doubled(w):
        return 2.0 * _memo_loss(w)

    np.testing.assert_allclose(cr.grad(doubled)(w), 4 * np.tanh(w) / np.cosh(w) ** 2)
    np.testing.assert_allclose(cr.grad(_memo_loss)(w), 2 * np.tanh(w) / np.cosh(w) ** 2)
    made = []
    for k in range(3):  # a lambda written in the loop: a new function object at each step
        made.append(cr.grad(lambda v: np.sum(v**3)))
        np.testing.assert_allclose(made[-1](w), 3 * w**2)
    assert made[0] is made[1] is made[2]
    for k in (1.0, 2.0):  # a closure over the loop variable: each is its own function
        np.testing.assert_allclose(cr.grad(lambda v: k * np.sum(v**2))(w), 2 * k * w)
