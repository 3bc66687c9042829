"""Numba source with loop fusion: :func:`numba_source` runs :mod:`chainrule.passes.fusion` on
the final IR and generates the source. The fused statements are ordinary records of the rule
table (:mod:`chainrule.rules.fused`, with their ``numba_emit``).
"""

from __future__ import annotations


def numba_source(fn, header: str, overrides: dict) -> tuple:
    """(source, constants) of ``fn`` for Numba with fusion (``CHAINRULE_FUSION=0``: without)."""
    from ..passes.fusion import fuse
    from .codegen import generate

    return generate(fuse(fn), header=header, overrides=overrides)
