"""Primitives that only generated derivative code uses: tapes and adjoint bookkeeping.

* ``tape_new`` / ``tape_push`` / ``tape_pop`` -- LIFO stacks holding what reverse mode needs
  (overwritten values, branch decisions, trip counts). Their own derivatives (for nested AD) are
  handled by the transforms, which treat a tape of floats like any other mutable state.
* ``adj_zero`` -- the zero adjoint of an array whose shape is not known yet (an empty array of the
  right ndim); ``materialize`` gives it its shape (adjoints are then accumulated in place).
* ``unbroadcast`` -- sums a broadcast cotangent back to the shape of the operand.
* ``zmul`` -- the zero-safe product ``t * d`` (exactly zero where ``t == 0``, even where ``d`` is
  inf or nan) that derivative rules use so that a zero tangent or cotangent stays zero; see
  :func:`chainrule.rules.common.zmul`. Emitted inline for scalars, as ``_rt.zmul`` for arrays.
"""

from __future__ import annotations

from ..errors import IRVerificationError
from ..ir.nodes import Const
from ..ir.types import Type
from . import taylor as T
from .common import same_type, template, unbroadcast, zmul
from .registry import Primitive, Statements


def _tape_new_type(types, dtype, ndim, **_):
    return Type(dtype, ndim, tape=True)


def _tape_pop_type(types, **_):
    return types[0].element()


def _adj_zero_type(types, dtype, ndim, **_):
    return Type(dtype, ndim)


def _adj_zero_emit(srcs, dtype, ndim, **_):
    if ndim == 0:
        return "0.0"
    shape = "(" + ", ".join(["0"] * ndim) + ("," if ndim == 1 else "") + ")"
    return f"np.zeros({shape}, dtype=np.{dtype})"


def _first_type(types, **_):
    return types[0]


def _materialize_jvp(b, args, tans, out, **_):
    if tans[0] is None:
        return None
    return b.materialize(tans[0], args[1])


def _materialize_vjp(b, args, out, g, **_):
    return [b.dematerialize(g, args[0]), None]


def _dematerialize_jvp(b, args, tans, out, **_):
    return None if tans[0] is None else b.dematerialize(tans[0], args[1])


def _dematerialize_vjp(b, args, out, g, **_):
    return [b.dematerialize(g, args[0]), None]


def _unbroadcast_jvp(b, args, tans, out, **_):
    return None if tans[0] is None else b.unbroadcast(tans[0], args[1])


def _unbroadcast_vjp(b, args, out, g, **_):
    return [b.broadcast_like(g, args[0]), None]


def _broadcast_like_jvp(b, args, tans, out, **_):
    return None if tans[0] is None else b.broadcast_like(tans[0], args[1])


def _broadcast_like_vjp(b, args, out, g, **_):
    return [b.unbroadcast(g, args[0]), None]


def _broadcast_as_jvp(b, args, tans, out, **_):
    return None if tans[0] is None else b.broadcast_as(tans[0], args[1])


def _second_type(types, **_):
    return types[1].with_dtype(types[0].dtype)


def _zmul_type(types, scalar=False, **_):
    if scalar != all(t.ndim == 0 for t in types):
        raise IRVerificationError("internal: zmul's `scalar` flag does not match its operands")
    return same_type(types)


def _zmul_emit(srcs, scalar=False, **_):
    if scalar:
        # Both branches are scalars of the product's type (also when an operand is a 0-d array).
        return f"({srcs[0]} * {srcs[1]} if {srcs[0]} != 0 else {srcs[0]} * 0.0)"
    return f"_rt.zmul({srcs[0]}, {srcs[1]})"


def _zmul_jvp(b, args, tans, out, **_):
    # The product rule with zero-safe products: where t == 0 the value is 0 whatever d is.
    t, d = args
    dt, dd = tans
    parts = [p for p in (zmul(b, dt, d), zmul(b, t, dd) if dd is not None else None)
             if p is not None]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else b.add(parts[0], parts[1])


def _zmul_vjp(b, args, out, g, **_):
    # d(out)/dd is t, and exactly 0 where t == 0; a zero cotangent g gives 0 even where t is
    # infinite (a zero-safe product guarded on g, then on t).
    t, d = args
    gd = None
    if d.type.is_float:
        gd = zmul(b, g, t)
        if not isinstance(t, Const):
            gd = b.where(b.eq(t, 0.0), 0.0, gd)
    return [unbroadcast(b, zmul(b, g, d), t) if t.type.is_float else None,
            unbroadcast(b, gd, d)]


