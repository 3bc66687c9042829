"""Kink reporting: instrument compiled code to say when an evaluation reached a point where the
derivative returned is one convention among several (docs/nonsmooth.md, "Kink reporting").

``grad(f, kinks="warn" | "raise" | "count")`` (also ``value_and_grad``, ``jit``, ``jvp``,
``vjp``) compiles ``f`` with, after each *site* -- a statement of the user's own code that
applies a primitive with a located kink (its rule-table ``Kink.mask``), or a float comparison
``<``, ``<=``, ``>``, ``>=`` (a branch or ``np.where`` condition, reached at equality) -- IR that
counts how many elements are at such a point and adds that into one slot of an int64 ``counts``
array. The array is one extra result of the function; the :class:`Executable` splits it off and
calls :func:`report`. With the option off nothing of this exists: the code is the code without
the option.

Which statements are the user's: while a kinks-on function is built, every statement the front
end produced is noted (:func:`note_primal`), except those a transform called inside the code
(``cr.grad(g)(y)`` within ``f``) derived from ``g`` (:func:`mark_inlined` keeps ``g``'s own
statements and drops its derivative code). The forward and reverse transforms copy primal
statements into their output as the same objects, so the sites are found again by identity
after transforming, however deeply transforms nest (``grad(grad(f))``). While collecting, the
API transforms skip dead-code elimination, which would drop primal statements whose value a
derivative does not need (the kink still decides the derivative); it runs once, after
instrumenting.

Which sites can matter (the rest get no code): a kinked value must reach its function's results
through differentiable operations (not only through tests such as ``abs(dx) > tol``), and an
operand must depend on a differentiated argument (every float argument for ``jit``, ``jvp``,
``vjp``; ``argnums`` for ``grad``).
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np

from ..errors import KinkError, KinkWarning, Loc
from ..ir.builder import Builder, Names, const
from ..ir.nodes import Assign, Const, ForRange, Function, If, Var, While, walk
from ..ir.verify import verified
from ..rules.registry import DOMAIN, INFINITE, JUMP, KINK
from .cleanup import simplify

MODES = ("warn", "raise", "count")

# Kinds whose points are reported: the derivative there is a convention (kink), a stated value
# for an unbounded one (infinite), one side's (jump), or that of one argument only (domain).
# Piecewise-constant primitives (floor, sign, comparisons as values...) have derivative 0 on
# both sides and are not reported, except the ties of argmax/argmin (the index selects whose
# derivative flows) and float comparisons at equality (which branch runs).
REPORTED = (KINK, INFINITE, JUMP, DOMAIN)
COMPARISONS = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}
EQUALITY = "equality"

_PHRASE = {KINK: "at a kink", INFINITE: "where its derivative is infinite",
           JUMP: "at a jump", DOMAIN: "at the edge of its domain",
           "flat": "at a tie", EQUALITY: "at equality"}


def check_mode(mode: Any) -> str | None:
    if mode is not None and mode not in MODES:
        raise ValueError(f"kinks={mode!r}: use None, 'warn', 'raise' or 'count'")
    return mode


# -- the site table ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Site:
    """One instrumented statement and kink: where it is in the user's code and what it means."""

    file: str
    line: int
    col: int
    func: str
    primitive: str
    kind: str  # a Kink kind, or "equality" for a comparison
    at: str  # the points, in words
    returns: str  # what chainrule returns there

    @property
    def loc(self) -> Loc:
        return Loc(self.file, self.line, self.col, self.func)

    def describe(self) -> str:
        if self.kind == EQUALITY:
            what = f"comparison `{COMPARISONS.get(self.primitive, self.primitive)}`"
        else:
            what = self.primitive
        return (f"{what} {_PHRASE.get(self.kind, 'at a ' + self.kind)} ({self.at}); "
                f"returned: {self.returns}")

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> Site:
        return cls(**d)


class KinkHit(NamedTuple):
    """A site an evaluation reached: ``count`` elements (summed over loop trips) were there."""

    loc: Loc
    primitive: str
    kind: str
    count: int


# -- collecting the user's statements ----------------------------------------------------------
class Collector:
    """The statements of the user's code seen while building one kinks-on function."""

    def __init__(self) -> None:
        # id -> statement (the statements are kept alive, so their ids stay unique)
        self.primal: dict[int, Any] = {}  # the candidate sites
        self.derived: dict[int, Any] = {}  # derivative code, or values that reach no result
        self.kept: dict[int, Any] = {}  # the user's code, decided where it was inlined

    def is_candidate(self, s: Any) -> bool:
        return isinstance(s, Assign) and id(s) not in self.derived and bool(_kinks_of(s))

    def chosen(self, block: list, results: list) -> set[int]:
        """The candidates of a front-end function (``block``, ``results``) whose point can
        change a derivative of its results: a comparison or an argmax (acting through control
        flow or an index), or a value that reaches a result through differentiable operations
        (a kinked value used only in tests, as ``abs(dx) > tol``, cannot)."""
        from ..rules import PRIMS
        from ..transforms.activity import useful_vars

        cands = [s for s in walk(block) if self.is_candidate(s)]
        if not cands:
            return set()
        useful = useful_vars(Function("f", [], block, list(results)), PRIMS)
        return {id(s) for s in cands if id(s) in self.kept or s.prim in COMPARISONS
                or _selects(PRIMS, s.prim) or s.out.name in useful}


