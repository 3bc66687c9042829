"""Chains of scalar derivatives: ``grad`` of code whose result is already the n-th derivative
of a function with respect to the same float scalar is the (n+1)-th derivative, built as one
Taylor pass of order n+1 over the original function instead of a transform of the n-th
derivative's code.

Nested ``grad`` written in user code (``g2(x) = grad(g1)(x)``, ``g1(x) = grad(f)(x)``) reaches
the transforms one level at a time, each level seeing the previous level's derivative code:
differentiated level by level, code grows by a constant factor per level (exponential in the
depth). A :class:`Chain` remembers which derivative a compiled result is (the function, the
argument, the order, and the atoms its params were bound to); when the next ``grad`` is taken
with respect to the atom the chain differentiates, and nothing else the chain reads depends on
it, the result is rebuilt from the original function at order n+1 (O(n^2) code per level, no
tapes). Everything else falls back to the level-by-level transforms.

A chain is recorded in two places: on the ``Compiled`` a transform returns (``derivative_of``)
and, once that code is inlined into user code, per result variable in a note kept for the
compilation's ``Names`` (so the enclosing function's compiled form finds it by its result).

Directly nested transforms (``grad(grad(grad(f)))``, from Python or called inside compiled code)
are the same chain seen at once: :func:`grad_levels` counts the plain ``grad`` levels and
:func:`taylor_pass` builds the k-th derivative of the innermost function as one Taylor pass
(k = 1: forward mode), recorded as a chain like any other, so a further ``grad`` extends it.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

from ..ir.builder import Builder, Names
from ..ir.compiled import Compiled
from ..ir.inline import inline
from ..ir.nodes import Assign, Effect, Function, Var, walk
from .recompute import view_roots
from .taylor_wrap import derivative_ir
from .wrap import Signature

# Effects that only write arrays: a block with other effects (print, assert) is not replaced.
_PURE_EFFECTS = ("setitem", "additem", "tape_push")


@dataclass(frozen=True)
class Chain:
    """``order``-th derivative of ``primal`` w.r.t. its float scalar argument ``argnum``, with
    the primal's params bound to ``args`` (atoms of the code that holds the result)."""

    primal: Compiled
    argnum: int
    order: int
    args: tuple

    def param_index(self) -> int:
        x = self.primal.arg_templates[self.argnum]
        return next(i for i, p in enumerate(self.primal.fn.params) if p.name == x.name)

    def rebound(self, mapping: dict) -> Chain:
        """The same chain with its atoms renamed by ``mapping`` (name -> atom)."""
        args = tuple(mapping.get(a.name, a) if isinstance(a, Var) else a for a in self.args)
        return Chain(self.primal, self.argnum, self.order, args)


_NOTES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # Names -> {name: Chain}
_DERIVED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # Names -> {names}


def start(base: Compiled, argnum: int) -> Chain | None:
    """The chain a first derivative of ``base`` w.r.t. argument ``argnum`` begins, when the
    argument is one float scalar and the result one float scalar."""
    tmpls = base.arg_templates or []
    out = base.out_template
    if not (0 <= argnum < len(tmpls)) or not _scalar_float(tmpls[argnum]) or \
            not _scalar_float(out) or len(base.fn.results) != 1:
        return None
    if not any(p.name == tmpls[argnum].name for p in base.fn.params):
        return None
    return Chain(base, argnum, 1, tuple(base.fn.params))


def note(names: Names, result: Any, chain: Chain | None, mapping: dict) -> None:
    """Remember that the atom ``result`` (inlined code) is ``chain`` with its atoms renamed by
    ``mapping``."""
    if chain is not None and isinstance(result, Var):
        _NOTES.setdefault(names, {})[result.name] = chain.rebound(mapping)


