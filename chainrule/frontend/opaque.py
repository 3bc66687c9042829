"""Calls the front end leaves to the interpreter: ``opaque_call`` (chainrule/rules/opaque.py).

Inside a ``custom_jvp``/``custom_vjp`` function or one of its rules, a call of a function
chainrule cannot compile (a SciPy routine, a C extension, standard-library code) becomes an
opaque call instead of an error: the user's rule gives the derivative. ``chainrule.opaque(f,
ndim=...)`` asks for it anywhere. The result is float64 with, unless declared, the largest ndim
of the arguments (the shape rule of elementwise functions and of most matrix functions).
"""

from __future__ import annotations

import sys
import types
from typing import Any

from ..errors import UnsupportedCallError
from ..runtime import OPAQUE
from .source import in_library_file
from .values import flatten

# Modules searched for functions that do not say where they live (NumPy/SciPy ufuncs).
_HOMES = ("scipy.special", "numpy", "numpy.linalg", "math", "scipy.linalg", "scipy.stats")


def in_custom_rule(lw: Any) -> bool:
    """Whether ``lw`` is compiling a custom function or one of its rules."""
    return bool(getattr(lw, "custom_stack", None))


def function_path(fn: Any) -> str | None:
    """``module:qualname`` under which ``fn`` can be imported again, or None."""
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    if module and qualname and "<" not in qualname and _resolves(module, qualname, fn):
        return f"{module}:{qualname}"
    name = getattr(fn, "__name__", None)
    for home in _HOMES:
        mod = sys.modules.get(home)
        if mod is not None and name and getattr(mod, name, None) is fn:
            return f"{home}:{name}"
    return None


def _resolves(module: str, qualname: str, fn: Any) -> bool:
    obj = sys.modules.get(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    return obj is fn


def _token(fn: Any) -> str:
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or "function"
    for path, known in OPAQUE.items():
        if known is fn:
            return path
    path = f"@{name}#{len(OPAQUE)}"
    OPAQUE[path] = fn
    return path


def lower_opaque(lw: Any, fn: Any, args: list, kwargs: dict, ndim: int | None = None) -> Any:
    """Emit ``opaque_call`` of ``fn`` on ``args`` (numbers and arrays only)."""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    if kwargs:
        raise UnsupportedCallError(
            f"keyword arguments of an opaque call (`{name}`) are not supported", lw.b.loc,
            "pass them positionally, or bind them with a small function of your own")
    atoms = []
    for a in args:
        leaves = [x for _, x in flatten(a)]
        if len(leaves) != 1 or isinstance(a, (tuple, list, dict)):
            raise UnsupportedCallError(
                f"`{name}` runs as an opaque call, which takes numbers and arrays only",
                lw.b.loc, "pass the arrays one by one")
        atoms.append(lw.as_atom(leaves[0]))
    if ndim is None:
        ndim = max((getattr(getattr(x, "type", None), "ndim", 0) for x in atoms), default=0)
    path = function_path(fn)
    if path is None:
        path = _token(fn)
        if lw.deps is not None:
            lw.deps.ok = False  # the generated code names a function of this process only
    elif lw.deps is not None:
        lw.deps.record_opaque(path)
    return lw.b.emit("opaque_call", *atoms, path=path, ndim=int(ndim))


class Opaque:
    """``chainrule.opaque(f, ndim=None)``: calls of ``f`` in compiled code run ``f`` in the
    interpreter. Called from Python it is ``f`` itself."""

    __chainrule_opaque__ = True

    def __init__(self, fn: Any, ndim: int | None = None):
        if not callable(fn):
            raise TypeError(f"opaque expects a callable, got {type(fn).__name__}")
        self.fn, self.ndim = fn, ndim
        self.__name__ = getattr(fn, "__name__", "opaque")
        self.__doc__ = getattr(fn, "__doc__", None)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def lower_call(self, lw: Any, args: list, kwargs: dict, node: Any) -> Any:
        return lower_opaque(lw, self.fn, args, kwargs, self.ndim)

    def describe(self) -> dict | None:
        """What the disk cache key records (None: only this process can name the function)."""
        path = function_path(self.fn)
        return None if path is None else {"opaque": path, "ndim": self.ndim}


def opaque(fn: Any = None, ndim: int | None = None) -> Any:
    """Mark ``fn`` to run in the interpreter when compiled code calls it (usable as
    ``@opaque``, ``@opaque(ndim=0)`` or ``opaque(f, ndim=0)``). Its result is a float64 number
    (``ndim=0``) or array; by default its ndim is the largest of its arguments'. It has no
    derivative: give the function that calls it one with ``custom_jvp``/``custom_vjp``."""
    if fn is None:
        return lambda f: Opaque(f, ndim)
    return Opaque(fn, ndim)


def is_interpreted(fn: Any) -> bool:
    """Library code the front end would not compile (used inside custom rules)."""
    return not isinstance(fn, types.FunctionType) or in_library_file(fn.__code__.co_filename)
