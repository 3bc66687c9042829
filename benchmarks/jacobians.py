"""Jacobians and Hessians with and without moving the direction-independent code out of the
loop over directions (``transforms/hoist.py``), beside the primal, a hand-written batched
Numba version (all directions at once) and JAX.

``python -m benchmarks.jacobians [n ...]``: one process, calls interleaved, best of several
repetitions; prints times relative to one primal call (docs/vmap.md, "Jacobians").
"""

from __future__ import annotations

import os
import sys

from .timing import single_threaded

single_threaded()
os.environ.setdefault("CHAINRULE_CACHE", "0")  # (both variants are compiled in this process)

import time  # noqa: E402

import numpy as np  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule.transforms import wrap  # noqa: E402


def make(W, b, A):
    """Fresh function objects (closures), so that each variant compiles its own code."""
    def layer(x):
        return np.tanh(W @ x + b)

    def loss(x):
        return np.sum(np.log(1.0 + np.exp(A @ x)))

    def chain(x):  # scalar loops, an in-place write
        n = x.shape[0]
        y = np.empty(n)
        for i in range(n):
            y[i] = np.sin(x[i]) * x[(i + 1) % n]
        return y

    def rosen(x):
        s = 0.0
        for i in range(x.shape[0] - 1):
            s += 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
        return s + np.sum(np.sin(x) * np.exp(0.1 * x))

    return {"layer": layer, "loss": loss, "chain": chain, "rosen": rosen}


CASES = [("jacfwd", "layer"), ("jacrev", "layer"), ("hessian", "loss"),
         ("jacfwd", "chain"), ("jacrev", "chain"), ("hessian", "rosen")]


def best(fn, x, reps=7, min_t=0.02):
    fn(x)
    number = 1
    while True:
        t = time.perf_counter()
        for _ in range(number):
            fn(x)
        dt = time.perf_counter() - t
        if dt > min_t:
            break
        number *= 4
    out = dt / number
    for _ in range(reps - 1):
        t = time.perf_counter()
        for _ in range(number):
            fn(x)
        out = min(out, (time.perf_counter() - t) / number)
    return out


def jax_versions(W, b, A):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return {}
    jax.config.update("jax_enable_x64", True)
    Wj, bj, Aj = map(jnp.asarray, (W, b, A))
    layer = lambda x: jnp.tanh(Wj @ x + bj)  # noqa: E731
    loss = lambda x: jnp.sum(jnp.log1p(jnp.exp(Aj @ x)))  # noqa: E731
    return {("jacfwd", "layer"): jax.jit(jax.jacfwd(layer)),
            ("jacrev", "layer"): jax.jit(jax.jacrev(layer)),
            ("hessian", "loss"): jax.jit(jax.hessian(loss))}


def hand_batched(W, b, A):
    """What a batch axis on the tangents would give on Numba: every direction at once, the
    matrix-vector products of the tangents as one matrix product (BLAS)."""
    import numba

    @numba.njit
    def jacfwd_layer(x):
        y = np.tanh(W @ x + b)
        return (1.0 - y * y).reshape(-1, 1) * (W @ np.eye(x.shape[0]))

    @numba.njit
    def hessian_loss(x):
        s = 1.0 / (1.0 + np.exp(-(A @ x)))
        dz = A @ np.eye(x.shape[0])  # tangents of A @ x, one column per direction
        return A.T @ ((s * (1.0 - s)).reshape(-1, 1) * dz)

    return {("jacfwd", "layer"): jacfwd_layer, ("hessian", "loss"): hessian_loss}


def main(sizes) -> None:
    rng = np.random.default_rng(0)
    nmax = max(sizes)
    W, b, A = rng.normal(size=(nmax, nmax)) / 10, rng.normal(size=nmax), \
        rng.normal(size=(2 * nmax, nmax)) / 10
    for n in sizes:
        Wn, bn, An = W[:n, :n].copy(), b[:n].copy(), A[:2 * n, :n].copy()
        variants = {}
        for hoist in (False, True):
            wrap.HOIST = hoist
            fs = make(Wn, bn, An)
            variants[hoist] = {(t, name): getattr(cr, t)(fs[name]) for t, name in CASES}
            prim = {name: cr.jit(f) for name, f in fs.items()}
        wrap.HOIST = True
        jx = jax_versions(Wn, bn, An)
        hb = hand_batched(Wn, bn, An)
        x = rng.uniform(0.1, 1.0, size=n)
        print(f"n = {n}: times in units of one primal call (best of 7, interleaved)")
        print(f"{'':18s} {'loop':>8s} {'hoisted':>8s} {'batched':>8s} {'JAX':>8s}   primal")
        for case in CASES:
            ref = variants[False][case](x)
            np.testing.assert_allclose(variants[True][case](x), ref, rtol=1e-10, atol=1e-12)
            if case in hb:
                np.testing.assert_allclose(hb[case](x), ref, rtol=1e-10, atol=1e-12)
            tp, t0, t1, tj, th = [], [], [], [], []
            for _ in range(5):  # interleaved rounds
                tp.append(best(prim[case[1]], x))
                t0.append(best(variants[False][case], x))
                t1.append(best(variants[True][case], x))
                if case in hb:
                    th.append(best(hb[case], x))
                if case in jx:
                    xj = np.asarray(x)
                    tj.append(best(lambda v: jx[case](v).block_until_ready(), xj))
            p = min(tp)
            j = f"{min(tj) / p:8.1f}" if tj else f"{'-':>8s}"
            h = f"{min(th) / p:8.1f}" if th else f"{'-':>8s}"
            print(f"{case[0] + ' ' + case[1]:18s} {min(t0) / p:8.1f} {min(t1) / p:8.1f} {h} {j}"
                  f"   {p * 1e6:.1f} us")
        sys.stdout.flush()


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [50, 200])
