"""The Numba backend: the same generated source, compiled with ``numba.njit``.

Only a few emissions differ from the NumPy backend: they are the ``numba_emit`` fields of the
primitive records (helpers come from :mod:`.nbrt`, scatter-adds with an index array use a loop
instead of ``np.add.at``). Here: scalar tapes get room reserved before innermost loops, and the
``numba.njit`` call. Compilation is lazy (first call) and cached on disk by Numba next to the
generated source file.
"""

from __future__ import annotations

import os

HEADER = "import numpy as np\nimport math\nfrom chainrule.backend import nbrt as _rt\n"


def reserve_tapes(fn):
    """A copy of ``fn`` in which every innermost ``for`` loop first reserves room on each
    scalar tape for all its pushes, so the pushes inside need no capacity check."""
    from ..ir.nodes import Assign, Effect, ForRange, Function, If, While, walk

    def pushes(stmts: list) -> dict:
        counts: dict = {}
        for s in walk(stmts):
            if isinstance(s, Effect) and s.prim == "tape_push" and s.args[0].type.ndim == 0:
                counts[s.args[0].name] = counts.get(s.args[0].name, 0) + 1
        return counts

    def mark(stmts: list, reserved: set) -> list:
        out = []
        for s in stmts:
            if isinstance(s, Effect) and s.prim == "tape_push" and s.args[0].name in reserved:
                s = Effect(s.prim, s.args, s.params + (("reserved", True),), s.loc)
            elif isinstance(s, If):
                s = If(s.cond, mark(s.then, reserved), mark(s.orelse, reserved), s.loc)
            out.append(s)
        return out

    def block(stmts: list) -> list:
        out = []
        for s in stmts:
            if isinstance(s, ForRange):
                inner = any(isinstance(x, (ForRange, While)) for x in walk(s.body))
                if inner:
                    s = ForRange(s.var, s.start, s.stop, s.step, block(s.body), s.loc)
                else:
                    tapes = {a.name: a for x in walk(s.body) if isinstance(x, Effect)
                             and x.prim == "tape_push" for a in x.args[:1]}
                    # (a tape made inside the loop does not exist before it)
                    made = {x.out.name for x in walk(s.body)
                            if isinstance(x, Assign) and x.prim == "tape_new"}
                    counts = {n: k for n, k in pushes(s.body).items() if n not in made}
                    for name, k in sorted(counts.items()):
                        out.append(Effect("tape_reserve", (tapes[name], s.start, s.stop, s.step),
                                          (("per_trip", k),), s.loc))
                    s = ForRange(s.var, s.start, s.stop, s.step, mark(s.body, set(counts)),
                                 s.loc)
            elif isinstance(s, If):
                s = If(s.cond, block(s.then), block(s.orelse), s.loc)
            elif isinstance(s, While):
                s = While(block(s.cond_body), s.cond, block(s.body), s.loc)
            out.append(s)
        return out

    return Function(fn.name, fn.params, block(fn.body), fn.results, fn.loc, fn.meta)


def overrides() -> dict:
    """Primitive name -> its Numba emission: the records' ``numba_emit``."""
    from ..rules import PRIMS

    return {p.name: p.numba_emit for p in PRIMS.all() if p.numba_emit is not None}


def available() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return os.environ.get("NUMBA_DISABLE_JIT") != "1"


def jit(pyfn):
    import numba

    # Opaque calls run in object mode, which holds the GIL (Numba warns about nogil there).
    nogil = "_rt.objmode(" not in pyfn.__globals__.get("__chainrule_source__", "")
    return numba.njit(pyfn, cache=True, nogil=nogil)


def compile_errors() -> tuple:
    """Exception types that mean "Numba cannot compile this" (not a run-time error)."""
    from numba.core import errors

    return (errors.NumbaError,)
