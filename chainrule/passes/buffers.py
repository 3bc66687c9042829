"""Which array variables share a buffer with another name in a way that matters when each name
is given its own copy (as :mod:`chainrule.passes.scalarize` does).

In the IR, ``y = id(x)`` (and ``stop_gradient``, casts that may return their argument) and basic
slices ``y = x[a:b]`` give a second name to one buffer. Giving each name its own copy is exact
when the buffer is never written through either name, and also in two common cases where a write
cannot be seen through the other name:

* a *move*: ``y = id(x)`` is the last access to ``x``, and every access to ``x`` sits in the same
  block, after a definition of ``x`` (join copies and loop-carried updates look like this);
* a *snapshot*: a slice ``t = x[a:b]`` read only by value (arithmetic, element reads, as the value
  written by ``setitem``) later in the same block, with no write of any array in between.

Every other group of names sharing a buffer that is written anywhere is reported.
"""

from __future__ import annotations

from ..ir.nodes import Assign, Effect, ForRange, Function, If, Var, While, walk

# Elementwise primitives whose NumPy result may be the argument itself (not a new array).
ALIASING = {"id", "stop_gradient", "to_float", "astype"}
# Uses that only read values (their results never share the argument's buffer).
_BY_VALUE = {"sum", "dot", "shape", "size"}


class Uses:
    """Every statement reading each variable, the statements defining it, the arrays written."""

    def __init__(self, fn: Function):
        self.reads: dict = {}
        self.defs: dict = {}
        self.written: set = set()
        for s in walk(fn.body):
            if isinstance(s, (Assign, Effect)):
                for a in s.args:
                    if isinstance(a, Var):
                        self.reads.setdefault(a.name, []).append(s)
            if isinstance(s, Assign):
                self.defs.setdefault(s.out.name, []).append(s)
            if isinstance(s, Effect):
                self.written.add(s.args[0].name)


def _positions(block: list, out: dict) -> dict:
    for i, s in enumerate(block):
        out[id(s)] = (id(block), i, block)
        if isinstance(s, If):
            _positions(s.then, out)
            _positions(s.orelse, out)
        elif isinstance(s, While):
            _positions(s.cond_body, out)
            _positions(s.body, out)
        elif isinstance(s, ForRange):
            _positions(s.body, out)
    return out


class _Analysis:
    def __init__(self, fn: Function, uses: Uses):
        self.uses = uses
        self.pos = _positions(fn.body, {})
        self.pinned = {p.name for p in fn.params} | \
            {r.name for r in fn.results if isinstance(r, Var)}

    def is_move(self, s: Assign) -> bool:
        src = s.args[0].name
        if src in self.pinned:
            return False
        block, i, _ = self.pos[id(s)]
        accesses = self.uses.reads.get(src, []) + self.uses.defs.get(src, [])
        where = [self.pos[id(a)] for a in accesses]
        if any(b != block or j > i for b, j, _ in where):
            return False
        first = min(j for _, j, _ in where)
        return any(self.pos[id(d)][1] == first for d in self.uses.defs.get(src, []))

    def is_snapshot(self, s: Assign) -> bool:
        t = s.out.name
        if t in self.pinned or t in self.uses.written or len(self.uses.defs.get(t, [])) != 1:
            return False
        block, i, stmts = self.pos[id(s)]
        last = i
        for r in self.uses.reads.get(t, []):
            b, j, _ = self.pos[id(r)]
            if b != block or j <= i or not _by_value(r, t):
                return False
            last = max(last, j)
        return all(isinstance(x, Assign) for x in stmts[i + 1:last])


def _by_value(s, name: str) -> bool:
    if isinstance(s, Effect):
        return s.prim in ("setitem", "additem") and s.args[0].name != name and \
            not any(isinstance(a, Var) and a.name == name for a in s.args[2:])
    if s.prim in ALIASING:
        return False
    if s.prim == "getitem":
        return s.args[0].name == name and s.out.type.ndim == 0
    return s.prim in _BY_VALUE or not s.out.type.is_array or _elementwise(s)


def _elementwise(s: Assign) -> bool:
    from .scalarize import ELEMENTWISE

    return s.prim in ELEMENTWISE


def written_shared_buffers(fn: Function, uses: Uses) -> set:
    """Names of the arrays in groups sharing a buffer that is written (see the module doc)."""
    an = _Analysis(fn, uses)
    parent: dict = {}

    def find(x):
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for s in walk(fn.body):
        if not isinstance(s, Assign) or not s.args or not isinstance(s.args[0], Var) or \
                not s.args[0].type.is_array or not s.out.type.is_array:
            continue
        if s.prim in ALIASING:
            if an.is_move(s):
                continue
        elif s.prim != "getitem" or an.is_snapshot(s):
            continue
        if s.out.name not in uses.reads and s.out.name not in an.pinned:
            continue  # a second name nothing reads
        parent[find(s.out.name)] = find(s.args[0].name)
    groups: dict = {}
    for name in list(parent):
        groups.setdefault(find(name), {find(name)}).add(name)
    out: set = set()
    for members in groups.values():
        if members & uses.written:
            out |= members
    return out
