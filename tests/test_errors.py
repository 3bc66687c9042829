"""Rejected constructs raise typed chainrule errors that point at the offending source line.

Every offending line carries a marker comment ``# ERR:<name>``; the expected line number is found
from the marker, so editing this file does not invalidate the tests.
"""

from __future__ import annotations

import inspect
import json
import os
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule import errors

try:
    import scipy.special as sps
except ImportError:  # pragma: no cover - scipy is optional
    sps = None

THIS_FILE = os.path.basename(__file__)
LOC_RE = re.compile(r"^[^\n]*?" + re.escape(THIS_FILE) + r":(\d+):(\d+)")


def marker_lines(fn, *names):
    """Line numbers (in this file) of the lines of ``fn`` marked ``# ERR:<name>``."""
    lines, start = inspect.getsourcelines(fn)
    found = [start + i for i, text in enumerate(lines)
             for name in names if f"# ERR:{name}" in text]
    assert found, f"no marker {names} in {fn.__name__}"
    return set(found)


def run_transform(transform, fn, args):
    if transform == "grad":
        return cr.grad(fn)(*args)
    return cr.jvp(fn, args, tuple(0.0 * np.asarray(a) + 1.0 for a in args))


def check_error(transform, fn, args, exc_types, words, lines):
    with pytest.raises(exc_types) as info:
        run_transform(transform, fn, args)
    err = info.value
    assert isinstance(err, errors.ChainruleError)
    msg = str(err)
    for word in words:
        assert word.lower() in msg.lower(), f"{word!r} not named in:\n{msg}"
    m = LOC_RE.match(msg)
    assert m, f"message does not start with {THIS_FILE}:line:col:\n{msg}"
    assert int(m.group(1)) in lines, f"line {m.group(1)} not in {sorted(lines)}:\n{msg}"
    assert int(m.group(2)) >= 1
    assert "hint" in msg.lower(), f"no hint in:\n{msg}"
    return msg


TRANSFORMS = ["grad", "jvp"]

# -------- rejected syntax


def uses_try(x):
    try:  # ERR:try
        y = x * 2.0
    except ValueError:
        y = x
    return y


def uses_with(x):
    with np.errstate(all="ignore"):  # ERR:with
        y = np.log(x)
    return y


def uses_yield(x):
    yield x * 2.0  # ERR:yield


def defines_class(x):
    class Point:  # ERR:class
        scale = 2.0

    return x * 3.0


_COUNTER = 0.0


def writes_global(x):
    global _COUNTER  # ERR:global
    _COUNTER = x  # ERR:global-write
    return x * 2.0


def writes_nonlocal(x):
    acc = 0.0

    def add(t):
        nonlocal acc  # ERR:nonlocal
        acc = acc + t  # ERR:nonlocal-write

    add(x)
    return acc * x


def _sum_varargs(*args):  # ERR:varargs
    return args[0] + args[1]


def calls_varargs(x):
    return _sum_varargs(x, 2.0 * x)


def _scale_kwargs(x, **kwargs):  # ERR:kwargs
    return x * 2.0


def calls_kwargs(x):
    return _scale_kwargs(x, factor=3.0)


SYNTAX_CASES = [
    ("try", uses_try, ["try"], ["try"]),
    ("with", uses_with, ["with"], ["with"]),
    ("yield", uses_yield, ["yield"], ["yield"]),
    ("class", defines_class, ["class"], ["class"]),
    ("global", writes_global, ["global"], ["global", "global-write"]),
    ("nonlocal", writes_nonlocal, ["nonlocal"], ["nonlocal", "nonlocal-write"]),
    ("varargs", calls_varargs, ["*args"], ["varargs"]),
    ("kwargs", calls_kwargs, ["**kwargs"], ["kwargs"]),
]


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("fn,words,markers", [pytest.param(*c[1:], id=c[0])
                                              for c in SYNTAX_CASES])
def test_rejected_syntax(transform, fn, words, markers):
    helper = {"calls_varargs": _sum_varargs, "calls_kwargs": _scale_kwargs}.get(fn.__name__, fn)
    # The brief does not fix the type for *args/**kwargs parameters: syntax or call error.
    types = (errors.UnsupportedSyntaxError, errors.UnsupportedCallError) \
        if helper is not fn else errors.UnsupportedSyntaxError
    check_error(transform, fn, (1.5,), types, words, marker_lines(helper, *markers))


def test_varargs_in_differentiated_function():
    def direct(*args):  # ERR:direct-varargs
        return args[0] * 2.0

    check_error("grad", direct, (1.5,),
                (errors.UnsupportedSyntaxError, errors.UnsupportedCallError), ["*args"],
                marker_lines(direct, "direct-varargs"))


def test_global_reads_are_still_fine():
    # Counterpart of writes_global: reading a module-level constant is supported.
    def reads_global(x):
        return x * _COUNTER + x * x

    assert abs(cr.grad(reads_global)(1.5) - (_COUNTER + 3.0)) < 1e-14


# -------- unknown calls


def calls_os(x):
    n = len(os.getcwd())  # ERR:os
    return x * n


def calls_scipy(x):
    return sps.j0(x) * 2.0  # ERR:scipy


def calls_fft(x):
    y = np.fft.fft(x)  # ERR:fft
    return np.sum(np.abs(y))


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_unknown_module_function(transform):
    check_error(transform, calls_os, (1.5,), errors.UnsupportedCallError, ["getcwd"],
                marker_lines(calls_os, "os"))


