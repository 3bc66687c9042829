"""Bounds checks of integer indices: ``x[i]`` raises ``IndexError`` with the user's file:line
when ``i`` is out of bounds (negative indices wrap, as in Python), on every backend.

The front end emits a ``check_index(i, n)`` statement before an access only where it cannot
prove the index in bounds. Proofs use facts gathered while lowering:

* lengths: ``n = len(x)``, ``x.shape[k]``, ``x.size`` of a 1-D ``x`` (the symbol "axis k of
  array variable x");
* affine offsets: ``v = w + c`` / ``w - c`` for a compile-time ``c``;
* range loops: ``for i in range(a, b)`` (positive compile-time step) gives ``a <= i < b``;
* modulo: ``v % n`` lies in ``[0, n)``;
* constants: a constant index, or ``range`` with a constant stop, into an axis whose length is
  a compile-time integer (``np.zeros(3)``, ``np.zeros_like`` of one);
* an index already checked on the same array and axis in a block that is still open.

So ``for i in range(1, len(x) - 1): x[i - 1] + x[i + 1]`` needs no check, and a check is
emitted once per block for repeated constant indices. Checks whose operands become constants
only later (small arrays specialised by size, scalarised arrays) are dropped by
``passes/checks.py``. ``CHAINRULE_BOUNDS_CHECK=0`` turns the
checks off (read when a function is compiled; part of the disk cache key).
"""

from __future__ import annotations

import os
from typing import Any

from ..ir.nodes import Const, Var


def bounds_check_enabled() -> bool:
    return os.environ.get("CHAINRULE_BOUNDS_CHECK", "1") != "0"


class BoundsFacts:
    """What is known about integer variables (by name) while lowering one function."""

    def __init__(self) -> None:
        self.lengths: dict = {}  # name -> (array name, axis): the variable is that length
        self.affine: dict = {}  # name -> (base name, offset): the variable is base + offset
        self.ranges: dict = {}  # loop index name -> (start atom, stop atom)
        self.modulo: dict = {}  # name -> symbol s: the variable is (...) % s
        self.dims: dict = {}  # (array name, axis) -> the atom it was created with
        self.like: dict = {}  # array name -> name of an array of the same shape
        self.checked: dict = {}  # (array name, axis, index key) -> block holding the check
        self.origin: dict = {}  # re-made view name -> the view variable it re-makes

    def tables(self) -> tuple:
        return (self.lengths, self.affine, self.ranges, self.modulo, self.dims, self.like,
                self.checked, self.origin)

    def snapshot(self) -> tuple:
        return tuple(dict(d) for d in self.tables())

    def restore(self, snap: tuple) -> None:
        (self.lengths, self.affine, self.ranges, self.modulo, self.dims, self.like,
         self.checked, self.origin) = (dict(d) for d in snap)

    def length_symbol(self, arr: str, axis: int) -> tuple:
        """A canonical name for the length of axis ``axis`` of array variable ``arr``."""
        for _ in range(64):
            if arr not in self.like:
                break
            arr = self.like[arr]
        dim = self.dims.get((arr, axis))
        if isinstance(dim, Var):
            return self.value_symbol(dim.name)
        return ("len", arr, axis)

    def known_length(self, arr: str, axis: int) -> int | None:
        """The length of axis ``axis`` of ``arr`` when it is a compile-time integer (an array
        made with ``np.zeros(3)``, or with the shape of one)."""
        for _ in range(64):
            if arr not in self.like:
                break
            arr = self.like[arr]
        dim = self.dims.get((arr, axis))
        return dim.value if _int_const(dim) else None

    def value_symbol(self, name: str) -> tuple:
        """A canonical name for the value of integer variable ``name``."""
        if name in self.lengths:
            return self.length_symbol(*self.lengths[name])
        return ("var", name)


def _int_const(a: Any) -> bool:
    return isinstance(a, Const) and isinstance(a.value, int) and not isinstance(a.value, bool)


def _key(a: Any) -> tuple | None:
    if isinstance(a, Const) and isinstance(a.value, (int, bool)):
        return ("c", int(a.value))
    if isinstance(a, Var):
        return ("v", a.name)
    return None