_LOCAL = threading.local()


def _stack() -> list:
    st = getattr(_LOCAL, "stack", None)
    if st is None:
        st = _LOCAL.stack = []
    return st


def collecting() -> Collector | None:
    """The active collector (a kinks-on function is being built), else None."""
    st = getattr(_LOCAL, "stack", None)
    return st[-1] if st else None


@contextmanager
def collect():
    col = Collector()
    _stack().append(col)
    try:
        yield col
    finally:
        _stack().pop()


def note_primal(fn: Function) -> None:
    """Remember the candidate sites of a function the front end just produced."""
    col = collecting()
    if col is None:
        return
    chosen = col.chosen(fn.body, fn.results)
    for s in walk(fn.body):
        if id(s) in chosen:
            col.primal[id(s)] = s


def mark_inlined(source: list, copies: list, inner: list, results: list) -> None:
    """``copies`` (the last statements of a block) were inlined from ``source``, a transform of
    the function whose front-end statements and results are ``inner`` and ``results`` (a
    transform called inside the user's code): copies of its chosen sites stay the user's code,
    copies of anything else (its derivative code) are marked as derived."""
    col = collecting()
    if col is None:
        return
    chosen = col.chosen(inner, results)
    for old, new in zip(walk(source), walk(copies)):
        if id(old) in chosen:
            col.kept[id(new)] = new
        else:
            col.derived[id(new)] = new


# -- choosing and instrumenting the sites ------------------------------------------------------
def _kinks_of(s: Assign, prims: Any = None) -> list:
    """(kind, at, returns, mask) of each reportable point of ``s``'s primitive."""
    if s.prim in COMPARISONS:
        return [(EQUALITY, "x == y", "the derivative is that of the branch taken",
                 lambda b, args, out, **_: b.eq(args[0], args[1]))]
    if prims is None:
        from ..rules import PRIMS

        prims = PRIMS
    if s.prim not in prims:
        return []
    return [(k.kind, k.at, k.returns, k.mask) for k in prims[s.prim].kinks
            if k.mask is not None and (k.kind in REPORTED or k.selects)]


def _selects(prims: Any, prim: str) -> bool:
    """A piecewise-constant primitive whose ties are reported (argmax: the index selects whose
    derivative flows); its records' kinks say ``selects``."""
    return prim in prims and any(k.selects for k in prims[prim].kinks)


def _concerned_arg(prim: str, kind: str) -> int | None:
    """The one argument whose derivative points of ``kind`` concern (pow at x < 0: only the
    exponent's, so x ** 2 at negative x is not a site), from the kink record's ``arg``."""
    from ..rules import PRIMS

    if prim not in PRIMS:
        return None
    return next((k.arg for k in PRIMS[prim].kinks if k.kind == kind and k.arg is not None), None)


def _relevant(s: Assign, kind: str, varied: set | None) -> bool:
    """Whether the point can change a derivative: some float argument is a variable (that
    depends on a differentiated input, when ``varied`` is given)."""
    k = _concerned_arg(s.prim, kind)
    args = [s.args[k]] if k is not None and k < len(s.args) else list(s.args)
    floats = [a for a in args if isinstance(a, Var) and a.type.is_float and not a.type.tape]
    if not floats:
        return False
    if s.prim == "pow" and kind == INFINITE and isinstance(s.args[1], Const) and \
            not isinstance(s.args[1].value, np.ndarray):
        y = s.args[1].value  # x ** 2 is never there: no code for it
        if not (y < 1 and y != 0):
            return False
    return varied is None or any(a.name in varied for a in floats)


def plan_sites(fn: Function, col: Collector, varied: set | None) -> tuple[dict, list]:
    """``{id(stmt): (stmt, [(slot, mask)...])}`` and the site table, in program order."""
    plan: dict[int, tuple] = {}
    sites: list[Site] = []
    for s in walk(fn.body):
        if not isinstance(s, Assign) or col.primal.get(id(s)) is not s or id(s) in plan:
            continue
        entries = []
        for kind, at, returns, mask in _kinks_of(s):
            if not _relevant(s, kind, varied):
                continue
            loc = s.loc or Loc("<unknown>", 0)
            entries.append((len(sites), mask))
            sites.append(Site(loc.file, loc.line, loc.col, loc.func, s.prim, kind, at, returns))
        if entries:
            plan[id(s)] = (s, entries)
    return plan, sites


