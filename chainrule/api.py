"""The public API: ``grad``, ``value_and_grad``, ``jvp``, ``vjp``, ``jacfwd``, ``jacrev``,
``hessian``, ``jit``, ``show`` and ``show_ir``.

This module holds no AD logic. A :class:`Transformed` remembers which transform to apply to
which function and how (``build``: its IR from the front end's, by the IR transforms of
:mod:`chainrule.transforms.wrap`); compiling it (once per argument kinds: dtype and ndim of
each leaf) is :func:`chainrule.driver.compile`'s, as for ``jvp`` and ``vjp``. Transforms nest
(``grad(grad(f))``) by transforming transformed IR, and a transform called inside a compiled
function is inlined into it (``lower_call``). A transform created inline reuses the one held
on its function (:func:`transformed`).
"""

from __future__ import annotations

import functools
import inspect
import types
from typing import Any

import numpy as np

from . import driver, pytree
from .backend.executable import Executable
from .errors import ChainruleError, NonDifferentiableError, full_tracebacks, trimmed, user_facing
from .frontend.compile import Compiled, HiddenArgs, leaf_type, split_hidden
from .ir.builder import Names
from .ir.compiled import flatten, rebuild
from .ir.inline import inline
from .ir.nodes import Const, Var
from .ir.printer import format_function
from .passes import kinks as _kinks
from .passes.cleanup import simplify
from .passes.scalarize import SMALL
from .rules.registry import GENERATION
from .transforms import chains, jacobian, wrap
from .transforms.checkpoint import check_option as check_checkpoint


def _norm_argnums(argnums: Any) -> tuple[tuple, bool]:
    if isinstance(argnums, int):
        return (argnums,), False
    if isinstance(argnums, (tuple, list)) and all(isinstance(a, int) for a in argnums):
        return tuple(argnums), True
    raise TypeError("argnums must be an int or a tuple of ints")


def _fast_key(args: tuple | list) -> tuple | None:
    """A cheap key for calls whose arguments are scalars, arrays and plain tuples or lists of
    those (other pytrees: None). Nested tuples and lists are marked in the key, so their
    leaves are passed flat (see :func:`_flat_leaves`)."""
    key = []
    for a in args:
        t = type(a)
        if t is float or t is int or t is bool:
            key.append(t)
        elif t is np.ndarray:
            small = 0 < a.ndim <= 2 and a.shape[-1] <= SMALL  # (maybe compiled per size)
            key.append((a.dtype.char, a.ndim, a.shape[-1] if small else -1))
        elif t is tuple or t is list:
            inner = _fast_key(a)
            if inner is None:
                return None
            key.append((t, inner))
        else:
            return None
    return tuple(key)


def _flat_leaves(args: tuple | list, out: list) -> list:
    """The leaves of plain tuples and lists of scalars and arrays, in the front end's order."""
    for a in args:
        if type(a) is tuple or type(a) is list:
            _flat_leaves(a, out)
        else:
            out.append(a)
    return out


# The transforms with a ``kinks`` option (the Jacobian transforms copy the code they run once
# per basis vector, so its statements are not found again; they have none).
_KINKS_KINDS = ("grad", "value_and_grad", "jit")