class BoundsMixin:
    """Expects ``self.b`` (Builder), ``self.facts`` (BoundsFacts), ``self.bounds_check``."""

    # -- facts ---------------------------------------------------------------------------
    def note_length(self, out: Any, arr: Any, axis: int) -> None:
        if isinstance(out, Var) and isinstance(arr, Var):
            self.facts.lengths[out.name] = (arr.name, axis)
        self.mark_nonneg(out)  # a length is never negative

    def note_shape(self, out: Any, dims: list) -> None:
        """``out`` was created with shape ``dims`` (``np.zeros(n)``, ...)."""
        if isinstance(out, Var):
            for k, d in enumerate(dims):
                self.facts.dims[(out.name, k)] = d

    def note_same_shape(self, out: Any, x: Any) -> None:
        """``out`` has the shape of ``x`` (``np.zeros_like(x)``, ``x.copy()``, ...)."""
        if isinstance(out, Var) and isinstance(x, Var) and out.name != x.name and \
                out.type.ndim == x.type.ndim:
            self.facts.like[out.name] = x.name

    def note_remade(self, out: Var, view: Var) -> None:
        """``out`` re-makes ``view`` from its root (same shape; see .views)."""
        view = self.facts.origin.get(view.name, view)
        self.facts.origin[out.name] = view
        self.note_same_shape(out, view)

    def note_arith(self, prim: str, a: Any, b: Any, out: Any) -> None:
        """Record ``out = a + c``, ``a - c``, ``c + a`` or ``a % n`` facts."""
        if not isinstance(out, Var):
            return
        if prim == "mod" and isinstance(b, Var):
            self.facts.modulo[out.name] = self.facts.value_symbol(b.name)
            return
        if prim not in ("add", "sub"):
            return
        if prim == "add" and isinstance(a, Const):
            a, b = b, a
        if isinstance(a, Var) and isinstance(b, Const) and isinstance(b.value, int) \
                and not isinstance(b.value, bool):
            base, off = self.facts.affine.get(a.name, (a.name, 0))
            self.facts.affine[out.name] = (base, off + (b.value if prim == "add" else -b.value))

    def note_range(self, idx: Var, start: Any, stop: Any, step: Any) -> None:
        if isinstance(step, Const) and isinstance(step.value, int) and step.value > 0:
            self.facts.ranges[idx.name] = (start, stop)

    def bounds_renamed(self, old: Var, new: Var) -> None:
        f = self.facts
        for table in (f.lengths, f.affine, f.ranges, f.modulo, f.like):
            if old.name in table:
                table[new.name] = table[old.name]
        for (arr, axis), d in list(f.dims.items()):
            if arr == old.name:
                f.dims[(new.name, axis)] = d

    # -- checks --------------------------------------------------------------------------
    def check_indices(self, base: Any, spec: tuple, atoms: list) -> None:
        """Emit a bounds check for each integer entry of ``base[spec]`` not proven in bounds."""
        if not self.bounds_check or not isinstance(base, Var) or not ({"i", "a"} & set(spec)):
            return
        # A re-made view has the shape of the view it re-makes; asking that one keeps the
        # re-made view out of the code when nothing else reads it.
        base = self.facts.origin.get(base.name, base)
        entries = _axes_of(spec, atoms)
        axis = 0
        for pos, (code, width, atom) in enumerate(entries):
            if code == "e":  # the axes after ``...`` count from the end
                axis = base.type.ndim - sum(w for _, w, _ in entries[pos + 1:])
                continue
            if code == "i":
                self._check_one(base, axis, atom)
            elif code == "a" and atom.type.ndim > 0:
                self._check_array(base, axis, atom)
            axis += width

    def _check_one(self, arr: Var, axis: int, i: Any) -> None:
        if axis >= arr.type.ndim:
            return  # too many indices: the type rule reports it
        ikey = _key(i)
        memo = (arr.name, axis, ikey)
        held = self.facts.checked.get(memo)
        if held is not None and any(blk is held for blk in self.b.blocks):
            return
        if self._proven(arr, axis, i):
            return
        n = self.b.shape(arr, axis=axis)
        extra = {"nonneg": True} if self.nonneg(i) else {}  # only ``i < n`` left to test
        self.b.emit("check_index", i, n, axis=axis, where=self._where(), **extra)
        if ikey is not None:
            self.facts.checked[memo] = self.b.block

    def _check_array(self, arr: Var, axis: int, idx: Any) -> None:
        """Every element of the integer array ``idx`` must index axis ``axis`` of ``arr``."""
        if axis >= arr.type.ndim:
            return
        self.b.emit("check_index_array", idx, self.b.shape(arr, axis=axis), axis=axis,
                    where=self._where())

    def _where(self) -> str:
        loc = self.b.loc
        return f"{loc.file}:{loc.line} (in {loc.func})" if loc is not None else "?"

    def _proven(self, arr: Var, axis: int, i: Any) -> bool:
        f = self.facts
        length = f.length_symbol(arr.name, axis)
        known = f.known_length(arr.name, axis)
        if _int_const(i):
            return known is not None and -known <= i.value < known
        if not isinstance(i, Var):
            return False
        if f.modulo.get(i.name) == length:
            return True
        base, off = self.facts.affine.get(i.name, (i.name, 0))
        rng = self.facts.ranges.get(base)
        if rng is None:
            return False
        start, stop = rng
        low_ok = (isinstance(start, Const) and start.value + off >= 0) or \
            (off >= 0 and self.nonneg(start))
        if not low_ok:
            return False
        if _int_const(stop):  # range(..., 3) into an array of known length
            return known is not None and stop.value + off <= known
        if not isinstance(stop, Var):
            return False
        sbase, soff = f.affine.get(stop.name, (stop.name, 0))
        return f.value_symbol(sbase) == length and soff + off <= 0


def _axes_of(spec: tuple, atoms: list) -> list:
    """(code, number of axes of the array it consumes, its index atom or None) per entry."""
    out = []
    k = 0
    for code in spec:
        if code in ("i", "a", "m"):
            width = atoms[k].type.ndim if code == "m" else 1
            out.append((code, width, atoms[k]))
            k += 1
        elif code[0] == "s":
            out.append((code, 1, None))
            k += code[1:].count("1")
        else:
            out.append((code, 0, None))
    return out
