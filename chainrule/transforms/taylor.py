"""Taylor mode as an IR -> IR transform: truncated Taylor series of order K through a function.

``taylor_function(fn, wrt, K)`` returns a function taking ``(params..., coefficients 1..K of
each wrt param...)`` and returning ``(results..., coefficients 1..K of each float result...)``.
Coefficients are *normalised* (``x(t) = x0 + x1 t + ... + xK t^K``); the API converts from and
to derivatives at its boundary. Each statement is followed by the statements its primitive's
``taylor`` rule builds (rules/taylor.py); control flow keeps its structure, so a loop stays one
loop, and in-place writes write each coefficient into its own coefficient array.

Zero coefficients are tracked statically where that is sound: a variable assigned exactly once
(and never written in place) keeps the list its rule returned, with None for coefficients known
to be zero (a seed ``[1, 0, 0, ...]`` makes ``exp(x)`` cost O(K), not O(K^2)). Variables
assigned more than once get K named coefficient variables, zero-filled when a rule gives None.
"""

from __future__ import annotations

from ..errors import MissingRuleError
from ..ir.builder import Builder, Names
from ..ir.nodes import Assign, Const, Effect, Function, Var, walk
from .activity import active_vars
from .forward import _active_non_seeds, _Forward, _names_of


def _write_counts(fn: Function) -> dict:
    counts: dict = {p.name: 1 for p in fn.params}
    for s in walk(fn.body):
        if isinstance(s, Assign):
            counts[s.out.name] = counts.get(s.out.name, 0) + 1
        elif isinstance(s, Effect):
            counts[s.args[0].name] = 2  # written in place: its coefficients are, too
    return counts


