"""Golden tests: the printed IR and the generated source of a few programs are pinned.

Generated code must be deterministic (same input, same text). After an intended change to the
IR or the code generator, regenerate with ``CHAINRULE_UPDATE_GOLDEN=1 pytest tests/test_golden.py``
and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from golden_programs import newton_root, poly_loop, write_stencil

import chainrule as cr

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("CHAINRULE_UPDATE_GOLDEN") == "1"

CASES = [
    ("newton_root_ir", lambda: cr.show_ir(newton_root, 1.5)),
    ("newton_root_grad_src", lambda: cr.show(cr.grad(newton_root), 1.5)),
    ("poly_loop_jvp_src", lambda: cr.show(cr.jit(lambda x, w: cr.jvp(poly_loop, (x, w),
                                                                      (1.0, w))[1]),
                                          0.5, np.array([0.3, -0.2]))),
    ("poly_loop_grad_ir", lambda: cr.show_ir(cr.grad(poly_loop, argnums=(0, 1)), 0.5,
                                             np.array([0.3, -0.2]))),
    ("write_stencil_grad_src", lambda: cr.show(cr.grad(write_stencil), np.ones(5))),
]


@pytest.mark.parametrize("name,make", CASES, ids=[c[0] for c in CASES])
def test_golden(name: str, make) -> None:
    text = make()
    path = GOLDEN / f"{name}.txt"
    if UPDATE or not path.exists():
        path.write_text(text)
        if not UPDATE:
            pytest.fail(f"golden file {path.name} was missing and has been written; rerun")
    assert text == path.read_text(), (
        f"{name} differs from {path}; if the change is intended, regenerate with "
        "CHAINRULE_UPDATE_GOLDEN=1")


@pytest.mark.parametrize("name,make", CASES, ids=[c[0] for c in CASES])
def test_deterministic(name: str, make) -> None:
    assert make() == make()
