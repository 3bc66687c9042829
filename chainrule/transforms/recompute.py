"""Store or recompute: per-trip restore-and-recompute for innermost loops in reverse mode.

For a loop whose body has no loop inside it (straight-line code and ``if``s), the forward sweep
saves only what a trip destroys, at the trip's start: the *entry values* of the variables the
trip reads before it assigns them (loop-carried scalars, rebound arrays: pushed by reference)
and a *snapshot* of each array the trip reads before overwriting it in place (such a loop is
planned only when those overwrites are whole-array writes, ``u[...] = v``, so the snapshot costs
what the trip destroys anyway). Everything else the reverse sweep needs is recomputed: for each
trip, backwards, the reverse sweep restores the trip's entry state, re-runs the body with no
tape (pruned to what the trip's adjoint reads), then runs the body's adjoint. ``if`` conditions
are recomputed too, never taped.

Cost model (which loops recompute): a loop recomputes when it is innermost; a loop with loops
inside keeps the per-statement tape (its trips are long, and its inner loops recompute). An
innermost loop falls back to the tape when it reads an array slot before overwriting it other
than by a whole-array write (a snapshot there would cost the array's size per trip).

Reading an array's *shape* (``x.shape[k]``, ``len(x)``, ``x.size``, ``np.zeros_like(x)``) is
not a read of its contents: in-place writes never change a shape, so a trip that sizes a loop
or checks an index against ``du.shape[1]`` and then writes ``du[i, j] = v`` destroys nothing
it reads, and neither the trip nor the reverse sweep needs ``du``'s old slots.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ir.nodes import Assign, Const, Effect, ForRange, Function, If, Var, While, stmt_reads, walk
from ..ir.types import I64
from .activity import is_view

_WRITES = ("setitem", "additem")
#: primitive -> positions of arguments it reads only for their shape (never their contents)
SHAPE_ONLY = {"shape": (0,), "size": (0,), "zeros_like": (0,), "empty_like": (0,),
              "ones_like": (0,), "full_like": (0,), "unbroadcast": (1,), "materialize": (1,),
              "dematerialize": (1,), "broadcast_like": (1,)}


def content_reads(s) -> list:
    """Atoms ``s`` reads for their value: ``stmt_reads`` less the arguments read only for
    their shape, and less the array a ``setitem`` writes into."""
    reads = _reads(s)
    if isinstance(s, Assign) and s.prim in SHAPE_ONLY:
        skip = SHAPE_ONLY[s.prim]
        reads = [a for k, a in enumerate(reads) if k not in skip]
    return reads
_DERIVATIVE_PRIMS = ("tape_new", "tape_pop", "adj_zero", "materialize")


@dataclass
class TripPlan:
    unit: list                      # one trip's statements (a while loop: cond_body + body)
    entry: list                     # variables pushed at each trip's start (read before written)
    snapshots: list                 # arrays copied at each trip's start (read, then overwritten)
    written: dict                   # name -> Var of every variable the trip assigns
    twice: set                      # names assigned more than once in the trip
    outside_reads: set              # names the trip reads but does not write
    outside_contents: set = field(default_factory=set)  # those of them read for their contents
    conds: dict = field(default_factory=dict)  # id(If) -> the atom the adjoint branches on
    saved_inside: set | None = None  # see trip_saved
    kept: dict = field(default_factory=dict)  # id(Assign) -> local holding the value it replaced
    snapshot_locals: dict = field(default_factory=dict)  # array name -> its popped snapshot
    slot_taped: set | None = None  # see slots_taped


def view_roots(fn: Function):
    """``find(name)``: the array a view (made by basic indexing or a view primitive) comes from."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for s in walk(fn.body):
        if isinstance(s, Assign) and s.args and isinstance(s.args[0], Var) and is_view(s):
            a, b = find(s.out.name), find(s.args[0].name)
            if a != b:
                parent[a] = b
    return find


