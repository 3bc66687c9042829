"""The benchmark harness runs end to end on its cheapest workload and saves what it printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_bench_harness_newton(tmp_path):
    pytest.importorskip("numba")
    out = tmp_path / "bench.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT), CHAINRULE_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("CHAINRULE_BACKEND", None)
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--workloads", "newton", "--peers", "none",
         "--min-time", "0.02", "--json", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Newton" in proc.stdout and "hand-written Numba adjoint" in proc.stdout
    data = json.loads(out.read_text())
    (r,) = data["results"]
    assert r["backend"] == "numba"
    assert r["grad_s"] > 0 and r["hand_grad_s"] > 0
    assert r["warm"]["explain"] == "hit"
    assert all(v < 1e-6 for v in r["checks"].values())


@pytest.mark.slow
def test_pinn_suite_runs_and_checks_its_gradient():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--workloads", "pinn", "--peers", "none",
         "--backend", "numpy"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "chainrule numpy" in proc.stdout and "chainrule numba" not in proc.stdout