class Transformed:
    """A function with a transform attached; compiled lazily per argument kinds."""

    __chainrule_transform__ = True

    def __init__(self, kind: str, fn: Any, argnums: Any = 0, has_aux: bool = False,
                 backend: str | None = None, kinks: str | None = None,
                 checkpoint: Any = False):
        if not callable(fn) and not hasattr(fn, "node"):
            raise TypeError(f"{kind} expects a callable, got {type(fn).__name__}")
        self.kind = kind
        self.fn = fn
        self.argnums, self.argnums_tuple = _norm_argnums(argnums)
        self.has_aux = has_aux
        self.backend = backend
        # Kink reporting (passes/kinks.py): None, "warn", "raise" or "count"; ``kinks_hit`` holds
        # the sites the latest call reached. A transform of a reporting function reports too.
        if kinks is None and isinstance(fn, Transformed) and kind in _KINKS_KINDS:
            kinks = fn.kinks
        self.kinks = _kinks.check_mode(kinks)
        self.kinks_hit: list = []
        # Checkpointing of long loops in reverse mode (transforms/checkpoint.py).
        self.checkpoint = check_checkpoint(checkpoint)
        self.__wrapped_fn__ = fn
        # A bound method's object is read at every call (a hidden parameter, not differentiated).
        self.receiver = _receiver_of(fn)
        self._cache: dict = {}
        self._fast: dict = {}  # cheap key (types of flat arguments) -> Executable
        name = getattr(fn, "__name__", "f")
        self.__name__ = f"{kind}({name})"
        self.__doc__ = getattr(fn, "__doc__", None)

    def __repr__(self) -> str:
        return f"<chainrule {self.__name__}>"

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        """A transform decorating a method: the object is its first argument (argnums 0), as
        for a plain function."""
        return self if obj is None else types.MethodType(self, obj)

    # -- IR ----------------------------------------------------------------------------------
    def build(self, args: tuple, names: Names, deps: Any = None) -> Compiled:
        depth, inner = chains.grad_levels(self)
        k = self.argnums[0]
        if chains.over_gradient(depth, inner) and 0 <= k < len(args) and \
                isinstance(args[k], (float, np.floating)):
            # (k grad levels of a scalar: the k-th derivative, one Taylor pass)
            out = chains.taylor_pass(driver.build_ir(inner, args, names, deps), k, depth, names)
            if out is not None:
                out.fn = simplify(out.fn, names)
                return out
        base = driver.build_ir(self.fn, args, names, deps)
        return self.apply(base, names)

    def build_top(self, args: tuple, names: Names, deps: Any = None) -> Compiled:
        """``build`` for the function that is called (not nested in another transform): the
        place where the ``kinks`` option applies."""
        if self.kinks is None:
            return self.build(args, names, deps)
        return _kinks.build(self, args, names, deps)

    def apply(self, base: Compiled, names: Names) -> Compiled:
        sig = wrap.Signature(base.arg_templates)
        for k in self.argnums:
            if self.kind != "jit" and not (0 <= k < len(sig.arg_templates)):
                raise NonDifferentiableError(
                    f"argnums {k} is out of range for {len(sig.arg_templates)} positional "
                    "arguments", hint="arguments passed by keyword are not differentiated; "
                    "pass the argument positionally to differentiate it")
        kind = self.kind
        if kind == "jit":
            out = base
        elif kind == "grad" and self._chains_apply():
            # (a grad of a scalar derivative w.r.t. the same scalar: one Taylor pass)
            out = chains.extend(base, self.argnums[0], names) or \
                chains.forward_over(base, self.argnums[0], names)
            if out is None:
                out = wrap.grad_ir(base, sig, self.argnums, False, names, with_value=False,
                                   as_tuple=False, checkpoint=self.checkpoint)
                out.derivative_of = chains.start(base, self.argnums[0])
        elif kind in ("grad", "value_and_grad"):
            out = wrap.grad_ir(base, sig, self.argnums, self.has_aux, names,
                               with_value=kind == "value_and_grad", as_tuple=self.argnums_tuple,
                               checkpoint=self.checkpoint)
        elif kind in ("jacfwd", "jacrev"):
            out = jacobian.jacobian_ir(base, sig, self.argnums, kind[3:], names, self.argnums_tuple)
        elif kind == "jvp":
            out, _ = wrap.jvp_ir(base, sig, names)
        elif getattr(self, "plugin_rule", None) is not None:  # chainrule.plugins
            out = self.plugin_rule(base, names)
            if not isinstance(out, Compiled):
                raise ChainruleError(f"the transform {kind!r} returned "
                                     f"{type(out).__name__}, not a Compiled record",
                                     hint="see docs/plugins.md")
        elif kind == "hessian":
            inner = jacobian.jacobian_ir(base, sig, self.argnums, "rev", names, self.argnums_tuple)
            inner.arg_templates = base.arg_templates
            out = jacobian.jacobian_ir(inner, sig, self.argnums, "fwd", names, self.argnums_tuple)
        else:
            raise ValueError(kind)
        out.arg_templates = base.arg_templates
        if _kinks.collecting() is None:  # (kink instrumentation cleans up once, at the end)
            out.fn = simplify(out.fn, names)
        return out

    def _chains_apply(self) -> bool:
        """Whether derivative chains (transforms/chains.py) may stand for this ``grad``."""
        return not self.has_aux and not self.argnums_tuple and self.kinks is None and \
            _kinks.collecting() is None

    # -- running -----------------------------------------------------------------------------
    def executable(self, args: tuple) -> Executable:
        return driver.compile("transform", self, args)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            if kwargs or self.receiver is not None:
                receiver = () if self.receiver is None else (self.receiver,)
                args = (HiddenArgs(receiver, dict(sorted(kwargs.items()))),) + args
                return self.executable(args)(args)
            key = _fast_key(args)
            if key is not None:
                exe = self._fast.get(key)
                if exe is not None:
                    if any(type(k) is tuple and k and (k[0] is tuple or k[0] is list)
                           for k in key):
                        return exe.call_simple(tuple(_flat_leaves(args, [])))
                    return exe.call_simple(args)
            exe = self.executable(args)
            result = exe(args)
            if key is not None:
                self._fast[key] = exe
            return result
        except ChainruleError as exc:  # the user's frames and the message, not our internals
            if full_tracebacks():
                raise
            raise trimmed(exc) from exc.__cause__

    def lower_call(self, lw: Any, args: list, kwargs: dict, node: Any, extra: list = ()) -> Any:
        """Inline this transform applied to ``args`` into the function being compiled
        (``extra``: values for the parameters the transform adds, e.g. tangents)."""
        from .custom import subfunction

        b = lw.b
        out = None
        depth, inner = chains.grad_levels(self)
        k = self.argnums[0]
        if depth and not extra and not kwargs and _kinks.collecting() is None and \
                0 <= k < len(args) and _float_scalar(args[k]):
            # (k grad levels of a scalar: the k-th derivative as one Taylor pass; k = 1 is
            # forward mode, so an outer grad runs reverse over forward code, not over tapes)
            sub, templates, out_template, free = subfunction(lw, inner, args, node, "inner")
            out = chains.taylor_pass(Compiled(sub, out_template, templates), k, depth, b.names)
        if out is None:
            sub, templates, out_template, free = subfunction(lw, self.fn, args, node, "inner",
                                                             kwargs)
            out = self.apply(Compiled(sub, out_template, templates), b.names)
        block, leaves = sub.body, sub.results
        actual = [x for a in args for _, x in flatten(a)]
        res = inline(b, out.fn, actual + free + list(extra), rename=False)
        if self.kind != "jit":
            chains.note_derived(b.names, res)
        if out.derivative_of is not None and len(res) == 1:
            bound = dict(zip([p.name for p in out.fn.params], actual + free + list(extra)))
            chains.note(b.names, res[0], out.derivative_of, bound)
        if _kinks.collecting() is not None:
            _kinks.mark_inlined(out.fn.body, b.block[len(b.block) - len(out.fn.body):], block,
                                leaves)
        return rebuild(out.out_template, res)


