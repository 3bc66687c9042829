"""Small helpers that generated code calls (as ``_rt.name``); plain NumPy, Numba-compilable.

These are the only run-time support the generated source needs besides NumPy and ``math``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np


def acc(a, c):
    """Adjoint accumulation ``a + c`` where an empty array ``a`` stands for a zero adjoint."""
    if np.ndim(a) == 0:
        return a + c
    if a.size == 0 and np.size(c) != 0:
        return np.array(c, dtype=a.dtype, copy=True) if np.ndim(c) == a.ndim else a + c
    if np.size(c) == 0 and a.size != 0:
        return a.copy()
    return a + c


def materialize(a, like):
    """``a`` itself, or zeros shaped like ``like`` if ``a`` is the empty zero adjoint."""
    if a.size == 0 and like.size != 0:
        return np.zeros(like.shape, dtype=a.dtype)
    return a


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
