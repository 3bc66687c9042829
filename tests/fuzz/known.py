"""Failures the fuzzer expects today: programs that hit a bug being fixed elsewhere (each is
also kept, shrunk, as a strict-xfail regression in regressions.py)."""

from __future__ import annotations

KNOWN_SEEDS: dict = {}


def known_bug(seed: int, source: str) -> str:
    """Why this program is expected to fail (empty when it is not)."""
    return KNOWN_SEEDS.get(seed, "")
