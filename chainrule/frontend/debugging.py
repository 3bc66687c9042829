"""``print(...)`` and ``assert cond, msg`` in compiled code.

``print`` of numbers, arrays and strings prints at run time, on both backends (primal values
in derivative code: once per evaluation of the function, so a Jacobian built from one JVP or VJP
per basis vector prints once per basis vector). An f-string argument prints its pieces
separated by spaces, and format specs are ignored (Numba's ``print`` cannot format); ``sep``
and ``end`` other than their defaults are rejected. ``assert`` raises ``AssertionError`` at run
time when the condition is false, with the message when it is a constant string (otherwise the
message's source text) or, without a message, the condition's source text and location.
"""

from __future__ import annotations

import ast
from typing import Any

from ..errors import UnsupportedCallError
from ..ir.nodes import Const
from .values import is_atom


class FString:
    """The value of an f-string: string pieces and values, in order."""

    def __init__(self, parts: list):
        self.parts = parts


class DebugMixin:
    def lower_print(self, args: list, kwargs: dict, node: Any) -> None:
        for key, value in kwargs.items():
            default = {"sep": " ", "end": "\n"}.get(key)
            if key == "flush" or (default is not None and value in (default, None)):
                continue
            raise UnsupportedCallError(f"print(..., {key}=...) is not supported in compiled "
                                       "code", self.b.loc, "print with the default sep and end")
        parts: list = []
        atoms: list = []
        for value in args:
            for piece in (value.parts if isinstance(value, FString) else [value]):
                self._print_piece(piece, parts, atoms)
        self.b.emit("debug_print", *atoms, parts=tuple(parts))
        return None

    def _print_piece(self, value: Any, parts: list, atoms: list) -> None:
        if isinstance(value, str) or value is None:
            parts.append(str(value))
        elif is_atom(value):
            parts.append(None)
            atoms.append(value)
        elif isinstance(value, (tuple, list)) and all(is_atom(v) for v in value):
            for v in value:
                parts.append(None)
                atoms.append(v)
        else:
            raise UnsupportedCallError(f"print() of a {type(value).__name__} value in compiled "
                                       "code", self.b.loc, "print numbers, arrays and strings")

    def expr_JoinedStr(self, node: ast.JoinedStr) -> FString:
        parts: list = []
        for piece in node.values:
            if isinstance(piece, ast.FormattedValue):
                parts.append(self.expr(piece.value))
            else:
                parts.append(self.expr(piece))
        return FString(parts)

    def stmt_Assert(self, node: ast.Assert) -> bool:
        cond = self.truth(self.expr(node.test), node.test)
        if isinstance(cond, Const) and cond.value:
            return False
        f = self.frame
        where = f"{f.file}:{node.lineno}"
        if node.msg is None:
            message = f"assert {ast.unparse(node.test)} failed ({where})"
        else:
            msg = self.expr(node.msg)
            if isinstance(msg, str):
                message = msg
            elif isinstance(msg, Const) and not hasattr(msg.value, "shape"):
                message = str(msg.value)
            else:
                message = f"{ast.unparse(node.msg)} ({where})"
        self.b.emit("check", cond, message=message)
        return False


__all__ = ["DebugMixin", "FString"]
