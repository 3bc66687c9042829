"""Loop fusion for the Numba backend: chains of elementwise operations, broadcasts and
reductions become one loop nest without intermediate arrays (docs/fusion.md).

The pass runs on the final IR (after the transforms and the clean-up), only for the Numba
backend. In each straight-line block it looks for a *root* -- an elementwise operation on
arrays, a sum over axes (``sum``, or ``unbroadcast``, the adjoint of a broadcast), or an
accumulation ``x[...] += tree`` (``additem`` over everything, the adjoint's update) -- and pulls
into it the elementwise producers of its operands that nothing else reads (a *tree*). The root
becomes::

    ok = fused_guard(leaves)            # the run-time shape assumption
    if ok:  out = fused(leaves)         # one loop nest (rules/fused.py)
    else:   <the original statements>   # NumPy broadcasting, exactly as before

Shapes are not part of IR types, so the pass *assumes* a shape for every leaf: each leaf is
aligned with the loop dimensions from the right (NumPy's rule); a dimension it knows to be 1
(``x[:, None]``, ``keepdims=True``, ``expand_dims``; :func:`unit_dims`) is read at index 0,
every other one has the loop's extent. The guard checks exactly this, so a leaf that broadcasts
in a way the pass did not foresee takes the original code.

Cost rule (measured, see docs/fusion.md): a root is fused only when the tree saves at least one
array the unfused code would allocate and all values are float64; every leaf is read in place
(views stay views).
``CHAINRULE_FUSION=0`` turns the pass off.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..ir.nodes import Assign, Const, Effect, ForRange, Function, If, Var, While, walk
from ..ir.types import Type

# Elementwise primitives the loop emitter can evaluate on scalars (rules/fused.py: SCALAR).
ELEMENTWISE = frozenset({
    "add", "sub", "mul", "div", "neg", "exp", "log", "tanh", "sin", "cos", "sqrt", "pow",
    "square", "abs", "reciprocal", "zmul", "maximum", "minimum", "log1p", "expm1", "tan",
    "sinh", "cosh", "arctan", "id",
})
# Results that never share a buffer with an argument.
_FRESH = ELEMENTWISE - {"id"} | {"copy", "sum", "amax", "amin", "mean", "prod", "zeros",
                                 "ones", "empty", "broadcast_like", "matmul", "dot"}
_KEEPDIMS = {"sum", "amax", "amin", "mean", "prod"}
_SHAPE_OF_ARG1 = {"unbroadcast", "materialize", "dematerialize", "broadcast_like",
                  "broadcast_as"}
F64 = Type("float64", 0)


def enabled() -> bool:
    return os.environ.get("CHAINRULE_FUSION", "1") != "0"


@dataclass(frozen=True)
class Kernel:
    """One fused loop nest. ``tree`` nodes: ``("leaf", k)``, ``("const", atom)``,
    ``("op", prim, params, children)``, ``("bcast", child, shape leaf, copies)`` (the child's
    value broadcast to the loop). ``leaves[k]`` is ``(ndim, unit_dims, role)`` for
    ``args[k]`` of the fused statement; role ``"value"`` (read by the tree), ``"shape"`` (only
    its shape counts: the ``like`` of a broadcast) or ``"target"`` (args[0] of an update).
    ``kind``: ``"map"`` (a new array), ``"reduce"`` (sum over ``axes`` of the loop, keeping
    them as size 1 when ``keep``) or ``"iadd"`` (target += tree)."""

    kid: int
    kind: str
    ndim: int
    tree: tuple
    leaves: tuple
    axes: tuple = ()
    keep: bool = False

    def placement(self, k: int) -> list:
        """(leaf dim, loop dim, assumed unit) for each dimension of leaf ``k``."""
        nd, units, _ = self.leaves[k]
        return [(j, self.ndim - nd + j, j in units) for j in range(nd)]

    def extents(self) -> list:
        """For each loop dimension, the (leaf, leaf dim) that defines its extent, or None (1)."""
        out: list = [None] * self.ndim
        order = sorted(range(len(self.leaves)), key=lambda k: self.leaves[k][2] != "target")
        for k in order:
            for j, d, unit in self.placement(k):
                if not unit and out[d] is None:
                    out[d] = (k, j)
        return out

    def checks(self) -> list:
        """(leaf, leaf dim, loop dim or None for "is 1") comparisons the guard makes."""
        ext = self.extents()
        out = []
        for k in range(len(self.leaves)):
            for j, d, unit in self.placement(k):
                if unit:
                    out.append((k, j, None))
                elif ext[d] != (k, j):
                    out.append((k, j, d))
        return out

    def __repr__(self) -> str:
        return f"Kernel#{self.kid}({self.kind})"


# -- analyses over the whole function ---------------------------------------------------------
class Facts:
    """Read and definition counts, buffer classes (names that may share memory) and the
    dimensions each variable is expected to have of size 1."""

    def __init__(self, fn: Function):
        self.reads: dict = {}
        self.defs: dict = {}
        self.parent: dict = {}
        for r in fn.results:
            if isinstance(r, Var):
                self.reads[r.name] = self.reads.get(r.name, 0) + 1
        for s in walk(fn.body):
            atoms = list(s.args) if isinstance(s, (Assign, Effect)) else []
            if isinstance(s, (If, While)):
                atoms = [s.cond]
            elif isinstance(s, ForRange):
                atoms = [s.start, s.stop, s.step]
            for a in atoms:
                if isinstance(a, Var):
                    self.reads[a.name] = self.reads.get(a.name, 0) + 1
            if isinstance(s, Assign):
                self.defs.setdefault(s.out.name, []).append(s)
                if s.prim not in _FRESH:
                    shared = s.args[:1] if s.prim in _SHAPE_OF_ARG1 else s.args
                    for a in shared:
                        if isinstance(a, Var) and a.type.ndim > 0:
                            self._union(s.out.name, a.name)
            elif isinstance(s, ForRange):
                self.defs.setdefault(s.var.name, []).append(s)
        self.units = unit_dims(fn, self.defs)

    def _find(self, name: str) -> str:
        while self.parent.get(name, name) != name:
            name = self.parent[name]
        return name

    def _union(self, a: str, b: str) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            self.parent[ra] = rb

    def same_buffer(self, a: str, b: str) -> bool:
        return self._find(a) == self._find(b)


def unit_dims(fn: Function, defs: dict) -> dict:
    """name -> frozenset of dimensions expected to have size 1 (a guess the guard checks).
    Definitions that make an empty placeholder (``zeros`` of size 0: an adjoint not yet
    sized) do not count."""
    units: dict = {}

    def of(a) -> frozenset:
        return units.get(a.name, frozenset()) if isinstance(a, Var) else frozenset()

    def rule(s: Assign):
        nd = s.out.type.ndim
        p = dict(s.params)
        if s.prim in ELEMENTWISE or s.prim == "copy":
            arrays = [a for a in s.args if a.type.ndim > 0]
            dims = set()
            for d in range(nd):
                if all(d - (nd - a.type.ndim) < 0 or (d - (nd - a.type.ndim)) in of(a)
                       for a in arrays):
                    dims.add(d)
            return frozenset(dims)
        if s.prim in _SHAPE_OF_ARG1 and len(s.args) > 1:
            return of(s.args[1])
        if s.prim in _KEEPDIMS and p.get("keepdims"):
            axis = p.get("axis")
            if axis is None:
                return frozenset(range(nd))
            axes = axis if isinstance(axis, tuple) else (axis,)
            return frozenset(a % nd for a in axes) | of(s.args[0])
        if s.prim == "expand_dims":
            ax = p["axis"] % nd
            return frozenset({ax} | {d + (d >= ax) for d in of(s.args[0])})
        if s.prim == "getitem":
            return _getitem_units(p["spec"], s.args[0], of(s.args[0]))
        return None  # unknown

    def placeholder(s) -> bool:
        return (isinstance(s, Assign) and s.prim == "zeros"
                and any(isinstance(a, Const) and a.value == 0 for a in s.args))

    for _ in range(2):  # twice: loop-carried definitions see their later definitions
        for name, ds in defs.items():
            found = None
            for s in ds:
                if not isinstance(s, Assign) or placeholder(s):
                    continue
                r = rule(s)
                r = frozenset() if r is None else r
                found = r if found is None else found & r
            units[name] = found or frozenset()
    return units


def _getitem_units(spec: tuple, x, x_units: frozenset) -> frozenset:
    if any(c in ("a", "m") for c in spec):
        return frozenset()
    used = sum(1 for c in spec if c == "i" or c[0] == "s")
    out, dim_in, dim_out = set(), 0, 0
    for c in spec:
        if c == "e":
            for _ in range(x.type.ndim - used):
                if dim_in in x_units:
                    out.add(dim_out)
                dim_in += 1
                dim_out += 1
        elif c == "n":
            out.add(dim_out)
            dim_out += 1
        elif c == "i":
            dim_in += 1
        else:  # a slice: a full one keeps a unit dimension
            if c == "s000" and dim_in in x_units:
                out.add(dim_out)
            dim_in += 1
            dim_out += 1
    for _ in range(dim_in, x.type.ndim):
        if dim_in in x_units:
            out.add(dim_out)
        dim_in += 1
        dim_out += 1
    return frozenset(out)


# -- building trees ----------------------------------------------------------------------------
def _f64(a) -> bool:
    if isinstance(a, Const):
        return isinstance(a.value, (int, float)) and not isinstance(a.value, bool) \
            and a.type.ndim == 0
    return a.type.dtype == "float64" and not a.type.tape


class _Builder:
    """Builds one kernel's tree for a root at ``pos`` of ``block``."""

    def __init__(self, facts: Facts, block: list, pos: int, ndim: int):
        self.facts, self.block, self.pos, self.ndim = facts, block, pos, ndim
        self.leaves: list = []  # (atom, role)
        self.absorbed: list = []  # positions of pulled-in producers
        self.where = {id(s): k for k, s in enumerate(block)}

    def leaf(self, atom, role: str = "value") -> tuple:
        if isinstance(atom, Const):
            return ("const", atom)
        for k, (a, r) in enumerate(self.leaves):
            if a.name == atom.name and r == role:
                return ("leaf", k)
        self.leaves.append((atom, role))
        return ("leaf", len(self.leaves) - 1)

    def producer(self, v, before: int):
        """The statement defining ``v`` that may be pulled in, with its position, or None."""
        if not isinstance(v, Var) or v.type.ndim == 0:
            return None
        ds = self.facts.defs.get(v.name, [])
        if len(ds) != 1 or self.facts.reads.get(v.name, 0) != 1:
            return None
        s = ds[0]
        q = self.where.get(id(s))
        if q is None or q >= before or not _fusible(s, self.facts) or s.out.type.ndim > self.ndim:
            return None
        return s, q

    def operand(self, v, before: int) -> tuple:
        found = self.producer(v, before)
        if found is not None:
            s, q = found
            mark = (len(self.leaves), len(self.absorbed))
            node = self.node(s, q)
            used = [self.leaves[k] for k in _leaf_ids(node)]
            if self._window_clean(q, before, used):
                self.absorbed.append(q)
                return node
            del self.leaves[mark[0]:]  # undo: the value stays an array
            del self.absorbed[mark[1]:]
        return self.leaf(v)

    def node(self, s: Assign, q: int) -> tuple:
        if s.prim in ("unbroadcast", "broadcast_like"):
            child = self.operand(s.args[0], q)
            # (a broadcast copies; an unbroadcast that keeps the shape returns its argument)
            return ("bcast", child, self.leaf(s.args[1], "shape"), s.prim == "broadcast_like")
        kids = tuple(self.operand(a, q) for a in s.args)
        return ("op", s.prim, s.params, kids)

    def _window_clean(self, q: int, p: int, new_leaves: list) -> bool:
        """No statement between ``q`` and ``p`` (other than pulled-in ones) changes what the
        moved statements read."""
        names = {a.name for a, _ in new_leaves}
        moved = set(self.absorbed)
        for r in range(q + 1, p):
            if r in moved:
                continue
            s = self.block[r]
            if isinstance(s, Assign):
                if s.out.name in names:
                    return False
            elif isinstance(s, Effect):
                t = s.args[0]
                if s.prim.startswith("tape_"):
                    continue
                if any(self.facts.same_buffer(t.name, n) for n in names):
                    return False
            else:
                return False  # control flow in between
        return True


