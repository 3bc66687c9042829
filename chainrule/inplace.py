"""Differentiating functions that return their result by writing into an argument.

Scientific code often computes into a buffer it is given: an ODE right-hand side
``rhs(du, u, p)`` fills ``du`` and returns nothing. Differentiating such a function means
differentiating the *new value of* ``du`` with respect to everything that was passed in,
including the old value of ``du`` (which ``rhs`` may read, e.g. ``du += ...``, or overwrite).

* :func:`into` turns ``f`` into its functional form: ``into(f, out=0)(*args)`` returns the value
  ``args[0]`` would hold after ``f(*args)``, computed on copies (no argument changes). It is an
  ordinary chainrule function, so every transform applies: ``jacrev(into(rhs), argnums=1)``,
  ``vjp(into(rhs), du, u, p)``, ``grad`` of a loss built from it...
* :func:`vjp_into` is the reverse-mode entry point ODE adjoint solvers want:
  ``du, pullback = vjp_into(rhs, du, u, p)`` runs ``rhs`` (writing ``du`` in place, like the
  call would) and ``pullback(ct_du)`` returns one cotangent per argument, ``(ct_du_before,
  ct_u, ct_p)``: the cotangent for ``du`` is with respect to the value it had before the call,
  zero where ``rhs`` overwrote it.
* :func:`jvp_into` is the forward-mode counterpart: ``(du, du_dot)``.

In Enzyme's terms the ``out`` argument is *Duplicated* (its shadow carries the cotangent in and
out); every other float argument is active and gets a cotangent; integer/bool arguments are
constant (their cotangent is zero). Only the ``out`` argument is written back to the caller.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import api, pytree
from .errors import ChainruleTypeError
from .ir.builder import Names
from .ir.compiled import Compiled, flatten, rebuild
from .ir.nodes import Function, Var
from .memo import CompileCache
from .passes.cleanup import simplify


class Into(api.Transformed):
    """``f`` with its result taken from the argument it writes into (see :func:`into`)."""

    def __init__(self, fn: Any, out: int = 0, backend: str | None = None):
        if not isinstance(out, int) or isinstance(out, bool):
            raise TypeError("into: out must be the index of an argument (an int)")
        # ``out`` is kept as the transform's argnums, so caches keyed on argnums tell apart
        # into(f, out=0) and into(f, out=1).
        super().__init__("into", fn, argnums=out, backend=backend)
        self.out = out
        self.__name__ = f"into({getattr(fn, '__name__', 'f')}, out={out})"

    def apply(self, base: Compiled, names: Names) -> Compiled:
        templates = base.arg_templates or []
        if not 0 <= self.out < len(templates):
            raise TypeError(f"into: out={self.out} but the function got {len(templates)} "
                            "arguments")
        target = templates[self.out]
        leaves = [x for _, x in flatten(target)]
        if not any(isinstance(x, Var) and x.type.ndim > 0 for x in leaves):
            raise ChainruleTypeError(
                f"into: argument {self.out} holds no array for the function to write into",
                hint="pass the output buffer (e.g. np.zeros_like(u)) as that argument")
        fn = base.fn
        # At the end of the body the parameters hold the values the call left in them.
        newfn = Function(fn.name + "_into", list(fn.params), list(fn.body), list(leaves),
                         fn.loc, dict(fn.meta))
        out = Compiled(simplify(newfn, names), rebuild(target, list(leaves)), base.arg_templates)
        return out

    def lower_call(self, lw: Any, args: list, kwargs: dict, node: Any, extra: list = ()
                   ) -> Any:
        """``into(f)(...)`` inside compiled code: call ``f`` on a copy of the out argument."""
        args = list(args)
        if not 0 <= self.out < len(args):
            raise TypeError(f"into: out={self.out} but the function got {len(args)} arguments")
        target = args[self.out]
        copies = rebuild(target, [lw.b.copy(x) if x.type.ndim > 0 else x
                                  for _, x in flatten(target)])
        args[self.out] = copies
        lw.call(self.fn, args, kwargs, node)
        return copies


_INTO = CompileCache()


def into(f: Any, out: int = 0, backend: str | None = None) -> Into:
    """The functional form of ``f``, which writes its result into argument ``out``:
    ``into(f, out)(*args)`` returns the value ``args[out]`` holds after ``f(*args)``; the
    caller's arguments are left unchanged. Use it with any transform."""
    hit = _INTO.get(f, (out, backend))
    if hit is not None:
        return hit
    return _INTO.put(f, (out, backend), Into(f, out, backend))


def _write_back(dest: Any, value: Any) -> Any:
    """Copy ``value`` into the arrays of ``dest`` (same structure); the updated ``dest``
    (or ``value`` where a leaf cannot be updated in place)."""
    if isinstance(dest, np.ndarray):
        np.copyto(dest, value, casting="unsafe")
        return dest
    if pytree.node_kind(dest) is None:
        return value
    news = [v for _, v in pytree.items(value)]
    return pytree.with_children(dest, [_write_back(d, v) for (_, d), v in
                                       zip(pytree.items(dest), news)])


def vjp_into(f: Any, *args: Any, out: int = 0, backend: str | None = None) -> tuple:
    """Reverse mode of ``f``, which writes its result into ``args[out]``.

    Runs ``f(*args)``: ``args[out]`` is updated in place as the call would update it, and no
    other argument is touched. Returns ``(args[out], pullback)``; ``pullback(ct)`` takes a
    cotangent shaped like ``args[out]`` and returns a tuple with one cotangent per argument.
    The one for ``args[out]`` is with respect to the value it held *before* the call (zero
    where ``f`` overwrote it without reading it)."""
    g = into(f, out, backend)
    new, pullback = api.vjp(g, *args, backend=backend)
    return _write_back(args[out], new), pullback


def jvp_into(f: Any, primals: tuple, tangents: tuple, out: int = 0,
             backend: str | None = None) -> tuple:
    """Forward mode of ``f``, which writes its result into ``primals[out]``: returns
    ``(primals[out], tangent)`` with ``primals[out]`` updated in place as the call would
    update it; ``tangents[out]`` is the tangent of its value before the call."""
    primals = tuple(primals)
    g = into(f, out, backend)
    new, tangent = api.jvp(g, primals, tuple(tangents), backend=backend)
    return _write_back(primals[out], new), tangent


__all__ = ["Into", "into", "jvp_into", "vjp_into"]
