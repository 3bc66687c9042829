"""Timing helpers shared by the harness and the peer runners.

:func:`single_threaded` must run before NumPy (or any framework) is imported: it pins every
thread pool we know of to one thread. :func:`best_time` repeats adaptively and returns the best
time of one call (the usual estimate of a function's cost on a quiet machine).
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable

THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "JAX_PLATFORMS": "cpu",
}


def single_threaded(env: dict | None = None) -> dict:
    """Set the thread-count variables in ``env`` (default: this process's environment)."""
    target = os.environ if env is None else env
    for k, v in THREAD_ENV.items():
        target[k] = v
    return target


def best_time(fn: Callable, args: tuple = (), *, min_total: float = 0.2, repeats: int = 5,
              max_total: float = 3.0) -> tuple[float, int, int]:
    """Best seconds per call of ``fn(*args)``, with (calls per batch, batches).

    One warm-up call, then batches of ``number`` calls sized so that one batch takes at least
    ``min_total / repeats``; batches are repeated until there are ``repeats`` of them and they
    add up to ``min_total`` seconds, or until ``max_total`` seconds are spent (at least one
    batch, two when affordable). The garbage collector is off inside a batch.
    """
    timer = time.perf_counter
    t = timer()
    fn(*args)
    first = timer() - t
    target = min_total / repeats

    def batch(number: int) -> float:
        enabled = gc.isenabled()
        gc.disable()
        try:
            t0 = timer()
            for _ in range(number):
                fn(*args)
            return timer() - t0
        finally:
            if enabled:
                gc.enable()

    number = 1
    if first < target:
        while True:
            t = batch(number)
            if t >= target or number >= 10**8:
                break
            number = max(2 * number, int(number * 1.2 * target / max(t, 1e-9)))
        times = [t / number]
        spent = t
    else:
        times = [first]  # a call this slow is its own warm-up; keep it as a sample
        spent = first
    while True:
        enough = len(times) >= repeats and spent >= min_total
        budget_gone = spent >= max_total and (len(times) >= 2 or times[0] * 2 > max_total)
        if enough or budget_gone:
            break
        t = batch(number)
        spent += t
        times.append(t / number)
    return min(times), number, len(times)