def _fusible(s, facts: Facts) -> bool:
    if not isinstance(s, Assign) or not _f64(s.out) or not all(_f64(a) for a in s.args):
        return False
    if s.prim in ELEMENTWISE:
        return s.out.type.ndim > 0 and (s.prim != "pow" or isinstance(s.args[1], Const))
    if s.prim in ("unbroadcast", "broadcast_like"):
        g, like = s.args
        # a broadcast (or an unbroadcast that the guard proves to be the identity)
        return (g.type.ndim <= like.type.ndim if s.prim == "broadcast_like" else
                g.type.ndim == like.type.ndim
                and facts.units.get(like.name, frozenset()) <= _units(facts, g))
    return False


def _units(facts: Facts, a) -> frozenset:
    return facts.units.get(a.name, frozenset()) if isinstance(a, Var) else frozenset()


def _allocations(tree) -> int:
    """How many arrays the unfused code makes for ``tree``."""
    if tree[0] == "op":
        return 1 + sum(_allocations(c) for c in tree[3])
    if tree[0] == "bcast":
        return int(tree[3]) + _allocations(tree[1])
    return 0


def _leaf_ids(tree) -> set:
    if tree[0] == "leaf":
        return {tree[1]}
    if tree[0] == "op":
        return set().union(*(_leaf_ids(c) for c in tree[3]))
    if tree[0] == "bcast":
        return _leaf_ids(tree[1]) | _leaf_ids(tree[2])
    return set()