def plan_loops(fn: Function) -> dict[int, TripPlan]:
    """``{id(loop): plan}`` for every loop of ``fn`` that recomputes its trips."""
    find = view_roots(fn)
    plans = {}
    for s in walk(fn.body):
        if isinstance(s, ForRange):
            unit = s.body
        elif isinstance(s, While):
            unit = s.cond_body + s.body
        else:
            continue
        plan = _plan(unit, find)
        if plan is not None:
            plans[id(s)] = plan
    return plans


def _plan(unit: list, find) -> TripPlan | None:
    stmts = list(walk(unit))
    for s in stmts:
        if isinstance(s, (ForRange, While)):
            return None
        if isinstance(s, Effect) and s.prim not in _WRITES:
            return None
        if isinstance(s, Assign) and (s.prim in _DERIVATIVE_PRIMS or s.out.type.tape):
            return None
    written: dict = {}
    counts: dict = {}
    for s in stmts:
        if isinstance(s, Assign):
            written.setdefault(s.out.name, s.out)
            counts[s.out.name] = counts.get(s.out.name, 0) + 1
    # Arrays written in place: where their class is read and written.
    first_read: dict = {}
    last_write: dict = {}
    whole_only: dict = {}
    rebound_roots = {find(n) for n, v in written.items() if v.type.ndim > 0}
    for pos, s in enumerate(stmts):
        if isinstance(s, Effect):
            root = find(s.args[0].name)
            last_write[root] = pos
            whole = s.args[0].name == root and dict(s.params).get("spec") == ("e",)
            whole_only[root] = whole_only.get(root, True) and whole
            if s.prim == "additem":
                first_read.setdefault(root, pos)
        for a in content_reads(s)[(1 if isinstance(s, Effect) and s.prim == "additem" else 0):]:
            if isinstance(a, Var) and a.type.ndim > 0:
                first_read.setdefault(find(a.name), pos)
    snapshots = []
    for root, w in last_write.items():
        if root in rebound_roots:
            return None
        if first_read.get(root, len(stmts)) <= w:
            if not whole_only[root]:
                return None
            snapshots.append(_effect_target(stmts, root))
    exposed = _exposed(unit, set(written), set())
    entry = [written[n] for n in written if n in exposed]
    # Arrays the trip reads (other than snapshots) must hold their trip-time contents when the
    # trip is recomputed, so later writes into them save the slots they overwrite.
    snapped = {v.name for v in snapshots}
    outside, contents = set(), set()
    for s in stmts:
        for reads, into in ((_reads(s), outside), (content_reads(s), contents)):
            into.update(a.name for a in reads if isinstance(a, Var) and a.name not in written
                        and find(a.name) not in snapped)
    # An array the trip writes in place and then reads may hold slots written by an earlier
    # trip (``a[i % 2] = x; y = a[(i + 1) % 2]``): its recomputation needs them restored.
    again = {root for root in last_write if root in first_read and root not in snapped}
    return TripPlan(unit, entry, snapshots, written,
                    {n for n, c in counts.items() if c > 1}, outside | again, contents | again)


def _reads(s) -> list:
    """Atoms ``s`` reads (a ``setitem`` does not read the array it writes into)."""
    reads = stmt_reads(s)
    return reads[1:] if isinstance(s, Effect) and s.prim == "setitem" else reads


def _effect_target(stmts: list, root: str) -> Var:
    return next(s.args[0] for s in stmts if isinstance(s, Effect) and s.args[0].name == root)


def _exposed(stmts: list, written: set, defined: set) -> set:
    """Names in ``written`` that some path through ``stmts`` reads before assigning them
    (``defined`` is updated in place with the names assigned on every path)."""
    exposed: set = set()

    def reads(atoms):
        for a in atoms:
            if isinstance(a, Var) and a.name in written and a.name not in defined:
                exposed.add(a.name)

    for s in stmts:
        if isinstance(s, Assign):
            reads(s.args)
            defined.add(s.out.name)
        elif isinstance(s, Effect):
            reads(s.args)
        elif isinstance(s, If):
            reads([s.cond])
            d_then, d_else = set(defined), set(defined)
            exposed |= _exposed(s.then, written, d_then)
            exposed |= _exposed(s.orelse, written, d_else)
            defined |= d_then & d_else
    return exposed