@verified("kinks")
def instrument(compiled: Any, col: Collector, seeds: list | None, names: Names) -> Any:
    """Add the counting code to ``compiled.fn`` (then clean it up); ``compiled.kink_sites``
    gets the site table. ``seeds``: the differentiated parameters (None: report every site)."""
    fn = compiled.fn
    varied = None
    if seeds is not None:
        from ..rules import PRIMS
        from ..transforms.activity import varied_vars

        varied = varied_vars(fn, list(seeds), PRIMS)
    plan, sites = plan_sites(fn, col, varied)
    b = Builder(names)
    counts = b.new_var("kink_counts", b.infer("zeros", [const(len(sites))], {"dtype": "int64"}))
    head: list = []
    with b.nested(head):
        b.emit("zeros", const(len(sites)), dtype="int64", out=counts)
    body = head + _rewrite(fn.body, plan, b, counts)
    new = Function(fn.name, list(fn.params), body, list(fn.results) + [counts], fn.loc,
                   dict(fn.meta))
    compiled.fn = simplify(new, names)
    compiled.kink_sites = sites
    return compiled


def _rewrite(block: list, plan: dict, b: Builder, counts: Var) -> list:
    out: list = []
    for s in block:
        if isinstance(s, If):
            s = If(s.cond, _rewrite(s.then, plan, b, counts),
                   _rewrite(s.orelse, plan, b, counts), s.loc)
        elif isinstance(s, While):
            s = While(_rewrite(s.cond_body, plan, b, counts), s.cond,
                      _rewrite(s.body, plan, b, counts), s.loc)
        elif isinstance(s, ForRange):
            s = ForRange(s.var, s.start, s.stop, s.step, _rewrite(s.body, plan, b, counts),
                         s.loc)
        entry = plan.get(id(s)) if isinstance(s, Assign) else None
        if entry is None or entry[0] is not s:
            out.append(s)
            continue
        with b.nested(out):
            b.loc = s.loc
            args = list(s.args)
            if any(isinstance(a, Var) and a == s.out for a in args):
                # s overwrites an argument: keep the old value for the mask (a new binding,
                # so an array keeps its contents).
                args = [b.emit("id", a) if isinstance(a, Var) and a == s.out else a
                        for a in args]
            b.append(s)
            for slot, mask in entry[1]:
                m = b.atom(mask(b, args, s.out, **dict(s.params)))
                if isinstance(m, Const) and not (m.type.ndim == 0 and m.value):
                    continue
                n = b.sum(m, axis=None, keepdims=False) if m.type.ndim else b.to_int(m)
                b.effect("additem", counts, n, const(slot), spec=("i",))
    return out


def build(transformed: Any, args: tuple, names: Names, deps: Any = None) -> Any:
    """``transformed.build`` with kink instrumentation (for a top-level kinks-on function)."""
    from ..ir.compiled import flatten

    with collect() as col:
        compiled = transformed.build(args, names, deps)
    templates = compiled.arg_templates or []
    argnums = range(len(templates)) if transformed.kind == "jit" else transformed.argnums
    seeds = [x for k in argnums if k < len(templates) for _, x in flatten(templates[k])
             if isinstance(x, Var) and x.type.is_float]
    return instrument(compiled, col, seeds, names)


# -- acting on the counts ----------------------------------------------------------------------
_LAST: list = []


def last_kinks() -> list[KinkHit]:
    """The sites the most recent kinks-on call reached (any mode; empty if it reached none)."""
    return list(_LAST)


def report(mode: str, sites: list, counts: Any, name: str = "", owner: Any = None) -> None:
    """Act on one call's counts: record them, then warn or raise if any site was reached."""
    hits = [] if not counts.any() else [KinkHit(site.loc, site.primitive, site.kind, int(c))
                                         for site, c in zip(sites, counts) if c]
    _LAST[:] = hits
    if owner is not None:
        owner.kinks_hit = hits
    if not hits or mode == "count":
        return
    counts_by_text: dict[str, int] = {}  # one line per place (a helper called twice: x2)
    for site, c in zip(sites, counts):
        if c:
            text = f"  {site.file}:{site.line}: {site.describe()}"
            counts_by_text[text] = counts_by_text.get(text, 0) + int(c)
    lines = [f"{text} \u00d7{c}" for text, c in counts_by_text.items()]
    text = (f"{name or 'the function'}: the evaluation reached points where a primitive is not "
            "differentiable or a comparison is at equality; the derivative returned there is "
            "one choice among several (docs/nonsmooth.md, Kink reporting):\n"
            + "\n".join(lines))
    if mode == "raise":
        err = KinkError(text)
        err.loc = hits[0].loc
        err.hits = hits
        raise err
    warnings.warn(KinkWarning(text), stacklevel=_user_stacklevel())


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first caller outside chainrule."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
        level += 1
    return level


__all__ = ["MODES", "KinkHit", "Site", "build", "check_mode", "collect", "collecting",
           "instrument", "last_kinks", "mark_inlined", "note_primal", "report"]
