"""The primitive table, assembled explicitly from the rule families.

``PRIMS`` is the single registry every transform and the code generator consult.
"""

from __future__ import annotations

from . import (arith, debugging, decomp, elementwise, indexing, internal, linalg, opaque,
               reductions, shapes, sorting, special)
from .registry import Primitive, Registry


def _custom() -> list[Primitive]:
    from ..custom import custom_primitive

    return [custom_primitive()]


FAMILIES = [
    arith.PRIMS, elementwise.PRIMS, reductions.PRIMS, linalg.PRIMS, decomp.PRIMS, shapes.PRIMS,
    indexing.PRIMS, special.PRIMS, sorting.PRIMS, internal.PRIMS, debugging.PRIMS, opaque.PRIMS,
    _custom(),
]

PRIMS = Registry(FAMILIES)

__all__ = ["PRIMS", "Primitive", "Registry"]
