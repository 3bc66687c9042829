"""Whole-function transforms the public API is made of, each IR -> IR on a ``Compiled``.

A :class:`~chainrule.frontend.compile.Compiled` is an IR function plus the pytree template of
its result. ``grad_ir`` / ``jvp_ir`` / ``vjp_ir`` / ``jacobian_ir`` build new ones from old, so
every API transform composes with every other (grad of grad, jacfwd of jacrev, ...) and can be
applied inside user code too. Argument leaves are identified by ``ArgLeaf`` records saying which
argument (argnum) each IR param came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import NonDifferentiableError
from ..ir.builder import Builder, Names, const
from ..ir.compiled import Compiled, flatten, rebuild
from ..ir.nodes import Const, Function, Var
from ..ir.types import Type
from ..ir.verify import verified
from .forward import jvp_function
from .reverse import vjp_function


@dataclass
class Signature:
    """How the IR params of a compiled function map onto the user's arguments."""

    arg_templates: list  # per argument: its value with IR param Vars (or statics) as leaves

    def leaves_of(self, argnum: int) -> list:
        return [a for _, a in flatten(self.arg_templates[argnum])]


def check_diff_arg(sig: Signature, argnum: int, what: str) -> list:
    leaves = sig.leaves_of(argnum)
    if not leaves:
        raise NonDifferentiableError(
            f"argument {argnum} has no numeric leaves to differentiate ({what})",
            hint="differentiate with respect to float scalars or float arrays")
    for path, leaf in flatten(sig.arg_templates[argnum]):
        if not isinstance(leaf, Var) or not leaf.type.is_float:
            kind = leaf.type if hasattr(leaf, "type") else type(leaf).__name__
            where = f" (at `{path[1:]}`)" if path else ""
            raise NonDifferentiableError(
                f"{what} with respect to argument {argnum}, which holds a {kind} value{where}; "
                "only float scalars and float arrays are differentiable",
                hint="pass floats (e.g. 2.0 instead of 2), or choose other argnums")
    return leaves


@verified("grad (reverse mode)")
def grad_ir(base: Compiled, sig: Signature, argnums: tuple, has_aux: bool, names: Names,
            with_value: bool, as_tuple: bool, checkpoint=False) -> Compiled:
    """``value_and_grad`` (or ``grad``) of a compiled function (``checkpoint``: the
    option of transforms/checkpoint.py)."""
    out = base.out_template
    if has_aux:
        if not (isinstance(out, tuple) and len(out) == 2):
            raise NonDifferentiableError("has_aux=True needs the function to return a pair "
                                         "(value, aux)")
        main, aux = out
    else:
        main, aux = out, None
    if not (hasattr(main, "type") and main.type.ndim == 0 and main.type.is_float):
        what = main.type if hasattr(main, "type") else type(main).__name__
        raise NonDifferentiableError(
            f"grad needs a function returning a float scalar; this one returns {what}",
            hint="use jacrev/jacfwd or vjp for non-scalar outputs (or sum the output)")
    fn = base.fn
    wrt_leaves = [leaf for k in argnums for leaf in check_diff_arg(sig, k, "gradient")]
    wrt_names = {v.name for v in wrt_leaves}
    wrt = [p.name in wrt_names for p in fn.params]
    main_index = _result_index(fn, main)
    diff_results = [i == main_index for i in range(len(fn.results))]
    v = vjp_function(fn, wrt, names, diff_results=diff_results, checkpoint_option=checkpoint)
    b = Builder(names)
    body: list = []
    with b.nested(body):
        ct = v.params[len(fn.params)]
        b.emit("id", const(1.0) if ct.type.dtype == "float64" else Const(1.0, ct.type, True),
               out=ct)
    body += v.body
    nres = len(fn.results)
    grads_by_param = dict(zip([p.name for p, w in zip(fn.params, wrt) if w], v.results[nres:]))
    grad_values = []
    for k in argnums:
        tmpl = sig.arg_templates[k]
        leaves = [grads_by_param[leaf.name] for leaf in sig.leaves_of(k)]
        grad_values.append(rebuild(tmpl, list(leaves)))
    g = tuple(grad_values) if as_tuple else grad_values[0]
    if with_value:
        value = (main, aux) if has_aux else main
        result = (value, g)
    else:
        result = (g, aux) if has_aux else g
    leaves = [a for _, a in flatten(result)]
    mapping = {id(x): y for x, y in zip(fn.results, v.results[:nres])}
    leaves = [mapping.get(id(a), a) for a in leaves]
    newfn = Function(fn.name + "_grad", list(fn.params), body, leaves, fn.loc, dict(fn.meta))
    return Compiled(newfn, rebuild(result, list(leaves)))


def _result_index(fn: Function, atom: Any) -> int:
    for i, r in enumerate(fn.results):
        if r is atom:
            return i
    raise NonDifferentiableError("the differentiated output is not a computed value")


@verified("jvp (forward mode)")
def jvp_ir(base: Compiled, sig: Signature, names: Names) -> tuple[Compiled, list]:
    """Forward mode w.r.t. every float leaf; returns the function and the tangent params."""
    fn = base.fn
    arg_leaves = {x.name for t in sig.arg_templates for _, x in flatten(t) if isinstance(x, Var)}
    wrt = [p.type.is_float and p.name in arg_leaves for p in fn.params]
    j = jvp_function(fn, wrt, names)
    nres = len(fn.results)
    tangents = j.results[nres:]
    float_results = [r for r in fn.results if r.type.is_float]
    tmap = {id(r): t for r, t in zip(float_results, tangents)}
    out_t = rebuild(base.out_template,
                    [tmap.get(id(r), _zero_for(r)) for r in fn.results])
    result = (base.out_template, out_t)
    leaves = [a for _, a in flatten(result)]
    newfn = Function(fn.name + "_jvp", list(j.params), j.body, leaves, fn.loc, dict(fn.meta))
    return Compiled(newfn, rebuild(result, list(leaves))), j.params[len(fn.params):]


def _zero_for(r):
    return Const(0.0, Type("float64"), True) if r.type.ndim == 0 else r


@verified("vjp (reverse mode)")
def vjp_ir(base: Compiled, sig: Signature, names: Names) -> tuple[Compiled, list]:
    """Reverse mode w.r.t. every float leaf; returns the function and the cotangent params."""
    fn = base.fn
    arg_leaves = {x.name for t in sig.arg_templates for _, x in flatten(t) if isinstance(x, Var)}
    wrt = [p.type.is_float and p.name in arg_leaves for p in fn.params]
    v = vjp_function(fn, wrt, names)
    nres = len(fn.results)
    grads = dict(zip([p.name for p, w in zip(fn.params, wrt) if w], v.results[nres:]))
    per_arg = []
    for tmpl in sig.arg_templates:
        leaves = []
        for _, leaf in flatten(tmpl):
            leaves.append(grads.get(leaf.name, _zero_for(leaf)) if isinstance(leaf, Var)
                          else leaf)
        per_arg.append(rebuild(tmpl, leaves))
    result = (base.out_template, tuple(per_arg))
    leaves = [a for _, a in flatten(result)]
    mapping = {id(x): y for x, y in zip(fn.results, v.results[:nres])}
    leaves = [mapping.get(id(a), a) for a in leaves]
    newfn = Function(fn.name + "_vjp", list(v.params), v.body, leaves, fn.loc, dict(fn.meta))
    return Compiled(newfn, rebuild(result, list(leaves))), v.params[len(fn.params):]



__all__ = ["Signature", "check_diff_arg", "grad_ir", "jvp_ir", "vjp_ir"]
