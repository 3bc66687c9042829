"""The chainrule benchmark harness: ``python -m benchmarks.run`` or ``chainrule bench``.

For each workload (plain NumPy code in :mod:`benchmarks.workloads`) it measures, in one run and
single-threaded:

* the compiled primal (``chainrule.jit``) and the gradient (``chainrule.grad``), best of
  adaptive repeats, and the plain Python/NumPy primal;
* the hand-written Numba primal and adjoint (:mod:`benchmarks.hand_adjoints`) where one exists,
  and chainrule's gradient relative to it;
* the first call of the gradient in a fresh process with an empty cache directory (front end,
  transforms, code generation and Numba compilation: everything cold for this function);
* the time from spawning a new process to its first gradient with that cache directory warm,
  ``import chainrule`` included;
* the same gradient with JAX, PyTorch and HIPS autograd where installed (each in its own
  process; see :mod:`benchmarks.peers`);
* with ``--check`` (the default), chainrule's gradient against central differences of the
  plain Python function on tiny inputs, against the hand adjoint at the benchmarked size, and
  every peer's gradient against chainrule's.

Results print as one table per workload and a summary; ``--json`` and ``--png`` save them.
"""

from __future__ import annotations

import os
import sys

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.timing import single_threaded

single_threaded()  # before NumPy, Numba or chainrule is imported

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
TOOLS = ("jax", "torch", "autograd")
TOOL_LABEL = {"jax": "JAX (jit)", "torch": "PyTorch (eager)", "autograd": "autograd"}


