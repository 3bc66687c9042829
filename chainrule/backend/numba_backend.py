"""The Numba backend: the same generated source, compiled with ``numba.njit``.

Only a few emissions differ from the NumPy backend (helpers come from :mod:`.nbrt`, scatter-adds
with an index array use a loop instead of ``np.add.at``). Compilation is lazy (first call) and
cached on disk by Numba next to the generated source file.
"""

from __future__ import annotations

import os

from ..rules.indexing import _additem_emit

HEADER = "import numpy as np\nimport math\nfrom chainrule.backend import nbrt as _rt\n"


def _numba_additem(srcs: list[str], spec: tuple, **params) -> str:
    if spec == ("a",):
        return f"_rt.add_at({srcs[0]}, {srcs[2]}, {srcs[1]})"
    return _additem_emit(srcs, spec, **params)


OVERRIDES = {"additem": _numba_additem}


def available() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return os.environ.get("NUMBA_DISABLE_JIT") != "1"


def jit(pyfn):
    import numba

    return numba.njit(pyfn, cache=True, nogil=True)


def compile_errors() -> tuple:
    """Exception types that mean "Numba cannot compile this" (not a run-time error)."""
    from numba.core import errors

    return (errors.NumbaError,)