@pytest.mark.skipif(sps is None, reason="scipy not installed")
@pytest.mark.parametrize("transform", TRANSFORMS)
def test_unknown_scipy_function(transform):
    check_error(transform, calls_scipy, (1.5,), errors.UnsupportedCallError, ["j0"],
                marker_lines(calls_scipy, "scipy"))


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_numpy_function_without_rule(transform):
    check_error(transform, calls_fft, (np.array([0.5, 1.0, -0.3]),),
                (errors.MissingRuleError, errors.UnsupportedCallError), ["fft"],
                marker_lines(calls_fft, "fft"))


# -------- recursion


def _halve_until_small(x):
    if x < 1.0:
        return x
    return _halve_until_small(x / 2.0) + 0.0  # ERR:recursion


def recursive_on_data(x):
    return _halve_until_small(x) * 3.0


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_data_dependent_recursion(transform):
    msg = check_error(transform, recursive_on_data, (5.0,), errors.ChainruleError,
                      ["recurs", "_halve_until_small"],
                      marker_lines(_halve_until_small, "recursion"))
    assert not msg.startswith("Traceback")
    with pytest.raises(errors.ChainruleError) as info:
        cr.grad(recursive_on_data)(5.0)
    assert type(info.value) is not errors.ChainruleError, "expected a specific error type"


# -------- types


def scale_by_int(n, x):
    return n * x * x


def test_grad_wrt_int_argument():
    with pytest.raises(errors.NonDifferentiableError):
        cr.grad(scale_by_int)(3, 1.5)
    with pytest.raises(errors.NonDifferentiableError):
        cr.grad(scale_by_int, argnums=(0, 1))(3, 1.5)
    # The float argument is fine and the int one is just a constant.
    assert abs(cr.grad(scale_by_int, argnums=1)(3, 1.5) - 9.0) < 1e-14


def test_grad_wrt_bool_and_int_array_argument():
    def f(flag, x):
        return np.sum(x * x) if flag else np.sum(x)

    with pytest.raises(errors.NonDifferentiableError):
        cr.grad(f)(True, np.array([1.0, 2.0]))
    with pytest.raises(errors.NonDifferentiableError):
        cr.grad(lambda k: np.sum(k * 2.0))(np.array([1, 2, 3]))


def test_grad_of_array_output():
    def doubled(x):
        return x * 2.0

    with pytest.raises(errors.NonDifferentiableError):
        cr.grad(doubled)(np.array([1.0, 2.0]))


def grows_ndim(x):
    y = x
    for _ in range(2):  # ERR:ndim-loop
        y = np.outer(y, x)  # ERR:ndim
    return np.sum(y)


def test_ndim_change_in_loop():
    with pytest.raises(errors.ChainruleTypeError) as info:
        cr.grad(grows_ndim)(np.array([0.5, 1.0]))
    msg = str(info.value)
    m = LOC_RE.match(msg)
    assert m, msg
    assert int(m.group(1)) in marker_lines(grows_ndim, "ndim", "ndim-loop"), msg
    assert re.search(r"\by\b", msg), f"variable y not named in:\n{msg}"


def test_errors_are_exported():
    assert cr.errors is errors
    for name in ["ChainruleError", "UnsupportedSyntaxError", "UnsupportedCallError",
                 "MissingRuleError", "ChainruleTypeError", "NonDifferentiableError",
                 "UnsupportedMutationError"]:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.ChainruleError)
    assert issubclass(errors.ChainruleError, Exception)


def _calls_json(x):
    return json.dumps(x)


def _uses_library(x):
    s = _calls_json(x)
    return x * 2.0


def test_error_in_library_code_points_at_the_users_call() -> None:
    with pytest.raises(cr.errors.UnsupportedCallError) as info:
        cr.grad(_uses_library)(1.0)
    exc = info.value
    assert exc.loc.file == __file__
    assert "json.dumps" in str(exc) and "library code at" in str(exc)
    assert "while compiling `_calls_json` called at" in str(exc)
    assert exc.calls[0][1].file == __file__


def test_tracebacks_are_trimmed_to_the_users_frames(monkeypatch) -> None:
    import traceback

    monkeypatch.delenv("CHAINRULE_TRACEBACK", raising=False)
    with pytest.raises(cr.errors.UnsupportedCallError) as info:
        cr.grad(_uses_library)(1.0)
    files = [f.filename for f in traceback.extract_tb(info.value.__traceback__)]
    inside = [f for f in files if "chainrule" in f and "tests" not in f]
    assert len(inside) <= 1, inside  # at most the public entry point
    assert info.value.__suppress_context__
    monkeypatch.setenv("CHAINRULE_TRACEBACK", "full")
    with pytest.raises(cr.errors.UnsupportedCallError) as info:
        cr.grad(_uses_library)(2.0)
    files = [f.filename for f in traceback.extract_tb(info.value.__traceback__)]
    assert any("frontend" in f for f in files)


def test_slow_compilation_prints_a_progress_line(monkeypatch, capsys) -> None:
    import time

    from chainrule.progress import compiling

    monkeypatch.setenv("CHAINRULE_PROGRESS_DELAY", "0.05")
    with compiling("grad(f) (x.py:1)"):
        time.sleep(0.3)
    err = capsys.readouterr().err
    assert "chainrule: compiling grad(f) (x.py:1) ..." in err and "done in" in err
    with compiling("grad(g)"):
        pass
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("CHAINRULE_PROGRESS", "0")
    with compiling("grad(h)"):
        time.sleep(0.2)
    assert capsys.readouterr().err == ""
