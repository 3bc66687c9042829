"""Primitives for debugging statements in user code: ``print`` and ``assert``.

Both produce an unused integer (so transforms treat them as ordinary non-differentiable
assignments: they run in the primal computation and in the forward sweep of derivative code,
with primal values) and are kept by dead-code elimination and never moved by the optimiser
(their records say ``keep=True`` and not ``movable``).

* ``debug_print(*values, parts=...)`` prints like ``print``: ``parts`` holds the string pieces
  and a ``None`` where the next value goes (strings are compile-time constants).
* ``check(cond, message=...)`` raises ``AssertionError(message)`` when ``cond`` is false.
* ``check_bound(bound, message=...)`` raises ``UnboundLocalError(message)`` when ``bound`` is
  false: a read of a local variable assigned on some paths only (a branch, or a loop that may
  make no trip), as Python raises it.
* ``check_domain(ok, message=...)`` raises ``ValueError(message)`` when ``ok`` is false: an
  argument outside the domain of a ``math`` function (``math.log(-1.0)``), as Python raises it.
* ``check_batch_size(m, n, where=..., what=..., first=...)`` raises
  :class:`chainrule.errors.BatchError` when the batch size ``m`` of one ``vmap`` argument
  differs from the size ``n`` of the first batched argument.
"""

from __future__ import annotations

from ..ir.types import I64
from .registry import Primitive


def _int_result(types, **_):
    return I64


def _print_emit(srcs: list[str], parts: tuple, **_) -> str:
    values = iter(srcs)
    pieces = [repr(p) if p is not None else next(values) for p in parts]
    return f"print({', '.join(pieces)})"


def _check_emit(srcs: list[str], message: str, **_) -> str:
    return f"_rt.check({srcs[0]}, _rt.text({message!r}))"


def _check_bound_emit(srcs: list[str], message: str, **_) -> str:
    return f"_rt.check_bound({srcs[0]}, _rt.text({message!r}))"


def _check_domain_emit(srcs: list[str], message: str, **_) -> str:
    return f"_rt.check_domain({srcs[0]}, _rt.text({message!r}))"


def _check_batch_emit(srcs: list[str], where: str, what: str, first: str, **_) -> str:
    return f"_rt.check_batch_size({srcs[0]}, {srcs[1]}, {where!r}, {what!r}, {first!r})"


PRIMS = [
    Primitive("debug_print", _int_result, _print_emit, nondiff=True, keep=True,
              doc="print the values (primal values in derivative code)"),
    Primitive("check", _int_result, _check_emit, nondiff=True, keep=True,
              doc="raise AssertionError(message) when the condition is false"),
    Primitive("check_bound", _int_result, _check_bound_emit, nondiff=True, keep=True,
              doc="raise UnboundLocalError(message) when a variable may be unassigned"),
    Primitive("check_domain", _int_result, _check_domain_emit, nondiff=True, keep=True,
              doc="raise ValueError(message) outside a math function's domain"),
    Primitive("check_batch_size", _int_result, _check_batch_emit, nondiff=True, keep=True,
              doc="raise BatchError when two vmap batch sizes differ"),
]
