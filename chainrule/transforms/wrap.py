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
from ..frontend.compile import Compiled
from ..frontend.values import flatten, rebuild
from ..ir.builder import Builder, Names, const
from ..ir.inline import inline
from ..ir.nodes import Const, ForRange, Function, Var
from ..ir.types import I64, Type
from ..ir.verify import verified
from .forward import jvp_function
from .reverse import vjp_function


@dataclass
class Signature:
    """How the IR params of a compiled function map onto the user's arguments."""

    arg_templates: list  # per argument: its value with IR param Vars (or statics) as leaves

    def leaves_of(self, argnum: int) -> list:
        return [a for _, a in flatten(self.arg_templates[argnum])]


def _check_diff_arg(sig: Signature, argnum: int, what: str) -> list:
    leaves = sig.leaves_of(argnum)
    if not leaves:
        raise NonDifferentiableError(
            f"argument {argnum} has no numeric leaves to differentiate ({what})",
            hint="differentiate with respect to float scalars or float arrays")
    for leaf in leaves:
        if not isinstance(leaf, Var) or not leaf.type.is_float:
            kind = leaf.type if hasattr(leaf, "type") else type(leaf).__name__
            raise NonDifferentiableError(
                f"{what} with respect to argument {argnum}, which holds a {kind} value; only "
                "float scalars and float arrays are differentiable",
                hint="pass floats (e.g. 2.0 instead of 2), or choose other argnums")
    return leaves


@verified("grad (reverse mode)")
def grad_ir(base: Compiled, sig: Signature, argnums: tuple, has_aux: bool, names: Names,
            with_value: bool, as_tuple: bool) -> Compiled:
    """``value_and_grad`` (or ``grad``) of a compiled function."""
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
    wrt_leaves = [leaf for k in argnums for leaf in _check_diff_arg(sig, k, "gradient")]
    wrt_names = {v.name for v in wrt_leaves}
    wrt = [p.name in wrt_names for p in fn.params]
    main_index = _result_index(fn, main)
    diff_results = [i == main_index for i in range(len(fn.results))]
    v = vjp_function(fn, wrt, names, diff_results=diff_results)
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


@verified("jacobian")
def jacobian_ir(base: Compiled, sig: Signature, argnum: int, mode: str, names: Names
                ) -> Compiled:
    """Jacobian of an array/scalar-valued function w.r.t. one array/scalar argument, built as
    an IR loop over basis vectors (one JVP per input element, or one VJP per output element).
    Shape of the result: ``out.shape + in.shape``."""
    fn = base.fn
    out = base.out_template
    if not (hasattr(out, "type") and out.type.is_float):
        raise NonDifferentiableError("jacfwd/jacrev need a function returning one float "
                                     "scalar or array", hint="return a single array")
    x_leaves = _check_diff_arg(sig, argnum, "Jacobian")
    if len(x_leaves) != 1:
        raise NonDifferentiableError("jacfwd/jacrev support one array or scalar argument per "
                                     "argnum", hint="pass the values as one array")
    x = x_leaves[0]
    wrt = [p.name == x.name for p in fn.params]
    b = Builder(names)
    body: list = []
    with b.nested(body):
        y = inline(b, fn, list(fn.params))[_result_index(fn, out)]
        xdims = [b.shape(x, axis=i) for i in range(x.type.ndim)]
        ydims = [b.shape(y, axis=i) for i in range(y.type.ndim)]
        n_in = b.size(x) if x.type.ndim else const(1)
        n_out = b.size(y) if y.type.ndim else const(1)
        k = b.new_var("k", I64)
        loop: list = []
        if mode == "rev":
            deriv = vjp_function(fn, wrt, names,
                                 diff_results=[r is out for r in fn.results])
            rows = b.zeros(n_out, n_in, dtype="float64")
            with b.nested(loop):
                e = b.zeros(n_out, dtype="float64")
                b.effect("setitem", e, const(1.0), k, spec=("i",))
                ct = b.reshape(e, *ydims) if y.type.ndim else b.getitem(e, const(0), spec=("i",))
                res = inline(b, deriv, list(fn.params) + [ct])
                g = res[len(fn.results)]
                g = b.reshape(g, n_in) if x.type.ndim else b.reshape(b.pack(g), n_in)
                b.effect("setitem", rows, g, k, spec=("i",))
            b.append(ForRange(k, const(0), n_out, const(1), loop))
            jac = b.reshape(rows, *(ydims + xdims)) if (ydims + xdims) else \
                b.getitem(rows, const(0), const(0), spec=("i", "i"))
        else:
            deriv = jvp_function(fn, wrt, names)
            cols = b.zeros(n_in, n_out, dtype="float64")
            with b.nested(loop):
                e = b.zeros(n_in, dtype="float64")
                b.effect("setitem", e, const(1.0), k, spec=("i",))
                t = b.reshape(e, *xdims) if x.type.ndim else b.getitem(e, const(0), spec=("i",))
                res = inline(b, deriv, list(fn.params) + [t])
                floats = [r for r in fn.results if r.type.is_float]
                dy = res[len(fn.results) + floats.index(out)]
                dy = b.reshape(dy, n_out) if y.type.ndim else b.reshape(b.pack(dy), n_out)
                b.effect("setitem", cols, dy, k, spec=("i",))
            b.append(ForRange(k, const(0), n_in, const(1), loop))
            rows = b.transpose(cols, axes=None)
            jac = b.reshape(rows, *(ydims + xdims)) if (ydims + xdims) else \
                b.getitem(rows, const(0), const(0), spec=("i", "i"))
    newfn = Function(fn.name + "_jac", list(fn.params), body, [jac], fn.loc, dict(fn.meta))
    return Compiled(newfn, jac)


__all__ = ["Signature", "grad_ir", "jacobian_ir", "jvp_ir", "vjp_ir"]