# -- roots -------------------------------------------------------------------------------------
def _root(s, facts: Facts, block: list, pos: int, kid: int):
    """(kernel, leaf atoms, absorbed positions) for a root statement, or None."""
    if isinstance(s, Effect) and s.prim == "additem" and s.param("spec") == ("e",):
        target, value = s.args[0], s.args[1]
        if not (_f64(target) and isinstance(value, Var) and _f64(value)) or target.type.ndim == 0:
            return None
        b = _Builder(facts, block, pos, target.type.ndim)
        b.leaf(target, "target")
        tree = b.operand(value, pos)
        if _allocations(tree) < 1:
            return None
        for a, _role in b.leaves[1:]:
            if facts.same_buffer(a.name, target.name) and not (
                    a.name == target.name and a.type.ndim == target.type.ndim):
                return None
        return _finish(b, "iadd", tree, kid)
    if not isinstance(s, Assign) or not _f64(s.out) or not all(_f64(a) for a in s.args):
        return None
    if s.prim == "sum" and s.args[0].type.ndim > 0:
        nd = s.args[0].type.ndim
        axis = s.param("axis")
        axes = tuple(range(nd)) if axis is None else tuple(
            sorted(a % nd for a in (axis if isinstance(axis, tuple) else (axis,))))
        b = _Builder(facts, block, pos, nd)
        tree = b.operand(s.args[0], pos)
        if _allocations(tree) < 1:
            return None
        return _finish(b, "reduce", tree, kid, axes, bool(s.param("keepdims")))
    if s.prim == "unbroadcast":
        g, like = s.args
        if g.type.ndim < like.type.ndim or _fusible(s, facts):
            return None
        nd = g.type.ndim
        lead = nd - like.type.ndim
        axes = tuple(range(lead)) + tuple(sorted(lead + j for j in _units(facts, like)))
        b = _Builder(facts, block, pos, nd)
        tree = b.operand(g, pos)
        b.leaf(like, "shape")
        if _allocations(tree) < 1 or lead:  # leading axes: a different result ndim; kept simple
            return None
        return _finish(b, "reduce", tree, kid, axes, True)
    if s.prim in ELEMENTWISE or s.prim == "broadcast_like":
        if not _fusible(s, facts):
            return None
        b = _Builder(facts, block, pos, s.out.type.ndim)
        tree = b.node(s, pos)
        if _allocations(tree) < 2:
            return None
        return _finish(b, "map", tree, kid)
    return None