# -- options --------------------------------------------------------------------------------------
def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options (``chainrule bench`` declares the same ones)."""
    p.add_argument("--workloads", default="",
                   help="comma-separated subset of: lorenz, lorenz1k, brusselator, newton, mlp, "
                        "gmm, gmm_bcast, mlp_batch, lstm, heat (default: all); and the "
                        "suites pinn (PINN loss gradient vs JAX/PyTorch) and taylor (jet, "
                        "k-th derivatives), run only when named")
    p.add_argument("--quick", action="store_true",
                   help="small sizes (Lorenz N=1000 only) and shorter timing")
    p.add_argument("--png", metavar="PATH", help="save a bar chart (needs matplotlib)")
    p.add_argument("--json", metavar="PATH", help="save all measurements as JSON")
    p.add_argument("--check", action=argparse.BooleanOptionalAction, default=True,
                   help="check gradients (finite differences on tiny inputs, hand adjoints, "
                        "peers); default on")
    p.add_argument("--peers", default=",".join(TOOLS),
                   help="comma-separated peer tools to run, or 'none' (default: all)")
    p.add_argument("--peer-python", metavar="PYTHON",
                   help="interpreter for the peer tools (default: this one)")
    p.add_argument("--backend", default="auto", choices=["auto", "numba", "numpy"],
                   help="chainrule backend (default: auto = numba)")
    p.add_argument("--min-time", type=float, default=None,
                   help="seconds of repeats per measurement (default 0.2, --quick 0.1)")
    p.add_argument("--no-compile", action="store_true",
                   help="skip the cold-compile and warm-start subprocesses")


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    return p.parse_args(argv)


# -- formatting -----------------------------------------------------------------------------------
def fmt_t(s: float | None) -> str:
    if s is None:
        return "—"
    if s >= 100:
        return f"{s:.0f} s"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} µs"


def fmt_r(r: float | None) -> str:
    if r is None:
        return "—"
    if r >= 100:
        return f"{r:,.0f}×"  # noqa: RUF001
    return f"{r:.3g}×"  # noqa: RUF001


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(
        str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), sep, *[line(r) for r in rows]])


# -- machine --------------------------------------------------------------------------------------
def machine_info() -> dict:
    import numba
    import numpy

    cpu = platform.processor() or platform.machine()
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                cpu = ln.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = ""
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "chainrule"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        commit += " + uncommitted changes in chainrule/" if dirty else ""
    except (OSError, subprocess.SubprocessError):
        pass
    import chainrule

    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
        "python": platform.python_version(), "numpy": numpy.__version__,
        "numba": numba.__version__, "chainrule": getattr(chainrule, "__version__", "?"),
        "commit": commit, "threads": "OMP_NUM_THREADS=1, NUMBA_NUM_THREADS=1",
        "loadavg_start": _loadavg(),
    }


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


# -- subprocesses ---------------------------------------------------------------------------------
def child_env(cache_dir: str | None = None) -> dict:
    env = single_threaded(dict(os.environ))
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    env.pop("CHAINRULE_CACHE", None)
    if cache_dir is not None:
        env["CHAINRULE_CACHE_DIR"] = cache_dir
    return env


def run_json(cmd: list[str], env: dict, timeout: float = 600) -> dict:
    """Run ``cmd``; its last stdout line is a JSON object; adds ``spawn_epoch``."""
    t0 = time.time()
    try:
        proc = subprocess.run(cmd, env=env, cwd=str(REPO), capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": f"exit {proc.returncode}: " + " | ".join(tail)[:300]}
    out = json.loads(lines[-1])
    out["spawn_epoch"] = t0
    return out


# -- one workload ---------------------------------------------------------------------------------
class Harness:
    def __init__(self, opts: argparse.Namespace):
        self.opts = opts
        self.size = "quick" if opts.quick else "full"
        self.min_time = opts.min_time or (0.1 if opts.quick else 0.2)
        self.backend = None if opts.backend == "auto" else opts.backend
        self.tmp = Path(tempfile.mkdtemp(prefix="chainrule-bench-"))
        self.cold: dict[str, dict] = {}  # per workload function: the cold-compile child
        self.hand_first: dict[str, float] = {}  # per workload: first call of the hand adjoint
        peers = [] if opts.peers in ("", "none") else [t.strip() for t in opts.peers.split(",")]
        self.peers = [t for t in peers if t]
        self.peer_python = opts.peer_python or sys.executable
        self.t0 = time.perf_counter()
        self.position = (0, 0)  # (workloads done, workloads in all): the progress line


    def cache_dir(self, name: str) -> str:
        d = self.tmp / name
        d.mkdir(exist_ok=True)
        return str(d)

    def log(self, msg: str) -> None:
        """A progress line on stderr: workloads done of all, elapsed time, a bar, the step."""
        done, total = self.position
        el = int(time.perf_counter() - self.t0)
        width = 20
        fill = width * done // total if total else 0
        bar = "#" * fill + "." * (width - fill)
        print(f"  [{bar}] {done}/{total} {el // 60}:{el % 60:02d}  {msg}", file=sys.stderr,
              flush=True)

    def measure(self, key: str) -> dict:
        import numpy as np

        import chainrule as cr
        from benchmarks import hand_adjoints as H
        from benchmarks import spec as S
        from benchmarks.timing import best_time

        wl = S.WORKLOADS[key]
        args = wl.args(self.size)
        size_str = wl.sizes.get(self.size, "default")
        res: dict = {"key": key, "workload": wl.name, "label": wl.label(self.size),
                     "size": size_str, "checks": {}}
        cache_dir = self.cache_dir(wl.name)
        backend_arg = self.opts.backend

        # 1. cold compile, once per workload function, in a fresh process and empty cache
        if not self.opts.no_compile:
            if wl.name not in self.cold:
                self.log(f"{key}: cold compile in a new process")
                self.cold[wl.name] = run_json(
                    [sys.executable, "-m", "benchmarks._child", "cold", key, self.size,
                     backend_arg], child_env(cache_dir))
            res["cold"] = self.cold[wl.name]
            # 2. warm start: a new process with the cache directory the cold run filled
            self.log(f"{key}: warm start in a new process")
            warm = run_json([sys.executable, "-m", "benchmarks._child", "warm", key, self.size,
                             backend_arg], child_env(cache_dir))
            if "first_grad_epoch" in warm:
                warm["process_to_first_grad_s"] = warm["first_grad_epoch"] - warm["spawn_epoch"]
            res["warm"] = warm

        # 3. steady state in this process (served from the same cache directory)
        self.log(f"{key}: timing chainrule")
        os.environ["CHAINRULE_CACHE_DIR"] = cache_dir
        g = cr.grad(wl.fn, argnums=wl.argnums, backend=self.backend)
        j = cr.jit(wl.fn, backend=self.backend)
        t = time.perf_counter()
        grad = g(*args)
        res["inproc_first_grad_s"] = time.perf_counter() - t
        j(*args)
        exe = g.executable(args)
        res["backend"] = exe.backend
        res["fallback"] = exe.fallback_reason
        res["jit_backend"] = j.executable(args).backend
        mt = self.min_time
        res["grad_s"], res["grad_number"], res["grad_batches"] = best_time(g, args, min_total=mt)
        res["primal_s"], _, _ = best_time(j, args, min_total=mt)
        res["python_primal_s"], _, _ = best_time(wl.fn, args, min_total=mt, max_total=2.0)

        # 4. the hand-written Numba reference
        if wl.name in H.HAND:
            self.log(f"{key}: timing the hand-written adjoint")
            hp, hg, adapt = H.HAND[wl.name]
            hargs = adapt(args)
            if wl.name not in self.hand_first:  # Numba compiles it once per process
                t = time.perf_counter()
                hg(*hargs)
                self.hand_first[wl.name] = time.perf_counter() - t
            res["hand_first_call_s"] = self.hand_first[wl.name]
            hp(*hargs)
            res["hand_grad_s"], _, _ = best_time(hg, hargs, min_total=mt)
            res["hand_primal_s"], _, _ = best_time(hp, hargs, min_total=mt)
            if self.opts.check:
                hgrad = hg(*hargs)
                hgrad = hgrad if isinstance(hgrad, tuple) else (hgrad,)
                res["checks"]["vs_hand"] = S.grad_mismatch(grad, hgrad)
                res["checks"]["hand_primal_vs_python"] = abs(
                    float(hp(*hargs)) - float(wl.fn(*args))) / max(1.0, abs(float(wl.fn(*args))))

        # 5. correctness against finite differences of the plain Python code, tiny inputs
        if self.opts.check:
            small = S.small_args(wl.name)
            gs = cr.grad(wl.fn, argnums=wl.argnums, backend=self.backend)(*small)
            res["checks"]["fd_small"] = S.directional_fd(wl.fn, small, wl.argnums, gs)
            res["checks"]["jit_vs_python"] = abs(float(j(*args)) - float(wl.fn(*args))) / max(
                1.0, abs(float(wl.fn(*args))))

        # 6. peers, each in its own process
        res["peers"] = {}
        for tool in self.peers:
            self.log(f"{key}: {tool}")
            env = child_env()
            if tool == "jax":  # JAX's persistent compilation cache, for a warm start
                env.update(JAX_COMPILATION_CACHE_DIR=self.cache_dir(f"jax-{key}"),
                           JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                           JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")
            pr = run_json([self.peer_python, "-m", "benchmarks.peers", tool, wl.name, size_str,
                           str(mt)], env, timeout=300)
            if "first_grad_epoch" in pr:
                pr["process_to_first_grad_s"] = pr["first_grad_epoch"] - pr["spawn_epoch"]
                pr["cold_process_to_first_grad_s"] = pr["process_to_first_grad_s"]
            if tool == "jax" and "grad_s" in pr and not self.opts.no_compile:
                warm = run_json([self.peer_python, "-m", "benchmarks.peers", tool, wl.name,
                                 size_str, str(mt), "first-only"], env, timeout=300)
                if "first_grad_epoch" in warm:
                    pr["process_to_first_grad_s"] = warm["first_grad_epoch"] - warm["spawn_epoch"]
                    pr["warm_first_call_s"] = warm["first_call_s"]
                    pr["warm_cache"] = True
            if "grad" in pr and self.opts.check:
                ref_args = args
                if pr.get("measured_size") != size_str:
                    from benchmarks import workloads as W

                    ref_args = W.inputs(wl.name, pr["measured_size"])
                ref = g(*ref_args)
                mine = S.leaves(ref)
                theirs = [np.asarray(x) for x in pr["grad"]]
                pr["check_vs_chainrule"] = S.grad_mismatch(theirs, mine) if len(mine) == len(
                    theirs) else float("inf")
            pr.pop("grad", None)
            res["peers"][tool] = pr
        return res


# -- reporting ------------------------------------------------------------------------------------
def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def workload_table(r: dict) -> str:
    cold, warm = r.get("cold", {}), r.get("warm", {})
    hand = r.get("hand_grad_s")
    rows = []
    cr_first = cold.get("first_grad_s")
    cr_compile = f"{fmt_t(cr_first)}" if cr_first is not None else (
        "error" if "error" in cold else "—")
    backend = r["backend"] + (" (fallback)" if r.get("fallback") else "")
    rows.append([f"chainrule [{backend}]", fmt_t(r["primal_s"]), fmt_t(r["grad_s"]),
                 fmt_r(ratio(r["grad_s"], r["primal_s"])), fmt_r(ratio(r["grad_s"], hand)),
                 cr_compile, fmt_t(warm.get("process_to_first_grad_s"))])
    if hand is not None:
        rows.append(["hand-written Numba adjoint", fmt_t(r["hand_primal_s"]), fmt_t(hand),
                     fmt_r(ratio(hand, r["hand_primal_s"])), "1×",  # noqa: RUF001
                     fmt_t(r.get("hand_first_call_s")) + " (Numba)", "—"])
    rows.append(["plain Python/NumPy (primal only)", fmt_t(r["python_primal_s"]), "—", "—",
                 "—", "—", "—"])
    notes = []
    for tool, p in r.get("peers", {}).items():
        label = TOOL_LABEL.get(tool, tool)
        if "error" in p:
            rows.append([label, p["error"][:60], "", "", "", "", ""])
            continue
        star = ""
        if p.get("extrapolated"):
            star = "*"
            notes.append(f"* {label}: measured at N={p['measured_size']} steps and scaled "
                         f"linearly to N={r['size']}")
        if p.get("note"):
            notes.append(f"{label}: {p['note']}")
        if p.get("warm_cache"):
            notes.append(f"{label}: 'new process' with its persistent compilation cache warm "
                         f"(first call {fmt_t(p['warm_first_call_s'])}); with it cold: "
                         f"{fmt_t(p['cold_process_to_first_grad_s'])}")
        rows.append([label + star, fmt_t(p["primal_s"]), fmt_t(p["grad_s"]),
                     fmt_r(ratio(p["grad_s"], p["primal_s"])), fmt_r(ratio(p["grad_s"], hand)),
                     fmt_t(p["first_call_s"]), fmt_t(p.get("process_to_first_grad_s"))])
    head = ["", "primal", "gradient", "grad/primal", "vs hand adj.", "first call",
            "new process"]
    out = [f"== {r['label']}  (gradient w.r.t. argnums {r.get('argnums', '')})".replace(
        "  (gradient w.r.t. argnums )", ""), table(rows, head)]
    if cold and "error" not in cold:
        out.append(f"chainrule first call, cold cache: {fmt_t(cold['build_s'])} front end + "
                   f"transforms + codegen, {fmt_t(cold['first_call_s'])} Numba compile and "
                   f"run; compiled primal's first call {fmt_t(cold.get('jit_first_call_s'))}")
    elif cold:
        out.append(f"cold compile failed: {cold['error']}")
    if warm and "error" not in warm:
        out.append(f"warm start: import chainrule {fmt_t(warm['import_chainrule_s'])}, "
                   f"cache load {fmt_t(warm['build_s'])}, first call "
                   f"{fmt_t(warm['first_call_s'])} ({warm.get('explain', '')})")
    if r.get("fallback"):
        out.append(f"NOTE: chainrule ran on the NumPy backend: {r['fallback']}")
    if r["checks"]:
        chk = ", ".join(f"{k} {v:.1e}" for k, v in r["checks"].items())
        peer_chk = ", ".join(f"{t} {p['check_vs_chainrule']:.1e}" for t, p in
                             r.get("peers", {}).items() if "check_vs_chainrule" in p)
        out.append(f"checks (max rel. error): {chk}" + (f"; peers vs chainrule: {peer_chk}"
                                                         if peer_chk else ""))
    out.extend(notes)
    return "\n".join(out)


def summary_table(results: list[dict]) -> str:
    rows = []
    for r in results:
        hand = r.get("hand_grad_s")
        cells = [r["label"], fmt_t(r["primal_s"]), fmt_t(r["grad_s"]),
                 fmt_r(ratio(r["grad_s"], r["primal_s"])), fmt_r(ratio(r["grad_s"], hand)),
                 fmt_t(r.get("cold", {}).get("first_grad_s")),
                 fmt_t(r.get("warm", {}).get("process_to_first_grad_s"))]
        for tool in ("jax", "torch"):
            p = r.get("peers", {}).get(tool)
            if p is None:
                cells.append("—")
            elif "error" in p:
                cells.append(p["error"][:20])
            else:
                star = "*" if p.get("extrapolated") else ""
                vs = f" ({fmt_r(ratio(p['grad_s'], hand))})" if hand else ""
                cells.append(f"{fmt_t(p['grad_s'])}{star}{vs}")
        rows.append(cells)
    head = ["workload", "primal", "gradient", "grad/primal", "vs hand adj.", "compile (cold)",
            "warm start", "JAX grad", "PyTorch grad"]
    return table(rows, head)


def chart(results: list[dict], path: str) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return f"--png: matplotlib is not installed; no chart written to {path}"
    n = len(results)
    fig, axes = plt.subplots(n, 1, figsize=(8, 1.2 + 1.1 * n + 0.25 * 6 * n), squeeze=False)
    for ax, r in zip(axes[:, 0], results):
        names, vals, colors = [], [], []
        names.append("chainrule")
        vals.append(r["grad_s"])
        colors.append("tab:blue")
        if r.get("hand_grad_s"):
            names.append("hand Numba adjoint")
            vals.append(r["hand_grad_s"])
            colors.append("tab:gray")
        for tool, p in r.get("peers", {}).items():
            if "grad_s" in p:
                names.append(TOOL_LABEL.get(tool, tool) + ("*" if p.get("extrapolated") else ""))
                vals.append(p["grad_s"])
                colors.append({"jax": "tab:orange", "torch": "tab:red"}.get(tool, "tab:green"))
        ax.barh(names[::-1], vals[::-1], color=colors[::-1])
        ax.set_xscale("log")
        ax.set_xlim(min(vals) / 4, max(vals) * 6)
        ax.set_title(f"{r['label']}: gradient time (s, log scale)", fontsize=9, loc="left")
        for y, v in enumerate(vals[::-1]):
            ax.text(v, y, " " + fmt_t(v), va="center", fontsize=7)
        ax.tick_params(labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return f"chart written to {path}"


# -- main -----------------------------------------------------------------------------------------
# Suites with their own script and table, run only when named in --workloads.
SUITES = {"pinn": "benchmarks.pinn", "taylor": "benchmarks.taylor"}


def run_suites(names: list[str], opts: argparse.Namespace) -> bool:
    """Run the named suites, each in its own process; True when all succeeded."""
    ok = True
    for name in names:
        cmd = [sys.executable, "-m", SUITES[name]]
        if name == "pinn":
            cmd += ["--peers", "none" if opts.peers in ("", "none") else opts.peers,
                    "--peer-python", opts.peer_python or sys.executable]
            cmd += [] if opts.backend == "auto" else ["--backends", opts.backend]
        else:
            cmd += ["--size", "10000", "--nested", "4"] if opts.quick else ["--nested", "8"]
        print(f"\n== {name}: {' '.join(cmd[1:])}", flush=True)
        ok = subprocess.call(cmd, cwd=str(REPO), env=child_env()) == 0 and ok
    return ok


def run(opts: argparse.Namespace) -> int:
    from benchmarks import spec as S

    named = [k.strip() for k in opts.workloads.split(",") if k.strip()]
    suites = [k for k in named if k in SUITES]
    if suites and len(suites) == len(named):
        return 0 if run_suites(suites, opts) else 1
    keys = [k for k in named if k not in SUITES] or list(S.ORDER)
    if opts.quick and not opts.workloads:
        keys = [k for k in keys if k != "lorenz1k"]
    unknown = [k for k in keys if k not in S.WORKLOADS]
    if unknown:
        print(f"unknown workload(s): {', '.join(unknown)}; choose from "
              f"{', '.join(S.WORKLOADS)}", file=sys.stderr)
        return 2
    h = Harness(opts)
    info = machine_info()
    print(f"chainrule benchmarks — {info['date']}\n{info['cpu']} ({info['cores']} cores), "
          f"Python {info['python']}, NumPy {info['numpy']}, Numba {info['numba']}, "
          f"chainrule {info['chainrule']} {info['commit']}; {info['threads']}; "
          f"load average {info['loadavg_start']}", flush=True)
    for tool in h.peers:
        probe = subprocess.run([h.peer_python, "-c", f"import importlib.util as u; "
                                f"print(u.find_spec({tool!r}) is not None)"],
                               capture_output=True, text=True, env=child_env())
        if probe.stdout.strip() != "True":
            print(f"{TOOL_LABEL.get(tool, tool)}: not installed for {h.peer_python}")
    results = []
    failed = False
    t_all = time.perf_counter()
    try:
        for i, key in enumerate(keys):
            h.position = (i, len(keys))
            try:
                r = h.measure(key)
            except Exception as exc:
                print(f"\n== {key}: FAILED: {type(exc).__name__}: {exc}", flush=True)
                failed = True
                continue
            r["argnums"] = S.WORKLOADS[key].argnums
            results.append(r)
            print("\n" + workload_table(r), flush=True)
    finally:
        shutil.rmtree(h.tmp, ignore_errors=True)
    failed = not run_suites(suites, opts) or failed
    info["loadavg_end"] = _loadavg()
    info["wall_s"] = time.perf_counter() - t_all
    if results:
        print("\n== summary (JAX/PyTorch: gradient time, in parentheses its ratio to the hand "
              "adjoint where there is one; * = extrapolated)")
        print(summary_table(results))
    print(f"\ntotal {info['wall_s']:.0f} s; load average at the end {info['loadavg_end']}")
    if opts.check:
        bad = [(r["key"], k, v) for r in results for k, v in r["checks"].items() if v > 1e-6]
        bad += [(r["key"], t, p["check_vs_chainrule"]) for r in results
                for t, p in r["peers"].items() if p.get("check_vs_chainrule", 0) > 1e-6]
        for key, what, v in bad:
            print(f"CHECK FAILED: {key}: {what} relative error {v:.2e}")
        failed = failed or bool(bad)
    if opts.json:
        Path(opts.json).write_text(json.dumps({"machine": info, "results": results}, indent=1,
                                              default=str))
        print(f"results written to {opts.json}")
    if opts.png and results:
        print(chart(results, opts.png))
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    return run(parse(argv))


if __name__ == "__main__":
    sys.exit(main())
