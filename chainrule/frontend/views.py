"""In-place writes into arrays, and the views they may go through.

NumPy's basic indexing (integers, slices, ``None``, ``...``) returns *views*: ``v = a[1:]``
shares ``a``'s memory, so ``v[0] = 3.0`` changes ``a[1]``. Reverse mode keeps one adjoint per
IR variable, so a write must land in the variable that owns the buffer. The front end therefore
remembers, for every view it creates by basic indexing of an array variable, its *parent* and the
index, and rewrites

* a write through a view into a write into its root, with the index composed
  (``v = a[1:]; v[i] = x``  ->  ``a[1 + i] = x``; ``r = A[k]; r[j] += y`` -> ``A[k, j] += y``),
* a read of an element or a slice of a view whose root has been written since the view was
  made (or is written in a loop the read sits in) into a read of the root with the composed
  index, and
* a use of such a view as a whole into a fresh slice of the root (``a[1:]`` again), so no IR
  variable ever holds a view that a later write made stale.

``b = a`` needs nothing: both names are bound to the same IR variable. Composition needs the
sign of every slice step at compile time; index arithmetic with run-time integers is emitted as
scalar IR (normalizing negative indices and clipping slices as Python does). What cannot be
composed -- views through ``reshape``/``.T``, views joined from two branches, a run-time slice
step -- is written through the view as before; forward mode handles it, and reverse mode's
alias check (:mod:`chainrule.transforms.aliases`) raises ``UnsupportedMutationError`` if the
gradient would be wrong. Out-of-bounds indices into a view are not checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import pytree
from ..errors import ChainruleTypeError
from ..ir.builder import const
from ..ir.nodes import Const, Var


class Unprovable(Exception):
    """An index that cannot be composed with a view's index at compile time."""


@dataclass(eq=False)
class ViewInfo:
    var: Var  # the view variable this record describes (matched by identity)
    parent: Var  # the array it was indexed from (itself possibly a view)
    root: Var  # the array that owns the memory
    entries: tuple  # the index, one entry per parent axis: ("i", a) ("s", lo, hi, st) ("n",)
    stamp: int  # the root's write count when the view was made
    loops: tuple  # the loops open when it was made


# -- index entries --------------------------------------------------------------------------
def is_basic(spec: tuple) -> bool:
    return not any(code in ("a", "m") for code in spec)


def entries_of(spec: tuple, idx: list, ndim: int) -> list:
    """Entries of an index for an array of ``ndim`` dims: ``...`` expanded, axes the index
    leaves out made explicit full slices. Codes ``a``/``m`` become ("a", atom)/("m", atom)."""
    items: list = []
    k = 0
    for code in spec:
        if code in ("i", "a", "m"):
            items.append((code, idx[k]))
            k += 1
        elif code == "n" or code == "e":
            items.append((code,))
        else:
            parts = []
            for flag in code[1:]:
                parts.append(idx[k] if flag == "1" else None)
                k += flag == "1"
            if _known(parts[2]) == 1:
                parts[2] = None
            items.append(("s", *parts))
    used = sum(_axes_used(it) for it in items)
    fill = max(ndim - used, 0)
    out: list = []
    for it in items:
        if it[0] == "e":
            out += [_FULL] * fill
            fill = 0
        else:
            out.append(it)
    return out + [_FULL] * fill


_FULL = ("s", None, None, None)


def _axes_used(item: tuple) -> int:
    if item[0] == "m":
        return item[1].type.ndim
    return 0 if item[0] in ("n", "e") else 1


def index_of(entries: list) -> tuple[tuple, list]:
    """(spec, index atoms) of a list of entries."""
    spec: list = []
    idx: list = []
    for e in entries:
        if e[0] in ("i", "a", "m"):
            spec.append(e[0])
            idx.append(e[1])
        elif e[0] == "n":
            spec.append("n")
        else:
            spec.append("s" + "".join("0" if p is None else "1" for p in e[1:]))
            idx += [p for p in e[1:] if p is not None]
    while spec and spec[-1] == "s000":
        spec.pop()
    return tuple(spec), idx


# -- scalar integer arithmetic, folded when the operands are known ---------------------------
def _known(a: Any) -> int | None:
    if isinstance(a, Const) and isinstance(a.value, (bool, int, np.integer)) and a.type.ndim == 0:
        return int(a.value)
    return None


