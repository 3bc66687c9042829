"""The protocol loop of the chainrule GradBench tool (see :mod:`benchmarks.gradbench`)."""

from __future__ import annotations

import importlib
import json
import sys
import time
import traceback

MODULES = ("hello", "lse", "llsq", "ode", "det", "kmeans", "gmm", "lstm", "ba", "ht",
           "particle", "saddle")


def _evaluate(message: dict) -> dict:
    mod = importlib.import_module(f"benchmarks.gradbench.{message['module']}")
    inp = message["input"]
    run, post = mod.FUNCTIONS[message["function"]](inp)
    min_runs = int(inp.get("min_runs", 1)) if isinstance(inp, dict) else 1
    min_seconds = float(inp.get("min_seconds", 0.0)) if isinstance(inp, dict) else 0.0
    timings, elapsed, out = [], 0.0, None
    while len(timings) < min_runs or elapsed < min_seconds:
        t = time.perf_counter_ns()
        out = run()
        dt = time.perf_counter_ns() - t
        timings.append({"name": "evaluate", "nanoseconds": dt})
        elapsed += dt / 1e9
    return {"success": True, "output": post(out), "timings": timings}


def main() -> int:
    for line in sys.stdin:
        message = json.loads(line)
        response: dict = {}
        kind = message["kind"]
        try:
            if kind == "start":
                response["tool"] = "chainrule"
            elif kind == "define":
                if message["module"] not in MODULES:
                    raise KeyError(f"no chainrule implementation of {message['module']!r}")
                importlib.import_module(f"benchmarks.gradbench.{message['module']}")
                response["success"] = True
            elif kind == "evaluate":
                response = _evaluate(message)
        except Exception as exc:  # reported to the eval, which records the failure
            response = {"success": False, "error": "".join(traceback.format_exception(exc))}
        print(json.dumps({"id": message["id"]} | response), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
