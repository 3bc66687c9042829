"""One chainrule gradient in a fresh process: ``python -m benchmarks._child MODE KEY SIZE BACKEND``.

MODE ``cold`` (run with an empty ``CHAINRULE_CACHE_DIR``: nothing of this function is compiled
yet) also times a second call and the compiled primal's first call; ``warm`` (the directory a
cold run filled) only times the way to the first gradient. Prints one JSON object; the parent
adds the time from spawning this process to ``first_grad_epoch``.
"""

import time

T_START = time.time()

import json  # noqa: E402
import sys  # noqa: E402


def main() -> int:
    mode, key, size, backend = sys.argv[1:5]
    backend = None if backend in ("", "auto", "default") else backend
    pc = time.perf_counter
    t = pc()
    import chainrule as cr

    t_import = pc() - t
    from benchmarks.spec import WORKLOADS

    wl = WORKLOADS[key]
    args = wl.args(size)
    g = cr.grad(wl.fn, argnums=wl.argnums, backend=backend)
    t = pc()
    exe = g.executable(args)  # front end, transforms, codegen (or a cache hit), Numba wrapper
    t_build = pc() - t
    t = pc()
    g(*args)  # Numba compiles (or loads its cached machine code) on the first call
    t_first = pc() - t
    first_grad_epoch = time.time()
    out = {"mode": mode, "import_chainrule_s": t_import, "build_s": t_build,
           "first_call_s": t_first, "first_grad_s": t_build + t_first,
           "first_grad_epoch": first_grad_epoch, "child_start_epoch": T_START,
           "backend": exe.backend, "fallback": exe.fallback_reason}
    if mode == "cold":
        t = pc()
        g(*args)
        out["second_call_s"] = pc() - t
        j = cr.jit(wl.fn, backend=backend)
        t = pc()
        j(*args)
        out["jit_first_call_s"] = pc() - t
        out["jit_backend"] = j.executable(args).backend
    else:
        from chainrule import cache

        out["explain"] = cache.explain(g, *args)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
