"""Optimisations run on the primal IR before it is differentiated.

* Common subexpressions: a pure scalar computation repeated in a block (``p[0]`` in each inlined
  call of a helper) becomes a copy of the first result.
* Loop-invariant code motion: a pure scalar computation at the top level of a loop body whose
  inputs the loop never changes is moved before the loop.

Both only touch scalar results of primitives without side effects, so no buffer is ever
shared; reading ``a[k]`` counts as pure only while nothing writes into an array. Differentiating
optimised code means fewer values to save on tapes and smaller generated code.
"""

from __future__ import annotations

from ..ir.nodes import (
    Assign,
    Const,
    Effect,
    ForRange,
    Function,
    If,
    Var,
    While,
    block_writes,
    walk,
)
from ..ir.verify import verified


def movable_prims(derivatives: bool = False) -> set[str]:
    """The primitives whose scalar computations are merged and hoisted: those whose records say
    ``movable`` (smooth, side-effect free; primitives with kinks stay where they are, kink
    reporting counts their evaluations), in derivative code also ``movable_in_derivatives``."""
    from ..rules import PRIMS

    if derivatives:
        return PRIMS.names_where("movable", "movable_in_derivatives")
    return PRIMS.names_where("movable")


def _key(s: Assign, pure: set) -> tuple | None:
    if s.prim not in pure or s.out.type.ndim != 0:
        return None
    args = []
    for a in s.args:
        if isinstance(a, Var):
            args.append(("v", a.name))
        elif isinstance(a, Const) and not hasattr(a.value, "shape"):
            args.append(("c", repr(a.value), str(a.type)))
        else:
            return None
    return (s.prim, tuple(args), s.params)


def _assign_counts(fn: Function) -> dict[str, int]:
    counts: dict[str, int] = {}
    for s in walk(fn.body):
        if isinstance(s, Assign):
            counts[s.out.name] = counts.get(s.out.name, 0) + 1
        elif isinstance(s, ForRange):
            counts[s.var.name] = counts.get(s.var.name, 0) + 2
    return counts


class _Table(dict):
    """The CSE table (key -> the variable holding its value) with an index from each variable
    name to the entries that use it (as an input or as the result), so forgetting a name costs
    the entries it touches, not the whole table."""

    def __init__(self, other: "_Table | None" = None):
        super().__init__()
        self.users: dict[str, set] = {}
        self.reads: set = set()  # the entries reading an array element (``getitem``)
        if other is not None:
            for k, v in other.items():
                self[k] = v

    @staticmethod
    def _names(k: tuple, v: Var) -> set:
        return {x[1] for x in k[1] if x[0] == "v"} | {v.name}

    def __setitem__(self, k, v) -> None:
        if k in self:
            del self[k]
        super().__setitem__(k, v)
        for n in self._names(k, v):
            self.users.setdefault(n, set()).add(k)
        if k[0] == "getitem":
            self.reads.add(k)

    def __delitem__(self, k) -> None:
        for n in self._names(k, self[k]):
            self.users[n].discard(k)
        self.reads.discard(k)
        super().__delitem__(k)

    def forget(self, names: set) -> None:
        for n in names:
            for k in list(self.users.get(n, ())):
                del self[k]

    def forget_reads(self) -> None:
        """Forget every array element read (a write into an array may change what it gives)."""
        for k in list(self.reads):
            del self[k]


def _reads_arrays(s: Assign) -> bool:
    return any(isinstance(a, Var) and a.type.ndim > 0 for a in s.args)


