"""Checkpointing of long loops in reverse mode: snapshots every K trips, segments recomputed.

A ``for`` loop that recomputes its trips (``recompute.py``) still tapes each trip's entry state
in the forward sweep, so its tape grows with the trip count. For a loop with many trips the
forward sweep instead runs the plain primal in segments of K trips and stores a *checkpoint*
at the start of each segment: the trip's entry state (loop-carried variables, snapshot arrays)
plus a copy of every array the trip writes in place. The reverse sweep takes the segments
backwards: it restores the segment's checkpoint, re-runs the segment forward with the per-trip
tape of ``recompute.py`` (re-taping K trips), then reverses those K trips as before. The tape
holds at most ``n / K`` checkpoints and ``K`` trips' entry states.

Policy, decided at run time when the loop starts (its trip count ``n`` is known then), from
``checkpoint=`` of ``grad``/``value_and_grad``/``jacrev``/``vjp_function``:

* ``"auto"`` (also ``None``, the default): with ``E_trip`` the elements the plain scheme tapes
  per trip and ``E_ck`` those of one checkpoint (array sizes read at run time; an array kept by
  reference counts its size plus 16), a loop is checkpointed when ``n * E_trip`` exceeds
  ``AUTO_BOUND`` elements, with ``K = floor(sqrt(n * E_ck / E_trip)) + 1`` (which minimises
  ``(n / K) * E_ck + K * E_trip``), unless that gives ``K >= n``;
* an int ``K``: segments of ``K`` trips for every loop with more than ``K`` trips;
* ``False``: never (no checkpointing code is generated).

Cost: the forward sweep does not tape; each trip's primal runs once more than without
checkpointing (the segment's re-run), and every segment copies its checkpoint. ``while`` loops
are not checkpointed (their trip count is not known when they start), nor are loops that keep
the per-statement tape (loops with loops inside, derivative code differentiated again).
"""

from __future__ import annotations

from ..ir.nodes import Const, Effect, ForRange, If, Var, walk
from ..ir.types import I64
from . import recompute

AUTO_BOUND = 1 << 20  # elements (8 MiB of float64) a loop may tape before it is checkpointed
_REFERENCE_COST = 16  # elements charged for keeping an array by reference on a tape


def check_option(value):
    """Validate a ``checkpoint=`` option; returns it normalised (``None`` -> ``"auto"``)."""
    if value is None or value is True or (isinstance(value, str) and value == "auto"):
        return "auto"
    if value is False:
        return False
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return int(value)
    raise ValueError(f"checkpoint={value!r}: use 'auto' (or None), False, or a segment length "
                     "(an int >= 1)")


def applies(rv, s, plan) -> bool:
    """Whether the loop ``s`` gets checkpointing code."""
    mode = getattr(rv, "checkpoint", "auto")
    if mode is False or not isinstance(s, ForRange):
        return False
    if any(t.name in plan.written for t in _written_arrays(plan)):
        return False
    if all(isinstance(a, Const) for a in (s.start, s.stop, s.step)):
        n = len(range(s.start.value, s.stop.value, s.step.value))
        return n > (16 if mode == "auto" else mode)
    return True


# -- what a checkpoint holds -------------------------------------------------------------------
def _written_arrays(plan) -> list:
    """Arrays the trip writes in place (by the name written), snapshots first."""
    seen = {a.name: a for a in plan.snapshots}
    for s in walk(plan.unit):
        if isinstance(s, Effect) and s.prim in ("setitem", "additem"):
            seen.setdefault(s.args[0].name, s.args[0])
    return list(seen.values())


def _push_checkpoint(rv, plan) -> None:
    b = rv.b
    for v in plan.entry:
        b.effect("tape_push", rv.tape(v.type), v)
    for a in _written_arrays(plan):
        b.effect("tape_push", rv.tape(a.type), b.copy(a))


def _pop_checkpoint(rv, plan) -> None:
    b = rv.b
    for a in reversed(_written_arrays(plan)):
        b.effect("setitem", a, b.tape_pop(rv.tape(a.type)), spec=("e",))
    for v in reversed(plan.entry):
        b.emit("tape_pop", rv.tape(v.type), out=v)


def _sum(b, static: int, terms: list):
    total = static
    for x in terms:
        total = b.add(total, x)
    return total