def _finish(b: _Builder, kind: str, tree, kid: int, axes=(), keep=False):
    if any(a.type.ndim > b.ndim for a, _ in b.leaves):  # NumPy's error, from the old code
        return None
    if not any(role == "value" for _, role in b.leaves) or not any(
            a.type.ndim > 0 for a, _ in b.leaves):
        return None
    leaves = tuple((a.type.ndim, _units(b.facts, a) if role != "target" else frozenset(), role)
                   for a, role in b.leaves)
    k = Kernel(kid, kind, b.ndim, tree, leaves, axes, keep)
    return k, [a for a, _ in b.leaves], sorted(b.absorbed)


# -- the pass ----------------------------------------------------------------------------------
def fuse(fn: Function) -> Function:
    """``fn`` with fusible chains replaced by guarded loop nests (a new Function)."""
    if not enabled():
        return fn
    fn = _drop_final_zeroing(_shape_only(fn))
    facts = Facts(fn)
    counter = [0]
    body = _block(fn.body, facts, counter)
    if counter[0] == 0:
        return fn
    return Function(fn.name, fn.params, body, fn.results, fn.loc, fn.meta)


# -- two clean-ups of adjoint code that remove whole passes over arrays ------------------------
_SHAPE_READERS = {"materialize", "dematerialize", "broadcast_like", "unbroadcast"}


