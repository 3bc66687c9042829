"""Loop fusion on and off (``CHAINRULE_FUSION``), back to back in one process, for the array
workloads: ``python -m benchmarks.fusion_compare [names] [repeats]``.

For each workload it compiles the primal (``chainrule.jit``) and the gradient with fusion off and
on (fresh cache directory; CPU seconds of the first call, which is front end, transforms, code
generation and Numba compilation), then times the four functions interleaved, best of
``repeats`` calls each, and the hand-fused Numba versions of :mod:`benchmarks.array_hand` where
they exist. CPU seconds, not wall seconds, for compilation: they do not count time spent
waiting for a busy machine.
"""

from __future__ import annotations

import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.timing import single_threaded

single_threaded()

import tempfile  # noqa: E402
import time  # noqa: E402

NAMES = ("gmm_bcast", "mlp_batch", "lstm", "heat")


def main(argv: list[str]) -> None:
    os.environ.setdefault("CHAINRULE_CACHE_DIR", tempfile.mkdtemp(prefix="chainrule-fusion-"))
    os.environ["CHAINRULE_PROGRESS"] = "0"
    import chainrule as cr
    from benchmarks import workloads as W
    from benchmarks.array_hand import ARRAY_HAND
    from benchmarks.array_peers import ARGNUMS

    functions = {"gmm_bcast": W.gmm_nll, "mlp_batch": W.mlp_train_loss, "lstm": W.lstm_loss,
                 "heat": W.heat_loss}
    names = argv[0].split(",") if argv else NAMES
    repeats = int(argv[1]) if len(argv) > 1 else 30

    def first_call(fn, args) -> float:
        t = time.process_time()
        fn(*args)
        return time.process_time() - t

    def best(fn, args) -> float:
        t = time.perf_counter()
        fn(*args)
        return time.perf_counter() - t

    for name in names:
        f, args = functions[name], W.inputs(name)
        argnums = ARGNUMS[name] if len(ARGNUMS[name]) > 1 else ARGNUMS[name][0]
        built, compile_s = {}, {}
        for fusion in (False, True):
            os.environ["CHAINRULE_FUSION"] = "1" if fusion else "0"
            p = cr.jit(f, backend="numba")
            g = cr.grad(f, argnums=argnums, backend="numba")
            built[fusion] = (p, g)
            compile_s[fusion] = (first_call(p, args), first_call(g, args))
        os.environ["CHAINRULE_FUSION"] = "1"
        t = {(fu, k): float("inf") for fu in (False, True) for k in (0, 1)}
        for _ in range(repeats):
            for fu in (False, True):
                for k in (0, 1):
                    t[fu, k] = min(t[fu, k], best(built[fu][k], args))
        ms = {key: v * 1e3 for key, v in t.items()}
        line = (f"{name:10s} primal {ms[False, 0]:7.3f} -> {ms[True, 0]:7.3f} ms "
                f"(x{t[False, 0] / t[True, 0]:.2f}) | grad {ms[False, 1]:7.3f} -> "
                f"{ms[True, 1]:7.3f} ms (x{t[False, 1] / t[True, 1]:.2f}) | compile cpu primal "
                f"{compile_s[False][0]:.1f} -> {compile_s[True][0]:.1f} s, grad "
                f"{compile_s[False][1]:.1f} -> {compile_s[True][1]:.1f} s")
        if name in ARRAY_HAND:
            hp, hg, adapt = ARRAY_HAND[name]
            a = adapt(args)
            hp(*a), hg(*a)
            line += (f" | hand primal {min(best(hp, a) for _ in range(repeats)) * 1e3:.3f} ms, "
                     f"grad {min(best(hg, a) for _ in range(repeats)) * 1e3:.3f} ms")
        print(line, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
