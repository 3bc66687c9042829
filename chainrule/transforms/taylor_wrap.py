"""API-level Taylor transforms, each IR -> IR on a ``Compiled``: ``jet`` (series of derivatives
in, series of derivatives out), ``derivative`` (the k-th derivative of a function of one scalar,
one Taylor pass) and ``laplacian`` (the sum of second derivatives along the basis directions,
one Taylor pass of order 2 per direction in an IR loop).

The API speaks derivatives (JAX's ``jet`` convention: the k-th term is the k-th derivative
along the curve); :mod:`.taylor` works with normalised coefficients (divided by k!). The
conversion happens here, in the generated code.
"""

from __future__ import annotations

import math

from ..errors import NonDifferentiableError
from ..ir.builder import Builder, Names, const
from ..ir.compiled import Compiled, flatten, rebuild
from ..ir.inline import inline
from ..ir.nodes import Const, ForRange, Function, Var
from ..ir.types import I64
from .taylor import taylor_function
from .wrap import Signature, check_diff_arg


def _float_results(fn: Function) -> list:
    return [i for i, r in enumerate(fn.results) if r.type.is_float]


def _coefficient(tf: Function, fn: Function, result_index: int, k: int, K: int):
    """The k-th coefficient (1-based) of result ``result_index`` in a taylor_function's
    results."""
    pos = _float_results(fn).index(result_index)
    return tf.results[len(fn.results) + pos * K + (k - 1)]


def jet_ir(base: Compiled, sig: Signature, K: int, names: Names) -> tuple[Compiled, int]:
    """``(primals..., derivative terms 1..K of each float argument leaf...) ->
    (out, out's float leaves with K derivative terms each)``; also returns the number of float
    argument leaves (each takes K extra params)."""
    fn = base.fn
    arg_leaves = {x.name for t in sig.arg_templates for _, x in flatten(t) if isinstance(x, Var)}
    wrt = [p.type.is_float and p.name in arg_leaves for p in fn.params]
    b = Builder(names)
    body: list = []
    dparams, given = [], {}
    with b.nested(body):
        for p, w in zip(fn.params, wrt):
            if not w:
                continue
            terms = [b.new_var(f"{p.name}_d{k}", p.type) for k in range(1, K + 1)]
            dparams += terms
            given[p.name] = [t if k == 1 else b.mul(t, 1.0 / math.factorial(k))
                             for k, t in enumerate(terms, 1)]
    tf = taylor_function(fn, wrt, K, names, given=given)
    body += tf.body
    nres = len(fn.results)
    out_series = []
    with b.nested(body):
        for i, r in enumerate(fn.results):
            if not r.type.is_float:
                out_series.append([Const(0.0, r.type.with_dtype("float64"), True)] * K)
                continue
            terms = []
            for k in range(1, K + 1):
                c = _coefficient(tf, fn, i, k, K)
                terms.append(c if k == 1 else b.mul(c, float(math.factorial(k))))
            out_series.append(terms)
    primal_out = tf.results[:nres]
    leaves = list(primal_out) + [t for terms in out_series for t in terms]
    series_tmpl = rebuild(base.out_template, [list(terms) for terms in out_series])
    result = (rebuild(base.out_template, list(primal_out)), series_tmpl)
    newfn = Function(fn.name + "_jet", list(fn.params) + dparams, body, leaves, fn.loc,
                     dict(fn.meta))
    return Compiled(newfn, result), sum(wrt)


def _scalar_arg(sig: Signature, argnum: int, what: str) -> Var:
    leaves = check_diff_arg(sig, argnum, what)
    if len(leaves) != 1:
        raise NonDifferentiableError(f"{what} takes one float scalar or array per argument",
                                     hint="pass the values as one array")
    return leaves[0]


def _float_output_leaves(base: Compiled, what: str) -> list:
    leaves = [a for _, a in flatten(base.out_template)]
    for a in leaves:
        if not (hasattr(a, "type") and a.type.is_float):
            kind = a.type if hasattr(a, "type") else type(a).__name__
            raise NonDifferentiableError(f"{what} needs a function returning float values; "
                                         f"this one returns {kind}")
    return leaves


def derivative_ir(base: Compiled, sig: Signature, argnum: int, order: int, names: Names
                  ) -> Compiled:
    """The ``order``-th derivative w.r.t. one float scalar argument: one Taylor pass with the
    seed series ``[1, 0, ..., 0]``; the result has the structure of the output."""
    fn = base.fn
    x = _scalar_arg(sig, argnum, "derivative")
    if x.type.ndim != 0:
        raise NonDifferentiableError("derivative(f, order) differentiates with respect to a "
                                     "float scalar argument; this one is an array",
                                     hint="use jet for a direction in array space, or "
                                     "laplacian for sums of second derivatives")
    _float_output_leaves(base, "derivative")
    wrt = [p.name == x.name for p in fn.params]
    one = Const(1.0, x.type, True)
    tf = taylor_function(fn, wrt, order, names, given={x.name: [one] + [None] * (order - 1)})
    b = Builder(names)
    body = list(tf.body)
    outs = []
    with b.nested(body):
        for i in range(len(fn.results)):
            c = _coefficient(tf, fn, i, order, order)
            outs.append(c if order == 1 else b.mul(c, float(math.factorial(order))))
    newfn = Function(fn.name + f"_d{order}", list(fn.params), body, outs, fn.loc, dict(fn.meta))
    return Compiled(newfn, rebuild(base.out_template, list(outs)))