def _elements(rv, plan) -> tuple:
    """``(E_trip, E_ck)`` (see the module docstring): each a constant plus run-time sizes."""
    b = rv.b
    snapped = {a.name for a in plan.snapshots}
    entry, entry_sizes = 0, []
    for v in plan.entry:
        entry += 1 if v.type.ndim == 0 else _REFERENCE_COST
        if v.type.ndim:
            entry_sizes.append(b.size(v))
    trip, trip_sizes = entry, entry_sizes + [b.size(a) for a in plan.snapshots]
    for s in walk(plan.unit):
        if isinstance(s, Effect) and s.prim in ("setitem", "additem") and \
                s.args[0].name not in snapped:
            region = b.infer("getitem", [s.args[0], *s.args[2:]], dict(s.params))
            if region.ndim == 0:
                trip += 1
            else:
                trip_sizes.append(b.size(s.args[0]))
    ck_sizes = entry_sizes + [b.size(a) for a in _written_arrays(plan)]
    return _sum(b, max(trip, 1), trip_sizes), _sum(b, max(entry, 1), ck_sizes)


def _extreme(b, a, c, keep: str):
    """``max(a, c)`` (``keep="gt"``) or ``min(a, c)`` (``"lt"``) of ints, with a comparison
    (a scalar NumPy ufunc costs Numba a second of compiling)."""
    m = b.new_var("lim", I64)
    b.emit("id", a, out=m)
    other: list = []
    with b.nested(other):
        b.emit("id", c, out=m)
    b.append(If(b.emit(keep, c, a), other, []))
    return m


