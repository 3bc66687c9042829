"""One loss written three ways -- a preallocated array filled in a loop, a comprehension of
run-time length, and ``xs.append`` in a loop -- differentiated by chainrule with Numba: the
compile time (first call) of ``jit`` and ``grad`` and the run time of ``grad`` (min of
repeats). ``python -m benchmarks.lists [n]``; docs/architecture.md, "Lists and dicts"."""

from __future__ import annotations

import sys
import time

import numpy as np

import chainrule as cr


def prealloc(x, n):
    ys = np.zeros(n)
    for i in range(n):
        ys[i] = np.sin(x[i]) * x[i]
    return np.sum(ys * ys)


def comprehension(x, n):
    ys = np.array([np.sin(x[i]) * x[i] for i in range(n)])
    return np.sum(ys * ys)


def append_loop(x, n):
    ys = []
    for i in range(n):
        ys.append(np.sin(x[i]) * x[i])
    ys = np.array(ys)
    return np.sum(ys * ys)


def main(n: int = 1000) -> None:
    x = np.random.default_rng(0).standard_normal(n)
    cr.jit(lambda v: v * 2.0, backend="numba")(1.0)  # Numba's own start-up, not counted
    grads = {}
    for f in (prealloc, comprehension, append_loop):
        t = time.perf_counter()
        cr.jit(f, backend="numba")(x, n)
        tj = time.perf_counter() - t
        t = time.perf_counter()
        g = cr.grad(f, backend="numba")
        g(x, n)
        tg = time.perf_counter() - t
        grads[f.__name__] = g
        print(f"{f.__name__:14s} first call (compile): jit {tj:6.2f} s   grad {tg:6.2f} s")
    for name, g in grads.items():
        best = float("inf")
        for _ in range(7):
            t = time.perf_counter()
            for _ in range(100):
                g(x, n)
            best = min(best, (time.perf_counter() - t) / 100)
        print(f"{name:14s} grad run time {best * 1e6:9.1f} us")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