class _Ints:
    def __init__(self, lw: Any):
        self.lw = lw
        self.b = lw.b

    def add(self, x, y):
        kx, ky = _known(x), _known(y)
        if kx is not None and ky is not None:
            return const(kx + ky)
        if kx == 0:
            return y
        if ky == 0:
            return x
        out = self.b.add(x, y)
        if self.lw.nonneg(x) and self.lw.nonneg(y):
            self.lw.mark_nonneg(out)
        return out

    def sub(self, x, y):
        ky = _known(y)
        return self.add(x, const(-ky)) if ky is not None else self.add(x, self.b.neg(y))

    def mul(self, x, y):
        kx, ky = _known(x), _known(y)
        if kx is not None and ky is not None:
            return const(kx * ky)
        if kx == 1:
            return y
        if ky == 1:
            return x
        if kx == 0 or ky == 0:
            return const(0)
        return self.b.mul(x, y)

    def lt0(self, x):
        kx = _known(x)
        if kx is not None:
            return const(kx < 0)
        if self.lw.nonneg(x):
            return const(False)
        return self.b.lt(x, 0)

    def select(self, c, x, y):
        """``x if c else y`` for integers (``c`` a scalar bool)."""
        kc = _known(c)
        if kc is not None:
            return x if kc else y
        return self.add(y, self.mul(c, self.sub(x, y)))

    def wrap(self, x, n):
        """``x`` with a negative value counted from the end (``x + n`` when ``x < 0``)."""
        if x.type.ndim > 0:
            return self.b.add(x, self.b.mul(self.b.lt(x, 0), n()))
        neg = self.lt0(x)
        if _known(neg) == 0:
            return x
        return self.select(neg, self.add(x, n()), x)

    def clip(self, x, lo, hi):
        kx, klo, khi = _known(x), _known(lo), _known(hi)
        if kx is not None and klo is not None and khi is not None:
            return const(min(max(kx, klo), khi))
        if not (klo == 0 and self.lw.nonneg(x)):
            x = self.b.maximum(x, lo)
        return self.b.minimum(x, hi)

    def floordiv(self, x, k: int):
        kx = _known(x)
        if kx is not None:
            return const(kx // k)
        return x if k == 1 else self.b.floordiv(x, k)

    def max0(self, x):
        kx = _known(x)
        if kx is not None:
            return const(max(kx, 0))
        return x if self.lw.nonneg(x) else self.b.maximum(x, 0)


def _step(p: Any) -> int:
    """A slice step known at compile time (None is 1)."""
    if p is None:
        return 1
    k = _known(p)
    if k is None:
        raise Unprovable("a slice step known only at run time")
    if k == 0:
        raise ChainruleTypeError("slice step cannot be zero")
    return k


class ViewMixin:
    """Expects ``self.b``, ``self.frames``; state ``self.views`` and ``self.writes``."""

    # -- bookkeeping ---------------------------------------------------------------------
    def view_info(self, v: Any) -> ViewInfo | None:
        info = self.views.get(v.name) if isinstance(v, Var) else None
        return info if info is not None and info.var == v else None

    def loop_stack(self) -> tuple:
        return tuple(id(ctx) for f in self.frames for ctx in f.loops)

    def register_view(self, out: Var, parent: Var, entries: list) -> None:
        pinfo = self.view_info(parent)
        root = pinfo.root if pinfo is not None else parent
        self.views[out.name] = ViewInfo(out, parent, root, tuple(entries),
                                       self.writes.get(root.name, 0), self.loop_stack())

    def renamed(self, old: Var, new: Var) -> None:
        """``bind`` renamed a temporary: keep its view record."""
        info = self.view_info(old)
        if info is not None:
            self.views[new.name] = ViewInfo(new, info.parent, info.root, info.entries,
                                           info.stamp, info.loops)
        if self.nonneg(old):
            self.mark_nonneg(new)
        self.bounds_renamed(old, new)

    def nonneg(self, a: Any) -> bool:
        k = _known(a)
        return (k is not None and k >= 0) or (isinstance(a, Var) and a.name in self.nonneg_ids)

    def mark_nonneg(self, a: Any) -> None:
        if isinstance(a, Var):
            self.nonneg_ids[a.name] = a

    def stale(self, info: ViewInfo) -> bool:
        """Whether the view may have been changed by a write since it was made, or is used in
        a loop it was made outside of while its root is written somewhere (a later iteration's
        write may reach it; loop bodies are lowered speculatively first, so writes later in the
        body are already counted)."""
        count = self.writes.get(info.root.name, 0)
        return count != info.stamp or (count > 0 and self.loop_stack() != info.loops)

    # -- reads ---------------------------------------------------------------------------
    def fresh_views(self, value: Any) -> Any:
        """``value`` with every stale view re-made from its root (for whole-value uses)."""
        if isinstance(value, Var):
            info = self.view_info(value)
            if info is None or not self.stale(info):
                return value
            parent = self.fresh_views(info.parent)
            spec, idx = index_of(list(info.entries))
            out = self.b.getitem(parent, *idx, spec=spec)
            self.register_view(out, parent, list(info.entries))
            self.rederived.add(out.name)
            self.note_remade(out, value)
            return out
        if pytree.node_kind(value) is None:
            return value
        old = [x for _, x in pytree.items(value)]
        new = [self.fresh_views(x) for x in old]
        changed = any(a is not b for a, b in zip(new, old))
        return pytree.with_children(value, new) if changed else value

    def index_read(self, base: Any, spec: tuple, idx: list) -> Any:
        """``base[index]``; a read through a re-made view reads the root directly, and a basic
        index of an array variable is remembered as a view."""
        info = self.view_info(base)
        if info is not None and base.name in self.rederived:
            try:
                dest, dspec, didx = self.resolve(base, spec, idx)
            except Unprovable:
                pass
            else:
                return self.index_read(dest, dspec, didx)
        out = self.b.getitem(base, *idx, spec=spec)
        if isinstance(base, Var) and base.type.ndim > 0 and out.type.ndim > 0 and is_basic(spec):
            self.register_view(out, base, entries_of(spec, idx, base.type.ndim))
        return out

    # -- writes --------------------------------------------------------------------------
    def write_into(self, target: Any, spec: tuple, idx: list, value: Any) -> None:
        """``target[index] = value`` (``spec == ("e",)`` for the whole array), redirected into
        the array that owns the memory when ``target`` is a view of it."""
        if not (isinstance(target, Var) and target.type.ndim > 0):
            raise ChainruleTypeError("item assignment needs an array created in the function "
                                     "or passed in", self.b.loc)
        value = self.as_atom(value)
        if value.type.is_float and not target.type.is_float:
            raise ChainruleTypeError(f"writing floats into an {target.type} array would "
                                     "truncate them", self.b.loc,
                                     "create the array with a float dtype")
        dest, dspec, didx = target, tuple(spec), list(idx)
        if self.view_info(target) is not None:
            try:
                dest, dspec, didx = self.resolve(target, spec, idx)
            except Unprovable:
                pass
        info = self.view_info(dest)
        root = info.root if info is not None else dest
        self.check_write_after_append(root)
        self.b.effect("setitem", dest, value, *didx, spec=dspec)
        self.writes[root.name] = self.writes.get(root.name, 0) + 1

    def resolve(self, view: Var, spec: tuple, idx: list) -> tuple:
        """(root, spec, index) addressing the same elements as ``view[index]``."""
        info = self.view_info(view)
        while info is not None:
            items = entries_of(spec, idx, view.type.ndim)
            entries = self.compose(info, view, items)
            spec, idx = index_of(entries)
            view = info.parent
            info = self.view_info(view)
        return view, spec, idx

    # -- composition ---------------------------------------------------------------------
    def compose(self, info: ViewInfo, view: Var, items: list) -> list:
        """Entries on ``info.parent`` selecting what ``items`` select on the view."""
        ints = _Ints(self)
        parent = info.parent
        out: list = []
        pending = list(items)
        vaxis = 0  # axis of the view
        paxis = 0  # axis of the parent

        def take():
            while pending and pending[0][0] == "n":
                out.append(pending.pop(0))
            return pending.pop(0) if pending else _FULL

        for e in info.entries:
            if e[0] == "i":
                out.append(e)
                paxis += 1
                continue
            if e[0] == "n":
                w = take()
                if w[0] == "s" and w == _FULL:
                    out.append(("n",))
                elif w[0] != "i":
                    raise Unprovable("a slice of a new axis")
                vaxis += 1
                continue
            w = take()
            if w[0] == "m":
                if w[1].type.ndim != 1 or e != _FULL:
                    raise Unprovable("a mask over a sliced view")
                out.append(w)
            else:
                out.append(self._compose_axis(ints, e, w, view, vaxis, parent, paxis))
            vaxis += 1
            paxis += 1
        while pending and pending[0][0] == "n":
            out.append(pending.pop(0))
        if pending:
            raise ChainruleTypeError(f"too many indices for an array of ndim {view.type.ndim}",
                                     self.b.loc)
        adv = [i for i, x in enumerate(out) if x[0] in ("i", "a", "m")]
        if any(x[0] in ("a", "m") for x in out) and adv != list(range(adv[0], adv[-1] + 1)):
            raise Unprovable("integer-array indices that NumPy would move to the front")
        return out

    def _compose_axis(self, ints: _Ints, e: tuple, w: tuple, view: Var, vaxis: int,
                      parent: Var, paxis: int) -> tuple:
        if w == _FULL:
            return e
        if e == _FULL:
            return w
        _, lo, hi, st = e
        k = _step(st)

        def n_parent():
            return self.b.shape(parent, axis=paxis)

        def n_view():
            return self.b.shape(view, axis=vaxis)

        # First parent index the view's axis starts at.
        if k > 0:
            first = const(0) if lo is None else ints.wrap(lo, n_parent)
            if lo is not None and not self.nonneg(lo):
                first = ints.max0(first)
        else:
            top = ints.add(n_parent(), const(-1))
            first = top if lo is None else ints.clip(ints.wrap(lo, n_parent), const(-1), top)
        if w[0] == "i":
            self.mark_nonneg(first)  # the view is not empty when an element is written
            j = ints.wrap(w[1], n_view)
            out = ints.add(first, ints.mul(j, const(k)))
            self.mark_nonneg(out)  # an in-bounds index of the parent
            return ("i", out)
        if w[0] == "a":
            j = ints.wrap(w[1], n_view)
            return ("a", self.b.add(first, self.b.mul(j, k)) if (_known(first), k) != (0, 1)
                    else j)
        if w[0] != "s":
            raise Unprovable(f"index kind {w[0]}")
        _, lo2, hi2, st2 = w
        k2 = _step(st2)
        if hi2 is None and k2 == 1 and k > 0 and lo2 is not None and self.nonneg(lo2):
            # v[j:] of a forward view: same end as the view.
            return ("s", ints.add(first, ints.mul(lo2, const(k))), hi, st)
        n = n_view()
        if k2 > 0:
            a = const(0) if lo2 is None else ints.clip(ints.wrap(lo2, lambda: n), const(0), n)
            z = n if hi2 is None else ints.clip(ints.wrap(hi2, lambda: n), const(0), n)
            count = ints.max0(ints.floordiv(ints.add(ints.sub(z, a), const(k2 - 1)), k2))
        else:
            top = ints.add(n, const(-1))
            a = top if lo2 is None else ints.clip(ints.wrap(lo2, lambda: n), const(-1), top)
            z = const(-1) if hi2 is None else ints.clip(ints.wrap(hi2, lambda: n), const(-1),
                                                        top)
            count = ints.max0(ints.floordiv(ints.add(ints.sub(a, z), const(-k2 - 1)), -k2))
        start = ints.add(first, ints.mul(a, const(k)))
        step = k * k2
        if step < 0:
            start = ints.max0(start)  # negative only when nothing is selected
        stop = ints.add(start, ints.mul(count, const(step)))
        if step < 0:
            # A negative stop would count from the end; past-the-start is -(n + 1).
            stop = ints.select(ints.lt0(stop), ints.sub(stop, ints.add(n_parent(), const(1))),
                               stop)
        return ("s", start, stop, None if step == 1 else const(step))


__all__ = ["Unprovable", "ViewInfo", "ViewMixin", "entries_of", "index_of", "is_basic"]
