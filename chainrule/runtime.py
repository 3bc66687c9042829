"""Small helpers that generated code calls (as ``_rt.name``); plain NumPy, Numba-compilable.

These are the only run-time support the generated source needs besides NumPy and ``math``.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

import numpy as np


def check(cond, message):
    """``assert cond, message`` in generated code (returns an unused 0)."""
    if not cond:
        raise AssertionError(message)
    return 0


def fdiv(a, b):
    """``a / b`` as NumPy divides arrays, also of Python floats (inf or nan at ``b == 0``)."""
    return np.divide(a, b)


def check_bound(bound, message):
    """A read of a local variable that may not be assigned (returns an unused 0)."""
    if not bound:
        raise UnboundLocalError(message)
    return 0


def check_domain(ok, message):
    """An argument of a ``math`` function outside its domain (returns an unused 0)."""
    if not ok:
        raise ValueError(message)
    return 0


def check_batch_size(m, n, where, what, first):
    """0, or the :class:`~chainrule.errors.BatchError` of a ``vmap`` argument whose batch size
    ``m`` differs from the first batched argument's ``n``."""
    if m != n:
        from .errors import BatchError

        raise BatchError(f"{where}: vmap: {what} has batch size {m}, but {first} has {n}")
    return 0


def text(message):
    """A message string (on the Numba backend: typed as a plain string, so that a helper
    taking it is compiled once for all messages)."""
    return message


def index_error(i, n, axis, where):
    """Raise the IndexError of a failed bounds check (``where`` is the user's file:line)."""
    raise IndexError(f"{where}: index {i} is out of bounds for axis {axis} with size {n}")


def check_index_array(idx, n, axis, where):
    """0, or the IndexError of the first element of ``idx`` outside ``[-n, n)``."""
    bad = (idx < -n) | (idx >= n)
    if bad.any():
        index_error(idx[bad].flat[0], n, axis, where)
    return 0


def materialize(a, like):
    """``a`` itself, or zeros shaped like ``like`` if ``a`` is the empty zero adjoint (or a
    zeroed buffer of another shape)."""
    if a.shape != np.shape(like):
        return np.zeros(np.shape(like), dtype=a.dtype)
    return a


def dematerialize(g, like):
    """``g`` when it has ``like``'s shape, else zeros shaped like ``like``."""
    if np.shape(g) == np.shape(like):
        return g
    return np.zeros(np.shape(like), dtype=np.asarray(g).dtype)


def unbroadcast(g, like):
    """Sum ``g`` over the axes along which ``like`` was broadcast to produce it."""
    shape = np.shape(like)
    g = np.asarray(g)
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return np.broadcast_to(g, shape).copy() if g.shape != shape else g


def broadcast_as(g, like):
    """``g`` itself when it has ``like``'s shape, else ``g`` broadcast to it (a new array)."""
    if np.shape(g) == np.shape(like):
        return g
    return np.broadcast_to(g, np.shape(like)).copy()


def broadcast_like(g, like):
    """A new array: ``g`` broadcast to the shape of ``like``."""
    return np.broadcast_to(g, np.shape(like)).copy()


class CountingTape(list):
    """A tape that records how much it held at most (``chainrule.testing.tape_stats``)."""

    registry: ClassVar[list] = []

    def __init__(self) -> None:
        super().__init__()
        self.pushes = 0
        self.elements = 0
        self.max_elements = 0
        CountingTape.registry.append(self)

    def append(self, x) -> None:
        super().append(x)
        self.pushes += 1
        self.elements += int(np.size(x))
        self.max_elements = max(self.max_elements, self.elements)

    def pop(self):
        x = super().pop()
        self.elements -= int(np.size(x))
        return x


def zmul(a, b):
    """``a * b``, but exactly zero wherever ``a`` is zero, even where ``b`` is inf or nan.

    Derivative rules multiply a tangent or cotangent ``a`` by a derivative factor ``b``; where
    nothing flows (``a == 0``, e.g. the operand ``np.where`` did not select) the product must be
    zero, not ``0 * inf = nan``. When all factors are finite (one summation tells) it is a plain
    product.
    """
    total = b.sum() if isinstance(b, np.ndarray) else b
    if -np.inf < total < np.inf:  # every factor is finite (false for nan)
        return a * b
    with np.errstate(invalid="ignore"):
        return np.where(a == 0, 0.0, a * b)


# -- special functions (SciPy's ufuncs; the Numba backend has its own: backend/nbspecial.py) --
def _special():
    import scipy.special

    return scipy.special


def erf(x):
    return _special().erf(x)


def erfc(x):
    return _special().erfc(x)


def lgamma(x):
    return _special().gammaln(x)


def gamma(x):
    return _special().gamma(x)


def polygamma(x, n):
    """The n-th derivative of the digamma function (``n == 0``: digamma itself)."""
    sp = _special()
    if n == 0:
        return sp.digamma(x)
    y = sp.polygamma(n, x)
    return y[()] if np.ndim(x) == 0 else y  # a scalar, not a 0-d array


def argsort(x):
    """Indices sorting ``x`` along its last axis; equal elements keep their order."""
    return np.argsort(x, axis=-1, kind="stable")


# -- opaque calls (chainrule/rules/opaque.py) ---------------------------------------------------
OPAQUE: dict = {}  # "@name#k" -> a function without an import path (this process only)
_RESOLVED: dict = {}


def opaque_function(path: str) -> Any:
    """The function ``path`` names: ``module:qualname``, or a token of :data:`OPAQUE`."""
    fn = _RESOLVED.get(path)
    if fn is None:
        if path.startswith("@"):
            fn = OPAQUE[path]
        else:
            module, _, qualname = path.partition(":")
            fn = importlib.import_module(module)
            for part in qualname.split("."):
                fn = getattr(fn, part)
        _RESOLVED[path] = fn
    return fn


def opaque_call(path, ndim, *args):
    """Call the function ``path`` names; its result as float64 of ``ndim`` dimensions."""
    out = np.asarray(opaque_function(path)(*args), dtype=np.float64)
    if out.ndim != ndim:
        name = path.split(":", 1)[-1] if path.startswith("@") else path.replace(":", ".")
        raise TypeError(
            f"`{name}` returned a {out.ndim}-D result where chainrule expected {ndim}-D (the "
            f"largest ndim of its arguments); declare it: chainrule.opaque({name.split('.')[-1]}, "
            f"ndim={out.ndim})")
    return float(out) if ndim == 0 else np.ascontiguousarray(out)