def prune_recompute(recompute: list, adjoint: list, find) -> list:
    """Drop the recomputed statements whose values neither the trip's adjoint nor a kept
    statement reads (``find`` maps an array to its root, so writes through views count)."""
    needed: set = set()
    roots: set = set()

    def need(atoms, by_value=None):
        for a in atoms:
            if isinstance(a, Var):
                needed.add(a.name)
        # in-place writes matter only to arrays read for their contents
        roots.update(find(a.name) for a in (atoms if by_value is None else by_value)
                     if isinstance(a, Var))

    def need_stmt(s):
        need(_reads(s), content_reads(s))

    for s in walk(adjoint):
        need_stmt(s)

    def back(stmts: list) -> list:
        kept = []
        for s in reversed(stmts):
            if isinstance(s, Assign):
                if s.out.name not in needed:
                    continue
                need_stmt(s)
            elif isinstance(s, Effect):
                if s.prim != "tape_push" and find(s.args[0].name) not in roots:
                    continue
                need_stmt(s)
            elif isinstance(s, If):
                s = If(s.cond, back(s.then), back(s.orelse), s.loc)
                if not s.then and not s.orelse:
                    continue
                need([s.cond])
            kept.append(s)
        return kept[::-1]

    return back(recompute)


def names_outside(fn: Function, loop) -> set:
    """Names read or written by statements of ``fn`` outside ``loop``'s body."""
    names = {r.name for r in fn.results if isinstance(r, Var)}

    def visit(stmts):
        for s in stmts:
            if s is loop:
                continue
            names.update(a.name for a in stmt_reads(s) if isinstance(a, Var))
            if isinstance(s, Assign):
                names.add(s.out.name)
            elif isinstance(s, Effect):
                names.add(s.args[0].name)
            elif isinstance(s, If):
                visit(s.then)
                visit(s.orelse)
            elif isinstance(s, While):
                visit(s.cond_body)
                visit(s.body)
            elif isinstance(s, ForRange):
                names.add(s.var.name)
                visit(s.body)

    visit(fn.body)
    return names


def copy_stmt(s):
    """A new statement object equal to ``s`` (recomputed code is not the user's statement)."""
    if isinstance(s, Assign):
        return Assign(s.out, s.prim, s.args, s.params, s.loc)
    if isinstance(s, Effect):
        return Effect(s.prim, s.args, s.params, s.loc)
    raise TypeError(s)


# -- code for a planned loop (``rv`` is the reverse transform building it) ---------------------
def trip_saved(rv, plan: TripPlan) -> set:
    """Variables the trip's adjoint restores within the trip: those whose old value a rule reads
    and that the trip assigns after reading them or assigns twice."""
    if plan.saved_inside is None:
        entry = {v.name for v in plan.entry}
        plan.saved_inside = {n for n in plan.written
                             if n in rv.saved and (n in plan.twice or n in entry)}
    return plan.saved_inside


def slots_taped(rv, plan: TripPlan, target: Var) -> bool:
    """Whether the trip's adjoint restores the slots a write into ``target`` overwrites (from
    a tape). A snapshot array that no rule of the trip reads is instead reset from its snapshot
    once, after the trip's adjoint."""
    if not rv.slots_saved(target):
        return False
    if not any(a.name == target.name for a in plan.snapshots):
        return True
    if plan.slot_taped is None:
        find = rv.find_root
        reads = set()
        for s in walk(plan.unit):
            if isinstance(s, Assign) and s.out.name in rv.active:
                p = rv.prims[s.prim]
                if not p.nondiff and not p.linear:
                    reads |= {find(n) for n in rv._rule_reads(s)[1]}
        plan.slot_taped = {a.name for a in plan.snapshots if find(a.name) in reads}
    return target.name in plan.slot_taped


