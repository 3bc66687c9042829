"""Forward mode (JVP) as an IR -> IR transform.

``jvp_function(fn, wrt)`` returns a function taking ``(params..., tangents of the wrt params...)``
and returning ``(results..., tangents of the float results...)``. Each active variable ``x``
gets a tangent variable ``dx``; each statement is followed by its tangent statements built by
the primitive's JVP rule. Control flow keeps its structure: a loop stays one loop. Writes into
arrays write the tangent into the tangent array; tapes of floats get tangent tapes.
"""

from __future__ import annotations

from ..errors import MissingRuleError
from ..ir.builder import Builder, Names
from ..ir.nodes import Assign, Const, Effect, ForRange, Function, If, Var, While, walk
from .activity import active_vars, is_view


class _Forward:
    def __init__(self, fn: Function, wrt: list[bool], names: Names | None, prims):
        self.fn = fn
        self.prims = prims
        self.b = Builder(names or _names_of(fn), prims)
        seeds = [p for p, w in zip(fn.params, wrt) if w]
        self.active = active_vars(fn, seeds, prims)
        self.tan: dict[str, Var] = {}
        self.mutates = any(isinstance(s, Effect) and s.prim in ("setitem", "additem")
                           for s in walk(fn.body))

    def tangent_var(self, v: Var) -> Var:
        t = self.tan.get(v.name)
        if t is None:
            t = Var(self.b.names.fresh("d" + v.name), v.type)
            self.tan[v.name] = t
        return t

    def tangent_of(self, a) -> Var | None:
        if isinstance(a, Var) and a.name in self.active:
            return self.tangent_var(a)
        return None

    def zero_like(self, v):
        if v.type.ndim == 0:
            return Const(0.0, v.type.with_dtype(v.type.dtype), weak=True)
        return self.b.zeros_like(v)

    def set_tangent(self, v: Var, t) -> None:
        """Emit ``dv = t`` (renaming a just-built temporary instead of copying it)."""
        dv = self.tangent_var(v)
        blk = self.b.block
        if t is None:
            t = self.zero_like(v)
        if isinstance(t, Var) and blk and getattr(blk[-1], "out", None) is t and \
                t.name.startswith("t") and t.name[1:].isdigit():
            blk[-1].out = Var(dv.name, t.type)
            return
        if isinstance(t, Const) and v.type.ndim > 0:
            t = self.b.full_like(v, t)
        self.b.emit("id", t, out=dv)

    # -- statements ------------------------------------------------------------------------
    def block(self, stmts: list) -> list:
        out: list = []
        with self.b.nested(out):
            for s in stmts:
                self.stmt(s)
        return out

    def stmt(self, s) -> None:
        b = self.b
        b.loc = getattr(s, "loc", None)
        if isinstance(s, Assign):
            self.assign(s)
        elif isinstance(s, Effect):
            self.effect(s)
        elif isinstance(s, If):
            b.append(If(s.cond, self.block(s.then), self.block(s.orelse), s.loc))
        elif isinstance(s, While):
            b.append(While(self.block(s.cond_body), s.cond, self.block(s.body), s.loc))
        elif isinstance(s, ForRange):
            b.append(ForRange(s.var, s.start, s.stop, s.step, self.block(s.body), s.loc))
        else:
            raise TypeError(s)

    def assign(self, s: Assign) -> None:
        b = self.b
        if s.out.name not in self.active:
            b.append(s)
            return
        prim = self.prims[s.prim]
        if s.prim == "tape_new":
            b.append(s)
            b.emit("tape_new", out=self.tangent_var(s.out), **dict(s.params))
            return
        if s.prim == "tape_pop":
            b.append(s)
            b.emit("tape_pop", self.tangent_var(s.args[0]), out=self.tangent_var(s.out))
            return
        tans = [self.tangent_of(a) for a in s.args]
        if all(t is None for t in tans) or prim.nondiff:
            b.append(s)
            self.set_tangent(s.out, None)
            return
        if prim.jvp is None:
            raise MissingRuleError(f"primitive `{s.prim}` has no forward-mode (JVP) rule", s.loc)
        b.arg_active = tuple(t is not None for t in tans)
        overwrites = any(isinstance(a, Var) and a == s.out for a in s.args)
        if not overwrites:
            b.append(s)
            t = prim.jvp(b, list(s.args), tans, s.out, **dict(s.params))
            if self.mutates and s.out.type.ndim > 0 and s.prim != "id" and not is_view(s) and \
                    t is not None and any(t is x for x in tans):
                # a new array must not get its operand's tangent buffer (``c = 0.5 + a``
                # gives ``dc = da``): a write into one would change the other
                t = b.copy(t)
            self.set_tangent(s.out, t)
            return
        new = b.temp(s.out.type)
        b.append(Assign(new, s.prim, s.args, s.params, s.loc))
        t = prim.jvp(b, list(s.args), tans, new, **dict(s.params))
        b.emit("id", new, out=s.out)
        self.set_tangent(s.out, t)

    def effect(self, s: Effect) -> None:
        b = self.b
        b.append(s)
        target = s.args[0]
        if target.name not in self.active:
            return
        dt = self.tangent_var(target)
        if s.prim in ("setitem", "additem"):
            tv = self.tangent_of(s.args[1])
            if tv is None:
                if s.prim == "additem":
                    return
                tv = Const(0.0, target.type.with_ndim(0), weak=True)
            b.effect(s.prim, dt, tv, *s.args[2:], **dict(s.params))
        elif s.prim == "tape_push":
            tv = self.tangent_of(s.args[1])
            if tv is None:
                tv = self.zero_like(s.args[1])
            b.effect("tape_push", dt, tv)
        else:
            raise MissingRuleError(f"effect `{s.prim}` has no forward-mode rule", s.loc)

    def run(self, seeds: list) -> Function:
        fn = self.fn
        tparams = [self.tangent_var(p) for p in seeds if p.name in self.active]
        body: list = []
        with self.b.nested(body):
            # a param that becomes active by an in-place write (``arr[0] = x``) starts at zero
            for p in _active_non_seeds(fn, seeds, self.active):
                self.set_tangent(p, None)
        body += self.block(fn.body)
        with self.b.nested(body):
            tres = []
            for r in fn.results:
                if r.type.is_float:
                    t = self.tangent_of(r)
                    tres.append(t if t is not None else self.zero_like(r))
        tparams = [self.tangent_var(p) if p.name in self.active else
                   Var(self.b.names.fresh("d" + p.name), p.type) for p in seeds]
        return Function(fn.name + "_jvp", list(fn.params) + tparams, body,
                        list(fn.results) + tres, fn.loc, dict(fn.meta))


def _active_non_seeds(fn: Function, seeds: list, active: set) -> list:
    seed_names = {p.name for p in seeds}
    return [p for p in fn.params if p.name in active and p.name not in seed_names]


def _names_of(fn: Function) -> Names:
    from ..ir.nodes import block_writes

    taken = {p.name for p in fn.params} | {v.name for v in block_writes(fn.body)}
    return Names(taken)


def jvp_function(fn: Function, wrt: list[bool], names: Names | None = None, prims=None,
                 options: dict | None = None) -> Function:
    """Forward-mode derivative of ``fn`` w.r.t. the params flagged in ``wrt``.

    The new function's params are ``fn.params`` followed by one tangent per flagged param;
    its results are ``fn.results`` followed by one tangent per float result.
    """
    if prims is None:
        from ..rules import PRIMS

        prims = PRIMS
    fw = _Forward(fn, wrt, names, prims)
    fw.b.options = dict(options or {})
    return fw.run([p for p, w in zip(fn.params, wrt) if w])