def _float_scalar(v: Any) -> bool:
    return hasattr(v, "type") and v.type.is_float and v.type.ndim == 0


# -- public functions ------------------------------------------------------------------------
_MEMO = "__chainrule_transforms__"


def transformed(cls: type, kind: str, fun: Any, *args: Any, **kwargs: Any) -> Transformed:
    """One transform object per (function, transform, options), kept on the function: a
    transform created inline (``cr.grad(loss)(w)`` in a training loop) reuses the compiled code
    of the previous one instead of looking it up again. Only plain functions and transforms
    hold one (a bound method or a partial is a new object at each access). A change of the
    primitive table (``register_primitive``, a record's rules) or of the settings read at
    compile time makes a new one."""
    if not isinstance(fun, (types.FunctionType, Transformed)):
        return cls(kind, fun, *args, **kwargs)
    # (with the types: 0 == False and 1 == True, but checkpoint=1 is not checkpoint=True)
    values = args + tuple(kwargs.values()) if kwargs else args
    options = (cls, kind, tuple(kwargs), values, tuple(map(type, values)), GENERATION[0],
               driver.settings(), jacobian.BATCH, jacobian.HOIST)
    stateless = _stateless(fun)
    if stateless:  # a lambda made anew at each step: the same code is the same function
        memo = _BY_CODE.get(fun.__code__)
        if memo is None:
            memo = _BY_CODE[fun.__code__] = {}
        key = options
    else:
        memo = fun.__dict__.get(_MEMO) or fun.__dict__.setdefault(_MEMO, {})
        key = (id(fun),) + options
    try:
        t = memo.get(key)
    except TypeError:  # e.g. argnums given as a list
        return cls(kind, fun, *args, **kwargs)
    # (functools.wraps copies __dict__ to a wrapper)
    if t is None or (t.fn.__globals__ is not fun.__globals__ if stateless else t.fn is not fun):
        t = memo[key] = cls(kind, fun, *args, **kwargs)
    return t


