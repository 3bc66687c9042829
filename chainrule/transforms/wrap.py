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
from ..ir.inline import inline
from ..ir.nodes import Assign, Const, ForRange, Function, If, Var
from ..ir.types import I64, Type
from ..ir.verify import verified
from .forward import jvp_function
from .hoist import hoist_invariants, written_params
from .reverse import vjp_function


# Move the direction-independent statements of a Jacobian's loop in front of it
# (transforms/hoist.py); False only to measure the loop without it.
HOIST = True


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
    wrt_leaves = [leaf for k in argnums for leaf in _check_diff_arg(sig, k, "gradient")]
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


@verified("jacobian")
def jacobian_ir(base: Compiled, sig: Signature, argnums: tuple, mode: str, names: Names,
                as_tuple: bool = False) -> Compiled:
    """Jacobian of a function w.r.t. the arguments ``argnums``, built as IR loops over basis
    vectors (one JVP per input element, or one VJP per output element). Outputs and inputs may
    be pytrees; as in JAX, the result has the output's structure outside and, at each output
    leaf, the input's structure (a tuple over ``argnums`` when ``as_tuple``) inside, each block
    of shape ``out_leaf.shape + in_leaf.shape``.

    Cost: no evaluation of the function just for its output shapes. Forward mode learns them
    from the first direction's tangents (with an input of size 0, one pass with a zero tangent);
    reverse mode needs them before its seeds only for array outputs, and a scalar output takes
    one VJP with the seed 1, outside any loop (so ``hessian``'s inner Jacobian is a gradient)."""
    fn = base.fn
    out = base.out_template
    out_leaves = flatten(out)
    if not out_leaves:
        raise NonDifferentiableError("jacfwd/jacrev need a function returning float scalars "
                                     "or arrays", hint="return arrays")
    for path, y in out_leaves:
        if not y.type.is_float:
            where = f" at `{path[1:]}`" if path else ""
            raise NonDifferentiableError(f"jacfwd/jacrev: the output{where} is a {y.type} "
                                         "value; only float outputs can be differentiated",
                                         hint="return float values (or drop that output)")
    xs = [leaf for k in argnums for leaf in _check_diff_arg(sig, k, "Jacobian")]
    b = Builder(names)
    body: list = []
    loops: list = []  # (direction loop, runs at least once)
    with b.nested(body):
        xdims = [[b.shape(x, axis=a) for a in range(x.type.ndim)] for x in xs]
        n_in = [b.size(x) if x.type.ndim else const(1) for x in xs]
        blocks: dict = {}
        if mode == "rev":
            need_shapes = any(y.type.ndim for y in fn.results)
            ys = inline(b, fn, _params(b, fn)) if need_shapes else fn.results
            ydims = [[b.shape(y, axis=a) for a in range(y.type.ndim)] for y in ys]
            for i, y in enumerate(ys):
                n_out = b.size(y) if y.type.ndim else None
                _jac_rows(b, fn, xs, i, n_in, n_out, xdims, ydims, names, blocks, loops)
        else:
            ydims = [[b.new_var("ydim", I64) for _ in range(y.type.ndim)] for y in fn.results]
            for d in ydims:
                for v in d:
                    b.emit("id", const(0), out=v)
            for j in range(len(xs)):
                _jac_cols(b, fn, xs, j, n_in[j], xdims, ydims, names, blocks, loops)
    n_leaves = [len(sig.leaves_of(k)) for k in argnums]

    def block_tree(i: int) -> Any:
        per_arg, start = [], 0
        for k, n in zip(argnums, n_leaves):
            jacs = [blocks[i, j] for j in range(start, start + n)]
            per_arg.append(rebuild(sig.arg_templates[k], jacs))
            start += n
        return tuple(per_arg) if as_tuple else per_arg[0]

    result = rebuild(out, [block_tree(i) for i in range(len(fn.results))])
    leaves = [a for _, a in flatten(result)]
    newfn = Function(fn.name + "_jac", list(fn.params), body, leaves, fn.loc, dict(fn.meta))
    if HOIST:
        hoist_invariants(newfn, loops, b.prims)
    return Compiled(newfn, rebuild(result, list(leaves)))


def _params(b: Builder, fn: Function) -> list:
    """The arguments of one inlined call of ``fn``: its params, with a fresh copy of each array
    that ``fn`` writes into (each direction must see the caller's values, not the writes of the
    previous directions)."""
    written = written_params(fn)
    return [b.copy(p) if p.name in written else p for p in fn.params]


