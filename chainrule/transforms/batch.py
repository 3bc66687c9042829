"""Batching (``vmap``) as an IR transform: a function of one example becomes a function of a
batch, by a loop over the batch around the example's code.

``batch_ir(base, in_axes, out_axes, names, where)`` takes the per-example function (compiled
for arguments without the batch axis) and returns one whose batched parameters carry an extra
axis. Its body:

* reads the batch size ``n`` from the first batched parameter and checks every other batched
  parameter against it (``check_batch_size``: a :class:`~chainrule.errors.BatchError` naming
  the user's file:line and both arguments);
* runs a ``ForRange`` over the examples; example ``i`` of a parameter is the view
  ``x[:, ..., i]`` (a copy when the example's code writes into that parameter, so the caller's
  batch is never changed); the example's code is inlined into the loop body;
* writes each batched result into an output array allocated in the first trip (its example
  shape is known only then), with the batch axis where ``out_axes`` puts it.

With a batch of size 0 the loop runs once on an example of zeros, to learn the output shapes,
and the outputs keep 0 rows. A result with ``out_axes=None`` must not depend on a batched
input (checked here by a dependence analysis); it is returned as computed.

Everything is ordinary IR (views, ``setitem``, a counted loop), so forward mode, reverse mode,
``jit`` and further batching apply to the result like to any other code.
"""

from __future__ import annotations

from typing import Any

from ..errors import BatchError
from ..ir.builder import Builder, Names, const
from ..ir.compiled import Compiled, flatten, rebuild
from ..ir.inline import _base as base_name
from ..ir.inline import inline
from ..ir.nodes import Assign, Const, Effect, ForRange, Function, If, Var, While, walk
from ..ir.types import I64
from ..ir.verify import verified
from .activity import alias_classes

_ALL = "s000"  # the index code of a full slice ``:``


@verified("vmap (batching)")
def batch_ir(base: Compiled, in_axes: dict, out_axes: list, names: Names, where: str,
             labels: dict) -> Compiled:
    """The batched version of ``base``. ``in_axes``: batched parameter name -> batch axis (of
    the batched array, >= 0); ``out_axes``: per result, the batch axis (>= 0) or None;
    ``labels``: parameter name -> how errors name the argument."""
    fn = base.fn
    b = Builder(names)
    params, batched = [], []
    for p in fn.params:
        if p.name in in_axes:
            v = Var(names.fresh(base_name(p.name) + "s"), p.type.with_ndim(p.type.ndim + 1))
            params.append(v)
            batched.append((p, v, in_axes[p.name]))
        else:
            params.append(p)
    if not batched:
        raise BatchError("vmap needs at least one batched argument (every in_axes entry is "
                         "None)", hint="give the batched argument's axis in in_axes")
    _check_unbatched_results(fn, [p for p, _, _ in batched], out_axes)
    body: list = []
    with b.nested(body):
        n = _batch_size(b, batched, where, labels)
        rows = b.new_var("rows", I64)  # at least one trip, to learn the output shapes
        b.append(If(b.gt(n, const(0)), [Assign(rows, "id", (n,))],
                    [Assign(rows, "id", (const(1),))]))
        sources = [_source(b, v, ax, n) for _, v, ax in batched]
        outs = [_placeholder(b, y, ax) for y, ax in zip(fn.results, out_axes)]
        i = b.new_var("i", I64)
        loop: list = []
        with b.nested(loop):
            writes = _written_params(fn)
            args = {p.name: _example(b, src, ax, i, p.name in writes)
                    for (p, _, ax), src in zip(batched, sources)}
            ys = inline(b, fn, [args.get(p.name, p) for p in fn.params])
            for y, ax, out in zip(ys, out_axes, outs):
                _store(b, out, y, ax, i, rows)
        b.append(ForRange(i, const(0), rows, const(1), loop))
        leaves = [b.getitem(out, n, spec=(_ALL,) * ax + ("s010",)) if ax is not None else out
                  for out, ax in zip(outs, out_axes)]
    mapping = {p.name: v for p, v, _ in batched}
    templates = [rebuild(t, [mapping.get(x.name, x) if isinstance(x, Var) else x
                             for _, x in flatten(t)]) for t in base.arg_templates]
    newfn = Function(fn.name + "_vmap", params, body, leaves, fn.loc, dict(fn.meta))
    return Compiled(newfn, rebuild(base.out_template, list(leaves)), templates)