# code object -> {options: transform}. A plain dict: an entry's transform holds a function of
# that code, so a weak key would live as long anyway.
_BY_CODE: dict = {}


def _stateless(fun: Any) -> bool:
    """A function that is nothing but its code and globals (no closure, defaults or attributes),
    so every function object made from its code behaves the same."""
    if not isinstance(fun, types.FunctionType) or fun.__closure__ is not None or \
            fun.__defaults__ or fun.__kwdefaults__:
        return False
    attrs = fun.__dict__
    return not attrs or (len(attrs) == 1 and _MEMO in attrs)


def grad(fun: Any, argnums: Any = 0, has_aux: bool = False,
         backend: str | None = None, kinks: str | None = None,
         checkpoint: Any = False) -> Transformed:
    """Gradient of a scalar-valued ``fun`` w.r.t. ``argnums`` (same structure as the args).

    ``kinks="warn" | "raise" | "count"`` reports calls that reach a non-differentiable point
    of the user's code (docs/nonsmooth.md, "Kink reporting"); None (default) costs nothing.
    ``checkpoint=False`` (default), ``"auto"`` or an int segment length: checkpointing of
    long loops (docs/checkpointing.md)."""
    return transformed(Transformed, "grad", fun, argnums, has_aux, backend=backend, kinks=kinks,
                       checkpoint=checkpoint)


def value_and_grad(fun: Any, argnums: Any = 0, has_aux: bool = False,
                   backend: str | None = None, kinks: str | None = None,
                   checkpoint: Any = False) -> Transformed:
    """``(fun(*args), grad(fun)(*args))`` computed together (``kinks``, ``checkpoint``: as
    for ``grad``)."""
    return transformed(Transformed, "value_and_grad", fun, argnums, has_aux, backend=backend,
                       kinks=kinks, checkpoint=checkpoint)


def jit(fun: Any, backend: str | None = None, kinks: str | None = None) -> Transformed:
    """The compiled primal function (``kinks``: as for ``grad``)."""
    return transformed(Transformed, "jit", fun, backend=backend, kinks=kinks)


def jacfwd(fun: Any, argnums: Any = 0, backend: str | None = None) -> Transformed:
    """Jacobian by forward mode (one JVP per input element); shape ``out.shape + in.shape``.
    Pytree outputs/inputs and a tuple ``argnums`` nest as in JAX: output structure outside,
    input structure (a tuple over ``argnums``) inside."""
    return transformed(Transformed, "jacfwd", fun, argnums, backend=backend)


def jacrev(fun: Any, argnums: Any = 0, backend: str | None = None) -> Transformed:
    """Jacobian by reverse mode (one VJP per output element); layout as for :func:`jacfwd`."""
    return transformed(Transformed, "jacrev", fun, argnums, backend=backend)


def hessian(fun: Any, argnums: Any = 0, backend: str | None = None) -> Transformed:
    """Hessian of a scalar function: ``jacfwd(jacrev(fun))``; with a tuple ``argnums``,
    ``H[i][j]`` is the block for arguments ``argnums[i]`` and ``argnums[j]``."""
    return transformed(Transformed, "hessian", fun, argnums, backend=backend)


TRANSFORMS = (grad, value_and_grad, jit, jacfwd, jacrev, hessian)


def _compiled_mode(kind: str, fun: Any, args: tuple, backend: str | None,
                   kinks: str | None) -> Executable:
    """The compiled ``jvp``/``vjp`` of ``fun`` (``exe.primal``: its argument and result
    structures)."""
    options: dict = {"backend": backend}
    # (a bound method is made at each attribute access; its object is a hidden argument)
    if _receiver_of(fun) is not None and isinstance(fun, types.MethodType):
        options["holder"] = fun.__func__
    if kinks is None and isinstance(fun, Transformed):
        kinks = fun.kinks  # a transform of a reporting function reports too
    if kinks is not None:
        options["kinks"] = _kinks.check_mode(kinks)
    return driver.compile(kind, fun, args, options)


def _float_leaves(template: Any, values: Any, results: bool = False) -> list:
    """Values of ``values`` at the positions of ``template``'s float leaves (for a result
    template, constant results count too: the reverse sweep takes a cotangent for each)."""
    t_leaves = flatten(template)
    v_leaves = _value_leaves(values)
    if len(t_leaves) != len(v_leaves):
        raise TypeError("tangent/cotangent structure does not match the primal structure")
    out = []
    for (_, t), v in zip(t_leaves, v_leaves):
        if (isinstance(t, Var) or (results and isinstance(t, Const))) and t.type.is_float:
            out.append(np.array(v, dtype=np.float64, copy=True) if np.ndim(v) else float(v))
    return out


