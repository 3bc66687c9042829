"""Running the rule-table checks' generated functions under Numba, many at once.

The rule harness (``rule_harness.py``) builds small IR functions (primal, JVP, VJP, forward over
reverse) and checks their values with finite differences on the NumPy backend. A
:class:`Recorder` stands in for its ``compile_fn``: every function still runs on the NumPy backend
(so every existing check holds), and the first call of each is recorded with its arguments and
results. :func:`run_batched` then inlines all recorded functions into ONE generated function,
compiles it with Numba (no fallback: a compile error fails) and compares each part's results
with the NumPy backend's: same ndim, same kind of dtype, same values. One compile for many
functions amortises Numba's per-function cost; when the batch does not compile, each function
is compiled alone to name every one that fails.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import rule_harness

from chainrule.backend import numba_backend
from chainrule.backend.codegen import generate
from chainrule.backend.loader import load_source
from chainrule.ir.builder import Builder
from chainrule.ir.inline import inline
from chainrule.ir.nodes import Function

numpy_compile = rule_harness.compile_fn


def numba_compile(fn: Function) -> Callable:
    """``fn`` compiled with the Numba backend's source (no NumPy fallback)."""
    src, consts = generate(numba_backend.reserve_tapes(fn), with_comments=False,
                           header=numba_backend.HEADER, overrides=numba_backend.overrides())
    return numba_backend.jit(load_source(fn.name, src, consts))


@dataclass
class Call:
    label: str  # which check built it (row id and function name)
    fn: Function
    args: tuple
    results: tuple  # on the NumPy backend


class Recorder:
    """A ``compile_fn`` for the rule harness that records each function's first call."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.label = ""
        self._seen: set[int] = set()

    def compile_fn(self, fn: Function) -> Callable:
        py = numpy_compile(fn)

        def run(*args):
            # The harness's type probe of a function (every assigned variable as a result) shares
            # the function's body and runs first: recording it covers both.
            if id(fn.body) not in self._seen:
                self._seen.add(id(fn.body))
                kept = copy.deepcopy(args)
                self.calls.append(Call(f"{self.label}: {fn.name}", fn, kept,
                                       tuple(py(*copy.deepcopy(args)))))
            return py(*args)

        return run


def batch_function(calls: list[Call], name: str) -> Function:
    """One function taking every call's arguments and returning every call's results."""
    b = Builder()
    params, results = [], []
    for k, call in enumerate(calls):
        ps = [b.new_var(f"c{k}_{p.name}", p.type) for p in call.fn.params]
        params += ps
        results += [b.atom(r) for r in inline(b, call.fn, ps)]
    return Function(name, params, b.block, results)


def _kind(v) -> str:
    kind = np.asarray(v).dtype.kind
    return {"u": "i"}.get(kind, kind)


def _compare(call: Call, got: tuple) -> list[str]:
    problems = []
    if len(got) != len(call.results):
        return [f"{call.label}: {len(got)} results, NumPy gives {len(call.results)}"]
    for k, (a, want) in enumerate(zip(got, call.results)):
        what = f"{call.label}: result {k}"
        if np.ndim(a) != np.ndim(want) or _kind(a) != _kind(want):
            problems.append(f"{what} is {_kind(a)} ndim {np.ndim(a)}, NumPy gives "
                            f"{_kind(want)} ndim {np.ndim(want)}")
            continue
        tol = 1e-5 if np.asarray(want).dtype == np.float32 else 1e-10
        a64 = np.asarray(a, dtype=np.float64)
        w64 = np.asarray(want, dtype=np.float64)
        if a64.shape != w64.shape or not np.allclose(a64, w64, rtol=tol, atol=tol,
                                                      equal_nan=True):
            problems.append(f"{what} differs: Numba {a64!r}, NumPy {w64!r}")
    return problems


def run_batched(calls: list[Call], name: str = "batch") -> list[str]:
    """Compile ``calls`` as one Numba function, run it, compare with NumPy; the problems."""
    if not calls:
        return []
    fn = batch_function(calls, name)
    flat = [a for call in calls for a in copy.deepcopy(call.args)]
    compiled = numba_compile(fn)
    try:  # compile only: Numba reports some unsupported code with other exceptions
        compiled.compile(tuple(compiled.typeof_pyval(a) for a in flat))
    except Exception:
        return _one_by_one(calls)
    res = compiled(*flat)
    problems, start = [], 0
    for call in calls:
        n = len(call.fn.results)
        problems += _compare(call, tuple(res[start:start + n]))
        start += n
    return problems


def _one_by_one(calls: list[Call]) -> list[str]:
    from chainrule.backend.executable import numba_reason

    problems = []
    for call in calls:
        try:
            got = numba_compile(call.fn)(*copy.deepcopy(call.args))
        except Exception as exc:
            problems.append(f"{call.label}: {type(exc).__name__}: {numba_reason(exc)}")
            continue
        problems += _compare(call, tuple(got))
    return problems
