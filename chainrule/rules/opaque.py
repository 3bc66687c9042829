"""``opaque_call``: a call of a Python function that chainrule does not compile.

The function runs in the interpreter (directly on the NumPy backend, in Numba's object mode on
the Numba backend) and its result is converted to a float64 scalar or C-contiguous array of the
``ndim`` the front end chose. Such calls are allowed inside ``custom_jvp``/``custom_vjp``
functions and their rules (whose derivative the user gives) and through ``chainrule.opaque``;
the primitive's own derivative rules raise, so it never contributes a silent zero.
"""

from __future__ import annotations

from ..errors import MissingRuleError
from ..ir.types import Type
from .registry import Primitive, Statements


def _type(types, path, ndim, **_):
    return Type("float64", ndim)


def _emit(srcs, path, ndim, **_):
    return f"_rt.opaque_call({path!r}, {ndim}{''.join(', ' + s for s in srcs)})"


def _no_derivative(b, *_, path, **__):
    raise MissingRuleError(
        f"`{_label(path)}` runs as an opaque Python call, which has no derivative",
        b.loc,
        "give the function that calls it a derivative with chainrule.custom_jvp or "
        "chainrule.custom_vjp (docs/opaque.md); a custom rule's own code is not differentiated "
        "again, so higher orders through it need rules written without opaque calls")


def _no_taylor(b, args, series, out, path, **_):
    _no_derivative(b, path=path)


def _label(path: str) -> str:
    return path.split(":", 1)[-1] if path.startswith("@") else path.replace(":", ".")


# -- Numba emissions (``numba_emit``: where Numba needs other source than NumPy) ---------------
def _opaque_call(srcs: list[str], path: str, ndim: int, types: tuple = (), **_) -> Statements:
    """The call in Numba's object mode, its result typed as a C-contiguous float64 array."""
    typ = "float64" if ndim == 0 else "float64[" + ", ".join([":"] * (ndim - 1) + ["::1"]) + "]"
    args = "".join(", " + s for s in srcs)
    return Statements(f"with _rt.objmode({{out}}={typ!r}):",
                      f"    {{out}} = _rt.opaque_call_py({path!r}, {ndim}{args})")


PRIMS = [
    Primitive("opaque_call", _type, _emit, _no_derivative, _no_derivative, internal=True,
              taylor=_no_taylor,
              doc="a call of a Python function run by the interpreter (docs/opaque.md)",
              numba_emit=_opaque_call),
]
