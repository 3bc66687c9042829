"""The IR verifier: internal consistency checks run after every pass when asked for.

``verify(fn, pass_name)`` checks a :class:`~chainrule.ir.nodes.Function` and raises
:class:`~chainrule.errors.IRVerificationError` naming the pass that produced it, the statement
(with the user's file:line when it has one) and the variable:

* **types** -- every occurrence of a variable (parameter, assignment target, operand, loop
  index, condition, result) has one ndim, tape-ness and kind of dtype (bool, int, float); an
  assignment's target has the ndim its primitive's type rule gives for the operands; a tape
  pop gives, and a tape push takes, the tape's element kind; conditions and loop bounds are
  scalars;
* **definitions** -- every variable read is defined on every path to the read: a variable
  assigned in only one branch of an ``if`` is undefined after it, a loop body may run zero
  times (a ``while``'s condition block runs at least once), a ``for`` index is defined inside
  its body only; a second ``if`` on the same condition variable (not assigned in between)
  takes the branch the first took, so it may read what that branch defined. Two relaxations
  (to report nothing that is right): inside a branch or loop that replays a decision of
  reverse mode's forward sweep (an ``if`` on a popped condition, a loop over a popped trip
  count) a read needs a definition on *some* path only; dead assignments (removed before code
  is generated) are not checked;
* **tapes** -- a pop that would find its tape empty on every path (a straight-line count of
  pushes and pops from the tape's creation; branches and loops that change the count by
  different or unknown amounts widen it, so only provable underflows are reported).

Enabled by the environment variable ``CHAINRULE_VERIFY=1`` (read at each pass, so tests can
switch it on); :func:`verified` is the decorator the pipeline's passes carry.
"""

from __future__ import annotations

import functools
import math
import os
from typing import Any

from ..errors import IRVerificationError
from .nodes import (
    Assign,
    Effect,
    ForRange,
    Function,
    If,
    Var,
    While,
    block_writes,
    stmt_reads,
    walk,
)
from .printer import format_function

ENV = "CHAINRULE_VERIFY"
_KIND = {"bool": "bool", "int64": "int", "float32": "float", "float64": "float"}


def enabled() -> bool:
    return os.environ.get(ENV, "") not in ("", "0")


def verified(pass_name: str):
    """Decorate a pass returning a Function, an object with ``.fn`` or a tuple whose first
    item is one of those: its result is verified when :func:`enabled`."""

    def wrap(run):
        @functools.wraps(run)
        def checked(*args: Any, **kwargs: Any) -> Any:
            result = run(*args, **kwargs)
            if enabled():
                out = result[0] if isinstance(result, tuple) else result
                verify(getattr(out, "fn", out), pass_name)
            return result

        return checked

    return wrap


def _registry():
    # The builder owns the lookup of the primitive table (the table lives in a higher layer).
    from .builder import Builder

    return Builder().prims