def _value_leaves(x: Any) -> list:
    return [v for _, v in pytree.leaves(x, lambda v: leaf_type(v) is not None)]


def _copy_arrays(x: Any) -> Any:
    return pytree.map_tree(lambda v, _: v.copy() if isinstance(v, np.ndarray) else v, x)


def _receiver_of(fn: Any) -> Any:
    """The object a bound method (possibly under other transforms) is bound to, or None."""
    if isinstance(fn, Transformed):
        return fn.receiver
    if isinstance(fn, types.MethodType) and not isinstance(fn.__self__, type) and \
            isinstance(fn.__func__, (types.FunctionType, Transformed)):
        return fn.__self__
    if pytree.is_object(fn) and isinstance(inspect.getattr_static(type(fn), "__call__", None),
                                           types.FunctionType):
        return fn  # an object with a __call__ method: the same as its bound __call__
    return None


def _with_receiver(fun: Any, primals: tuple) -> tuple:
    receiver = _receiver_of(fun)
    if receiver is None:
        return primals
    return (HiddenArgs((receiver,), {}),) + primals


@user_facing
def jvp(fun: Any, primals: tuple, tangents: tuple, backend: str | None = None,
        kinks: str | None = None) -> tuple:
    """Forward mode: ``(fun(*primals), J @ tangents)``. ``kinks``: as for ``grad``; the sites
    a call reached are also given by :func:`last_kinks`."""
    primals, tangents = _with_receiver(fun, tuple(primals)), tuple(tangents)
    exe = _compiled_mode("jvp", fun, primals, backend, kinks)
    flat = exe.leaves(primals)
    tan = _float_leaves(list(exe.primal.arg_templates), list(tangents))
    return exe.run_flat(flat + tan)


@user_facing
def vjp(fun: Any, *primals: Any, backend: str | None = None, kinks: str | None = None
        ) -> tuple:
    """Reverse mode: ``(fun(*primals), vjp_fn)`` with ``vjp_fn(ct)`` giving a tuple of
    cotangents, one per primal. ``kinks``: as for ``grad``, reported when ``vjp_fn`` runs
    (it evaluates ``fun`` again with the reverse sweep); see also :func:`last_kinks`."""
    primals = _with_receiver(fun, primals)
    exe = _compiled_mode("vjp", fun, primals, backend, kinks)
    flat = exe.leaves(primals)
    base = exe.primal
    # The primal output, computed on copies: vjp, like grad, never changes the caller's arrays.
    copies = tuple(_copy_arrays(p) for p in split_hidden(primals)[1])
    out = jit(fun, backend)(*copies) if not isinstance(fun, Transformed) else fun(*copies)

    def vjp_fn(ct: Any) -> tuple:
        cts = _float_leaves(base.out_template, ct, results=True)
        _, grads = exe.run_flat(flat + cts)
        return grads

    return out, vjp_fn


def _compiled_for(fun: Any, args: tuple) -> Compiled:
    """The IR of ``fun`` for ``args`` (rebuilt when the code came from the disk cache)."""
    fun = fun if isinstance(fun, Transformed) else jit(fun)
    return driver.ir_of(fun, _with_receiver(fun, args))


def last_kinks() -> list:
    """The non-differentiable points the latest call with a ``kinks`` option reached: a list of
    ``(loc, primitive, kind, count)`` records (``Transformed.kinks_hit`` holds the same per
    function)."""
    return _kinks.last_kinks()


@user_facing
def show(fun: Any, *args: Any) -> str:
    """The generated Python source of ``fun`` (usually a transformed function) for ``args``."""
    fun = fun if isinstance(fun, Transformed) else jit(fun)
    return fun.executable(_with_receiver(fun, args)).source


@user_facing
def show_ir(fun: Any, *args: Any) -> str:
    """The IR of ``fun`` (after transforms and clean-up) for ``args``, as text."""
    return format_function(_compiled_for(fun, args).fn)


__all__ = [
    "Transformed",
    "functools",
    "grad",
    "hessian",
    "jacfwd",
    "jacrev",
    "jit",
    "jvp",
    "last_kinks",
    "show",
    "show_ir",
    "value_and_grad",
    "vjp",
]
