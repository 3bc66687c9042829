"""Shared pytest configuration: the ``slow`` marker and an isolated chainrule cache directory.

Tests marked ``slow`` are deselected by the default ``-m 'not slow'`` in pyproject.toml; run them
with ``pytest -m slow``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running; deselected by default (pytest -m slow)")


@pytest.fixture(scope="session", autouse=True)
def chainrule_cache_dir(tmp_path_factory):
    """Point ``CHAINRULE_CACHE_DIR`` at a fresh temporary directory for the whole session."""
    path = tmp_path_factory.mktemp("chainrule-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CHAINRULE_CACHE_DIR", str(path))
        yield path
