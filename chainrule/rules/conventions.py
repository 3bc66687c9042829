"""The derivative conventions at non-differentiable points, as documentation.

docs/nonsmooth.md is the single description of these conventions. Its two tables are generated
here -- the per-primitive table from the ``kinks`` of the rule table, the anchor table from
:data:`ANCHORS` -- and a test checks that the committed file contains exactly this text, so the
documentation cannot drift from the rules (tests/test_nonsmooth.py also checks every anchor's
values through the public API). Regenerate with ``python -m chainrule.rules.conventions``.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from . import FAMILIES
from .registry import DOMAIN, FLAT, INFINITE, JUMP, KINDS, KINK, RAISES, ZERO, Kink

KIND_TEXT = {
    KINK: "continuous, not differentiable: an element of the Clarke generalized gradient, the "
          "minimum-norm one",
    INFINITE: "continuous, the derivative is unbounded: the value stated; a zero tangent or "
              "cotangent stays zero",
    JUMP: "the value jumps: the derivative of one side",
    DOMAIN: "the edge of the domain in one argument: the value stated",
    FLAT: "piecewise constant, integer or bool valued: zero everywhere",
    ZERO: "zero by definition",
    RAISES: "differentiable, but the rule cannot be evaluated there",
}


def builtin_primitives() -> list:
    """The primitives chainrule defines (not those registered by users at run time)."""
    return sorted((p for family in FAMILIES for p in family), key=lambda p: p.name)


def kink_rows() -> list[tuple[str, Kink]]:
    """(primitive, kink) for every documented point, ordered by kind, then primitive."""
    rows = [(p.name, k) for p in builtin_primitives() for k in p.kinks]
    return sorted(rows, key=lambda r: (KINDS.index(r[1].kind), r[0]))


def _cell(text: str) -> str:
    return text.replace("|", "\\|") if text else ""


def primitive_table() -> str:
    """The per-primitive table, one row per (primitive, kind of point)."""
    lines = ["| primitive | kind | at | derivative returned (forward = reverse) | "
             "Clarke generalized gradient there | directional mode |",
             "|---|---|---|---|---|---|"]
    for name, k in kink_rows():
        lines.append(f"| `{name}` | {k.kind} | {_cell(k.at)} | {_cell(k.returns)} | "
                     f"{_cell(k.clarke)} | {_cell(k.directional)} |")
    kinds = [f"* **{kind}**: {KIND_TEXT[kind]}." for kind in KINDS]
    return "\n".join(lines + [""] + kinds)


@dataclass(frozen=True)
class Anchor:
    """One case of the anchor table: what peers return and what chainrule returns.

    ``value`` is what ``grad``, ``jvp`` and ``vjp`` return (forward = reverse), ``directional``
    what ``directional_derivative`` returns along ``direction``.
    """

    id: str
    expression: str
    jax: str
    torch: str
    clarke: str
    min_norm: str
    value: float | tuple
    direction: float | tuple
    directional: float


ANCHORS = [
    Anchor("relu", "relu(x) at 0 (written np.maximum(x, 0.0))", "0", "0", "[0, 1]", "0",
           0.0, 1.0, 1.0),
    Anchor("maximum", "maximum(x, 0) at 0", "0.5", "0.5", "[0, 1]", "0", 0.0, -1.0, 0.0),
    Anchor("abs", "abs(x) at 0", "1", "0", "[-1, 1]", "0", 0.0, -1.0, 1.0),
    Anchor("clip", "clip(x, 0, 1) at 0", "0.5", "1", "[0, 1]", "0", 0.0, 1.0, 1.0),
    Anchor("norm", "norm([x, 0]) at 0", "nan", "0", "unit ball", "0", 0.0, -1.0, 1.0),
    Anchor("max", "max([x1, x2, x3]) at [1, 1, 0]", "[.5, .5, 0]", "[.5, .5, 0]",
           "convex hull", "[.5, .5, 0]", (0.5, 0.5, 0.0), (1.0, 2.0, 3.0), 2.0),
    Anchor("relu_difference", "relu(x) - relu(-x) (= x) at 0", "0", "0", "{1}",
           "1 (per-primitive rules give 0: see the composition caveat)", 0.0, 1.0, 1.0),
    Anchor("where_sqrt", "where(x > 0, sqrt(x), 0) at 0", "nan", "nan", "{0}", "0",
           0.0, -1.0, 0.0),
    Anchor("sqrt_relu", "sqrt(relu(x)) at -10, forward vs reverse", "nan vs 0", "-", "{0}",
           "0", 0.0, 1.0, 0.0),
]


def _num(v) -> str:
    if isinstance(v, tuple):
        return "[" + ", ".join(_num(x) for x in v) + "]"
    return f"{v:g}"


def anchor_table() -> str:
    lines = ["| expression at the point | JAX | PyTorch | Clarke set | min-norm | chainrule "
             "(grad = jvp = vjp) | chainrule `directional_derivative` |",
             "|---|---|---|---|---|---|---|"]
    for a in ANCHORS:
        lines.append(f"| {_cell(a.expression)} | {a.jax} | {a.torch} | {_cell(a.clarke)} | "
                     f"{_cell(a.min_norm)} | {_num(a.value)} | {_num(a.directional)} along "
                     f"{_num(a.direction)} |")
    return "\n".join(lines)


TABLES = {"primitives": primitive_table, "anchors": anchor_table}
_BLOCK = re.compile(r"(<!-- generated: (\w+) -->\n)(.*?)(<!-- end generated -->)", re.S)


def render(text: str) -> str:
    """``text`` with every generated block replaced by its current contents."""

    def sub(m: re.Match) -> str:
        return m.group(1) + TABLES[m.group(2)]() + "\n" + m.group(4)

    return _BLOCK.sub(sub, text)


def generated_blocks(text: str) -> dict[str, str]:
    """The generated blocks of ``text`` by name (to compare with a fresh rendering)."""
    return {m.group(2): m.group(3) for m in _BLOCK.finditer(text)}


DOC = Path(__file__).resolve().parents[2] / "docs" / "nonsmooth.md"


def main(argv: list[str] | None = None) -> int:
    path = Path((argv or sys.argv[1:] or [str(DOC)])[0])
    path.write_text(render(path.read_text()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
