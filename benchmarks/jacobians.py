"""Jacobians and Hessians: all directions through one batched sweep (``transforms/jacobian.py``)
against the loop over directions (with the direction-independent code moved out of it,
``transforms/hoist.py``), beside the primal, a hand-written batched Numba version (all
directions at once) and JAX.

``python -m benchmarks.jacobians [n ...]``: one process, short batches of calls of every
variant in alternation, best of 40 rounds; prints times relative to one primal call
(docs/vmap.md, "Jacobians").
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
from chainrule.transforms import jacobian  # noqa: E402


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


def calls_for(fn, x, target=2e-3) -> int:
    """How many calls of ``fn`` take about ``target`` seconds (at least 1)."""
    fn(x)
    t = time.perf_counter()
    fn(x)
    return max(1, int(target / max(time.perf_counter() - t, 1e-7)))


def interleaved(fns: dict, x, rounds=40) -> dict:
    """Best seconds per call of each of ``fns``, measured in alternation: round after round,
    one short batch of calls of each (a load from other processes hits all of them alike)."""
    number = {k: calls_for(f, x) for k, f in fns.items()}
    best = {k: float("inf") for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            t = time.perf_counter()
            for _ in range(number[k]):
                f(x)
            best[k] = min(best[k], (time.perf_counter() - t) / number[k])
    return best


def jax_versions(W, b, A):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return {}
    jax.config.update("jax_enable_x64", True)
    Wj, bj, Aj = map(jnp.asarray, (W, b, A))
    layer = lambda x: jnp.tanh(Wj @ x + bj)
    loss = lambda x: jnp.sum(jnp.log1p(jnp.exp(Aj @ x)))
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
        x = rng.uniform(0.1, 1.0, size=n)
        variants = {}
        for batch in (False, True):
            jacobian.BATCH = batch
            fs = make(Wn, bn, An)
            variants[batch] = {(t, name): getattr(cr, t)(fs[name]) for t, name in CASES}
            for f in variants[batch].values():
                f(x)  # (compiled at the first call: while the setting holds)
            prim = {name: cr.jit(f) for name, f in fs.items()}
        jacobian.BATCH = True
        jx = jax_versions(Wn, bn, An)
        hb = hand_batched(Wn, bn, An)
        print(f"n = {n}: times in units of one primal call (best of 40 interleaved rounds)")
        print(f"{'':18s} {'loop':>8s} {'batched':>8s} {'by hand':>8s} {'JAX':>8s}   primal")
        for case in CASES:
            ref = variants[False][case](x)
            np.testing.assert_allclose(variants[True][case](x), ref, rtol=1e-10, atol=1e-12)
            if case in hb:
                np.testing.assert_allclose(hb[case](x), ref, rtol=1e-10, atol=1e-12)
            fns = {"primal": prim[case[1]], "loop": variants[False][case],
                   "batched": variants[True][case]}
            if case in hb:
                fns["hand"] = hb[case]
            if case in jx:
                fns["jax"] = lambda v, g=jx[case]: g(v).block_until_ready()
            t = interleaved(fns, x)
            p = t["primal"]

            def col(k, t=t, p=p):
                return f"{t[k] / p:8.1f}" if k in t else f"{'-':>8s}"

            print(f"{case[0] + ' ' + case[1]:18s} {col('loop')} {col('batched')} {col('hand')} "
                  f"{col('jax')}   {p * 1e6:.1f} us")
        sys.stdout.flush()


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [50, 200])
