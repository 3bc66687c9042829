"""Alias check for in-place writes under reverse mode.

Reverse mode keeps one adjoint per variable. When two names share one buffer (``b = a``, or a
view such as ``a[1:]``, ``a.T``, ``a.reshape(...)``), a write through one name followed by a read
through the other would send the read's adjoint past the write, and the gradient would be wrong.
Such programs raise :class:`~chainrule.errors.UnsupportedMutationError` instead.

The check simulates the IR abstractly: each array allocation makes a new buffer (a site plus a
generation, so iterations of a loop get distinct buffers); ``id`` and view primitives share
their argument's buffer. Loops are simulated for a few trips. A write through ``t`` to buffer
``B`` is rejected when a later read through another name reads ``B`` via a binding made before
the write.

The check is path-sensitive across branches: each binding and write remembers the branch
choices (per execution of an ``if``, so different loop trips count as different executions) it
was made under, and a write conflicts with a binding only when one run can take both paths
(``b = a`` on one branch and a write into ``a`` on the other never meet).

Reverse-mode code (when it is differentiated again) restores the slots a write overwrote, by a
``setitem`` of a value popped from a tape. Such a restore undoes the write: afterwards the
buffer holds what it held before the write, so the pair is removed from the writes a later read
is checked against. Likewise a ``tape_push`` of an array saves a reference whose contents are
popped only after the writes that followed it were undone; it is not checked as a read.
"""

from __future__ import annotations

import numpy as np

from ..errors import UnsupportedMutationError
from ..ir.nodes import Assign, Effect, ForRange, Function, If, Var, While
from .activity import diff_args
from .activity import is_view as _is_view

TRIPS = 3
MAX_PAIRS = 8  # bindings kept per name and buffer before they are merged conservatively


class _Sim:
    def __init__(self, active: set[str], prims):
        self.active = active
        self.prims = prims
        self.time = 0
        self.gen: dict[int, int] = {}
        # name -> {buffer: ((time the name was bound to it, path), ...)}; a path maps the
        # executions of ``if`` statements it passed to the branch taken (True: then, False:
        # else); a name bound to one buffer on both branches of an ``if`` keeps both bindings
        self.binding: dict[str, dict] = {}
        self.writes: list = []  # (time, name, buffers, stmt, path)
        self.path: dict = {}
        self.visits = 0
        self.popped: set[str] = set()  # variables assigned from a tape

    def bufs(self, name: str) -> dict:
        return self.binding.get(name, {})

    def tick(self) -> int:
        self.time += 1
        return self.time

    def read(self, name: str) -> None:
        now = self.tick()
        for t_w, wname, wbufs, stmt, wpath in self.writes:
            if wname == name or not _compatible(wpath, self.path):
                continue
            for buf, (t_bound, bpath) in _pairs(self.bufs(name)):
                if buf in wbufs and t_bound < t_w < now and _compatible(bpath, wpath) \
                        and _compatible(bpath, self.path):
                    w, r = _shown(wname), _shown(name)
                    raise UnsupportedMutationError(
                        f"in-place write to `{w}` changes an array that `{r}` also refers to, "
                        f"and `{r}` is read afterwards; chainrule cannot tell which elements of "
                        f"`{r}` the write changes (e.g. a view made by reshape/ravel/.T or by "
                        "a slice with a run-time step, or a name bound to different arrays on "
                        "different paths), so reverse mode cannot differentiate this write",
                        stmt.loc,
                        f"write through `{r}` itself with the full index, make the view by "
                        "basic slicing on a single path (v = a[1:]), or write into a copy "
                        "(v = v.copy())",
                    )

    def restores(self, s: Effect) -> bool:
        """Whether ``s`` puts back what the latest matching write overwrote (and drop that
        write)."""
        value = s.args[1]
        if not (isinstance(value, Var) and value.name in self.popped):
            return False
        for k in range(len(self.writes) - 1, -1, -1):
            w = self.writes[k][3]
            if (w.prim in ("setitem", "additem") and w.args[0].name == s.args[0].name
                    and w.params == s.params and _same_atoms(w.args[2:], s.args[2:])):
                del self.writes[k]
                return True
        return False

    def block(self, stmts: list) -> None:
        for s in stmts:
            self.stmt(s)

    def stmt(self, s) -> None:
        if isinstance(s, Assign):
            # Only reads whose values carry derivatives matter (not shapes, not indices).
            for a in diff_args(self.prims, s):
                if isinstance(a, Var) and a.type.ndim > 0:
                    self.read(a.name)
            if s.prim == "tape_pop":
                self.popped.add(s.out.name)
            if s.out.type.ndim == 0 or s.out.type.tape:
                return
            now = self.tick()
            path = dict(self.path)
            if _is_view(s) and isinstance(s.args[0], Var):
                self.binding[s.out.name] = {
                    b: _union((), tuple((now, _meet(path, p)) for _, p in pairs))
                    for b, pairs in self.bufs(s.args[0].name).items()}
            else:
                site = id(s)
                g = self.gen.get(site, 0) + 1
                self.gen[site] = g
                self.binding[s.out.name] = {(site, g): ((now, path),)}
        elif isinstance(s, Effect):
            # A tape push saves a reference; the value is popped only after every later write
            # has been undone (restored), so it is not a read of changed contents.
            reads = s.args[1:] if s.prim != "tape_push" else ()
            for a in reads:
                if isinstance(a, Var) and a.type.ndim > 0:
                    self.read(a.name)
            target = s.args[0]
            if s.prim in ("setitem", "additem") and target.name in self.active:
                if s.prim == "setitem" and self.restores(s):
                    return
                self.writes.append((self.tick(), target.name, set(self.bufs(target.name)), s,
                                    dict(self.path)))
        elif isinstance(s, If):
            self.visits += 1
            visit = self.visits
            outer = self.path
            saved = {k: dict(v) for k, v in self.binding.items()}
            self.path = {**outer, visit: True}
            self.block(s.then)
            after_then = self.binding
            self.binding = saved
            self.path = {**outer, visit: False}
            self.block(s.orelse)
            self.path = outer
            for k, v in after_then.items():
                mine = self.binding.setdefault(k, {})
                for buf, pairs in v.items():
                    # bound on both paths: both bindings, each with its own time and path
                    mine[buf] = _union(mine.get(buf, ()), pairs)
        elif isinstance(s, (While, ForRange)):
            for _ in range(TRIPS):
                if isinstance(s, While):
                    self.block(s.cond_body)
                self.block(s.body)


