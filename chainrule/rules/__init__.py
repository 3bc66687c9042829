"""The primitive table, assembled explicitly from the rule families.

``PRIMS`` is the single registry every transform and the code generator consult.
"""

from __future__ import annotations

from . import (arith, batching, debugging, decomp, elementwise, fused, indexing, internal,
               linalg, opaque, reductions, shapes, sorting, special)
from ..ir import builder
from .registry import Primitive, Registry

FAMILIES = [
    arith.PRIMS, elementwise.PRIMS, reductions.PRIMS, linalg.PRIMS, decomp.PRIMS, shapes.PRIMS,
    indexing.PRIMS, special.PRIMS, sorting.PRIMS, internal.PRIMS, debugging.PRIMS, opaque.PRIMS,
    fused.PRIMS,
]

# The table every IR builder consults unless given another. ``custom_call`` (calls of
# ``custom_jvp``/``custom_vjp`` functions) is added by :mod:`chainrule.custom`, which defines it.
PRIMS = Registry(FAMILIES)
batching.attach(PRIMS)
builder.install_registry(PRIMS)

__all__ = ["PRIMS", "Primitive", "Registry"]