def _basis(b: Builder, n: Any, k: Any, dims: list, guard: bool = False) -> Any:
    """The k-th unit vector of length n, shaped ``dims`` (a scalar when dims is empty); with
    ``guard``, zeros when k >= n."""
    if not dims:
        return const(1.0)
    e = b.zeros(n, dtype="float64")
    if guard:
        write: list = []
        with b.nested(write):
            b.effect("setitem", e, const(1.0), k, spec=("i",))
        b.append(If(b.lt(k, n), write, []))
    else:
        b.effect("setitem", e, const(1.0), k, spec=("i",))
    return b.reshape(e, *dims)


def _flat(b: Builder, v: Any, n: Any) -> Any:
    return b.reshape(v, n) if v.type.ndim else b.reshape(b.pack(v), n)


def _block(b: Builder, mat: Any, dims: list) -> Any:
    return b.reshape(mat, *dims) if dims else b.getitem(mat, const(0), const(0),
                                                        spec=("i", "i"))


def _jac_rows(b, fn, xs, i, n_in, n_out_i, xdims, ydims, names, blocks, loops) -> None:
    """Reverse mode: one VJP per element of output leaf ``i`` fills row blocks (i, j); a
    scalar output (``n_out_i`` None) takes one VJP, whose cotangents are the blocks."""
    wrt = [any(p.name == x.name for x in xs) for p in fn.params]
    order = [p.name for p, w in zip(fn.params, wrt) if w]
    deriv = vjp_function(fn, wrt, names, diff_results=[r == i for r in range(len(fn.results))])
    if n_out_i is None:
        res = inline(b, deriv, _params(b, fn) + [const(1.0)])
        for j, x in enumerate(xs):
            blocks[i, j] = res[len(fn.results) + order.index(x.name)]
        return
    rows = [b.zeros(n_out_i, n, dtype="float64") for n in n_in]
    k = b.new_var("k", I64)
    loop: list = []
    with b.nested(loop):
        res = inline(b, deriv, _params(b, fn) + [_basis(b, n_out_i, k, ydims[i])])
        for j, x in enumerate(xs):
            g = res[len(fn.results) + order.index(x.name)]
            b.effect("setitem", rows[j], _flat(b, g, n_in[j]), k, spec=("i",))
    trips = ForRange(k, const(0), n_out_i, const(1), loop)
    b.append(If(b.gt(n_out_i, const(0)), [trips], []))  # (so code moved in front of it
    loops.append((trips, True))  # runs only where the loop would have run)
    for j in range(len(xs)):
        blocks[i, j] = _block(b, rows[j], ydims[i] + xdims[j])


def _jac_cols(b, fn, xs, j, n_in_j, xdims, ydims, names, blocks, loops) -> None:
    """Forward mode: one JVP per element of input leaf ``j`` fills column blocks (i, j). The
    first trip allocates the columns and records the output shapes ``ydims``; an input of
    size 0 still runs one trip (with a zero tangent) to learn them."""
    deriv = jvp_function(fn, [p.name == xs[j].name for p in fn.params], names)
    float_pos = [sum(r.type.is_float for r in fn.results[:i]) for i in range(len(fn.results))]
    scalar = not xdims[j]
    trips = n_in_j if scalar else b.new_var("trips", I64)
    if not scalar:  # (at least one trip)
        b.append(If(b.gt(n_in_j, const(0)), [Assign(trips, "id", (n_in_j,))],
                    [Assign(trips, "id", (const(1),))]))
    cols = [b.new_var("cols", Type("float64", 2)) for _ in fn.results]
    for c in cols:
        b.emit("zeros", const(0), const(0), dtype="float64", out=c)
    k = const(0) if scalar else b.new_var("k", I64)
    loop: list = []
    with b.nested(loop):
        res = inline(b, deriv, _params(b, fn) + [_basis(b, n_in_j, k, xdims[j], guard=True)])
        for i, c in enumerate(cols):
            dy = res[len(fn.results) + float_pos[i]]
            first: list = []
            with b.nested(first):
                for a, v in enumerate(ydims[i]):
                    b.emit("shape", dy, axis=a, out=v)
                n_out = b.size(dy) if dy.type.ndim else const(1)
                b.emit("zeros", trips, n_out, dtype="float64", out=c)
            if scalar:
                b.block.extend(first)
            else:
                b.append(If(b.eq(k, const(0)), first, []))
            b.effect("setitem", c, _flat(b, dy, b.shape(c, axis=1)), k, spec=("i",))
    if scalar:
        b.block.extend(loop)
    else:
        b.append(ForRange(k, const(0), trips, const(1), loop))
        loops.append((b.block[-1], True))
    for i, c in enumerate(cols):
        cols_j = c if scalar else b.getitem(c, n_in_j, spec=("s010",))
        blocks[i, j] = _block(b, b.transpose(cols_j, axes=None), ydims[i] + xdims[j])


__all__ = ["Signature", "grad_ir", "jacobian_ir", "jvp_ir", "vjp_ir"]