# -- Numba emissions (``numba_emit``: where Numba needs other source than NumPy) ---------------
# Scalar tapes are a growable array ``T`` plus a count ``T__n``, pushed and popped with plain
# indexing in the generated function itself (no calls, so no reference counting per value).
def _tape_new(srcs: list[str], dtype: str, ndim: int, types: tuple = (), **_):
    if ndim:
        return "[]"
    suffix = {"float64": "f64", "float32": "f32"}.get(dtype, "i64")
    return Statements(f"{{out}} = _rt.tnew_{suffix}()", "{out}__n = 0")

def _tape_push(srcs: list[str], types: tuple = (), reserved: bool = False, **_):
    t, x = srcs
    if types[0].ndim:
        return f"{t}.append({x})"
    if reserved:  # capacity was reserved before the enclosing loop
        return Statements(f"{t}[{t}__n] = {x}", f"{t}__n += 1")
    return Statements(f"if {t}__n == {t}.shape[0]:", f"    {t} = _rt.tgrow({t})",
                      f"{t}[{t}__n] = {x}", f"{t}__n += 1")

def _tape_reserve(srcs: list[str], per_trip: int, types: tuple = (), **_):
    t, start, stop, step = srcs
    need = f"{t}__n + {per_trip} * len(range({start}, {stop}, {step})) + 1"
    return Statements(f"if {need} > {t}.shape[0]:", f"    {t} = _rt.tgrow_to({t}, {need})")

def _tape_pop(srcs: list[str], types: tuple = (), **_):
    (t,) = srcs
    if types[0].ndim:
        return f"{t}.pop()"
    value = f"{t}[{t}__n] != 0" if types[0].dtype == "bool" else f"{t}[{t}__n]"
    return Statements(f"{t}__n -= 1", f"{{out}} = {value}")


PRIMS = [
    Primitive("tape_new", _tape_new_type, template("[]"), internal=True, doc="new empty tape",
              numba_emit=_tape_new),
    Primitive("tape_push", lambda ts, **_: ts[0], template("{0}.append({1})"), effect=True,
              internal=True,
              numba_emit=_tape_push),
    Primitive("tape_reserve", lambda ts, **_: ts[0], template("None"), effect=True,
              internal=True, numba_emit=_tape_reserve,
              doc="Numba: room on a scalar tape for a loop's pushes (NumPy needs none)"),
    Primitive("tape_pop", _tape_pop_type, template("{0}.pop()"), internal=True, keep=True,
              numba_emit=_tape_pop),
    Primitive("adj_zero", _adj_zero_type, _adj_zero_emit, nondiff=True, internal=True),
    Primitive("materialize", _first_type, template("_rt.materialize({0}, {1})"),
              _materialize_jvp, _materialize_vjp, internal=True, diff_args=(0,),
              doc="the adjoint a, or zeros shaped like x when a is still the empty zero"),
    Primitive("dematerialize", _first_type, template("_rt.dematerialize({0}, {1})"),
              _dematerialize_jvp, _dematerialize_vjp, internal=True, diff_args=(0,),
              doc="g when it has the shape of x, else zeros shaped like x (the cotangent of an "
                  "empty zero adjoint)"),
    Primitive("unbroadcast", lambda ts, **_: ts[1].with_dtype(ts[0].dtype),
              template("_rt.unbroadcast({0}, {1})"), _unbroadcast_jvp, _unbroadcast_vjp,
              internal=True, diff_args=(0,), doc="sum g down to the shape of x"),
    Primitive("broadcast_like", _second_type, template("_rt.broadcast_like({0}, {1})"),
              _broadcast_like_jvp, _broadcast_like_vjp, internal=True, diff_args=(0,),
              doc="g broadcast to the shape of x (a new array)"),
    Primitive("broadcast_as", _second_type, template("_rt.broadcast_as({0}, {1})"),
              _broadcast_as_jvp, _broadcast_like_vjp, internal=True, diff_args=(0,),
              doc="g itself when it has the shape of x (same ndim), else g broadcast to it"),
    Primitive("zmul", _zmul_type, _zmul_emit, _zmul_jvp, _zmul_vjp, internal=True,
              movable_in_derivatives=True,
              doc="t * d, but exactly 0 where t == 0 (a zero tangent or cotangent stays zero)"),
]

# Taylor rules (rules/taylor.py): the bookkeeping primitives are linear in their first
# argument; zmul is bilinear.
T.attach(PRIMS, coefficientwise_=("materialize", "dematerialize", "unbroadcast", "broadcast_like",
                                  "broadcast_as"),
         bilinear_=("zmul",))