class _Verifier:
    def __init__(self, fn: Function, pass_name: str, prims: Any):
        self.fn = fn
        self.pass_name = pass_name
        self.prims = prims
        self.kinds: dict[str, tuple] = {}  # name -> (ndim, tape, kind, first type seen)
        self.popped: set[str] = set()  # variables assigned by a tape pop
        self.live = live_names(fn)
        # Branches decided by one condition variable: ``if c:`` ... later ``if c:`` again (c
        # not assigned in between, the first ``if`` certainly run before) takes the same
        # branch, so the second may read what the first defined in that branch (reverse mode
        # recomputes a trip's branches, then runs their adjoints under the same conditions).
        # One dict per open block: cond name -> (defined in then, defined in else, what was
        # known about other conditions at the end of then, and of else): an ``if c3:`` nested
        # in ``if c1:`` is correlated with an ``if c3:`` nested in a later ``if c1:``.
        self.correlated: list[dict] = [{}]
        self.inner: dict = {}  # what ``block`` knew about conditions at its end

    def fail(self, what: str, stmt: Any = None, var: str | None = None) -> None:
        parts = [f"IR after {self.pass_name} (function {self.fn.name}): {what}"]
        if var is not None:
            parts.append(f"variable `{var}`")
        if stmt is not None:
            parts.append(f"statement `{_describe(stmt)}`")
        raise IRVerificationError("; ".join(parts), getattr(stmt, "loc", None))

    # -- types -----------------------------------------------------------------------------
    def kind(self, atom: Any, stmt: Any) -> None:
        if not isinstance(atom, Var):
            return
        # float32 and float64 count as one kind: derivative code of float32 programs computes
        # some adjoints and tangents in float64 (a value, not a correctness, difference)
        k = (atom.type.ndim, atom.type.tape, _KIND[atom.type.dtype])
        seen = self.kinds.get(atom.name)
        if seen is None:
            self.kinds[atom.name] = (*k, atom.type)
        elif seen[:3] != k:
            self.fail(f"used as {atom.type} here but as {seen[3]} elsewhere", stmt, atom.name)

    def scalar(self, atom: Any, stmt: Any, what: str) -> None:
        if atom.type.tape or atom.type.ndim != 0:
            self.fail(f"{what} must be a scalar, not {atom.type}", stmt,
                      getattr(atom, "name", None))

    def check_rule(self, s: Any) -> None:
        args = s.args
        if s.prim == "tape_pop" or (isinstance(s, Effect) and s.prim == "tape_push"):
            tape = args[0]
            if not tape.type.tape:
                self.fail(f"{s.prim} on a non-tape {tape.type}", s, getattr(tape, "name", None))
            elem = s.out if isinstance(s, Assign) else args[1]
            if elem.type.ndim != tape.type.ndim or elem.type.tape:
                self.fail(f"{s.prim} of a {elem.type} on a {tape.type}", s,
                          getattr(elem, "name", None))
            return
        if s.prim not in self.prims:
            self.fail(f"unknown primitive `{s.prim}`", s)
        try:
            typ = self.prims[s.prim].infer([a.type for a in args], **dict(s.params))
        except Exception as exc:  # any failure of a type rule means the operands are wrong
            self.fail(f"the type rule of `{s.prim}` rejects the operands ({exc})", s)
        if isinstance(s, Assign) and (typ.ndim, typ.tape) != (s.out.type.ndim, s.out.type.tape):
            self.fail(f"`{s.prim}` gives {typ} but the target is {s.out.type}", s, s.out.name)

    # -- definitions -----------------------------------------------------------------------
    # ``must``: defined on every path; ``may``: on some path. Reverse-mode code replays the
    # forward sweep's decisions: an ``if`` on a condition popped from a tape takes the branch
    # the forward ``if`` took, a loop over a popped trip count runs as often as the forward
    # loop did, so code in such a *replayed* region may read what the forward branch or loop
    # defined; there a read needs only ``may`` (not provable without pairing the tapes).
    def read(self, atom: Any, defs: tuple, stmt: Any) -> None:
        self.kind(atom, stmt)
        must, may, replayed = defs
        if isinstance(stmt, Assign) and stmt.out.name not in self.live and \
                stmt.prim != "tape_pop":
            # A dead assignment is removed before code is generated. (The front end copies a
            # name first bound in a loop body into the join of an enclosing ``if`` although
            # the loop may run zero times; it does so only when nothing reads the name later.)
            return
        if isinstance(atom, Var) and atom.name not in (may if replayed else must):
            self.fail("read before it is defined on some path", stmt, atom.name)

    def block(self, stmts: list, defs: tuple, known: dict | None = None) -> tuple:
        """Check ``stmts`` entered with ``defs`` = (must, may, replayed) (and ``known``: what
        holds about conditions there); return the definitions on leaving."""
        self.correlated.append({**self.correlated[-1], **(known or {})})
        try:
            return self._block(stmts, defs)
        finally:
            self.inner = self.correlated.pop()

    def _assigned(self, name: str) -> None:
        seen: set = set()
        for known in self.correlated:
            _forget(known, name, seen)

    def _block(self, stmts: list, defs: tuple) -> tuple:
        must, may, replayed = set(defs[0]), set(defs[1]), defs[2]
        for s in stmts:
            here = (must, may, replayed)
            if isinstance(s, Assign):
                for a in s.args:
                    self.read(a, here, s)
                self.kind(s.out, s)
                self.check_rule(s)
                self._assigned(s.out.name)
                must.add(s.out.name)
                may.add(s.out.name)
                if s.prim == "tape_pop":
                    self.popped.add(s.out.name)
            elif isinstance(s, Effect):
                for a in s.args:
                    self.read(a, here, s)
                self.check_rule(s)
            elif isinstance(s, If):
                self.read(s.cond, here, s)
                self.scalar(s.cond, s, "an if condition")
                rep = replayed or self.is_popped(s.cond)
                name = s.cond.name if isinstance(s.cond, Var) else None
                before = self.correlated[-1].get(name, (set(), set(), {}, {}))
                m1, y1, _ = self.block(s.then, (must | before[0], may | before[0], rep),
                                       before[2])
                k1 = self.inner
                m2, y2, _ = self.block(s.orelse, (must | before[1], may | before[1], rep),
                                       before[3])
                if name is not None:
                    self.correlated[-1][name] = (m1, m2, k1, self.inner)
                must, may = m1 & m2, y1 | y2
            elif isinstance(s, While):
                loop_may = may | {v.name for v in block_writes(s.cond_body + s.body)}
                must, may, _ = self.block(s.cond_body, here)  # runs at least once
                self.read(s.cond, (must, may, replayed), s)
                self.scalar(s.cond, s, "a while condition")
                after_body = self.block(s.body, (must, may, replayed))
                self.block(s.cond_body, (after_body[0], loop_may, replayed))
                may = loop_may
            elif isinstance(s, ForRange):
                for a in (s.start, s.stop, s.step):
                    self.read(a, here, s)
                    self.scalar(a, s, "a range bound")
                self.kind(s.var, s)
                loop_may = may | {v.name for v in block_writes(s.body)}
                self.block(s.body, (must | {s.var.name}, loop_may | {s.var.name},
                                    replayed or self.is_popped(s.stop)))
                may = loop_may
            else:
                self.fail(f"unknown statement {type(s).__name__}", s)
        return must, may, replayed

    def is_popped(self, atom: Any) -> bool:
        return isinstance(atom, Var) and atom.name in self.popped

    def run(self) -> None:
        fn = self.fn
        params = set()
        for p in fn.params:
            self.kind(p, None)
            params.add(p.name)
        defined, _, _ = self.block(fn.body, (params, params, False))
        for r in fn.results:
            if isinstance(r, Var):
                self.kind(r, None)
                if r.name not in defined:
                    self.fail("returned but not defined on every path", None, r.name)
        _Tapes(self).run(fn.body)