def _segment_length(rv, plan, n) -> Var:
    """The run-time segment length ``K`` (0: no checkpointing)."""
    b = rv.b
    mode = rv.checkpoint
    k = b.new_var("ck_len", I64)
    b.emit("id", 0, out=k)
    chosen: list = []
    if mode == "auto":
        e_trip, e_ck = _elements(rv, plan)
        static = isinstance(e_trip, int) and isinstance(e_ck, int)
        with b.nested(chosen):
            ratio = e_ck / e_trip if static else b.div(b.to_float(e_ck), b.to_float(e_trip))
            scaled = b.to_float(n) if ratio == 1 else b.mul(b.to_float(n), ratio)
            best = b.add(b.to_int(b.pow(scaled, 0.5)), 1)
            fits: list = []
            with b.nested(fits):
                b.emit("id", best, out=k)
            b.append(If(b.lt(best, n), fits, []))
        over = b.gt(n, AUTO_BOUND // e_trip) if static else \
            b.gt(b.mul(n, e_trip), AUTO_BOUND)
        b.append(If(over, chosen, []))
    else:
        with b.nested(chosen):
            b.emit("id", mode, out=k)
        b.append(If(b.gt(n, mode), chosen, []))
    return k


# -- the two sweeps ----------------------------------------------------------------------------
def _copy_block(stmts: list) -> list:
    out = []
    for s in stmts:
        if isinstance(s, If):
            out.append(If(s.cond, _copy_block(s.then), _copy_block(s.orelse), s.loc))
        else:
            out.append(recompute.copy_stmt(s))
    return out


def _trips(b, s: ForRange, start, step, lo, hi, body_of, backwards=False) -> ForRange:
    """``for t in range(lo, hi)`` (backwards: from ``hi - 1`` down to ``lo``) setting the
    loop's index to ``start + t * step``; over the index itself when that is ``t``."""
    one = Const(1, I64, True)
    direct = isinstance(start, Const) and start.value == 0 and \
        isinstance(step, Const) and step.value == 1
    t = s.var if direct else b.new_var("t", I64)
    body: list = []
    with b.nested(body):
        if not direct:
            b.emit("add", start, t if _is(step, 1) else b.mul(t, step), out=s.var)
    body += body_of()
    if backwards:
        return ForRange(t, b.sub(hi, 1), b.sub(lo, 1), Const(-1, I64, True), body, s.loc)
    return ForRange(t, lo, hi, one, body, s.loc)


def _is(a, value) -> bool:
    return isinstance(a, Const) and a.value == value


def _taped_trip(rv, s, plan, copy: bool) -> list:
    """One trip forward with the per-trip tape of ``recompute.py``."""
    out: list = []
    with rv.b.nested(out):
        recompute.push_entry(rv, plan)
    rv.trip, rv.recomputing = plan, False
    out += rv.fwd_block(_copy_block(s.body) if copy else s.body)
    rv.trip = None
    return out


def _segments(b, n, k, make_body, loc, backwards: bool) -> ForRange:
    """A loop over the segments of ``range(n)`` (``k`` trips each), ``make_body(j0, j1)``
    giving one segment's statements."""
    q = b.new_var("seg", I64)
    nseg = b.floordiv(b.sub(b.add(n, k), 1), k)
    body: list = []
    with b.nested(body):
        index = b.sub(b.sub(nseg, 1), q) if backwards else q
        j0 = b.mul(index, k)
        j1 = _extreme(b, n, b.add(j0, k), "lt")
    body += make_body(j0, j1)
    return ForRange(q, Const(0, I64, True), nseg, Const(1, I64, True), body, loc)


def _guarded(stmts: list, cond) -> list:
    """``stmts`` with every tape push done only when ``cond`` holds."""
    out = []
    for s in stmts:
        if isinstance(s, If):
            s = If(s.cond, _guarded(s.then, cond), _guarded(s.orelse, cond), s.loc)
        elif isinstance(s, Effect) and s.prim == "tape_push":
            s = If(cond, [s], [], s.loc)
        out.append(s)
    return out


def _segment_plan(b, k, n) -> tuple:
    """``(on, length)``: whether ``K > 0``, and the segment length in effect (the whole loop
    when not checkpointing)."""
    on = b.gt(k, 0)
    length = b.new_var("seg_len", I64)
    b.emit("id", _extreme(b, n, 1, "gt"), out=length)
    use_k: list = []
    with b.nested(use_k):
        b.emit("id", k, out=length)
    b.append(If(on, use_k, []))
    return on, length


def fwd_loop(rv, s: ForRange, plan) -> None:
    """Forward sweep, in segments (one when ``K`` is 0): with ``K > 0`` a checkpoint before
    each segment and no tape inside; else the per-trip tape of ``recompute.py``. (One copy of
    the trip serves both, its pushes guarded, so the code stays small.)"""
    b = rv.b
    for v in recompute.saved_once(rv, s, plan):
        b.effect("tape_push", rv.tape(v.type), v)
    start, step = rv.range_start_step(s)
    stop = s.stop if isinstance(s.stop, Const) else b.emit("id", s.stop)
    # trips: ceil((stop - start) / step), at least 0
    if _is(step, 1):
        n = _extreme(b, stop if _is(start, 0) else b.sub(stop, start), 0, "gt")
    else:
        n = _extreme(b, b.neg(b.floordiv(b.sub(start, stop), step)), 0, "gt")
    k = _segment_length(rv, plan, n)
    on, length = _segment_plan(b, k, n)
    off = b.not_(on)

    def segment(j0, j1) -> list:
        out: list = []
        with b.nested(out):
            checkpoint: list = []
            with b.nested(checkpoint):
                _push_checkpoint(rv, plan)
            b.append(If(on, checkpoint, []))
            b.append(_trips(b, s, start, step, j0, j1,
                            lambda: _guarded(_taped_trip(rv, s, plan, copy=False), off)))
        return out

    b.append(_segments(b, n, length, segment, s.loc, backwards=False))
    for v in (start, step, n, k):
        if isinstance(v, Var):
            b.effect("tape_push", rv.tape(I64), v)


def rev_loop(rv, s: ForRange, plan) -> None:
    """Reverse sweep: segments backwards; each restores its checkpoint and re-tapes its trips
    (when ``K > 0``: without checkpointing, one segment whose trips the forward sweep taped),
    then reverses them trip by trip."""
    b = rv.b
    ti = rv.tape(I64)
    k = b.tape_pop(ti)
    n = b.tape_pop(ti)
    step = s.step if isinstance(s.step, Const) else b.tape_pop(ti)
    start = s.start if isinstance(s.start, Const) else b.tape_pop(ti)
    on, length = _segment_plan(b, k, n)
    adjoint = recompute.rev_trip(rv, plan, s.body)

    def segment(j0, j1) -> list:
        out: list = []
        with b.nested(out):
            again: list = []
            with b.nested(again):
                _pop_checkpoint(rv, plan)
                b.append(_trips(b, s, start, step, j0, j1,
                                lambda: _taped_trip(rv, s, plan, copy=True)))
            b.append(If(on, again, []))
            b.append(_trips(b, s, start, step, j0, j1, lambda: adjoint, backwards=True))
        return out

    b.append(_segments(b, n, length, segment, s.loc, backwards=True))
    for v in reversed(recompute.saved_once(rv, s, plan)):
        b.emit("tape_pop", rv.tape(v.type), out=v)