class _Taylor(_Forward):
    """Reuses forward mode's walk over statements and control flow; own assign/effect."""

    def __init__(self, fn: Function, wrt: list[bool], K: int, names: Names | None, prims):
        self.fn, self.K, self.prims = fn, K, prims
        self.b = Builder(names or _names_of(fn), prims)
        seeds = [p for p, w in zip(fn.params, wrt) if w]
        self.active = active_vars(fn, seeds, prims)
        self.once = {n for n, c in _write_counts(fn).items() if c == 1}
        self.series: dict[str, list] = {}  # single-assignment variables: their coefficients
        self.named: dict[str, list] = {}  # the others: K coefficient variables each

    # -- coefficients ------------------------------------------------------------------------
    def named_coeffs(self, v: Var) -> list:
        cs = self.named.get(v.name)
        if cs is None:
            cs = [Var(self.b.names.fresh(f"{v.name}_c{k}"), v.type) for k in range(1, self.K + 1)]
            self.named[v.name] = cs
        return cs

    def series_of(self, a) -> list | None:
        if not (isinstance(a, Var) and a.name in self.active):
            return None
        if a.name in self.once:
            return self.series.get(a.name)  # (None before its assignment: zero)
        return self.named_coeffs(a)

    def set_series(self, v: Var, coeffs, fresh: set) -> None:
        """Bind the coefficients a rule returned (None: all zero) to ``v``."""
        b = self.b
        coeffs = list(coeffs) if coeffs is not None else [None] * self.K
        if len(coeffs) != self.K:
            raise MissingRuleError(f"internal: a Taylor rule gave {len(coeffs)} coefficients, "
                                   f"not {self.K}", b.loc)
        if v.name in self.once:
            out = []
            for c in coeffs:
                if c is None:
                    out.append(None)
                    continue
                c = b.atom(c)
                if isinstance(c, Const) and v.type.ndim > 0:
                    c = b.full_like(v, c)
                elif isinstance(c, Var) and c.name not in fresh:
                    c = b.emit("id", c)  # a copy: the source may be assigned again later
                out.append(c)
            self.series[v.name] = out
            return
        for cv, c in zip(self.named_coeffs(v), coeffs):
            if c is None:
                c = self.zero_like(v)
            elif isinstance(c, Const) and v.type.ndim > 0:
                c = b.full_like(v, c)
            b.emit("id", c, out=cv)

    def assign(self, s: Assign) -> None:
        b = self.b
        if s.out.name not in self.active:
            b.append(s)
            return
        if s.prim == "tape_new":
            b.append(s)
            for cv in self.named_coeffs(s.out):
                b.emit("tape_new", out=cv, **dict(s.params))
            return
        if s.prim == "tape_pop":
            b.append(s)
            start = len(b.block)
            pops = [b.tape_pop(t) for t in self.named_coeffs(s.args[0])]
            self.set_series(s.out, pops, self._fresh_since(start))
            return
        prim = self.prims[s.prim]
        series = [self.series_of(a) for a in s.args]
        if prim.nondiff or all(c is None for c in series):
            b.append(s)
            self.set_series(s.out, None, set())
            return
        rule = prim.taylor
        if rule is None and self.K == 1 and prim.jvp is not None:
            from ..rules.taylor import coefficientwise

            rule = coefficientwise(prim.jvp)
        if rule is None:
            raise MissingRuleError(f"primitive `{s.prim}` has no Taylor-mode rule", s.loc)
        overwrites = any(isinstance(a, Var) and a == s.out for a in s.args)
        out = b.temp(s.out.type) if overwrites else s.out
        b.append(Assign(out, s.prim, s.args, s.params, s.loc))
        start = len(b.block)
        b.arg_active = tuple(c is not None for c in series)
        coeffs = rule(b, list(s.args), series, out, **dict(s.params))
        fresh = self._fresh_since(start)
        if overwrites:
            b.emit("id", out, out=s.out)
        self.set_series(s.out, coeffs, fresh)

    def _fresh_since(self, start: int) -> set:
        return {st.out.name for st in self.b.block[start:] if isinstance(st, Assign)}

    def effect(self, s: Effect) -> None:
        b = self.b
        b.append(s)
        target = s.args[0]
        if target.name not in self.active:
            return
        if s.prim not in ("setitem", "additem", "tape_push"):
            raise MissingRuleError(f"effect `{s.prim}` has no Taylor-mode rule", s.loc)
        src = self.series_of(s.args[1]) or [None] * self.K
        for cv, c in zip(self.named_coeffs(target), src):
            if c is None and s.prim == "additem":
                continue  # adds zero
            if c is None and s.prim == "setitem":
                c = Const(0.0, target.type.with_ndim(0), weak=True)
            elif c is None:
                c = self.zero_like(s.args[1])
            b.effect(s.prim, cv, c, *s.args[2:], **dict(s.params))

    # -- the function ----------------------------------------------------------------------
    def run(self, seeds: list, given: dict) -> Function:
        fn, b = self.fn, self.b
        body: list = []
        cparams = []
        with b.nested(body):
            for p in seeds:
                if p.name in given:
                    coeffs = given[p.name]
                else:
                    coeffs = [Var(b.names.fresh(f"{p.name}_c{k}"), p.type)
                              for k in range(1, self.K + 1)]
                    cparams += coeffs
                if p.name in self.active:
                    self.set_series(p, coeffs, {c.name for c in coeffs if isinstance(c, Var)})
            # a param that becomes active by an in-place write (``arr[0] = x``) starts at zero
            for p in _active_non_seeds(fn, seeds, self.active):
                self.set_series(p, None, set())
        body += self.block(fn.body)
        with b.nested(body):
            cres = []
            for r in fn.results:
                if r.type.is_float:
                    cs = self.series_of(r) or [None] * self.K
                    cres += [self.zero_like(r) if c is None else c for c in cs]
        return Function(fn.name + "_taylor", list(fn.params) + cparams, body,
                        list(fn.results) + cres, fn.loc, dict(fn.meta))


def taylor_function(fn: Function, wrt: list[bool], K: int, names: Names | None = None,
                    prims=None, given: dict | None = None) -> Function:
    """Taylor mode of order ``K`` w.r.t. the params flagged in ``wrt``.

    The new function's params are ``fn.params`` followed by K coefficient params per flagged
    param (except those in ``given``: param name -> K atoms or None, fixed coefficients); its
    results are ``fn.results`` followed by K coefficients per float result.
    """
    if K < 1:
        raise ValueError("the order of a Taylor series must be at least 1")
    if prims is None:
        from ..rules import PRIMS

        prims = PRIMS
    t = _Taylor(fn, wrt, K, names, prims)
    return t.run([p for p, w in zip(fn.params, wrt) if w], dict(given or {}))
