"""chainrule against JAX ``jit`` on the array workloads, primal and gradient, interleaved in one
process: ``python -m benchmarks.array_jax_compare [names] [repeats]``.

For each workload: ``chainrule.jit`` and ``chainrule.grad`` (Numba backend, fusion on) against
``jax.jit(f)`` and ``jax.jit(jax.grad(f))`` (:mod:`benchmarks.array_peers`), and the hand-fused
Numba versions of :mod:`benchmarks.array_hand` where they exist, all timed round-robin, best of
``repeats`` calls each; single threaded (JAX through its XLA flags, Numba and BLAS through
:func:`benchmarks.timing.single_threaded`). Compile: CPU seconds of chainrule's first calls,
with the count of NumPy fallbacks. Then ``chainrule.jit`` of the Lorenz RK4 (a 3-element array
state) against the same loop written with scalars in Numba.
"""

from __future__ import annotations

import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.timing import single_threaded

single_threaded()
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                      "intra_op_parallelism_threads=1")

import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

NAMES = ("gmm_bcast", "mlp_batch", "lstm", "heat")


def main(argv: list[str]) -> None:
    os.environ.setdefault("CHAINRULE_CACHE_DIR", tempfile.mkdtemp(prefix="chainrule-jax-"))
    os.environ["CHAINRULE_PROGRESS"] = "0"
    import chainrule as cr
    from benchmarks import workloads as W
    from benchmarks.array_hand import ARRAY_HAND
    from benchmarks.array_peers import ARGNUMS, jax_build

    functions = {"gmm_bcast": W.gmm_nll, "mlp_batch": W.mlp_train_loss, "lstm": W.lstm_loss,
                 "heat": W.heat_loss}
    names = argv[0].split(",") if argv else NAMES + ("lorenz",)
    repeats = int(argv[1]) if len(argv) > 1 else 30

    def cpu_first(fn, args) -> float:
        t = time.process_time()
        fn(*args)
        return time.process_time() - t

    def once(fn, args) -> float:
        t = time.perf_counter()
        fn(*args)
        return time.perf_counter() - t

    for name in [n for n in names if n != "lorenz"]:
        f, args = functions[name], W.inputs(name)
        argnums = ARGNUMS[name] if len(ARGNUMS[name]) > 1 else ARGNUMS[name][0]
        p = cr.jit(f, backend="numba")
        g = cr.grad(f, argnums=argnums, backend="numba")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            comp = (cpu_first(p, args), cpu_first(g, args))
        fallbacks = [w for w in caught if w.category.__name__ == "BackendFallbackWarning"]
        jp, jg, jargs, _, _ = jax_build(name, args)
        jp(*jargs), jg(*jargs)
        runs = {"cr_p": (p, args), "cr_g": (g, args), "jax_p": (jp, jargs), "jax_g": (jg, jargs)}
        if name in ARRAY_HAND:
            hp, hg, adapt = ARRAY_HAND[name]
            a = adapt(args)
            hp(*a), hg(*a)
            runs.update(hand_p=(hp, a), hand_g=(hg, a))
        t = {k: float("inf") for k in runs}
        for _ in range(repeats):
            for k, (fn, a) in runs.items():
                t[k] = min(t[k], once(fn, a))
        ms = {k: v * 1e3 for k, v in t.items()}
        line = (f"{name:10s} primal {ms['cr_p']:.3f} ms vs JAX {ms['jax_p']:.3f} "
                f"(x{t['cr_p'] / t['jax_p']:.2f}) | grad {ms['cr_g']:.3f} vs JAX "
                f"{ms['jax_g']:.3f} (x{t['cr_g'] / t['jax_g']:.2f}) | compile cpu "
                f"{comp[0]:.1f}, {comp[1]:.1f} s | NumPy fallbacks {len(fallbacks)}")
        if "hand_p" in t:
            line += f" | hand {ms['hand_p']:.3f} / {ms['hand_g']:.3f} ms"
        print(line, flush=True)
    if "lorenz" in names or not argv:
        from benchmarks.hand_adjoints import lorenz_primal

        args = W.inputs("lorenz")
        p = cr.jit(W.lorenz_loss, backend="numba")
        p(*args), lorenz_primal(*args)
        t = {"cr": float("inf"), "scalar": float("inf")}
        for _ in range(repeats):
            t["cr"] = min(t["cr"], once(p, args))
            t["scalar"] = min(t["scalar"], once(lorenz_primal, args))
        print(f"lorenz jit {t['cr'] * 1e6:.1f} us vs scalar Numba loop {t['scalar'] * 1e6:.1f} us "
              f"(x{t['cr'] / t['scalar']:.2f})", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
