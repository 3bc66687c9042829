"""Taylor mode benchmark: ``jet`` of f(x) = sin(sin(x)) * exp(x) at order K against a
hand-written Taylor recurrence compiled by Numba, and the compile time of ``jet``.

    python -m benchmarks.taylor [--order 8] [--size 100000]

Both sides take a full input series (K derivative arrays) and return the K output derivatives;
both are checked against each other. Compile time is split into chainrule's own work (front
end, Taylor transform, code generation) and the first call on the Numba backend (which adds
Numba's compilation). The k-th derivative of sin(sin(x)) by ``derivative`` (one Taylor pass)
and by nested ``grad`` is timed for k = 1..--nested (nested grad is compiled per k).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time

import numpy as np


def f(x):
    return np.sin(np.sin(x)) * np.exp(x)


def sin_sin(x):
    return np.sin(np.sin(x))


def hand_jet(K: int):
    """A Numba kernel: the Taylor recurrences of sin, sin, exp and the product, written by
    hand for f, per element, on normalised coefficients (derivatives in, derivatives out)."""
    import numba

    fact = np.array([math.factorial(k) for k in range(K + 1)], dtype=np.float64)

    @numba.njit(cache=False)
    def kernel(x, terms, out):
        n = x.shape[0]
        u = np.empty(K + 1)
        s1 = np.empty(K + 1)
        c1 = np.empty(K + 1)
        s2 = np.empty(K + 1)
        c2 = np.empty(K + 1)
        e = np.empty(K + 1)
        for i in range(n):
            u[0] = x[i]
            for k in range(1, K + 1):
                u[k] = terms[k - 1, i] / fact[k]
            s1[0] = np.sin(u[0])
            c1[0] = np.cos(u[0])
            e[0] = np.exp(u[0])
            for k in range(1, K + 1):
                a = 0.0
                b = 0.0
                c = 0.0
                for j in range(1, k + 1):
                    a += j * u[j] * c1[k - j]
                    b += j * u[j] * s1[k - j]
                    c += j * u[j] * e[k - j]
                s1[k] = a / k
                c1[k] = -b / k
                e[k] = c / k
            s2[0] = np.sin(s1[0])
            c2[0] = np.cos(s1[0])
            for k in range(1, K + 1):
                a = 0.0
                b = 0.0
                for j in range(1, k + 1):
                    a += j * s1[j] * c2[k - j]
                    b += j * s1[j] * s2[k - j]
                s2[k] = a / k
                c2[k] = -b / k
            for k in range(K + 1):
                acc = 0.0
                for j in range(k + 1):
                    acc += s2[j] * e[k - j]
                out[k, i] = acc * fact[k]

    return kernel


def best_of(fn, min_time: float = 0.5) -> float:
    fn()
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < min_time or len(times) < 3:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def nested_row(cr, k: int, x: float = 0.7) -> None:
    """The k-th derivative of sin(sin(x)) by k nested grads (compiled as one Taylor pass), and
    by ``derivative`` (the same generated code, so its first call reuses Numba's cache)."""
    g = sin_sin
    for _ in range(k):
        g = cr.grad(g, backend="numba")
    t = time.perf_counter()
    v2 = g(x)
    c2 = time.perf_counter() - t
    d = cr.derivative(sin_sin, k, backend="numba")
    assert abs(d(x) - v2) <= 1e-9 * (1 + abs(v2)), (k, d(x), v2)
    r1, r2 = best_of(lambda: d(x), 0.2), best_of(lambda: g(x), 0.2)
    print(f"  k={k}: nested grad first call {c2:7.3f} s, {r2 * 1e6:6.2f} us/call; "
          f"derivative {r1 * 1e6:6.2f} us/call", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--order", type=int, default=8)
    ap.add_argument("--size", type=int, default=100_000)
    ap.add_argument("--nested", type=int, default=0,
                    help="also time nested grad for k = 1..NESTED (slow: compiles per k)")
    args = ap.parse_args(argv)
    os.environ.setdefault("CHAINRULE_CACHE_DIR", tempfile.mkdtemp(prefix="crtaylor-"))
    import chainrule as cr
    from chainrule import taylor_api

    K, n = args.order, args.size
    rng = np.random.default_rng(0)
    x = rng.uniform(-1.0, 1.0, n)
    terms = [rng.uniform(-1.0, 1.0, n) for _ in range(K)]

    t = time.perf_counter()
    taylor_api._jet_executable(f, (x,), K, "numpy")
    own = time.perf_counter() - t
    t = time.perf_counter()
    y, series = cr.jet(f, (x,), (terms,), backend="numba")
    first = time.perf_counter() - t
    kernel = hand_jet(K)
    out = np.empty((K + 1, n))
    t = time.perf_counter()
    kernel(x, np.array(terms), out)
    hand_first = time.perf_counter() - t
    np.testing.assert_allclose(np.array([y] + list(series)), out, rtol=1e-9, atol=1e-9)
    stacked = np.array(terms)
    t_cr = best_of(lambda: cr.jet(f, (x,), (terms,), backend="numba"))
    t_hand = best_of(lambda: kernel(x, stacked, out))
    print(f"jet of sin(sin(x))*exp(x), K={K}, n={n}")
    print(f"  chainrule jet (numba)      {t_cr * 1e3:9.3f} ms")
    print(f"  hand-written recurrence    {t_hand * 1e3:9.3f} ms   ratio {t_cr / t_hand:.2f}x")
    print(f"  compile: chainrule alone   {own:9.3f} s (front end, Taylor transform, codegen)")
    print(f"  compile: first numba call  {first:9.3f} s (chainrule + Numba)")
    print(f"  compile: hand kernel       {hand_first:9.3f} s (Numba)")

    for k in range(1, args.nested + 1):
        nested_row(cr, k)
    return 0


if __name__ == "__main__":
    sys.exit(main())