def slot_tape(plan: TripPlan, target: Var) -> str:
    """Which tape the overwritten slots of ``target`` go on inside a trip: slots of a snapshot
    array are pushed while the trip is recomputed (``_re``), those of other arrays in the
    forward sweep (``_slots``); both apart from the entry state, which is pushed at the trip's
    start and popped before the trip's slots are, so sharing one tape would mix them up."""
    return "_re" if any(a.name == target.name for a in plan.snapshots) else "_slots"


def saved_once(rv, loop, plan: TripPlan) -> list:
    """Variables the loop overwrites whose value before the loop the rest of the reverse sweep
    reads: pushed once before the loop, popped after its reverse."""
    inside = trip_saved(rv, plan)
    outside = names_outside(rv.fn, loop)
    return [v for n, v in plan.written.items()
            if n in rv.saved and n not in inside and n in outside]


def push_entry(rv, plan: TripPlan) -> None:
    b = rv.b
    for v in plan.entry:
        b.effect("tape_push", rv.tape(v.type), v)
    for a in plan.snapshots:
        b.effect("tape_push", rv.tape(a.type), b.copy(a))


def pop_entry(rv, plan: TripPlan) -> None:
    b = rv.b
    for a in reversed(plan.snapshots):
        plan.snapshot_locals[a.name] = snap = b.tape_pop(rv.tape(a.type))
        b.effect("setitem", a, snap, spec=("e",))
    for v in reversed(plan.entry):
        b.emit("tape_pop", rv.tape(v.type), out=v)


def fwd_loop(rv, s, plan: TripPlan) -> None:
    """Forward sweep of a planned loop: the primal, plus each trip's entry state."""
    b = rv.b
    once = saved_once(rv, s, plan)
    for v in once:
        b.effect("tape_push", rv.tape(v.type), v)
    n = b.new_var("trips", I64)
    b.emit("id", 0, out=n)
    rv.trip, rv.recomputing = plan, False
    if isinstance(s, ForRange):
        start, step = rv.range_start_step(s)
        body: list = []
        with b.nested(body):
            push_entry(rv, plan)
        body += rv.fwd_block(s.body)
        with b.nested(body):
            b.emit("add", n, 1, out=n)
        b.append(ForRange(s.var, start, s.stop, step, body, s.loc))
        rv.trip = None
        rv.push_range(start, step, n)
    else:
        cond_body: list = []
        with b.nested(cond_body):
            push_entry(rv, plan)
        cond_body += rv.fwd_block(s.cond_body)
        body = rv.fwd_block(s.body)
        with b.nested(body):
            b.emit("add", n, 1, out=n)
        b.append(While(cond_body, s.cond, body, s.loc))
        rv.trip = None
        b.effect("tape_push", rv.tape(I64), n)


def rev_trip(rv, plan: TripPlan, unit: list) -> list:
    """One trip backwards: restore its entry state, recompute it, run its adjoint."""
    out: list = []
    with rv.b.nested(out):
        pop_entry(rv, plan)
    rv.trip, rv.recomputing = plan, True
    recompute = rv.fwd_block(unit)
    rv.recomputing = False
    adjoint = rv.rev_block(unit)
    with rv.b.nested(adjoint):
        for a in plan.snapshots:
            if rv.slots_saved(a) and not slots_taped(rv, plan, a):
                rv.b.effect("setitem", a, plan.snapshot_locals[a.name], spec=("e",))
    rv.trip = None
    return out + prune_recompute(recompute, adjoint, rv.find_root) + adjoint


def rev_loop(rv, s, plan: TripPlan) -> None:
    b = rv.b
    if isinstance(s, ForRange):
        rv.backwards(s, lambda: rev_trip(rv, plan, s.body))
    else:
        n = b.tape_pop(rv.tape(I64))
        for st in rev_trip(rv, plan, s.cond_body):
            b.append(st)
        body = rev_trip(rv, plan, s.cond_body + s.body)
        zero, one = Const(0, I64, True), Const(1, I64, True)
        b.append(ForRange(b.new_var("k", I64), zero, n, one, body, s.loc))
    for v in reversed(saved_once(rv, s, plan)):
        b.emit("tape_pop", rv.tape(v.type), out=v)