class _Optimizer:
    def __init__(self, fn: Function, pure: set, any_var: bool = False):
        from ..rules import PRIMS

        self.pure = pure
        self.may_raise = PRIMS.names_where("may_raise")
        self.single = {n for n, c in _assign_counts(fn).items() if c == 1}
        self.params = {p.name for p in fn.params}
        # After differentiation the table may also hold variables assigned several times: an
        # entry is forgotten as soon as its result or an input is assigned again.
        self.any_var = any_var

    def _stable(self, name: str) -> bool:
        return self.any_var or name in self.single

    # -- common subexpressions ---------------------------------------------------------------
    def cse(self, stmts: list, table: _Table) -> list:
        out = []
        for s in stmts:
            if isinstance(s, Assign):
                key = _key(s, self.pure)
                if key is not None and key in table and self._stable(s.out.name):
                    same = table[key]
                    if same.name != s.out.name:  # (else the variable holds the value already)
                        self._forget(table, {s.out.name})
                        out.append(Assign(s.out, "id", (same,), (), s.loc))
                    continue
                self._forget(table, {s.out.name})
                inputs = [x[1] for x in key[1] if x[0] == "v"] if key is not None else []
                if key is not None and self._stable(s.out.name) and \
                        s.out.name not in inputs and \
                        all(self._stable(n) or n in self.params for n in inputs):
                    table[key] = s.out
                out.append(s)
            elif isinstance(s, Effect):
                # a write into any array may change what a read gives
                table.forget_reads()
                self._forget(table, {s.args[0].name})
                out.append(s)
            elif isinstance(s, If):
                s.then = self.cse(s.then, _Table(table))
                s.orelse = self.cse(s.orelse, _Table(table))
                self._forget_block(table, s.then + s.orelse)
                out.append(s)
            else:
                if isinstance(s, While):
                    s.cond_body = self.cse(s.cond_body, _Table())
                body_writes = s.body + (s.cond_body if isinstance(s, While) else [])
                s.body = self.cse(s.body, _Table())
                self._forget_block(table, body_writes)
                if isinstance(s, ForRange):
                    self._forget(table, {s.var.name})
                out.append(s)
        return out

    def _forget(self, table: _Table, names: set) -> None:
        table.forget(names)

    def _forget_block(self, table: _Table, stmts: list) -> None:
        written = {v.name for v in block_writes(stmts)}
        if any(isinstance(s, Effect) for s in walk(stmts)):
            table.forget_reads()
        self._forget(table, written)

    # -- loop-invariant code motion ----------------------------------------------------------
    def licm(self, stmts: list) -> list:
        out = []
        for s in stmts:
            if isinstance(s, If):
                s.then, s.orelse = self.licm(s.then), self.licm(s.orelse)
            elif isinstance(s, (ForRange, While)):
                s.body = self.licm(s.body)
                if isinstance(s, While):
                    s.cond_body = self.licm(s.cond_body)
                out.extend(self._hoist(s))
            out.append(s)
        return out

    def _hoist(self, loop) -> list:
        stmts = loop.body + (loop.cond_body if isinstance(loop, While) else [])
        written = {v.name for v in block_writes(stmts)}
        if isinstance(loop, ForRange):
            written.add(loop.var.name)
        writes_arrays = any(isinstance(s, Effect) for s in walk(stmts))
        hoisted, keep = [], []
        for s in loop.body:
            movable = (isinstance(s, Assign) and _key(s, self.pure) is not None
                       and s.prim not in self.may_raise and s.out.name in self.single
                       and not (writes_arrays and _reads_arrays(s))
                       and not any(isinstance(a, Var) and a.name in written for a in s.args))
            if movable:
                hoisted.append(s)
                written.discard(s.out.name)
            else:
                keep.append(s)
        loop.body = keep
        return hoisted


@verified("scalar_opt")
def optimize(fn: Function, derivatives: bool = False, any_var: bool = False) -> Function:
    """CSE then loop-invariant code motion of the computations of movable primitives (see
    :func:`movable_prims`; a primitive that may raise is never hoisted out of a loop)."""
    opt = _Optimizer(fn, movable_prims(derivatives), any_var)
    body = opt.cse(fn.body, _Table())
    body = opt.licm(body)
    return Function(fn.name, fn.params, body, fn.results, fn.loc, fn.meta)