def _pairs(bufs: dict):
    """(buffer, (time, path)) for every binding of a name."""
    return [(buf, pair) for buf, pairs in bufs.items() for pair in pairs]


def _union(a: tuple, b: tuple) -> tuple:
    out = list(a)
    for pair in b:
        if pair not in out:
            out.append(pair)
    if len(out) > MAX_PAIRS:  # one conservative binding: the earliest time, the common path
        t = min(t for t, _ in out)
        common = {k: v for k, v in out[0][1].items() if all(p.get(k) == v for _, p in out)}
        return ((t, common),)
    return tuple(out)


def _compatible(p: dict, q: dict) -> bool:
    """Can one run take both paths (no ``if`` execution takes different branches)?"""
    return all(q.get(k, v) == v for k, v in p.items())


def _meet(p: dict, q: dict) -> dict:
    """The path of a value made under ``p`` from one bound under ``q``."""
    return {**q, **p}


def _same_atoms(xs: tuple, ys: tuple) -> bool:
    if len(xs) != len(ys):
        return False
    for x, y in zip(xs, ys):
        if isinstance(x, Var) or isinstance(y, Var):
            if x != y:
                return False
        elif x is not y and not (type(x.value) is type(y.value)
                                 and np.array_equal(x.value, y.value)):
            return False
    return True


def _shown(name: str) -> str:
    """The user's name for an IR variable (``v_2`` made for ``v`` at a join shows as ``v``)."""
    head, _, tail = name.rpartition("_")
    return head if head.isidentifier() and tail.isdigit() else name


def check_writes(fn: Function, active: set[str], prims=None) -> None:
    """Raise UnsupportedMutationError for writes through aliases that reverse mode would get
    wrong; a no-op for programs without such writes."""
    if prims is None:
        from ..rules import PRIMS

        prims = PRIMS
    sim = _Sim(active, prims)
    for p in fn.params:
        if p.type.ndim > 0:
            sim.binding[p.name] = {("param", p.name): ((0, {}),)}
    sim.block(fn.body)
    for r in fn.results:
        if isinstance(r, Var) and r.type.ndim > 0:
            sim.read(r.name)
