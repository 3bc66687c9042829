"""Jacobians (``jacfwd``, ``jacrev``, and ``hessian`` as forward over reverse), IR -> IR.

One block of the Jacobian per (output leaf, input leaf). Each is built in one of two ways:

* **Batched** (the default): the derivative code runs once with all basis directions at
  once, its tangent (``jacfwd``) or cotangent (``jacrev``) parameter carrying a leading batch
  axis (``transforms/batch_axis.py``) seeded with the identity matrix. What does not depend on
  the direction (the primal, the forward sweep) is computed once, and the matrix-vector
  products of the tangent code become matrix products.
* **A loop over directions** where the derivative code cannot carry a batch axis
  (``batch_axis.Unbatchable``: a tape of tangents, a branch on one, scalar code in loops):
  one JVP or VJP per direction, with the direction-independent statements moved in front of
  the loop (``transforms/hoist.py``).

Both give the same values; docs/vmap.md ("Jacobians") says which code takes which way and
what each costs.
"""

from __future__ import annotations

from typing import Any

from ..errors import NonDifferentiableError
from ..ir.builder import Builder, Names, const
from ..ir.compiled import Compiled, flatten, rebuild
from ..ir.inline import inline
from ..ir.nodes import Assign, ForRange, Function, If
from ..ir.types import I64, Type
from ..ir.verify import verified
from .batch_axis import Unbatchable, batch_function
from .forward import jvp_function
from .hoist import hoist_invariants, written_params
from .reverse import vjp_function
from .wrap import Signature, check_diff_arg

# All directions through one batched sweep where the derivative code allows it; False only to
# measure the loop over directions.
BATCH = True
# Move the direction-independent statements of a Jacobian's loop in front of it
# (transforms/hoist.py); False only to measure the loop without it.
HOIST = True


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
    xs = [leaf for k in argnums for leaf in check_diff_arg(sig, k, "Jacobian")]
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
                if not (BATCH and n_out is not None and
                        _jac_rows_batched(b, fn, xs, i, n_in, n_out, xdims, ydims, names,
                                          blocks)):
                    _jac_rows(b, fn, xs, i, n_in, n_out, xdims, ydims, names, blocks, loops)
        else:
            ydims = [[b.new_var("ydim", I64) for _ in range(y.type.ndim)] for y in fn.results]
            for d in ydims:
                for v in d:
                    b.emit("id", const(0), out=v)
            for j in range(len(xs)):
                if not (BATCH and _jac_cols_batched(b, fn, xs, j, n_in[j], xdims, ydims, names,
                                                    blocks)):
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


def _sweep(b: Builder, fn: Function, deriv: Function, names: Names, n: Any,
           dims: list) -> tuple[list, list, Any] | None:
    """``deriv`` (a JVP or VJP of ``fn``) inlined once with a batch axis on its last parameter
    (the direction), seeded with the ``n`` basis directions shaped ``dims``: its results, which
    of them are batched, and the batch size. None when ``deriv`` cannot carry the axis or its
    primal results would depend on the direction."""
    try:
        bfn, flags = batch_function(deriv, [False] * (len(deriv.params) - 1) + [True], names)
    except Unbatchable:
        return None
    if any(flags[:len(fn.results)]):
        return None
    seeds, rows = _identity(b, n, dims)
    return inline(b, bfn, _params(b, fn) + [seeds]), flags, rows


def _identity(b: Builder, n: Any, dims: list) -> tuple[Any, Any]:
    """The ``max(n, 1)`` basis directions of a space of ``n`` elements shaped ``dims``, as rows
    (one row of zeros when ``n`` is 0, so that the batch is never empty), and their count."""
    rows = b.new_var("nb", I64)
    b.append(If(b.gt(n, const(0)), [Assign(rows, "id", (n,))],
                [Assign(rows, "id", (const(1),))]))
    eye = b.getitem(b.eye(rows), n, spec=("s000", "s010"))
    return b.reshape(eye, rows, *dims), rows


def _jac_cols_batched(b, fn, xs, j, n_in_j, xdims, ydims, names, blocks) -> bool:
    """Forward mode, all directions of input leaf ``j`` at once: one batched JVP."""
    deriv = jvp_function(fn, [p.name == xs[j].name for p in fn.params], names)
    swept = _sweep(b, fn, deriv, names, n_in_j, xdims[j])
    if swept is None:
        return False
    res, flags, rows = swept
    nres = len(fn.results)
    float_pos = [sum(r.type.is_float for r in fn.results[:i]) for i in range(nres)]
    for i in range(nres):
        y, k = res[i], nres + float_pos[i]
        for a, v in enumerate(ydims[i]):
            b.emit("shape", y, axis=a, out=v)
        n_out = b.size(y) if y.type.ndim else const(1)
        if flags[k]:
            tan = b.getitem(b.reshape(res[k], rows, n_out), n_in_j, spec=("s010",))
            cols = b.transpose(tan, axes=None)
        else:  # (a tangent that does not depend on the direction is zero)
            cols = b.zeros(n_out, n_in_j, dtype="float64")
        blocks[i, j] = _block(b, cols, ydims[i] + xdims[j])
    return True


def _jac_rows_batched(b, fn, xs, i, n_in, n_out_i, xdims, ydims, names, blocks) -> bool:
    """Reverse mode, all directions of output leaf ``i`` at once: one batched VJP."""
    wrt = [any(p.name == x.name for x in xs) for p in fn.params]
    order = [p.name for p, w in zip(fn.params, wrt) if w]
    deriv = vjp_function(fn, wrt, names, diff_results=[r == i for r in range(len(fn.results))])
    swept = _sweep(b, fn, deriv, names, n_out_i, ydims[i])
    if swept is None:
        return False
    res, flags, rows = swept
    nres = len(fn.results)
    for j, x in enumerate(xs):
        k = nres + order.index(x.name)
        if flags[k]:
            mat = b.getitem(b.reshape(res[k], rows, n_in[j]), n_out_i, spec=("s010",))
        else:  # (a cotangent that does not depend on the direction is zero)
            mat = b.zeros(n_out_i, n_in[j], dtype="float64")
        blocks[i, j] = _block(b, mat, ydims[i] + xdims[j])
    return True


__all__ = ["BATCH", "HOIST", "jacobian_ir"]
