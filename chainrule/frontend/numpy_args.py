"""Conversions of bound call arguments (see :mod:`.signatures`) into what primitives take:
IR atoms, static axes, dtypes, compile-time flags and shapes."""

from __future__ import annotations

import numpy as np

from ..errors import ChainruleTypeError
from ..ir.nodes import Const
from .values import static_number

DTYPES = {float: "float64", int: "int64", bool: "bool", np.float64: "float64",
          np.float32: "float32", np.int64: "int64", np.bool_: "bool", "float64": "float64",
          "float32": "float32", "int64": "int64", "bool": "bool", "float": "float64",
          "int": "int64", np.int32: "int64", np.double: "float64"}


def atom(lw, v):
    return lw.as_atom(v)


def axis_param(lw, v):
    if v is None:
        return None
    if isinstance(v, tuple):
        return tuple(axis_param(lw, a) for a in v)
    if static_number(v):
        return int(v.value)
    raise ChainruleTypeError("axis must be a compile-time integer", lw.b.loc)


def dtype_of(lw, v, default="float64"):
    if v is None:
        return default
    key = v.value if isinstance(v, Const) else v
    try:
        return DTYPES[key]
    except (KeyError, TypeError):
        raise ChainruleTypeError(f"unsupported dtype {key!r}", lw.b.loc,
                                 "use float, int, bool, np.float64 or np.float32") from None


def static_flag(lw, v, fname: str, pname: str) -> bool:
    """The compile-time truth value of a flag argument such as ``keepdims``."""
    if isinstance(v, bool):
        return v
    if static_number(v):
        return bool(v.value)
    raise ChainruleTypeError(f"`{fname}`: `{pname}` must be a compile-time True/False",
                             lw.b.loc, f"pass {pname}=True or {pname}=False literally")


def shape_atoms(lw, shape):
    if isinstance(shape, (tuple, list)):
        return [atom(lw, s) for s in shape]
    return [atom(lw, shape)]


def is_static_true(v) -> bool:
    """``v`` is the literal ``True`` (the default of ``where=``)."""
    return v is True or (static_number(v) and v.value is True)