def _shape_only(fn: Function) -> Function:
    """Where ``t = f(x, ...)`` (elementwise, every array operand the same ``x`` of the result's
    ndim) is read for its shape only (``materialize(b, t)``), read ``x`` instead: it has that
    shape. Then ``t`` may have one reader left (and be fused into it) or none (and go)."""
    facts = Facts(fn)
    uses: dict = {}
    for s in walk(fn.body):
        if isinstance(s, (Assign, Effect)):
            for k, a in enumerate(s.args):
                if isinstance(a, Var):
                    uses.setdefault(a.name, []).append((s, k))
    # arrays whose shape never changes: arguments and names assigned once, at the top level
    fixed = {p.name for p in fn.params if not facts.defs.get(p.name)} | {
        st.out.name for st in fn.body
        if isinstance(st, Assign) and len(facts.defs.get(st.out.name, [])) == 1}
    swap: dict = {}
    dead: set = set()
    for name, ds in facts.defs.items():
        if len(ds) != 1 or not isinstance(ds[0], Assign) or ds[0].prim not in ELEMENTWISE:
            continue
        s = ds[0]
        arrays = {a.name: a for a in s.args if isinstance(a, Var) and a.type.ndim > 0}
        if len(arrays) != 1:
            continue
        (x,) = arrays.values()
        if x.type.ndim != s.out.type.ndim or x.name not in fixed:
            continue
        readers = uses.get(name, [])
        shape_reads = [r for r, k in readers
                       if k == 1 and isinstance(r, Assign) and r.prim in _SHAPE_READERS]
        if shape_reads:
            swap[name] = x
            if len(shape_reads) == facts.reads.get(name, 0):
                dead.add(name)
    if not swap:
        return fn

    def block(stmts: list) -> list:
        out = []
        for s in stmts:
            if isinstance(s, Assign) and s.out.name in dead:
                continue
            if isinstance(s, Assign) and s.prim in _SHAPE_READERS and \
                    isinstance(s.args[1], Var) and s.args[1].name in swap:
                s = Assign(s.out, s.prim, (s.args[0], swap[s.args[1].name]) + tuple(s.args[2:]),
                           s.params, s.loc)
            out.append(_map_blocks(s, block))
        return out

    return Function(fn.name, fn.params, block(fn.body), fn.results, fn.loc, fn.meta)


def _map_blocks(s, f):
    if isinstance(s, If):
        return If(s.cond, f(s.then), f(s.orelse), s.loc)
    if isinstance(s, While):
        return While(f(s.cond_body), s.cond, f(s.body), s.loc)
    if isinstance(s, ForRange):
        return ForRange(s.var, s.start, s.stop, s.step, f(s.body), s.loc)
    return s


