"""Differential check of one program: plain Python against ``cr.jit``, ``cr.jvp`` and
``cr.grad`` (checked against central finite differences), on one backend.

``check(source, x, a, n, backend)`` returns an :class:`Outcome` whose ``status`` is

* ``"agree"``    -- every result matches;
* ``"rejected"`` -- chainrule raised one of its typed errors (a ``ChainruleError``) for a
  construct it does not support (an ``IRVerificationError`` is a failure, not a rejection);
* ``"discard"``  -- the program is no test: plain Python raises, the value is not finite or
  huge, or finite differences with two step sizes disagree (a branch switch or kink nearby);
* ``"fail"``     -- a wrong value, an exception that is not a chainrule error, or a time-out;
  ``kind`` names the check (``jit``, ``jit-mutation``, ``jvp``, ``grad``, ``error:<type>``,
  ``timeout``) so a shrinker can keep the same failure.

Programs are written to real files (chainrule reads the source of the functions it compiles).
"""

from __future__ import annotations

import hashlib
import importlib.util
import signal
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule.errors import ChainruleError, IRVerificationError

_DIR = Path(tempfile.mkdtemp(prefix="chainrule-fuzz-"))
TIMEOUT_S = {"numpy": 15, "numba": 300}  # (Numba compiles slowly on a loaded machine)
RTOL = 1e-5


@dataclass
class Outcome:
    status: str
    kind: str = ""
    detail: str = ""


class _Timeout(BaseException):  # (not an Exception: nothing may catch it on the way)
    pass


@contextmanager
def _deadline(seconds: int):
    """Interrupt Python code running longer than ``seconds`` (main thread only; code compiled
    by Numba is not interruptible, so hangs are looked for on the NumPy backend first)."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def alarm(signum, frame):
        raise _Timeout()

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def load(source: str):
    """Import ``source`` as a module from a real file; returns the module."""
    digest = hashlib.sha1(source.encode()).hexdigest()[:16]
    name = f"chainrule_fuzz_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    path = _DIR / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def _close(got, want, rtol: float) -> bool:
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return False
    scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
    return bool(np.all(np.abs(got - want) <= rtol * scale))


def _directional_fd(f, x, a, n, tx, ta, h: float) -> float:
    up = f(x + h * tx, a + h * ta, n)
    down = f(x - h * tx, a - h * ta, n)
    return (up - down) / (2 * h)


def plain_reference(f, x, a, n, derivative: bool = True):
    """(value, mutated a, directional derivative, tx, ta) of the plain program, or None and a
    discard reason (``derivative=False``: no finite differences, the derivative is None)."""
    rng = np.random.default_rng(abs(hash((x, n))) % 2**32)
    tx = float(rng.uniform(-1, 1))
    ta = rng.uniform(-1, 1, a.shape)
    try:
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            a_after = a.copy()
            value = f(x, a_after, n)

            def g(xx, aa, nn):
                return float(f(xx, aa.copy(), nn))

            if not derivative:
                return (float(value), a_after, None, tx, ta), ""
            d1 = _directional_fd(g, x, a, n, tx, ta, 1e-6)
            d2 = _directional_fd(g, x, a, n, tx, ta, 1e-5)
    except Exception as exc:  # the program itself fails: no test
        return None, f"plain Python raises {type(exc).__name__}: {exc}"
    if not isinstance(value, (float, np.floating)) or not np.isfinite(value) or \
            abs(value) > 1e6 or not np.isfinite(d1):
        return None, "value not finite or not a float"
    if abs(d1 - d2) > 1e-5 * max(1.0, abs(d1)):
        return None, f"finite differences unstable ({d1} vs {d2})"
    return (float(value), a_after, d1, tx, ta), ""


def check(source: str, x: float, a: np.ndarray, n: int, backend: str = "numpy",
          ref=None, timeout: int | None = None, jit_only: bool = False) -> Outcome:
    """Run the program's ``f`` every way on ``backend`` (see the module docstring);
    ``jit_only``: only plain Python against ``jit`` (no derivatives)."""
    try:
        f = load(source).f
    except Exception as exc:  # not even importable: no test
        return Outcome("discard", "", f"import: {exc}")
    if ref is None:
        ref, why = plain_reference(f, x, a, n, derivative=not jit_only)
        if ref is None:
            return Outcome("discard", "", why)
    value, a_after, deriv, tx, ta = ref
    timeout = timeout or TIMEOUT_S[backend]
    step = "jit"
    try:
        with _deadline(timeout):
            a_jit = a.copy()
            got = cr.jit(f, backend=backend)(x, a_jit, n)
            if not _close(got, value, 1e-9):
                return Outcome("fail", "jit", f"jit gives {got!r}, Python {value!r}")
            if not _close(a_jit, a_after, 1e-9):
                return Outcome("fail", "jit-mutation",
                               f"argument after jit {a_jit!r}, after Python {a_after!r}")
            if jit_only:
                return Outcome("agree")
            step = "jvp"
            val, tan = cr.jvp(f, (x, a.copy(), n), (tx, ta.copy(), 0), backend=backend)
            if not _close(val, value, 1e-9) or not _close(tan, deriv, RTOL):
                return Outcome("fail", "jvp", f"jvp gives ({val!r}, {tan!r}), "
                                              f"expected ({value!r}, {deriv!r})")
            step = "grad"
            gx, ga = cr.grad(f, argnums=(0, 1), backend=backend)(x, a.copy(), n)
            got_d = float(gx * tx + np.dot(ga, ta))
            if not _close(got_d, deriv, RTOL):
                return Outcome("fail", "grad", f"grad . t = {got_d!r}, finite differences "
                                               f"{deriv!r} (grad {gx!r}, {ga!r})")
    except _Timeout:
        return Outcome("fail", "timeout", f"{step} ran longer than {timeout} s")
    except IRVerificationError as exc:
        return Outcome("fail", "error:IRVerificationError", f"{step}: {exc}")
    except ChainruleError as exc:
        return Outcome("rejected", type(exc).__name__, f"{step}: {exc}")
    except Exception as exc:  # anything else escaping chainrule is a bug
        return Outcome("fail", f"error:{type(exc).__name__}", f"{step}: {exc}")
    return Outcome("agree")


__all__ = ["Outcome", "check", "load", "plain_reference"]
