"""Failures the fuzzer expects today: programs that hit a bug being fixed elsewhere (each is
also kept, shrunk, as a strict-xfail regression in regressions.py)."""

from __future__ import annotations

import re

KNOWN_SEEDS: dict = {}


def _ends_loop_body_with_continue(source: str) -> bool:
    lines = source.splitlines()
    for k, line in enumerate(lines[1:-1], start=1):
        before = lines[k - 1].strip()
        # a bare ``continue``, or one under an ``if`` on a constant (it folds away)
        constant = before.startswith("if ") and not re.search(
            r"[A-Za-z_]", re.sub(r"np\.\w+", "", before[3:]))
        if line.strip() == "continue" and (not before.startswith("if ") or constant):
            indent = len(line) - len(line.lstrip())
            nxt = lines[k + 1]
            if len(nxt) - len(nxt.lstrip()) < indent:
                return True
    return False


def known_bug(seed: int, source: str) -> str:
    """Why this program is expected to fail (empty when it is not)."""
    if _ends_loop_body_with_continue(source):
        return "a loop body ending in `continue` is dropped"
    return KNOWN_SEEDS.get(seed, "")