def laplacian_ir(base: Compiled, sig: Signature, argnum: int, names: Names) -> Compiled:
    """Sum over the basis directions e_i of the argument of the second derivative of the output
    along e_i (the Laplacian, for a scalar output): an IR loop of Taylor passes of order 2."""
    fn = base.fn
    x = _scalar_arg(sig, argnum, "laplacian")
    _float_output_leaves(base, "laplacian")
    wrt = [p.name == x.name for p in fn.params]
    b = Builder(names)
    body: list = []
    with b.nested(body):
        ys = inline(b, fn, list(fn.params))
        accs = []
        for y in ys:
            acc = b.new_var("lap", y.type)
            b.emit("id", Const(0.0, y.type, True) if y.type.ndim == 0 else b.zeros_like(y),
                   out=acc)
            accs.append(acc)
        n = b.size(x) if x.type.ndim else const(1)
        k = b.new_var("k", I64)
        loop: list = []
        with b.nested(loop):
            if x.type.ndim:
                e = b.zeros(n, dtype="float64")
                b.effect("setitem", e, const(1.0), k, spec=("i",))
                shape = [b.shape(x, axis=i) for i in range(x.type.ndim)]
                direction = b.reshape(e, *shape)
            else:
                direction = Const(1.0, x.type, True)
            tf = taylor_function(fn, wrt, 2, names, given={x.name: [direction, None]})
            res = inline(b, tf, list(fn.params))
            for i, acc in enumerate(accs):
                c2 = res[len(fn.results) + _float_results(fn).index(i) * 2 + 1]
                b.emit("add", acc, b.mul(c2, 2.0), out=acc)
        b.append(ForRange(k, const(0), n, const(1), loop))
    newfn = Function(fn.name + "_laplacian", list(fn.params), body, accs, fn.loc, dict(fn.meta))
    return Compiled(newfn, rebuild(base.out_template, list(accs)))


def jet_inline(b: Builder, fn: Function, args: list, terms: dict, K: int) -> tuple[list, list]:
    """Emit the jet of ``fn`` applied to ``args`` into ``b``'s block (a jet called inside
    compiled code). ``terms`` maps a float param's name to its K input derivatives (atoms of the
    caller, or None for a term known to be zero: it costs nothing). Returns the result atoms and,
    per result, its K output derivatives (float zeros for non-float results)."""
    wrt = [p.name in terms for p in fn.params]
    given = {}
    for p in fn.params:
        if p.name not in terms:
            continue
        coeffs = []
        for k, t in enumerate(terms[p.name], 1):
            if t is not None and t.type.ndim < p.type.ndim:
                t = b.add(b.zeros_like(args[fn.params.index(p)]), t)
            coeffs.append(t if t is None or k == 1 else b.mul(t, 1.0 / math.factorial(k)))
        given[p.name] = coeffs
    tf = taylor_function(fn, wrt, K, b.names, given=given)
    res = inline(b, tf, list(args), rename=False)
    nres = len(fn.results)
    series = []
    for i, r in enumerate(fn.results):
        if not r.type.is_float:
            series.append([Const(0.0, r.type.with_dtype("float64"), True)] * K)
            continue
        start = nres + _float_results(fn).index(i) * K
        series.append([c if k == 1 else b.mul(c, float(math.factorial(k)))
                       for k, c in enumerate(res[start:start + K], 1)])
    return res[:nres], series


__all__ = ["derivative_ir", "jet_inline", "jet_ir", "laplacian_ir"]


def is_elementwise(fn: Function, prims) -> bool:
    """True when ``fn`` is straight-line code of elementwise primitives over float arrays of one
    ndim (no reductions, indexing, shape changes or control flow), so that it can run one
    element at a time."""
    from ..ir.nodes import Assign

    if not fn.params or not all(p.type.is_float and p.type.ndim >= 1 for p in fn.params):
        return False
    ndim = fn.params[0].type.ndim
    if any(p.type.ndim != ndim for p in fn.params):
        return False
    for s in fn.body:
        if not isinstance(s, Assign) or s.prim not in prims:
            return False
        if s.out.type.ndim not in (0, ndim) or any(
                a.type.ndim not in (0, ndim) for a in s.args):
            return False
        if any(isinstance(a, Const) and a.type.ndim for a in s.args):
            return False
    return all(r.type.is_float and r.type.ndim == ndim for r in fn.results)


def elementwise_jet_ir(array_fn: Function, scalar_jet: Compiled, names: Names) -> Compiled:
    """The jet of an elementwise function over arrays as one compiled loop over the elements,
    running the scalar jet (``scalar_jet``: ``jet_ir`` of the function traced with scalars)
    per element: scalar code compiles much faster than array code, and the loop is fused."""
    sfn = scalar_jet.fn
    b = Builder(names)
    params = [Var(names.fresh(p.name), p.type.with_ndim(array_fn.params[0].type.ndim))
              for p in sfn.params]
    body: list = []
    with b.nested(body):
        x0 = params[0]
        dims = [b.shape(x0, axis=i) for i in range(x0.type.ndim)]
        n = b.size(x0)
        flat = [b.reshape(p, n) for p in params]
        # (every element is written by the loop; np.empty also compiles faster than np.zeros)
        outs = [b.empty(n, dtype=r.type.dtype) for r in sfn.results]
        i = b.new_var("i", I64)
        loop: list = []
        with b.nested(loop):
            elems = [b.getitem(p, i, spec=("i",)) for p in flat]
            res = inline(b, sfn, elems)
            for o, r in zip(outs, res):
                b.effect("setitem", o, r, i, spec=("i",))
        b.append(ForRange(i, const(0), n, const(1), loop))
        shaped = [b.reshape(o, *dims) for o in outs]
    newfn = Function(sfn.name + "_loop", params, body, shaped, sfn.loc, dict(sfn.meta))
    return Compiled(newfn, rebuild(scalar_jet.out_template, list(shaped)))
