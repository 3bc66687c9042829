"""Generated code for one compiled function, loaded with the chosen backend and ready to call.

Backends: ``"numba"`` (``numba.njit`` of the generated source; the default), ``"numpy"``
(plain execution of the generated source, the reference). With the default choice, code Numba
cannot compile falls back to the NumPy backend with a one-line warning; asking for
``backend="numba"`` explicitly raises instead. ``CHAINRULE_BACKEND`` sets the default.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

from ..errors import ChainruleError
from ..frontend.compile import Compiled, leaf_type
from ..frontend.values import rebuild
from . import numba_backend
from .codegen import generate
from .loader import load_source

BACKENDS = ("numba", "numpy")


class BackendError(ChainruleError):
    """The requested backend cannot run this function."""


def default_backend() -> str:
    choice = os.environ.get("CHAINRULE_BACKEND", "auto")
    if choice not in BACKENDS + ("auto",):
        raise BackendError(f"CHAINRULE_BACKEND={choice!r}: use 'numba', 'numpy' or 'auto'")
    return choice


class Executable:
    """Compiled code for one function and argument kinds."""

    def __init__(self, compiled: Compiled, copy_args: bool, backend: str | None = None):
        self.compiled = compiled
        self.copy_args = copy_args
        self.requested = backend or default_backend()
        if self.requested not in BACKENDS + ("auto",):
            raise BackendError(f"unknown backend {self.requested!r}; use 'numba' or 'numpy'")
        self.fallback_reason: str | None = None
        name = compiled.fn.name
        if self.requested != "numpy" and numba_backend.available():
            self.backend = "numba"
            self.source, consts = generate(compiled.fn, header=numba_backend.HEADER,
                                           overrides=numba_backend.OVERRIDES)
            self.py = numba_backend.jit(load_source(name, self.source, consts))
        elif self.requested == "numba":
            raise BackendError("the Numba backend was requested but Numba is not available")
        else:
            self._use_numpy()

    def _use_numpy(self) -> None:
        self.backend = "numpy"
        self.source, consts = generate(self.compiled.fn)
        self.py = load_source(self.compiled.fn.name, self.source, consts)

    def leaves(self, args: tuple) -> list:
        out: list = []

        def walk(x: Any) -> None:
            if isinstance(x, (tuple, list)):
                for v in x:
                    walk(v)
            elif isinstance(x, dict):
                for v in x.values():
                    walk(v)
            elif leaf_type(x) is not None:
                if isinstance(x, np.ndarray) and self.copy_args:
                    x = x.copy()
                out.append(x)

        walk(args)
        return out

    def run_flat(self, flat: list) -> Any:
        if self.backend == "numba":
            try:
                res = self.py(*flat)
            except numba_backend.compile_errors() as exc:
                self._numba_failed(exc)
                res = self.py(*flat)
        else:
            res = self.py(*flat)
        return rebuild(self.compiled.out_template, list(res))

    def _numba_failed(self, exc: Exception) -> None:
        first = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
        reason = _plain(first)
        if self.requested == "numba":
            raise BackendError(f"Numba cannot compile {self.compiled.fn.name}: {reason}",
                               hint="use backend='numpy' (or the default) to run it with NumPy"
                               ) from exc
        self.fallback_reason = reason
        warnings.warn(f"chainrule: {self.compiled.fn.name} runs on the NumPy backend (Numba "
                      f"cannot compile it: {reason})", RuntimeWarning, stacklevel=4)
        self._use_numpy()

    def __call__(self, args: tuple) -> Any:
        return self.run_flat(self.leaves(args))


def _plain(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)[:200]
