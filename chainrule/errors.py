"""Exception types raised by chainrule, and source-location formatting.

Every error a user can trigger is a subclass of :class:`ChainruleError`. Errors about the user's
code carry a :class:`Loc` (file, line, column) and a hint saying what to do instead.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Loc:
    """A position in the user's source code."""

    file: str
    line: int
    col: int = 0
    func: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col + 1}"
        return f"{where} (in {self.func})" if self.func else where


class NotCacheable(Exception):
    """A compilation depends on something with no stable description: it is not cached on
    disk (internal; never reaches the user)."""


class ChainruleError(Exception):
    """Base class of every error chainrule raises on purpose."""

    def __init__(self, message: str, loc: Loc | None = None, hint: str | None = None):
        self.message = message
        self.loc = loc
        self.hint = hint
        # The calls being compiled when the error arose, innermost first: (function, call site).
        self.calls: list[tuple[str, Loc]] = []
        super().__init__(self._text())

    def _text(self) -> str:
        text = self.message
        if self.loc is not None:
            text = f"{self.loc}: {text}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        for name, site in self.calls:
            text += f"\n  while compiling `{name}` called at {site}"
        return text

    def add_call(self, name: str, site: Loc) -> None:
        """Record that the error arose while compiling ``name`` called at ``site``."""
        self.calls.append((name, site))
        self.args = (self._text(),)

    def relocate(self, loc: Loc, message: str, hint: str | None = None) -> None:
        """Point the error at ``loc`` (the user's line) with a new message (and hint)."""
        self.loc, self.message, self.hint = loc, message, hint
        self.args = (self._text(),)


class UnsupportedSyntaxError(ChainruleError):
    """The function uses a Python construct outside the supported subset."""


class UnsupportedCallError(ChainruleError):
    """The function calls an object chainrule cannot compile (unknown function or method)."""


class UnsupportedKeywordError(UnsupportedCallError):
    """A call passes a keyword (or argument) the function does not take, or one chainrule does
    not implement for it; the message names the keyword and the function."""


class MissingRuleError(ChainruleError):
    """A primitive has no derivative rule for the requested transform."""


class ChainruleTypeError(ChainruleError):
    """Values of incompatible kinds meet (e.g. an array's ndim changes inside a loop)."""


class NonDifferentiableError(ChainruleError):
    """A derivative was requested for an integer/boolean argument or a non-scalar output."""


class UnsupportedMutationError(ChainruleError):
    """An in-place write chainrule cannot differentiate correctly (e.g. through an alias)."""


class BatchError(ChainruleError, ValueError):
    """``vmap``: the batched arguments disagree on the batch size, or an ``in_axes`` /
    ``out_axes`` entry does not fit the arguments or results it describes."""


class IRVerificationError(ChainruleError):
    """Internal consistency check of the IR failed (a bug in chainrule, please report)."""


class BackendFallbackWarning(RuntimeWarning):
    """A compiled function runs on the NumPy backend because Numba cannot compile it (issued
    once per user function; ``backend="numba"`` raises instead). Filter it with
    ``warnings.simplefilter("error", BackendFallbackWarning)`` to make every fallback an error."""


class KinkWarning(UserWarning):
    """An evaluation reached a non-differentiable point (``kinks="warn"``, see
    docs/nonsmooth.md, "Kink reporting"); the derivative returned is one choice among many."""


class KinkError(ChainruleError):
    """An evaluation reached a non-differentiable point and ``kinks="raise"`` was asked for;
    ``hits`` lists the sites reached, ``loc`` is the first of them."""


def full_tracebacks() -> bool:
    """``CHAINRULE_TRACEBACK=full`` keeps chainrule's own frames in tracebacks of its errors."""
    return os.environ.get("CHAINRULE_TRACEBACK", "") == "full"


def trimmed(exc: ChainruleError) -> ChainruleError:
    """``exc`` without the frames inside chainrule (re-raised at the public entry point, the
    traceback shows the user's frames and the message; the chained internals are hidden)."""
    exc.__suppress_context__ = True
    return exc.with_traceback(None)


def user_facing(fn: Callable) -> Callable:
    """Decorate a public entry point: chainrule errors leave it with a trimmed traceback."""

    @functools.wraps(fn)
    def entry(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ChainruleError as exc:
            if full_tracebacks():
                raise
            raise trimmed(exc) from exc.__cause__

    return entry
