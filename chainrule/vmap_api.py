"""Public ``vmap``: map a function over a batch axis of its arguments (docs/vmap.md).

``vmap(f, in_axes=0, out_axes=0)`` follows JAX's signature and semantics: ``in_axes`` is an int,
None, or a tuple (or list) with one entry per positional argument, each an int, None or a
container matching that argument's structure (a pytree prefix); ``out_axes`` likewise for the
result. Negative axes count from the end of the batched array. The function is compiled once
for one example (the arguments without their batch axis) and wrapped in a loop over the batch by
:mod:`chainrule.transforms.batch`. A :class:`VmapTransformed` composes with every other
transform (``grad(vmap(f))``, ``vmap(grad(f))``, ``jit(vmap(f))``, ``vmap(vmap(f))``) and can be
called inside compiled code. No AD logic here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import driver, pytree
from .api import Transformed
from .errors import BatchError
from .frontend.compile import HiddenArgs, split_hidden
from .ir.builder import Names
from .ir.compiled import Compiled, flatten, leaf_type, rebuild
from .ir.inline import inline
from .ir.nodes import Var
from .passes import specialize
from .passes.cleanup import simplify
from .passes.scalarize import SMALL
from .transforms.batch import batch_ir


def _is_axis(spec: Any) -> bool:
    return spec is None or (isinstance(spec, (int, np.integer)) and not isinstance(spec, bool))


def _check_spec(spec: Any, what: str, depth: int = 0) -> None:
    if _is_axis(spec):
        return
    if depth > pytree.MAX_DEPTH or pytree.node_kind(spec) is None:
        raise BatchError(f"vmap: {what} entries must be ints, None, or containers of them; "
                         f"got {spec!r}", hint="e.g. in_axes=(0, None) for two arguments")
    for _, child in pytree.items(spec):
        _check_spec(child, what, depth + 1)


def map_axes(value: Any, spec: Any, is_leaf: Any, leaf_fn: Any, what: str,
             path: str = "") -> Any:
    """``value`` with ``leaf_fn(leaf, axis, path)`` applied to each leaf (``is_leaf``), the
    axis coming from ``spec``, a pytree prefix of ``value`` whose leaves are ints or None."""
    if _is_axis(spec):
        return pytree.replace_leaves(
            value, is_leaf, [leaf_fn(x, spec, p) for p, x in pytree.leaves(value, is_leaf, path)])
    kind = pytree.node_kind(spec)
    keys = [k for k, _ in pytree.items(spec)]
    if pytree.node_kind(value) != kind or [k for k, _ in pytree.items(value)] != keys:
        where = f" at `{path[1:]}`" if path else ""
        raise BatchError(f"vmap: the {what} structure {spec!r} does not match the value"
                         f"{where}", hint=f"give one {what} entry per item, or one int for all")
    children = [map_axes(v, s, is_leaf, leaf_fn, what, f"{path}_{k}")
                for (k, v), (_, s) in zip(pytree.items(value), pytree.items(spec))]
    return pytree.with_children(value, children)


def _normalize(axis: int, ndim: int, what: str) -> int:
    if not -ndim <= axis < ndim:
        raise BatchError(f"vmap: {what} has axis {axis}, out of range for its {ndim} "
                         "dimensions (batch axis included)",
                         hint="axes count from 0 (or from -1 at the end)")
    return axis % ndim


def _label(path: str, k: int, names: list) -> str:
    name = names[k] if k < len(names) else f"a{k}"
    return f"argument {k} (`{name}{path.replace('_', '.', 1) if path else ''}`)"


def _example_value(x: Any, axis: int | None, label: str) -> Any:
    """A value of the kind one example of ``x`` has (without the batch axis; sizes are larger
    than scalarize's SMALL so that the example code stays size-generic)."""
    if axis is None:
        return x
    if not isinstance(x, np.ndarray) or x.ndim == 0:
        raise BatchError(f"vmap: in_axes maps {label} over axis {axis}, but it is a scalar",
                         hint="give it in_axes None (not batched) or pass an array")
    _normalize(axis, x.ndim, label)
    if x.ndim == 1:
        return x.dtype.type(0) if x.dtype == np.float32 else \
            {"f": 0.0, "b": False}.get(x.dtype.kind, 0)
    return np.zeros((SMALL + 1,) * (x.ndim - 1), dtype=x.dtype)


class VmapTransformed(Transformed):
    """``vmap(fn, in_axes, out_axes)``; compiled per argument kinds like every transform."""

    owns_sizes = True  # (size specialisation is decided per batched function: passes/specialize)

    def __init__(self, fn: Any, in_axes: Any = 0, out_axes: Any = 0,
                 backend: str | None = None):
        super().__init__("vmap", fn, backend=backend)
        if isinstance(in_axes, list):
            in_axes = tuple(in_axes)
        _check_spec(in_axes, "in_axes")
        _check_spec(out_axes, "out_axes")
        self.in_axes, self.out_axes = in_axes, out_axes
        self.cache_params = {"in_axes": in_axes, "out_axes": out_axes}
        self.__name__ = f"vmap({getattr(fn, '__name__', 'f')})"

    def _arg_specs(self, n: int) -> tuple:
        if isinstance(self.in_axes, tuple):
            if len(self.in_axes) != n:
                raise BatchError(f"vmap: in_axes has {len(self.in_axes)} entries for {n} "
                                 "positional arguments", hint="give one entry per argument")
            return self.in_axes
        return (self.in_axes,) * n

    def build(self, args: tuple, names: Names, deps: Any = None) -> Compiled:
        from .frontend.compile import parameter_names

        hidden, positional = split_hidden(args)
        _no_keywords(hidden)
        arg_names = parameter_names(self.fn, len(positional))
        examples = []
        for k, (a, spec) in enumerate(zip(positional, self._arg_specs(len(positional)))):
            examples.append(map_axes(
                a, spec, lambda v: leaf_type(v) is not None,
                lambda x, ax, p, k=k: _example_value(x, ax, _label(p, k, arg_names)),
                "in_axes"))
        lead = (hidden,) if hidden is not None else ()
        base = driver.build_ir(self.fn, lead + tuple(examples), names, deps)
        specialize.record(self, args, ())  # (the batched function is size-generic)
        out = self.batch(base, names, _where(self.fn), arg_names)
        out.fn = simplify(out.fn)
        return out

    def batch(self, base: Compiled, names: Names, where: str, arg_names: list) -> Compiled:
        """The batched function of the per-example ``base``."""
        in_axes, labels = {}, {}
        specs = self._arg_specs(len(base.arg_templates))
        for k, (tmpl, spec) in enumerate(zip(base.arg_templates, specs)):
            def note(x: Any, ax: Any, p: str, k: int = k) -> Any:
                if ax is not None and isinstance(x, Var):
                    label = _label(p, k, arg_names)
                    in_axes[x.name] = _normalize(ax, x.type.ndim + 1, label)
                    labels[x.name] = label
                return x

            map_axes(tmpl, spec, lambda v: hasattr(v, "type"), note, "in_axes")
        out_axes: list = []

        def note_out(y: Any, ax: Any, p: str) -> Any:
            what = f"result `{p[1:]}`" if p else "the result"
            out_axes.append(None if ax is None else _normalize(ax, y.type.ndim + 1, what))
            return y

        map_axes(base.out_template, self.out_axes, lambda v: hasattr(v, "type"), note_out,
                 "out_axes")
        return batch_ir(base, in_axes, out_axes, names, where, labels)

    def lower_call(self, lw: Any, args: list, kwargs: dict, node: Any, extra: list = ()) -> Any:
        """``vmap(f)(xs)`` inside compiled code: ``f`` is compiled for one example of the
        batched values, batched, and inlined."""
        from .custom import subfunction

        if kwargs:
            raise BatchError("vmap: keyword arguments of a vmapped function are not "
                             "supported", lw.b.loc, "pass them positionally")
        b = lw.b
        examples = []
        for k, (a, spec) in enumerate(zip(args, self._arg_specs(len(args)))):
            def example(x: Any, ax: Any, p: str, k: int = k) -> Any:
                if ax is None:
                    return x
                label = _label(p, k, [])
                if x.type.ndim == 0:
                    raise BatchError(f"vmap: in_axes maps {label} over axis {ax}, but it is a "
                                     "scalar", b.loc, "give it in_axes None or pass an array")
                return Var(b.names.fresh("example"), x.type.with_ndim(x.type.ndim - 1))

            examples.append(map_axes(a, spec, lambda v: hasattr(v, "type"), example,
                                     "in_axes"))
        sub, templates, out_template, free = subfunction(lw, self.fn, examples, node, "inner")
        base = Compiled(sub, out_template, templates)
        out = self.batch(base, b.names, str(b.loc), [])
        actual = [x for a in args for _, x in flatten(a)]
        res = inline(b, out.fn, actual + free, rename=True)
        return rebuild(out.out_template, res)


def _no_keywords(hidden: HiddenArgs | None) -> None:
    if hidden is not None and hidden.keywords:
        raise BatchError("vmap: keyword arguments of a vmapped function are not supported "
                         f"(got {', '.join(hidden.keywords)})", hint="pass them positionally")


def _where(fn: Any) -> str:
    """file:line of the Python function under the transforms (for run-time errors)."""
    while getattr(fn, "__chainrule_transform__", False):
        fn = fn.fn
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    return f"{code.co_filename}:{code.co_firstlineno}" if code is not None else "<vmap>"


def vmap(fun: Any, in_axes: Any = 0, out_axes: Any = 0, backend: str | None = None
         ) -> VmapTransformed:
    """Map ``fun`` over a batch axis: ``vmap(f)(xs)[i] == f(xs[i])``. ``in_axes`` gives the
    batch axis of each positional argument (an int, None for an argument shared by all
    examples, or a container matching the argument's structure); ``out_axes`` where the batch
    axis goes in each result (None: a result that does not depend on the batch). All batched
    arguments must have one batch size (else :class:`~chainrule.errors.BatchError`)."""
    return VmapTransformed(fun, in_axes, out_axes, backend)


vmap.__chainrule_transform_factory__ = True  # (``vmap(f)`` written inside compiled code)

__all__ = ["VmapTransformed", "map_axes", "vmap"]