def _drop_final_zeroing(fn: Function) -> Function:
    """Remove ``b[...] = 0`` (an adjoint reset after its last use) from the function's top
    level when nothing after it reads ``b`` or anything that may share its memory, and ``b``
    is no argument's buffer."""
    facts = Facts(fn)
    # (an argument's buffer is the caller's: writes into it are seen)
    results = {r.name for r in fn.results if isinstance(r, Var)} | {p.name for p in fn.params}
    body = list(fn.body)
    later: set = set(results)  # names read after the current position
    keep = []
    for s in reversed(body):
        if (isinstance(s, Effect) and s.prim == "setitem" and s.param("spec") == ("e",)
                and isinstance(s.args[1], Const) and s.args[1].value == 0
                and not any(facts.same_buffer(s.args[0].name, n) for n in later)):
            continue
        keep.append(s)
        for t in walk([s]):
            atoms = list(t.args) if isinstance(t, (Assign, Effect)) else (
                [t.cond] if isinstance(t, (If, While)) else
                [t.start, t.stop, t.step] if isinstance(t, ForRange) else [])
            later.update(a.name for a in atoms if isinstance(a, Var))
    if len(keep) == len(body):
        return fn
    return Function(fn.name, fn.params, keep[::-1], fn.results, fn.loc, fn.meta)


def _block(block: list, facts: Facts, counter: list, in_loop: bool = False) -> list:
    block = [_nested(s, facts, counter, in_loop) for s in block]
    replaced: dict = {}  # position -> new statements
    dropped: set = set()
    for pos in range(len(block) - 1, -1, -1):
        if pos in dropped:
            continue
        found = _root(block[pos], facts, block, pos, counter[0])
        if found is None:
            continue
        kernel, leaves, absorbed = found
        if in_loop and kernel.kind == "iadd" and not _broadcasts_or_saves_two(kernel):
            continue  # compile time: see docs/fusion.md, "Cost rule"
        if any(q in dropped or q in replaced for q in absorbed):
            continue
        counter[0] += 1
        replaced[pos] = _guarded(block, pos, kernel, leaves, absorbed)
        dropped.update(absorbed)
    out = []
    for pos, s in enumerate(block):
        if pos in dropped:
            continue
        out.extend(replaced.get(pos, [s]))
    return out


def _nested(s, facts: Facts, counter: list, in_loop: bool):
    if isinstance(s, If):
        return If(s.cond, _block(s.then, facts, counter, in_loop),
                  _block(s.orelse, facts, counter, in_loop), s.loc)
    if isinstance(s, While):
        return While(_block(s.cond_body, facts, counter, True), s.cond,
                     _block(s.body, facts, counter, True), s.loc)
    if isinstance(s, ForRange):
        return ForRange(s.var, s.start, s.stop, s.step, _block(s.body, facts, counter, True),
                        s.loc)
    return s


def _broadcasts_or_saves_two(k: Kernel) -> bool:
    """An update worth its loop inside a loop body: its tree broadcasts an operand or saves
    at least two arrays (a single elementwise product added into an adjoint is not)."""
    if _allocations(k.tree) >= 2:
        return True
    return any(role == "value" and (nd < k.ndim or units) for nd, units, role in k.leaves)


def _guarded(block: list, pos: int, kernel: Kernel, leaves: list, absorbed: list) -> list:
    root = block[pos]
    params = (("kernel", kernel),)
    if isinstance(root, Effect):
        fused = Effect("fused_iadd", tuple(leaves), params, root.loc)
    else:
        fused = Assign(root.out, "fused", tuple(leaves), params, root.loc)
    original = [block[q] for q in absorbed] + [root]
    if not kernel.checks():
        return [fused]
    ok = Var(f"_fu{kernel.kid}ok", Type("bool", 0))
    return [Assign(ok, "fused_guard", tuple(leaves), params, root.loc),
            If(ok, [fused], original, root.loc)]
