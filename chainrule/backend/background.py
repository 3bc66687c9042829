"""Numba compiling in a background thread while the first calls run on the NumPy backend.

With the default backend choice (``"auto"``), the first call of a function compiles it with
Numba for the call's argument types. When that has not finished after ``CHAINRULE_NUMBA_WAIT``
seconds (default 2; ``inf`` always waits, ``0`` never does), the compilation goes on in a
thread and the calls meanwhile run the same generated code on the NumPy backend; the first call
after the thread is done switches to the Numba code (see ``Executable._while_compiling``). A
large gradient (hundreds of array statements) takes Numba tens of seconds to compile; its first
calls then return in about the time chainrule's own part takes.

Results on the two backends agree to rounding (a few units in the last place, e.g. Numba's
vectorised ``tanh``), so a run whose first calls ran on NumPy may differ in the last digits from
one that waited; ``CHAINRULE_NUMBA_WAIT=inf`` or ``backend="numba"`` (which always waits)
gives the same numbers on every run. The thread is not a daemon: a program that ends while it
compiles waits for it (and Numba's on-disk cache keeps the result for the next run). A process
forked while the thread compiles inherits Numba's compiler lock as held (a forked worker that
compiles would wait for ever): programs that fork workers soon after the first call set
``CHAINRULE_NUMBA_WAIT=inf`` (or use the "spawn" start method).
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from typing import Any

DEFAULT_WAIT = 2.0


def wait_seconds() -> float:
    """How long a first call waits for Numba (``CHAINRULE_NUMBA_WAIT``; default 2 s)."""
    text = os.environ.get("CHAINRULE_NUMBA_WAIT", "")
    if not text:
        return DEFAULT_WAIT
    try:
        value = float(text)
    except ValueError:
        return DEFAULT_WAIT
    return value if value >= 0 and not math.isnan(value) else DEFAULT_WAIT


def _progress_on() -> bool:
    return os.environ.get("CHAINRULE_PROGRESS", "1") != "0"


# Labels already announced (a function called again with a new closure, e.g. a ``jet`` of a
# lambda made at every call, compiles again; one line each per function is enough).
_SAID: set = set()


def _once(kind: str, label: str) -> bool:
    if not _progress_on() or (kind, label) in _SAID:
        return False
    _SAID.add((kind, label))
    return True


class Compilation:
    """One Numba compilation (``dispatcher.compile(types)``) running in its own thread."""

    def __init__(self, dispatcher: Any, types: tuple, label: str):
        self.label = label
        self.error: BaseException | None = None
        self.start = time.perf_counter()
        self.seconds: float | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(dispatcher, types),
                                        name=f"chainrule-numba {label}", daemon=False)
        self._thread.start()

    def _run(self, dispatcher: Any, types: tuple) -> None:
        try:
            dispatcher.compile(types)
        except BaseException as exc:  # handed to the calling thread (a compile error)
            self.error = exc
        finally:
            self.seconds = time.perf_counter() - self.start
            self._done.set()

    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the compilation ends (or ``timeout`` seconds); whether it ended."""
        if timeout is not None and math.isinf(timeout):
            timeout = None
        return self._done.wait(timeout)

    def announce_background(self) -> None:
        if _once("background", self.label):
            print(f"chainrule: Numba compiling {self.label} goes on in the background; calls "
                  "run on the NumPy backend until it is done", file=sys.stderr, flush=True)

    def announce_switch(self) -> None:
        if self.error is None and _once("switch", self.label):
            print(f"chainrule: {self.label} runs on Numba from this call on (compiled in "
                  f"{self.seconds:.1f} s)", file=sys.stderr, flush=True)
