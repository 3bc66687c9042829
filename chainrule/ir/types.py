"""Value types of the IR: dtype and ndim (never sizes), plus tapes.

A :class:`Type` says what a variable holds: a scalar (ndim 0) or an array of a given ndim, of one
of the dtypes ``float64``, ``float32``, ``int64`` or ``bool``; or a tape (a stack used by reverse
mode) whose elements have a given dtype and ndim. Promotion follows NumPy for the cases we allow.
"""

from __future__ import annotations

from dataclasses import dataclass

DTYPES = ("bool", "int64", "float32", "float64")
_RANK = {d: i for i, d in enumerate(DTYPES)}


@dataclass(frozen=True)
class Type:
    """Static type of an IR value: dtype, ndim, and whether it is a tape of such elements."""

    dtype: str
    ndim: int = 0
    tape: bool = False

    def __post_init__(self) -> None:
        if self.dtype not in _RANK:
            raise ValueError(f"unknown dtype {self.dtype!r}")

    @property
    def is_float(self) -> bool:
        return not self.tape and self.dtype in ("float32", "float64")

    @property
    def is_scalar(self) -> bool:
        return not self.tape and self.ndim == 0

    @property
    def is_array(self) -> bool:
        return not self.tape and self.ndim > 0

    def with_dtype(self, dtype: str) -> Type:
        return Type(dtype, self.ndim, self.tape)

    def with_ndim(self, ndim: int) -> Type:
        return Type(self.dtype, ndim, self.tape)

    def element(self) -> Type:
        """The type of one element of a tape."""
        return Type(self.dtype, self.ndim)

    def tape_of(self) -> Type:
        return Type(self.dtype, self.ndim, True)

    def __str__(self) -> str:
        short = {"float64": "f64", "float32": "f32", "int64": "i64", "bool": "bool"}[self.dtype]
        base = short if self.ndim == 0 else f"{short}[{','.join(':' * self.ndim)}]"
        return f"tape<{base}>" if self.tape else base


F64 = Type("float64")
I64 = Type("int64")
BOOL = Type("bool")


def promote_dtypes(*dtypes: str) -> str:
    """The dtype NumPy gives to an arithmetic result of these dtypes (bool+bool stays bool)."""
    return max(dtypes, key=lambda d: _RANK[d])


def float_dtype(dtype: str) -> str:
    """The floating dtype an operation such as ``sin`` or ``/`` produces for ``dtype``."""
    return dtype if dtype in ("float32", "float64") else "float64"


def join_types(a: Type, b: Type) -> Type | None:
    """The type two values meeting at a join (if/else, loop back-edge) are stored in.

    Returns None when no common type exists (different ndim or a tape).
    """
    if a == b:
        return a
    if a.tape or b.tape or a.ndim != b.ndim:
        return None
    return Type(promote_dtypes(a.dtype, b.dtype), a.ndim)