def _forget(known: dict, name: str, seen: set | None = None) -> None:
    """``name`` is assigned: what was known about it as a condition (at any nesting) is gone."""
    seen = set() if seen is None else seen
    if id(known) in seen:
        return
    seen.add(id(known))
    known.pop(name, None)
    for _, _, k1, k2 in list(known.values()):
        _forget(k1, name, seen)
        _forget(k2, name, seen)


class _Tapes:
    """Provable tape underflows: the depth of each tape as an interval [lo, hi] of counts;
    a pop is an error only where hi <= 0 (empty on every path that reaches it)."""

    def __init__(self, verifier: _Verifier):
        self.v = verifier
        self.depth: dict[str, tuple] = {}  # tapes created in this function only

    def run(self, body: list) -> None:
        self.block(body, self.depth)

    def block(self, stmts: list, depth: dict) -> dict:
        for s in stmts:
            if isinstance(s, Assign) and s.prim == "tape_new":
                depth[s.out.name] = (0, 0)
            elif isinstance(s, Assign) and s.prim == "tape_pop":
                name = s.args[0].name
                if name in depth:
                    lo, hi = depth[name]
                    if hi <= 0:
                        self.v.fail("pops from a tape that is empty on every path here", s,
                                    name)
                    depth[name] = (lo - 1, hi - 1)
            elif isinstance(s, Assign) and s.out.name in depth:
                del depth[s.out.name]  # a tape assigned otherwise: unknown from here
            elif isinstance(s, Effect) and s.prim == "tape_push" and s.args[0].name in depth:
                lo, hi = depth[s.args[0].name]
                depth[s.args[0].name] = (lo + 1, hi + 1)
            elif isinstance(s, If):
                a = self.block(s.then, dict(depth))
                b = self.block(s.orelse, dict(depth))
                depth = {n: (min(a[n][0], b[n][0]), max(a[n][1], b[n][1]))
                         for n in a.keys() & b.keys()}
            elif isinstance(s, (While, ForRange)):
                depth = self.loop(s, depth)
        return depth

    def loop(self, s: Any, depth: dict) -> dict:
        if isinstance(s, While):
            depth = self.block(s.cond_body, depth)
        # Run the body once from the entry state (checking it), then widen every tape whose
        # count the body changes: the loop may run any number of times.
        trip = s.body + (s.cond_body if isinstance(s, While) else [])
        after = self.block(trip, dict(depth))
        widened = {}
        for n, (lo, hi) in depth.items():
            if n not in after:
                continue
            alo, ahi = after[n]
            widened[n] = (lo if alo >= lo else -math.inf, hi if ahi <= hi else math.inf)
        # (later trips start from a superset of the entry state: nothing more to check)
        return widened


def live_names(fn: Function, kept: tuple | set = ("tape_pop",)) -> set:
    """Variables whose values can matter: read by a result, an effect, control flow or an
    assignment by a primitive in ``kept`` (side effects), or (transitively) by an assignment to
    such a variable (as dead-code removal sees it)."""
    live = {r.name for r in fn.results if isinstance(r, Var)}
    assigns = []
    for s in walk(fn.body):
        if isinstance(s, Assign) and s.prim not in kept:
            assigns.append(s)
        else:
            live.update(a.name for a in stmt_reads(s) if isinstance(a, Var))
            if isinstance(s, Assign):
                live.add(s.out.name)
    changed = True
    while changed:
        changed = False
        for s in assigns:
            if s.out.name in live:
                for a in s.args:
                    if isinstance(a, Var) and a.name not in live:
                        live.add(a.name)
                        changed = True
    return live


def _describe(s: Any) -> str:
    """The first line of the statement's text form."""
    text = format_function(Function("f", [], [s], []))
    return text.splitlines()[1].strip()


def verify(fn: Function, pass_name: str, prims: Any = None) -> Function:
    """Check ``fn`` (see the module docstring); returns it unchanged."""
    _Verifier(fn, pass_name, prims if prims is not None else _registry()).run()
    return fn


__all__ = ["ENV", "enabled", "verified", "verify"]
