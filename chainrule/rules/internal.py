"""Primitives that only generated derivative code uses: tapes and adjoint bookkeeping.

* ``tape_new`` / ``tape_push`` / ``tape_pop`` -- LIFO stacks holding what reverse mode needs
  (overwritten values, branch decisions, trip counts). Their own derivatives (for nested AD) are
  handled by the transforms, which treat a tape of floats like any other mutable state.
* ``adj_zero`` -- the zero adjoint of an array whose shape is not known yet (an empty array of the
  right ndim); ``acc`` adds a contribution to an adjoint; ``materialize`` gives it its shape.
* ``unbroadcast`` -- sums a broadcast cotangent back to the shape of the operand.
"""

from __future__ import annotations

from ..ir.types import Type
from .common import template
from .registry import Primitive


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


def _acc_emit(srcs, **_):
    return f"_rt.acc({srcs[0]}, {srcs[1]})"


def _first_type(types, **_):
    return types[0]


def _acc_jvp(b, args, tans, out, **_):
    ta, tc = tans
    if ta is None:
        return tc
    if tc is None:
        return ta
    return b.acc(ta, tc)


def _acc_vjp(b, args, out, g, **_):
    return [g, g]


def _materialize_jvp(b, args, tans, out, **_):
    if tans[0] is None:
        return None
    return b.materialize(tans[0], args[1])


def _materialize_vjp(b, args, out, g, **_):
    return [g, None]


def _unbroadcast_jvp(b, args, tans, out, **_):
    return None if tans[0] is None else b.unbroadcast(tans[0], args[1])


def _unbroadcast_vjp(b, args, out, g, **_):
    return [b.broadcast_like(g, args[0]), None]


def _broadcast_like_jvp(b, args, tans, out, **_):
    return None if tans[0] is None else b.broadcast_like(tans[0], args[1])


def _broadcast_like_vjp(b, args, out, g, **_):
    return [b.unbroadcast(g, args[0]), None]


def _second_type(types, **_):
    return types[1].with_dtype(types[0].dtype)


PRIMS = [
    Primitive("tape_new", _tape_new_type, template("[]"), internal=True, doc="new empty tape"),
    Primitive("tape_push", lambda ts, **_: ts[0], template("{0}.append({1})"), effect=True,
              internal=True),
    Primitive("tape_pop", _tape_pop_type, template("{0}.pop()"), internal=True),
    Primitive("adj_zero", _adj_zero_type, _adj_zero_emit, nondiff=True, internal=True),
    Primitive("acc", _first_type, _acc_emit, _acc_jvp, _acc_vjp, internal=True, linear=True,
              doc="adjoint accumulation a + c, where an empty array stands for zero"),
    Primitive("materialize", _first_type, template("_rt.materialize({0}, {1})"),
              _materialize_jvp, _materialize_vjp, internal=True, diff_args=(0,),
              doc="the adjoint a, or zeros shaped like x when a is still the empty zero"),
    Primitive("unbroadcast", lambda ts, **_: ts[1].with_dtype(ts[0].dtype),
              template("_rt.unbroadcast({0}, {1})"), _unbroadcast_jvp, _unbroadcast_vjp,
              internal=True, diff_args=(0,), doc="sum g down to the shape of x"),
    Primitive("broadcast_like", _second_type, template("_rt.broadcast_like({0}, {1})"),
              _broadcast_like_jvp, _broadcast_like_vjp, internal=True, diff_args=(0,),
              doc="g broadcast to the shape of x (a new array)"),
]
