"""User-defined derivative rules: ``custom_jvp``, ``custom_vjp`` and ``register_primitive``.

``@custom_jvp`` / ``@custom_vjp`` wrap a function whose derivative the user supplies::

    @chainrule.custom_jvp
    def f(x): ...
    @f.defjvp
    def f_jvp(primals, tangents): ...        # -> (f(*primals), J @ tangents)

    @chainrule.custom_vjp
    def g(x): ...
    def g_fwd(x): ...                         # -> (g(x), residuals)
    def g_bwd(residuals, ct): ...             # -> tuple of cotangents, one per argument
    g.defvjp(g_fwd, g_bwd)

Inside compiled code a call becomes one ``custom_call`` primitive whose parameters hold the
compiled primal (emitted inline by the code generator) and the compiled rule. Its JVP inlines
the user's JVP; its VJP is the reverse-mode transform of that JVP with respect to the tangents
(the JVP is linear in them), or, for ``custom_vjp``, the user's ``fwd`` then ``bwd``. The rule
code is ordinary IR, so higher derivatives differentiate it in turn. A custom function returns
one float scalar or array; values it closes over are constants for its rule.

``register_primitive`` adds a new primitive (a :class:`~chainrule.rules.registry.Primitive`
record with type rule, emission, JVP and VJP written with the IR builder) to the table and maps
a Python callable to it, so user code calling that callable compiles to the primitive.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from .errors import ChainruleError, MissingRuleError, NonDifferentiableError
from .ir.builder import Names
from .ir.inline import inline
from .ir.nodes import Const, Function, Var, block_reads, block_writes
from .ir.types import Type
from .rules.registry import GENERATION


class custom_jvp:
    """A function with a user-supplied forward-mode rule (see the module docstring)."""

    __chainrule_custom__ = True

    def __init__(self, fun: Any):
        self.fun = fun
        self.jvp: Any = None
        functools.update_wrapper(self, fun)

    def defjvp(self, jvp: Any) -> Any:
        self.jvp = jvp
        GENERATION[0] += 1  # code compiled with the old rule is not reused
        return jvp

    def __call__(self, *args: Any) -> Any:
        return self.fun(*args)

    def lower_call(self, lw: Any, args: list, kwargs: dict, node: Any) -> Any:
        if self in _active(lw):  # the rule calls the function itself: its plain value
            return lw.call(self.fun, args, kwargs, node)
        if self.jvp is None:
            raise MissingRuleError(f"custom_jvp function `{self.__name__}` has no rule",
                                   lw.b.loc, "decorate the rule with @f.defjvp")
        return _lower(lw, self, args, kwargs, node)


class custom_vjp:
    """A function with a user-supplied reverse-mode rule (see the module docstring)."""

    __chainrule_custom__ = True

    def __init__(self, fun: Any):
        self.fun = fun
        self.fwd: Any = None
        self.bwd: Any = None
        functools.update_wrapper(self, fun)

    def defvjp(self, fwd: Any, bwd: Any) -> None:
        self.fwd, self.bwd = fwd, bwd
        GENERATION[0] += 1

    def __call__(self, *args: Any) -> Any:
        return self.fun(*args)

    def lower_call(self, lw: Any, args: list, kwargs: dict, node: Any) -> Any:
        if self in _active(lw):
            return lw.call(self.fun, args, kwargs, node)
        if self.fwd is None:
            raise MissingRuleError(f"custom_vjp function `{self.__name__}` has no rule",
                                   lw.b.loc, "call f.defvjp(fwd, bwd)")
        return _lower(lw, self, args, kwargs, node)


@dataclass(eq=False)
class CustomSpec:
    """The compiled pieces of one custom function at one set of argument kinds."""

    name: str
    kind: str  # "jvp" or "vjp"
    primal: Function  # params: argument leaves + free values; results: [out]
    n_args: int  # how many params are argument leaves (the rest are free values)
    rule: Function  # jvp: (leaves, tangents, free) -> [tout]; vjp fwd: (leaves, free) -> ...
    bwd: Function | None = None  # vjp: (residuals, ct, free) -> cotangents per leaf
    n_res: int = 0
    cache: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<custom_{self.kind} {self.name}>"


def subfunction(lw: Any, fun: Any, args: list, node: Any, name: str,
                kwargs: dict | None = None) -> tuple:
    """Compile ``fun(*args)`` into a separate Function with fresh parameters for the atom
    leaves of ``args``; values of the enclosing code it reads become extra parameters.
    Returns (Function, templates, result template, free values)."""
    from .ir.compiled import flatten, rebuild

    b = lw.b
    params: list[Var] = []

    def fresh(v: Any) -> Any:
        if hasattr(v, "type"):
            p = Var(b.names.fresh("arg"), v.type)
            params.append(p)
            return p
        return v

    templates = [rebuild(a, [fresh(x) for _, x in flatten(a)]) for a in args]
    block: list = []
    with b.nested(block):
        result = lw.call(fun, list(templates), dict(kwargs or {}), node)
    leaves = [x for _, x in flatten(result)]
    defined = {v.name for v in block_writes(block)} | {p.name for p in params}
    free = [v for v in block_reads(block) if v.name not in defined]
    free += [x for x in leaves if isinstance(x, Var) and x.name not in defined
             and all(x.name != f.name for f in free)]
    fn = Function(name, params + free, block, leaves)
    return fn, templates, rebuild(result, list(leaves)), free


def _single_output(spec_name: str, out: Any, loc: Any) -> Any:
    if not (hasattr(out, "type") and out.type.is_float):
        raise ChainruleError(f"custom function `{spec_name}` must return one float scalar or "
                             "array", loc, "return a single array (stack several results)")
    return out


def _active(lw: Any) -> list:
    if not hasattr(lw, "custom_stack"):
        lw.custom_stack = []
    return lw.custom_stack


def _lower(lw: Any, custom: Any, args: list, kwargs: dict, node: Any) -> Any:
    stack = _active(lw)
    stack.append(custom)
    try:
        return _lower_inner(lw, custom, args, kwargs, node)
    finally:
        stack.pop()


def _lower_inner(lw: Any, custom: Any, args: list, kwargs: dict, node: Any) -> Any:
    from .ir.compiled import flatten

    if kwargs:
        raise ChainruleError("keyword arguments to a custom-rule function are not supported",
                             lw.b.loc, "pass them positionally")
    name = getattr(custom, "__name__", "custom")
    leaves = [x for a in args for _, x in flatten(a)]
    primal, templates, out, free = subfunction(lw, custom.fun, args, node, name)
    _single_output(name, out, lw.b.loc)
    n = len(primal.params) - len(free)
    if isinstance(custom, custom_jvp):
        tangents = [Var(lw.b.names.fresh("dt"), leaf.type) if hasattr(leaf, "type") else leaf
                    for leaf in leaves]
        rule_fn, _, rule_out, rule_free = subfunction(
            lw, custom.jvp, [tuple(_pack(templates)), tuple(_rebuild_like(args, tangents))],
            node, name + "_jvp")
        if not (isinstance(rule_out, tuple) and len(rule_out) == 2):
            raise ChainruleError(f"the JVP rule of `{name}` must return (out, tangent_out)",
                                 lw.b.loc)
        tout = _single_output(name, rule_out[1], lw.b.loc)
        rule = Function(name + "_jvp", rule_fn.params, rule_fn.body, [tout])
        spec = CustomSpec(name, "jvp", primal, n, rule)
        extra = rule_free
    else:
        fwd_fn, _, fwd_out, fwd_free = subfunction(lw, custom.fwd, list(args), node,
                                                   name + "_fwd")
        if not (isinstance(fwd_out, tuple) and len(fwd_out) == 2):
            raise ChainruleError(f"the fwd rule of `{name}` must return (out, residuals)",
                                 lw.b.loc)
        res = fwd_out[1]
        res_leaves = [x for _, x in flatten(res)]
        fwd = Function(name + "_fwd", fwd_fn.params, fwd_fn.body, res_leaves)
        ct = Var(lw.b.names.fresh("ct"), out.type)
        bwd_fn, _, bwd_out, bwd_free = subfunction(lw, custom.bwd, [res, ct], node,
                                                   name + "_bwd")
        cots = list(bwd_out) if isinstance(bwd_out, (tuple, list)) else [bwd_out]
        if len(cots) != len(args):
            raise ChainruleError(f"the bwd rule of `{name}` must return one cotangent per "
                                 f"argument ({len(args)}), got {len(cots)}", lw.b.loc)
        cot_leaves = [x for c in cots for _, x in flatten(c)]
        bwd = Function(name + "_bwd", bwd_fn.params, bwd_fn.body, cot_leaves)
        spec = CustomSpec(name, "vjp", primal, n, fwd, bwd, len(res_leaves))
        extra = fwd_free + bwd_free
    spec.cache["extra"] = len(extra)
    spec.cache["n_free"] = len(free)
    return lw.b.emit("custom_call", *leaves, *free, *extra, spec=spec)


def _pack(templates: list) -> list:
    return list(templates)


def _rebuild_like(args: list, leaves: list) -> list:
    from .ir.compiled import rebuild

    pool = list(leaves)
    return [rebuild(a, pool) for a in args]


# -- the primitive ----------------------------------------------------------------------------
def _custom_type(types: list, spec: CustomSpec, **_) -> Type:
    return spec.primal.results[0].type


def _custom_emit(srcs: list, spec: CustomSpec, **_) -> str:
    raise ChainruleError("internal: custom_call is emitted inline by the code generator")


def _zero(b: Any, x: Any) -> Any:
    return Const(0.0, Type("float64"), True) if x.type.ndim == 0 else b.zeros_like(x)


def _custom_jvp(b: Any, args: list, tans: list, out: Var, spec: CustomSpec, **_) -> Any:
    n, nf = spec.n_args, spec.cache["n_free"]
    leaves, extra = args[:n], args[n + nf:]
    if spec.kind == "vjp":
        raise MissingRuleError(f"`{spec.name}` has a custom_vjp rule, which gives reverse mode "
                               "only", b.loc, "define it with custom_jvp to use forward mode")
    tl = [t if t is not None else _zero(b, x) for x, t in zip(leaves, tans[:n])]
    return inline(b, spec.rule, list(leaves) + tl + list(extra))[0]


def _custom_vjp(b: Any, args: list, out: Var, g: Any, spec: CustomSpec, **_) -> list:
    n, nf = spec.n_args, spec.cache["n_free"]
    leaves, extra = args[:n], args[n + nf:]
    if spec.kind == "jvp":
        key = "transposed"
        if key not in spec.cache:
            from .transforms.reverse import vjp_function

            k = len(spec.rule.params)
            wrt = [n <= i < 2 * n for i in range(k)]
            spec.cache[key] = vjp_function(spec.rule, wrt, Names(_all_names(spec.rule)))
        tzeros = [_zero(b, x) for x in leaves]
        res = inline(b, spec.cache[key], list(leaves) + tzeros + list(extra) + [g])
        cots = res[1:]
    else:
        n_fwd_free = len(spec.rule.params) - n
        res_vals = inline(b, spec.rule, list(leaves) + list(extra[:n_fwd_free]))
        cots = inline(b, spec.bwd, res_vals + [g] + list(extra[n_fwd_free:]))
    return list(cots) + [None] * (len(args) - len(cots))


def _all_names(fn: Function) -> set:
    return {p.name for p in fn.params} | {v.name for v in block_writes(fn.body)} | \
        {v.name for v in block_reads(fn.body)}


def custom_primitive():
    from .rules.registry import Primitive
    from .rules.taylor import first_order_only

    return Primitive("custom_call", _custom_type, _custom_emit, _custom_jvp, _custom_vjp,
                     internal=True, inline="spec",
                     doc="a call of a custom_jvp / custom_vjp function (emitted inline)",
                     taylor=first_order_only(
                         _custom_jvp, "custom_call",
                         "a custom_jvp/custom_vjp rule gives first derivatives only; for Taylor "
                         "mode of higher order call the plain function instead"))


def _install_custom_call() -> None:
    from .rules import PRIMS

    if "custom_call" not in PRIMS:
        PRIMS.add(custom_primitive())


_install_custom_call()


def register_primitive(prim: Any, function: Any = None, namespace: dict | None = None) -> Any:
    """Add ``prim`` to the primitive table. With ``function``, calls of that Python callable in
    compiled code become ``prim``; ``namespace`` supplies globals its emitted source uses."""
    from .backend import codegen
    from .frontend import numpy_api
    from .rules import PRIMS

    prim.user = True
    if prim.taylor is None and prim.jvp is not None:
        from .rules.taylor import first_order_only

        prim.taylor = first_order_only(prim.jvp, prim.name,
                                       "give the primitive a Taylor rule (Primitive(taylor=...), "
                                       "see docs/taylor.md) for higher orders")
    PRIMS.add(prim)
    if namespace:
        codegen.EXTRA_GLOBALS.update(namespace)
    if function is not None:
        def handler(lw: Any, args: list, kwargs: dict, node: Any) -> Any:
            if lw.deps is not None:
                lw.deps.record_primitive(prim)
            params = {k: getattr(v, "value", v) for k, v in kwargs.items()}
            return lw.b.emit(prim.name, *[lw.as_atom(a) for a in args], **params)

        numpy_api.register_handler(function, handler)
    return prim


__all__ = ["custom_jvp", "custom_vjp", "register_primitive", "NonDifferentiableError"]
