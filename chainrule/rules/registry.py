"""The primitive table: one :class:`Primitive` record per primitive, holding all of its rules.

A primitive bundles, in one place, its type rule, its Python/NumPy source emission, its
forward-mode (JVP) rule, its reverse-mode (VJP) rule, and its conventions at the points where it
is not differentiable (:class:`Kink` records, documented in docs/nonsmooth.md). Rules build IR
with a :class:`~chainrule.ir.builder.Builder`, so derivative code is itself IR and can be
differentiated again. The table is assembled explicitly from the family modules listed in
:mod:`chainrule.rules` (no registration by import side effects).

Rule signatures::

    infer(arg_types: list[Type], **params) -> Type
    emit(arg_srcs: list[str], **params) -> str          # a Python expression (or statement
                                                        # for effects)
    jvp(b, args, tangents, out, **params) -> Atom | None      # tangents[i] None means zero
    vjp(b, args, out, g, **params) -> list[Atom | None]       # cotangent per arg, shaped like it
    taylor(b, args, series, out, **params) -> list[Atom | None] | None
                                # coefficients 1..K of the result (see rules/taylor.py)
    batch(ctx, b, args, batched, out, **params) -> Atom | None
                                # operands with a leading batch axis (see rules/batching.py)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import MissingRuleError


class Statements:
    """What an emission returns when one primitive needs several lines (an assignment's lines
    may name its result as ``{out}``). ``defs``: sources of module-level definitions the lines
    call as ``{def0}``, ``{def1}``, ... (each source names its function ``{name}``); the code
    generator writes each distinct source once, above the function."""

    def __init__(self, *lines: str, defs: tuple = ()):
        self.lines = list(lines)
        self.defs = tuple(defs)


# Kinds of non-differentiable points (see docs/nonsmooth.md).
KINK = "kink"  # continuous, not differentiable: an element of the Clarke generalized gradient
INFINITE = "infinite"  # continuous, but the derivative is unbounded there
JUMP = "jump"  # the value is discontinuous there (and locally smooth on each side)
DOMAIN = "domain"  # the edge of the domain in one argument: no derivative exists
FLAT = "flat"  # piecewise constant or integer/bool valued: the derivative is zero everywhere
ZERO = "zero"  # zero derivative by definition (stop_gradient)
RAISES = "raises"  # differentiable, but the rule cannot be evaluated there and raises
KINDS = (KINK, INFINITE, JUMP, DOMAIN, FLAT, ZERO, RAISES)


@dataclass(frozen=True)
class Kink:
    """Where a primitive is not differentiable, and what chainrule returns there.

    ``mask(b, args, out, **params)`` builds IR for a boolean (broadcast like the result, or one
    per result element of a reduction) that is true exactly at such points, so that a check
    "was a kink hit?" can be generated from the table; None where it cannot be located.
    Forward and reverse mode return the same values (``returns``); ``directional`` says what
    forward mode returns under ``options={"directional": True}`` when that differs.
    """

    kind: str
    at: str  # the points, in words ("x == 0")
    returns: str  # the derivative chainrule returns there
    clarke: str = ""  # the Clarke generalized gradient there (kind KINK)
    directional: str = ""
    mask: Callable[..., Any] | None = None
    # The one argument whose derivative the point concerns (pow at x < 0: only the exponent's),
    # or None for all of them.
    arg: int | None = None
    # A FLAT point reported by kink reporting anyway: the result selects whose derivative
    # flows (argmax ties).
    selects: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown kink kind {self.kind!r}")


# Bumped whenever a primitive record is created or changed or the table grows: transforms
# kept for reuse (chainrule.api.transformed) are reused only within one generation.
GENERATION = [0]


@dataclass
class Primitive:
    name: str
    infer: Callable[..., Any]
    emit: Callable[..., str]
    jvp: Callable[..., Any] | None = None
    vjp: Callable[..., Any] | None = None
    # The derivative is identically zero (piecewise constant, integer or boolean valued).
    nondiff: bool = False
    # Mutates args[0] instead of producing a value.
    effect: bool = False
    # Only used by generated code (tapes, adjoint bookkeeping), never by user code.
    internal: bool = False
    # The VJP reads no primal values, only the cotangent (add, sub, neg, copies): reverse mode
    # then need not save overwritten scalar arguments of this primitive.
    linear: bool = False
    # Which arguments are differentiable (default: all float arguments).
    diff_args: tuple | None = None
    # Conventions at non-differentiable points (docs/nonsmooth.md is generated from them).
    kinks: tuple = ()
    doc: str = ""
    # Taylor mode: the result's normalised Taylor coefficients from the arguments' (taylor.py).
    taylor: Callable[..., Any] | None = None
    # A leading batch axis on operands (batching.py); None: one example at a time.
    batch: Callable[..., Any] | None = None
    # -- what the passes and the back end may do with it --------------------------------------
    # The result may share the buffer of args[0] (reshape, transpose, ...): writes through it
    # are writes to args[0].
    view: bool = False
    # Side-effect free, smooth and cheap: equal calls are merged and loop-invariant ones hoisted
    # (passes/scalar_opt). Primitives with kinks stay where they are (kink reports count them).
    movable: bool = False
    # Movable in derivative code only (the zero-safe product, quotients).
    movable_in_derivatives: bool = False
    # Can raise at run time for some arguments (an index out of range): never hoisted out of a
    # loop that might run zero times.
    may_raise: bool = False
    # Never removed as dead code although its result is unused (tape pops, checks, prints).
    keep: bool = False
    # Constant folding by the IR builder when every argument is a Python number: the function
    # computing the result (operator.add for add, ...).
    fold: Callable[..., Any] | None = None
    # The front end may compute calls of compile-time numbers with NumPy (False: matmul, and/or).
    fold_statics: bool = True
    # Emission under Numba when it differs from ``emit`` (same signature; a str or Statements).
    numba_emit: Callable[..., Any] | None = None
    # Reverse mode: ``accumulate(b, args, out, g, acc, **params)`` adds the cotangent of
    # args[0] into ``acc`` in place instead of building it (getitem: a scatter-add).
    accumulate: Callable[..., Any] | None = None
    # Emitted inline from the IR function held in this parameter (custom_call).
    inline: str | None = None
    # Registered at run time by ``chainrule.register_primitive``: its rules' source is part of
    # the disk-cache key.
    user: bool = False

    def __setattr__(self, name: str, value: Any) -> None:
        GENERATION[0] += 1
        object.__setattr__(self, name, value)

    def __post_init__(self) -> None:
        if isinstance(self.kinks, Kink):
            self.kinks = (self.kinks,)
        self.kinks = tuple(self.kinks)

    def kink_kinds(self) -> set[str]:
        return {k.kind for k in self.kinks}

    def has_jvp(self) -> bool:
        return self.nondiff or self.jvp is not None

    def has_vjp(self) -> bool:
        return self.nondiff or self.vjp is not None

    def has_taylor(self) -> bool:
        return self.nondiff or self.taylor is not None


class Registry:
    """Name -> Primitive, with coverage reporting."""

    def __init__(self, families: list[list[Primitive]]):
        self._table: dict[str, Primitive] = {}
        for family in families:
            for p in family:
                if p.name in self._table:
                    raise ValueError(f"primitive {p.name!r} defined twice")
                self._table[p.name] = p

    def add(self, prim: Primitive) -> None:
        """Register a user-defined primitive (a name may be defined once)."""
        if prim.name in self._table and self._table[prim.name] is not prim:
            raise ValueError(f"primitive {prim.name!r} is already defined")
        self._table[prim.name] = prim
        GENERATION[0] += 1

    def __getitem__(self, name: str) -> Primitive:
        try:
            return self._table[name]
        except KeyError:
            raise MissingRuleError(f"unknown primitive {name!r}") from None

    def __contains__(self, name: str) -> bool:
        return name in self._table

    def names(self) -> list[str]:
        return sorted(self._table)

    def all(self) -> list[Primitive]:
        return [self._table[n] for n in self.names()]

    def names_where(self, *fields: str) -> set[str]:
        """Names of the primitives with any of the boolean record ``fields`` set."""
        return {name for name, p in self._table.items() if any(getattr(p, f) for f in fields)}

    def coverage(self) -> dict[str, list[str]]:
        """Primitives missing a JVP, VJP or Taylor rule (and not marked non-differentiable)."""
        missing: dict[str, list[str]] = {"jvp": [], "vjp": [], "taylor": []}
        for p in self.all():
            if p.effect or (p.internal and p.name.startswith("tape_")):
                continue
            if not p.has_jvp():
                missing["jvp"].append(p.name)
            if not p.has_vjp():
                missing["vjp"].append(p.name)
            if not p.has_taylor():
                missing["taylor"].append(p.name)
        return missing
