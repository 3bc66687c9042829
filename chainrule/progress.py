"""The "compiling ..." lines printed while a compilation takes longer than about a second.

A compilation (building the derivative code, or Numba compiling it) runs inside
``compiling(label)``; when it is still running after ``CHAINRULE_PROGRESS_DELAY`` seconds
(default 1.0), one line goes to stderr, and a second one with the time taken when it ends.
``CHAINRULE_PROGRESS=0`` silences both. Nested compilations (a transform inside a transform)
report once, for the outermost.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import contextmanager
from typing import Iterator

_STATE = threading.local()


def _delay() -> float | None:
    if os.environ.get("CHAINRULE_PROGRESS", "1") == "0":
        return None
    try:
        return float(os.environ.get("CHAINRULE_PROGRESS_DELAY", "1.0"))
    except ValueError:
        return 1.0


@contextmanager
def compiling(label: str, stage: str = "compiling") -> Iterator[None]:
    """Report ``chainrule: <stage> <label> ...`` if the body takes longer than the delay."""
    delay = _delay()
    if delay is None or getattr(_STATE, "active", False):
        yield
        return
    _STATE.active = True
    start = time.perf_counter()
    shown = threading.Event()

    def announce() -> None:
        shown.set()
        print(f"chainrule: {stage} {label} ...", file=sys.stderr, flush=True)

    timer = threading.Timer(delay, announce)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        _STATE.active = False
        if shown.is_set():
            print(f"chainrule: {stage} {label}: done in {time.perf_counter() - start:.1f} s",
                  file=sys.stderr, flush=True)