def _batch_size(b: Builder, batched: list, where: str, labels: dict) -> Any:
    sizes = [b.shape(v, axis=ax) for _, v, ax in batched]
    first = labels.get(batched[0][0].name, "the first batched argument")
    for (p, _, _), m in zip(batched[1:], sizes[1:]):
        b.emit("check_batch_size", m, sizes[0], where=where, what=labels.get(p.name, p.name),
               first=first)
    return sizes[0]


def _source(b: Builder, v: Var, ax: int, n: Any) -> Var:
    """``v``, or (for a batch of size 0) zeros with one example along ``ax``."""
    src = b.new_var(f"{base_name(v.name)}_src", v.type)
    dims = [b.shape(v, axis=k) if k != ax else const(1) for k in range(v.type.ndim)]
    b.append(If(b.gt(n, const(0)), [Assign(src, "id", (v,))], []))
    with b.nested(b.block[-1].orelse):
        b.emit("zeros", *dims, dtype=v.type.dtype, out=src)
    return src


def _example(b: Builder, src: Var, ax: int, i: Var, copy: bool) -> Any:
    x = b.getitem(src, i, spec=(_ALL,) * ax + ("i",))
    return b.copy(x) if copy and x.type.ndim else x


def _placeholder(b: Builder, y: Any, ax: int | None) -> Var:
    """The variable a result is collected in, defined before the loop (the loop runs at least
    once and replaces it)."""
    nd = y.type.ndim + (ax is not None)
    out = b.new_var("out", y.type.with_ndim(nd))
    if nd:
        b.emit("zeros", *([const(0)] * nd), dtype=y.type.dtype, out=out)
    else:
        zero = 0.0 if y.type.is_float else (False if y.type.dtype == "bool" else 0)
        b.emit("id", Const(zero, y.type, True), out=out)
    return out


def _store(b: Builder, out: Var, y: Any, ax: int | None, i: Var, rows: Var) -> None:
    if ax is None:
        b.emit("id", y, out=out)
        return
    first: list = []
    with b.nested(first):
        dims = [b.shape(y, axis=k) for k in range(y.type.ndim)]
        dims.insert(ax, rows)
        b.emit("zeros", *dims, dtype=y.type.dtype, out=out)
    b.append(If(b.eq(i, const(0)), first, []))
    b.effect("setitem", out, y, i, spec=(_ALL,) * ax + ("i",))


def _written_params(fn: Function) -> set[str]:
    """Parameters the function writes into (directly or through a view)."""
    targets = {s.args[0].name for s in walk(fn.body)
               if isinstance(s, Effect) and s.prim in ("setitem", "additem")}
    for cls in alias_classes(fn):
        if cls & targets:
            targets |= cls
    return {p.name for p in fn.params if p.name in targets}


def _check_unbatched_results(fn: Function, batched: list, out_axes: list) -> None:
    if all(ax is not None for ax in out_axes):
        return
    dep = depends_on(fn, batched)
    for k, (y, ax) in enumerate(zip(fn.results, out_axes)):
        if ax is None and isinstance(y, Var) and y.name in dep:
            raise BatchError(f"vmap: out_axes is None for result {k}, but it depends on a "
                             "batched argument", hint="give it a batch axis in out_axes (0)")


def depends_on(fn: Function, seeds: list) -> set[str]:
    """Names of the variables whose value may depend on ``seeds`` (data and control
    dependence; writes through views reach their base)."""
    dep = {v.name for v in seeds}
    classes = alias_classes(fn)

    def hit(atoms) -> bool:
        return any(isinstance(a, Var) and a.name in dep for a in atoms)

    def mark(v: Any) -> bool:
        if isinstance(v, Var) and v.name not in dep:
            dep.add(v.name)
            return True
        return False

    def visit(block: list, ctl: bool) -> bool:
        changed = False
        for s in block:
            if isinstance(s, Assign):
                changed |= (ctl or hit(s.args)) and mark(s.out)
            elif isinstance(s, Effect):
                changed |= (ctl or hit(s.args[1:])) and mark(s.args[0])
            elif isinstance(s, If):
                inner = ctl or hit([s.cond])
                changed |= visit(s.then, inner) | visit(s.orelse, inner)
            elif isinstance(s, While):
                changed |= visit(s.cond_body, ctl)
                changed |= visit(s.body, ctl or hit([s.cond]))
            elif isinstance(s, ForRange):
                inner = ctl or hit([s.start, s.stop, s.step])
                changed |= inner and mark(s.var)
                changed |= visit(s.body, inner)
        for cls in classes:
            if dep & cls and not cls <= dep:
                dep.update(cls)
                changed = True
        return changed

    while visit(fn.body, False):
        pass
    return dep


__all__ = ["batch_ir", "depends_on"]