def extend(base: Compiled, argnum: int, names: Names) -> Compiled | None:
    """``grad`` of ``base`` w.r.t. argument ``argnum`` as the next link of the chain ``base``'s
    result is, or None when it is not one (the caller transforms ``base`` itself)."""
    chain = base.derivative_of
    out = base.out_template
    if chain is None and isinstance(out, Var) and len(base.fn.results) == 1:
        chain = _NOTES.get(names, {}).get(out.name)
    tmpls = base.arg_templates or []
    if chain is None or not (0 <= argnum < len(tmpls)) or not _scalar_float(tmpls[argnum]):
        return None
    x = tmpls[argnum]
    params = {p.name for p in base.fn.params}
    k = chain.param_index()
    if not (isinstance(chain.args[k], Var) and chain.args[k].name == x.name):
        return None
    for i, a in enumerate(chain.args):
        if not isinstance(a, Var):
            continue
        # every atom the chain reads is a param of ``base`` (nothing computed from x), and
        # only the differentiated argument is x
        if a.name not in params or (a.name == x.name) != (i == k):
            return None
    effects = [s for s in walk(base.fn.body) if isinstance(s, Effect)]
    if any(s.prim not in _PURE_EFFECTS for s in effects):
        return None
    # an array the chain reads, written before (``arr[0] = 2 * x``): it then depends on x
    find = view_roots(base.fn)
    written = {find(s.args[0].name) for s in effects if s.prim in ("setitem", "additem")}
    if any(isinstance(a, Var) and find(a.name) in written for a in chain.args):
        return None
    primal = chain.primal
    deriv = derivative_ir(primal, Signature(primal.arg_templates), chain.argnum,
                          chain.order + 1, names)
    b = Builder(names)
    body: list = []
    with b.nested(body):
        results = inline(b, deriv.fn, list(chain.args))
    fn = Function(base.fn.name + "_grad", list(base.fn.params), body, results, base.fn.loc,
                  dict(base.fn.meta))
    return Compiled(fn, results[0], base.arg_templates,
                    Chain(primal, chain.argnum, chain.order + 1, chain.args))


def note_derived(names: Names, results: list) -> None:
    """Remember that ``results`` (inlined code) are derivatives computed by a transform."""
    _DERIVED.setdefault(names, set()).update(r.name for r in results if isinstance(r, Var))


def forward_over(base: Compiled, argnum: int, names: Names) -> Compiled | None:
    """``grad`` w.r.t. one float scalar of a scalar function whose code holds derivative code
    (a transform inlined in it, or tapes): forward mode over it (a Taylor pass of order 1),
    so that reverse mode is not applied to reverse-mode code. None when that does not apply."""
    derived = _DERIVED.get(names, set())
    if not any(isinstance(s, Assign) and (s.out.name in derived or s.out.type.tape)
               for s in walk(base.fn.body)):
        return None
    return taylor_pass(base, argnum, 1, names)


def grad_levels(t: Any) -> tuple[int, Any]:
    """``(k, f)`` for a transform ``t`` that is k plain ``grad`` levels over ``f`` (one common
    int ``argnums``, no ``has_aux``, no kink reporting); ``(0, t)`` for any other ``t``."""
    depth, inner = 0, t
    while getattr(inner, "kind", None) == "grad" and not inner.has_aux and \
            not inner.argnums_tuple and inner.kinks is None and inner.argnums == t.argnums:
        depth += 1
        inner = inner.fn
    return depth, inner


def over_gradient(depth: int, inner: Any) -> bool:
    """Whether ``depth`` grad levels over ``inner`` are to be built as a Taylor pass when the
    transforms are applied from Python: two levels or more (the k-th derivative), or one
    level over another gradient (a mixed partial: forward over reverse). A single ``grad`` of
    plain code stays reverse mode (its conventions at kinks are those of docs/nonsmooth.md);
    called inside compiled code, it is forward mode (no tapes for an outer transform)."""
    return depth >= 2 or (depth == 1 and getattr(inner, "kind", None) in ("grad",
                                                                         "value_and_grad"))


def taylor_pass(base: Compiled, argnum: int, depth: int, names: Names) -> Compiled | None:
    """The ``depth``-th derivative of ``base`` w.r.t. its float scalar argument ``argnum`` as
    one Taylor pass of order ``depth`` (no tapes; O(depth^2) code), recorded as a chain; None
    when the argument or the result is not one float scalar."""
    chain = start(base, argnum)
    if chain is None:
        return None
    out = derivative_ir(base, Signature(base.arg_templates), argnum, depth, names)
    out.arg_templates = base.arg_templates
    out.derivative_of = Chain(base, argnum, depth, chain.args)
    return out


def _scalar_float(v: Any) -> bool:
    return isinstance(v, Var) and v.type.ndim == 0 and v.type.is_float


__all__ = ["Chain", "extend", "forward_over", "grad_levels", "note", "note_derived",
           "over_gradient", "start", "taylor_pass"]
