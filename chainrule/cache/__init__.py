"""The persistent cache of generated code (see :mod:`.store` for the layout and
:mod:`.key` for what a key is made of). Public helpers: ``info``, ``clear``, ``explain``."""

from __future__ import annotations

from .disk import explain
from .store import clear, info

__all__ = ["clear", "explain", "info"]
