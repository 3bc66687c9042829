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
"""

from __future__ import annotations

from ..errors import UnsupportedMutationError
from ..ir.nodes import Assign, Effect, ForRange, Function, If, Var, While
from .activity import diff_args

# Primitives whose result may share memory with their first argument.
VIEW_PRIMS = {"id", "reshape", "ravel", "transpose", "squeeze", "expand_dims", "broadcast_to"}
TRIPS = 3


def _is_view(s: Assign) -> bool:
    if s.prim in VIEW_PRIMS:
        return True
    if s.prim == "getitem":
        spec = dict(s.params).get("spec", ())
        return not any(code in ("a", "m") for code in spec) and s.out.type.ndim > 0
    return False


class _Sim:
    def __init__(self, active: set[str], prims):
        self.active = active
        self.prims = prims
        self.time = 0
        self.gen: dict[int, int] = {}
        # name -> {buffer: time the name was bound to it}
        self.binding: dict[str, dict] = {}
        self.writes: list = []  # (time, name, buffers, stmt)

    def bufs(self, name: str) -> dict:
        return self.binding.get(name, {})

    def tick(self) -> int:
        self.time += 1
        return self.time

    def read(self, name: str) -> None:
        now = self.tick()
        for t_w, wname, wbufs, stmt in self.writes:
            if wname == name:
                continue
            for buf, t_bound in self.bufs(name).items():
                if buf in wbufs and t_bound < t_w < now:
                    raise UnsupportedMutationError(
                        f"in-place write to `{wname}` changes an array that `{name}` also refers "
                        "to (an alias or a view) and reads afterwards; reverse mode cannot yet "
                        "differentiate writes through aliases",
                        stmt.loc,
                        "write into a copy (`y = x.copy()`) or use one name for the array",
                    )

    def block(self, stmts: list) -> None:
        for s in stmts:
            self.stmt(s)

    def stmt(self, s) -> None:
        if isinstance(s, Assign):
            # Only reads whose values carry derivatives matter (not shapes, not indices).
            for a in diff_args(self.prims, s):
                if isinstance(a, Var) and a.type.ndim > 0:
                    self.read(a.name)
            if s.out.type.ndim == 0 or s.out.type.tape:
                return
            now = self.tick()
            if _is_view(s) and isinstance(s.args[0], Var):
                self.binding[s.out.name] = {b: now for b in self.bufs(s.args[0].name)}
            else:
                site = id(s)
                g = self.gen.get(site, 0) + 1
                self.gen[site] = g
                self.binding[s.out.name] = {(site, g): now}
        elif isinstance(s, Effect):
            for a in s.args[1:]:
                if isinstance(a, Var) and a.type.ndim > 0:
                    self.read(a.name)
            target = s.args[0]
            if s.prim in ("setitem", "additem") and target.name in self.active:
                self.writes.append((self.tick(), target.name, set(self.bufs(target.name)), s))
        elif isinstance(s, If):
            saved = {k: dict(v) for k, v in self.binding.items()}
            self.block(s.then)
            after_then = self.binding
            self.binding = saved
            self.block(s.orelse)
            for k, v in after_then.items():
                self.binding.setdefault(k, {}).update(v)
        elif isinstance(s, (While, ForRange)):
            for _ in range(TRIPS):
                if isinstance(s, While):
                    self.block(s.cond_body)
                self.block(s.body)


def check_writes(fn: Function, active: set[str], prims=None) -> None:
    """Raise UnsupportedMutationError for writes through aliases that reverse mode would get
    wrong; a no-op for programs without such writes."""
    if prims is None:
        from ..rules import PRIMS

        prims = PRIMS
    sim = _Sim(active, prims)
    for p in fn.params:
        if p.type.ndim > 0:
            sim.binding[p.name] = {("param", p.name): 0}
    sim.block(fn.body)
    for r in fn.results:
        if isinstance(r, Var) and r.type.ndim > 0:
            sim.read(r.name)
