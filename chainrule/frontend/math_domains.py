"""The domains of ``math`` functions: where Python's raise ``ValueError("math domain error")``
(NumPy's give nan or inf), as a check the front end emits before the function
(``check_domain``, rules/debugging.py)."""

from __future__ import annotations

from ..ir.nodes import Const
from .numpy_args import atom as _atom


def where_prefix(loc) -> str:
    """``"file.py:12: "`` for a message raised at run time (empty without a location)."""
    return f"{loc.file.rsplit('/', 1)[-1]}:{loc.line}: " if loc is not None else ""


# Where a ``math`` function raises ValueError("math domain error") (NumPy's gives nan or inf);
# written so that a nan argument passes, as in Python (math.sqrt(nan) is nan).
MATH_OUTSIDE = {
    "log": lambda b, x: b.le(x, 0.0), "log2": lambda b, x: b.le(x, 0.0),
    "log10": lambda b, x: b.le(x, 0.0), "log1p": lambda b, x: b.le(x, -1.0),
    "sqrt": lambda b, x: b.lt(x, 0.0), "acosh": lambda b, x: b.lt(x, 1.0),
    "asin": lambda b, x: b.gt(b.abs(x), 1.0), "acos": lambda b, x: b.gt(b.abs(x), 1.0),
    "atanh": lambda b, x: b.ge(b.abs(x), 1.0),
    # x ** y of a negative x and a finite non-integer y; 0 ** negative
    "pow": lambda b, x, y: b.or_(
        b.and_(b.lt(x, 0.0), b.and_(b.eq(y, y), b.ne(y, b.floor(y)))),
        b.and_(b.eq(x, 0.0), b.lt(y, 0.0))),
}


def in_domain(handler, outside):
    """``handler`` of a ``math`` function, raising ValueError where Python's does."""
    if outside is None:
        return handler

    def h(lw, p, node):
        args = [getattr(p, n) for n in ("x", "y") if hasattr(p, n)]
        atoms = [_atom(lw, a) for a in args]
        if any(not isinstance(a, Const) for a in atoms) and \
                all(a.type.ndim == 0 and not a.type.tape for a in atoms):
            b = lw.b
            atoms = [a if a.type.dtype == "float64" else b.to_float(a) for a in atoms]
            b.emit("check_domain", b.not_(outside(b, *atoms)),
                   message=f"{where_prefix(b.loc)}math domain error")
        return handler(lw, p, node)

    return h
