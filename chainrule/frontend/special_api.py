"""Special functions users call: ``math.erf erfc lgamma gamma`` and ``scipy.special``'s
``erf erfc gammaln gamma digamma psi polygamma xlogy logit softmax log_softmax`` (``expit`` and
``logsumexp`` live in :mod:`.numpy_more`).

``erf erfc lgamma gamma polygamma`` are primitives (rules/special.py); the others are
compositions of primitives (docs/numpy_functions.md). Calls on compile-time numbers are folded
with SciPy. The ``scipy.special`` handlers join the table once the user's code has imported it
(``import chainrule`` does not import SciPy).
"""

from __future__ import annotations

import math

from ..errors import UnsupportedCallError
from ..ir.builder import const
from .numpy_args import atom
from .numpy_more import axes_of, logsumexp_kept, static_int
from .signatures import Signed
from .values import static_number

UFUNC_KW = "out=None, *, where=True, casting='same_kind', order='K', dtype=None, " \
           "subok=True, signature=None"
UFUNC_UNSUPPORTED = "out where casting order dtype subok signature"

# chainrule primitive -> (the math function, the name of the scipy.special function)
_PRIMS = {"erf": (math.erf, "erf"), "erfc": (math.erfc, "erfc"),
          "lgamma": (math.lgamma, "gammaln"), "gamma": (math.gamma, "gamma")}


def _unary(prim: str, fold, **params):
    def h(lw, p, node):
        if static_number(p.x):
            return const(float(fold(p.x.value)))
        return lw.b.emit(prim, atom(lw, p.x), **params)
    return h


def _polygamma(lw, p, node):
    n = static_int(lw, p.n, "scipy.special.polygamma", "n")
    if n < 0:
        raise UnsupportedCallError("scipy.special.polygamma needs an order n >= 0", lw.b.loc)
    if static_number(p.x):
        import scipy.special as sp  # (the user's code called it: already imported)

        return const(float(sp.polygamma(n, p.x.value)))
    return lw.b.polygamma(atom(lw, p.x), n=n)


def _xlogy(lw, p, node):
    """``x * log(y)``, 0 where ``x == 0`` (also where ``y <= 0``). ``y`` is replaced by 1 only
    where ``x == 0`` and ``y <= 0``, so the derivative in ``x`` is ``log(y)`` wherever that is
    finite (also at ``x == 0``), and 0 at ``x == y == 0``."""
    b = lw.b
    x, y = atom(lw, p.x), atom(lw, p.y)
    if not y.type.is_float:
        y = b.astype(y, dtype="float64")
    replace = b.logical_and(b.eq(x, 0.0), b.le(y, 0.0))
    return b.mul(x, b.log(b.where(replace, 1.0, y)))


def _logit(lw, p, node):
    """``log(p) - log1p(-p)``."""
    b = lw.b
    x = atom(lw, p.x)
    return b.sub(b.log(x), b.log1p(b.neg(x)))


def _log_softmax_of(lw, x, axis, name):
    if x.type.ndim == 0:
        return lw.b.mul(x, 0.0)
    axes = axes_of(lw, axis, x.type.ndim, name)
    return lw.b.sub(x, logsumexp_kept(lw.b, x, axes if len(axes) > 1 else axes[0]))


def _log_softmax(lw, p, node):
    return _log_softmax_of(lw, atom(lw, p.x), p.axis, "scipy.special.log_softmax")


def _softmax(lw, p, node):
    return lw.b.exp(_log_softmax_of(lw, atom(lw, p.x), p.axis, "scipy.special.softmax"))


def special_handlers() -> dict:
    """{callable: Signed handler} of the ``math`` special functions (merged into the NumPy
    table)."""
    return {mfn: Signed(f"math.{mfn.__name__}", "x, /", _unary(prim, mfn))
            for prim, (mfn, _) in _PRIMS.items()}


def scipy_handlers(sp) -> dict:
    """{callable: Signed handler} of ``scipy.special`` (``sp``). The table adds them once the
    user's code has imported ``scipy.special``, so that ``import chainrule`` need not import
    SciPy (a third of its import time)."""
    t = {}
    for prim, (_, sname) in _PRIMS.items():
        sfn = getattr(sp, sname)
        t[sfn] = Signed(f"scipy.special.{sname}", f"x, /, {UFUNC_KW}", _unary(prim, sfn),
                        UFUNC_UNSUPPORTED)
    t[sp.digamma] = Signed("scipy.special.digamma", f"x, /, {UFUNC_KW}",
                           _unary("polygamma", sp.digamma, n=0), UFUNC_UNSUPPORTED)
    t[sp.psi] = t[sp.digamma]
    t[sp.polygamma] = Signed("scipy.special.polygamma", "n, x", _polygamma)
    t[sp.xlogy] = Signed("scipy.special.xlogy", f"x, y, /, {UFUNC_KW}", _xlogy,
                         UFUNC_UNSUPPORTED)
    t[sp.logit] = Signed("scipy.special.logit", f"x, /, {UFUNC_KW}", _logit, UFUNC_UNSUPPORTED)
    t[sp.softmax] = Signed("scipy.special.softmax", "x, axis=None", _softmax)
    t[sp.log_softmax] = Signed("scipy.special.log_softmax", "x, axis=None", _log_softmax)
    return t


__all__ = ["scipy_handlers", "special_handlers"]
