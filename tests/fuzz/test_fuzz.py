"""Differential fuzzing: random programs (gen.py) run as plain Python, under ``cr.jit`` and
differentiated by ``cr.jvp`` and ``cr.grad`` (against finite differences), on both backends;
and the shrunk programs it found failing (regressions.py).

Default run: a fixed list of seeds on NumPy and a few small programs on Numba. ``pytest -m
slow`` runs the long list. Any number of programs from any seed, with failing programs shrunk
and printed: ``python -m tests.fuzz.run --seed 0 -n 2000 [--backend numba]``.
"""

from __future__ import annotations

import pytest

from .check import check
from .gen import generate
from .known import known_bug
from .regressions import REGRESSIONS

NUMPY_SEEDS = range(0, 150)  # 150-300 and 1000-3000 with -m slow
NUMBA_SEEDS = range(0, 4)  # small programs (Numba compiles each function for seconds)
SLOW_NUMPY_SEEDS = range(1000, 3000)
SLOW_NUMBA_SEEDS = range(100, 160)

def _run(seeds, backend: str, statements=None) -> dict:
    counts = {"agree": 0, "rejected": 0, "discard": 0, "fail": 0, "known": 0}
    failures = []
    for seed in seeds:
        p = generate(seed, statements)
        if backend != "numpy":
            # hangs are found on NumPy first (Numba's compiled code cannot be interrupted)
            if check(p.source, p.x, p.a, p.n, "numpy").status != "agree":
                continue
        o = check(p.source, p.x, p.a, p.n, backend)
        if o.status == "fail" and known_bug(seed, p.source):
            counts["known"] += 1
            continue
        counts[o.status] += 1
        if o.status == "fail":
            failures.append(f"seed {seed} ({backend}): {o.kind}: {o.detail}\n{p.source}")
    assert not failures, "\n\n".join(failures)
    return counts


def _batches(seeds, size: int) -> list:
    return [range(s, min(s + size, seeds.stop)) for s in range(seeds.start, seeds.stop, size)]


@pytest.mark.parametrize("seeds", _batches(NUMPY_SEEDS, 50), ids=str)
def test_random_programs_numpy(seeds):
    counts = _run(seeds, "numpy")
    # the generator must keep producing useful programs: most run, few are thrown away
    assert counts["agree"] >= 0.75 * len(seeds), counts
    assert counts["discard"] <= 0.1 * len(seeds), counts


def test_random_programs_numba():
    counts = _run(NUMBA_SEEDS, "numba", statements=3)
    assert counts["agree"] >= 1, counts


@pytest.mark.slow
@pytest.mark.parametrize("seeds", _batches(range(150, 300), 50) + _batches(SLOW_NUMPY_SEEDS, 100),
                         ids=str)
def test_random_programs_numpy_long(seeds):
    counts = _run(seeds, "numpy")
    assert counts["agree"] >= 0.75 * len(seeds), counts


@pytest.mark.slow
@pytest.mark.parametrize("seeds", _batches(SLOW_NUMBA_SEEDS, 20), ids=str)
def test_random_programs_numba_long(seeds):
    _run(seeds, "numba")


def _regression_params():
    out = []
    for r in REGRESSIONS:
        marks = [pytest.mark.xfail(strict=True, reason=r.open_bug)] if r.open_bug else []
        out.append(pytest.param(r, id=r.name, marks=marks))
    return out


@pytest.mark.parametrize("case", _regression_params())
def test_regression(case):
    x, a, n = case.args()
    o = check(case.source, x, a, n, case.backend, timeout=3)
    assert o.status == "agree", f"{o.status} {o.kind}: {o.detail}"


def test_checker_finds_a_wrong_program():
    """The oracle itself: a program whose plain run is fine passes; the same check reports
    a failure when chainrule's answer is compared with a different program's."""
    src = "import numpy as np\n\ndef f(x, a, n):\n    return x * np.sum(np.sin(a))\n"
    p = generate(0)
    assert check(src, p.x, p.a, p.n).status == "agree"
    from .check import load, plain_reference

    other = "import numpy as np\n\ndef f(x, a, n):\n    return x * np.sum(np.cos(a))\n"
    ref, _ = plain_reference(load(other).f, p.x, p.a, p.n)
    o = check(src, p.x, p.a, p.n, ref=ref)
    assert (o.status, o.kind) == ("fail", "jit")
