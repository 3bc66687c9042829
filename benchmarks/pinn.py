"""PINN benchmark: the gradient w.r.t. the weights of the heat-equation PINN loss of
:mod:`chainrule.examples.pinn_heat` (tanh MLP 2-32-32-1, 256 collocation points, u_t and u_xx by
``jet`` inside the loss), beside JAX and PyTorch (:mod:`benchmarks.pinn_peers`).

    python -m benchmarks.pinn [--peer-python PYTHON] [--peers jax,torch]
                              [--backends auto,numba,numpy]

Each chainrule backend and each peer tool runs in a fresh process (chainrule with an empty cache
directory, so its first call includes everything: front end, transforms, code generation and the
backend's compilation; its CPU time is printed too, a steadier measure on a loaded machine). Every gradient is checked against chainrule's NumPy-backend gradient.
Single-threaded, as the rest of the harness.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

from .run import child_env, run_json
from .timing import best_time, single_threaded

single_threaded()

import numpy as np  # noqa: E402


def chainrule_child(backend: str, min_total: float) -> dict:
    """In this (fresh) process: first call and best time of the PINN loss gradient. Backend
    ``auto`` is the default choice, whose first calls run on NumPy while Numba compiles in the
    background (chainrule/backend/background.py): its row also says when the Numba code is
    ready, counted from the first call."""
    if backend == "auto":  # the user's default (benchmarks/__init__.py sets "always wait")
        os.environ.pop("CHAINRULE_NUMBA_WAIT", None)
    t = time.perf_counter()
    import chainrule as cr
    from chainrule.examples import pinn_heat

    t_import = time.perf_counter() - t
    params, data = pinn_heat.init_params(0), pinn_heat.problem()
    g = cr.grad(pinn_heat.loss, backend=None if backend == "auto" else backend)
    t, c = time.perf_counter(), time.process_time()
    grads = g(params, *data)
    first, first_cpu = time.perf_counter() - t, time.process_time() - c
    row = {"first_call_s": first, "first_call_cpu_s": first_cpu, "import_s": t_import}
    exe = g.executable((params, *data))
    if backend == "auto":
        exe.wait_for_numba()
        row["numba_ready_s"] = time.perf_counter() - t
    best, _, _ = best_time(g, (params, *data), min_total=min_total)
    flat = [float(v) for leaf in grads for v in np.ravel(leaf)]
    return {f"chainrule {backend}": {**row, "per_call_s": best, "grad": flat,
                                     "backend": exe.backend}}


def fmt_ms(s: float) -> str:
    return f"{s * 1e3:8.3f} ms"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--peer-python", default=sys.executable)
    ap.add_argument("--peers", default="jax,torch")
    ap.add_argument("--backends", default="auto,numba,numpy")
    ap.add_argument("--min-time", type=float, default=0.3)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    opts = ap.parse_args(argv)
    if opts.child:
        print(json.dumps(chainrule_child(opts.child, opts.min_time)))
        return 0
    rows: dict = {}
    failed = False
    runs = [(f"chainrule {b}", [sys.executable, "-m", "benchmarks.pinn", "--child", b,
                                "--min-time", str(opts.min_time)])
            for b in opts.backends.split(",") if b]
    runs += [(t, [opts.peer_python, "-m", "benchmarks.pinn_peers", t, str(opts.min_time)])
             for t in opts.peers.split(",") if t and t != "none"]
    for name, cmd in runs:
        out = run_json(cmd, child_env(tempfile.mkdtemp(prefix="crpinn-")), timeout=1800)
        out.pop("spawn_epoch", None)
        if "error" in out:  # report and go on with the others
            print(f"{name}: {out['error']}")
            failed = failed or name.startswith("chainrule")
            continue
        rows.update(out)
    reference = next((np.array(r["grad"]) for k, r in rows.items() if k.startswith("chainrule")),
                     None)
    jax_best = min((r["per_call_s"] for k, r in rows.items() if k.startswith("JAX")),
                   default=None)
    print("PINN loss gradient (heat equation, tanh MLP 2-32-32-1, 256 collocation points + 64 "
          "initial + 64 boundary points), single-threaded")
    print(f"{'formulation':34s} {'per call':>11s} {'vs JAX best':>12s} {'first call':>11s} "
          f"{'(CPU)':>9s} {'check':>9s}")
    for name, r in rows.items():
        ratio = f"{r['per_call_s'] / jax_best:11.2f}x" if jax_best else f"{'-':>12s}"
        err = float(np.max(np.abs(np.array(r["grad"]) - reference)) /
                    np.max(np.abs(reference))) if reference is not None else float("nan")
        failed = failed or not err <= 1e-8
        cpu = r.get("first_call_cpu_s")
        cpu = f"{cpu:7.2f} s" if cpu is not None else f"{'-':>9s}"
        print(f"{name:34s} {fmt_ms(r['per_call_s'])} {ratio} {r['first_call_s']:9.2f} s "
              f"{cpu} {err:9.1e}")
        if "numba_ready_s" in r:
            print(f"{'':34s} (default backend: the first calls run on NumPy while Numba "
                  f"compiles in the background; Numba code from {r['numba_ready_s']:.1f} s on)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
