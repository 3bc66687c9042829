"""Peak memory and time of a long-loop gradient with and without checkpointing.

``python -m benchmarks.checkpoint_memory [--steps N] [--backend numba]`` runs each measurement
in a fresh process: it compiles the gradient, calls it once on 10 steps, then once on N steps
(default 10^6), and reports the process's peak resident memory, the memory the N-step call
added on top of the compiled process (the tapes), and the call's time. Workloads: the Lorenz
RK4 benchmark (``workloads.lorenz_loss``, 3-element state, its size specialised into scalars)
and a forward-Euler Lorenz step on an array state whose size the compiler does not know (each
step's state is a new array the tape keeps).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np


def euler_array_state(u0, p, n_steps, dt):
    u = np.concatenate((u0, u0))[:3]  # a 3-element state of run-time size
    for _ in range(n_steps):
        du = np.array([p[0] * (u[1] - u[0]), u[0] * (p[1] - u[2]) - u[1],
                       u[0] * u[1] - p[2] * u[2]])
        u = u + dt * du
    return np.sum(u * u)


def _workload(name):
    from benchmarks.workloads import lorenz_loss

    return {"lorenz_rk4": lorenz_loss, "euler_array_state": euler_array_state}[name]


def child(name: str, steps: int, backend: str, option) -> dict:
    import chainrule as cr

    g = cr.grad(_workload(name), argnums=(0, 1), backend=backend, checkpoint=option)
    u0, p = np.array([1.0, 1.0, 1.0]), np.array([10.0, 28.0, 8.0 / 3.0])
    g(u0, p, 10, 1e-6)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    g(u0, p, steps, 1e-6)
    seconds = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"workload": name, "checkpoint": option, "steps": steps,
            "added_mb": round((after - before) / 1024, 1), "peak_mb": round(after / 1024, 1),
            "seconds": round(seconds, 3)}


def measure(name: str, steps: int, backend: str, option) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.checkpoint_memory", "--child",
                          json.dumps([name, steps, backend, option])],
                         capture_output=True, text=True, check=True, env=dict(os.environ))
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1_000_000)
    ap.add_argument("--backend", default="numba")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(child(*json.loads(a.child))))
        return 0
    print(f"{'workload':<20}{'checkpoint':>11}{'added MB':>10}{'peak MB':>9}{'seconds':>9}")
    for name in ("lorenz_rk4", "euler_array_state"):
        for option in (False, "auto"):
            r = measure(name, a.steps, a.backend, option)
            print(f"{name:<20}{option!s:>11}{r['added_mb']:>10}{r['peak_mb']:>9}"
                  f"{r['seconds']:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
