"""Shared pytest configuration: the ``slow`` marker, an isolated chainrule cache directory, and
the NumPy backend as the default for correctness tests.

Tests marked ``slow`` are deselected by the default ``-m 'not slow'`` in pyproject.toml; run them
with ``pytest -m slow``. Most tests run the generated code with the NumPy backend (fast to
start); tests of the Numba backend pass ``backend="numba"`` explicitly. The IR verifier runs
after every pass (``CHAINRULE_VERIFY=1``). First calls wait for Numba to finish compiling
(``CHAINRULE_NUMBA_WAIT=inf``). A test module's random generator (a global ``RNG`` or ``rng``)
is reseeded from the test's name before each test, so that a test sees the same data whatever
ran before it on its worker.
"""

from __future__ import annotations

import os
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("CHAINRULE_BACKEND", "numpy")
# A first call always waits for Numba (no background compile, backend/background.py), so that
# a test sees the fallback warning or the Numba code at the call it makes;
# tests/test_background_compile.py sets it to 0.
os.environ.setdefault("CHAINRULE_NUMBA_WAIT", "inf")
# Every pass and transform checks the IR it produces (chainrule/ir/verify.py).
os.environ.setdefault("CHAINRULE_VERIFY", "1")

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


@pytest.fixture(autouse=True)
def reseeded_module_rng(request):
    """Reseed the test module's ``RNG``/``rng`` generator from the test's node id (the data a
    test draws must not depend on which tests ran before it, which differs under xdist)."""
    module = request.module
    for name in ("RNG", "rng"):
        if isinstance(getattr(module, name, None), np.random.Generator):
            setattr(module, name, np.random.default_rng(zlib.crc32(request.node.nodeid.encode())))
    yield
