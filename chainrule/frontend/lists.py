"""Lists whose length is known only at run time, and dict iteration.

A list literal, a comprehension over a compile-time range, and appends made where the list was
created (no run-time branch or loop opened since) stay compile-time Python lists of values, as
before: their structure is static and they may mix kinds. A list becomes a
:class:`~.values.RunList` -- a buffer ``buf`` holding the items in ``buf[:n]`` and the length
``n``, both IR values -- when

* a comprehension iterates over something of run-time length (``[f(i) for i in range(n)]``,
  ``[g(r) for r in rows]``): it is lowered as a loop that appends, with run-time ``if`` filters;
* it is appended to (``xs.append(v)``) or assigned an item (``xs[i] = v``) inside a run-time
  branch or loop it was created outside of;
* it is built by ``list(...)`` of a range, an array or another run-time list;
* two paths of an ``if`` leave lists of different lengths in one name.

Items are scalars or arrays of one ndim (one shape, checked when appended). An append writes
``buf[n] = v`` (an ordinary in-place write: forward mode carries tangents in a buffer of its own,
reverse mode restores the overwritten slot and moves its adjoint to ``v``), after growing the
buffer when it is full: the buffer's variable is assigned a new buffer twice as long into which
``buf[:n]`` is copied (O(log n) copies; derivatives flow through them like through any array
code). A comprehension without filters allocates its trip count of items once.
``np.array(xs)`` (and every NumPy function taking the list) is a copy of ``buf[:n]``;
``xs[i]`` reads ``buf[i]`` after checking ``-n <= i < n``; ``len(xs)`` is ``n``; ``for v in
xs`` is a loop over ``range(n)``.

Appends rebind the names holding the list (its value is a new ``RunList``), which keeps joins
and loop carries ordinary; a loop whose body appends to a list through a second name, or
through a helper function called in its body, raises an error instead of losing the appends.

Dicts keep their keys at compile time: ``for k in d``, ``d.items()``, ``{k: ... for k in d}``
unroll over the keys.
"""

from __future__ import annotations

import ast
from contextlib import contextmanager
from typing import Any

from ..errors import ChainruleTypeError, UnsupportedSyntaxError
from ..ir.builder import const
from ..ir.nodes import Const, If, Var
from ..ir.types import join_types
from .frames import MISSING
from .iteration import RunLoop
from .values import RangeVal, RunList, flatten, is_atom
from .views import _Ints

LIST_METHODS = ("append", "extend", "pop")
_HINT_SHAPE = "keep the items of a list filled at run time all numbers, or arrays of one shape"


def is_list(v: Any) -> bool:
    return isinstance(v, (list, RunList))


class ListMixin:
    """Expects the lowerer's ``b``, ``frames``, views, bounds and join machinery."""

    # -- where a list was made -----------------------------------------------------------
    def _list_state(self) -> dict:
        st = self.__dict__.get("_lists")
        if st is None:
            st = self.__dict__["_lists"] = {"regions": [object()], "home": {}, "hints": {},
                                            "lc": 0, "held": {}}
        return st

    @contextmanager
    def region(self):
        """A run-time branch or loop body: lists made before it are changed by rebinding."""
        regions = self._list_state()["regions"]
        regions.append(object())
        try:
            yield
        finally:
            regions.pop()

    def note_new_list(self, lst: list) -> list:
        st = self._list_state()
        st["home"][id(lst)] = (lst, st["regions"][-1])
        return lst

    def _mutable_here(self, lst: list) -> bool:
        st = self._list_state()
        entry = st["home"].get(id(lst))
        return entry is not None and entry[0] is lst and entry[1] is st["regions"][-1]

    # -- conversions ---------------------------------------------------------------------
    def to_run_list(self, v: Any, like: RunList | None = None) -> RunList | None:
        """A RunList holding the items of the static list ``v`` (None when it cannot)."""
        if isinstance(v, RunList):
            return v
        if not isinstance(v, (list, tuple)):
            return None
        if not v:
            if like is None:
                return None
            t = like.buf.type
            return RunList(self.b.zeros(*[const(0)] * t.ndim, dtype=t.dtype), const(0))
        try:
            atoms = [self.as_atom(x) for x in v]
        except ChainruleTypeError:
            return None
        if len({a.type.ndim for a in atoms}) != 1:
            return None
        buf = self.pack(atoms)
        if like is not None and buf.type != like.buf.type:
            t = join_types(buf.type, like.buf.type)
            if t is None:
                return None
            buf = self.convert(buf, t)
        return RunList(buf, const(len(v)))

    def list_array(self, lst: RunList) -> Any:
        """``np.array(xs)``: a copy of the items."""
        return self.b.copy(self._items_view(lst))

    def _items_view(self, lst: RunList) -> Any:
        return self.index_read(self.fresh_views(lst.buf), ("s010",), [lst.n])

    def list_length(self, lst: RunList) -> Any:
        return lst.n

    def list_iter(self, lst: RunList) -> RunLoop:
        buf = lst.buf
        return RunLoop(const(0), lst.n, const(1),
                       lambda i: self.index_read(self.fresh_views(buf), ("i",), [i]))

    def list_sum(self, lst: RunList, start: Any) -> Any:
        axis = 0 if lst.item_ndim else None  # (a scalar, not a 0-d array)
        total = self.b.sum(self._items_view(lst), axis=axis, keepdims=False)
        return self.binop_add(start, total)

    def list_from(self, v: Any, node: ast.AST) -> Any:
        """``list(v)`` of a run-time value."""
        b = self.b
        if isinstance(v, RunList):
            return RunList(b.copy(self.fresh_views(v.buf)), v.n)
        if isinstance(v, RangeVal):
            arr = b.arange(v.start, v.stop, v.step)
            return RunList(arr, b.shape(arr, axis=0))
        if is_atom(v) and v.type.ndim > 0:
            return RunList(b.copy(v), b.shape(v, axis=0))
        raise self.error_at(node, f"list() of {type(v).__name__} is not supported",
                            "build the list with a comprehension or append")

    # -- items ---------------------------------------------------------------------------
    def _list_index(self, lst: RunList, key: Any, node: ast.AST) -> Any:
        if not (is_atom(key) and key.type.ndim == 0 and key.type.dtype in ("int64", "bool")):
            raise self.error_at(node, "list indices must be integers",
                                "convert the list with np.array(xs) to index it with arrays")
        n = lst.n
        if self.bounds_check and not self._in_list_bounds(key, n):
            loc = self.b.loc
            where = f"{loc.file}:{loc.line} (in {loc.func})" if loc is not None else "?"
            self.b.emit("check_index", key, n, axis=0, where=where)
        return _Ints(self).wrap(key, lambda: n)

    def _in_list_bounds(self, key: Any, n: Any) -> bool:
        if isinstance(key, Const) and isinstance(n, Const):
            return -n.value <= key.value < n.value
        if not isinstance(key, Var):
            return False
        rng = self.facts.ranges.get(key.name)
        if rng is None:
            return False
        start, stop = rng
        return self.nonneg(start) and (stop is n or (isinstance(stop, Var) and stop == n))

    def list_getitem(self, lst: RunList, key: Any, node: ast.AST) -> Any:
        if isinstance(key, slice) or isinstance(node.slice, ast.Slice):
            view = self._items_view(lst)
            spec, idx = self.index_spec(node.slice, view)
            part = self.b.copy(self.index_read(view, spec, idx))
            return RunList(part, self.b.shape(part, axis=0))
        i = self._list_index(lst, key, node)
        return self.index_read(self.fresh_views(lst.buf), ("i",), [i])

    def list_setitem(self, obj: Any, key: Any, value: Any, target: ast.AST) -> None:
        """``xs[i] = value`` with a run-time list or a run-time index."""
        lst = self.to_run_list(obj)
        if lst is None:
            raise self.error_at(target, "a list indexed at run time, or changed inside a "
                                "run-time loop or branch, must hold numbers or arrays of one "
                                "shape", _HINT_SHAPE)
        value = self.as_atom(value)
        buf = self._promoted(lst.buf, value)
        i = self._list_index(RunList(buf, lst.n), key, target)
        self._check_item_shape(buf, value)
        if value.type.ndim > 0:
            self._check_no_item_views(buf)
        self._internal_write(buf, ("i",), [i], value)
        self._note_held(value)
        new = RunList(buf, lst.n)
        if new.buf is not lst.buf or obj is not lst:
            self.rebind_list(obj, new, target.value)

    def _check_no_item_views(self, buf: Any) -> None:
        """``xs[i] = a`` replaces an item; in Python an item read before (``r = xs[i]``) keeps
        the old array, here it is a view of the buffer and would see the new one."""
        held = {id(a) for f in self.frames for v in f.env.values()
                for _, a in flatten(v) if isinstance(a, Var)}
        for info in self.views.values():
            if info.root == buf and id(info.var) in held:
                raise UnsupportedSyntaxError(
                    f"an item of this list is held by a name (`{info.var.name}`) while the list "
                    "item is replaced; Python would keep the old item there, chainrule reads "
                    "the list", self.b.loc, "copy the item when you read it (r = xs[i].copy())")

    def _promoted(self, buf: Var, value: Any) -> Any:
        if value.type.ndim + 1 != buf.type.ndim:
            raise ChainruleTypeError(
                f"a list of {buf.type.ndim - 1}-d items cannot take a {value.type.ndim}-d item",
                self.b.loc, _HINT_SHAPE)
        if value.type.is_float and not buf.type.is_float:
            return self.b.astype(buf, dtype="float64")
        return buf

    def _check_item_shape(self, buf: Any, value: Any) -> None:
        b = self.b
        for k in range(value.type.ndim):
            same = b.eq(b.shape(value, axis=k), b.shape(buf, axis=k + 1))
            b.emit("check", same, message=f"{self._where()}: the items of a list must all "
                   "have the same shape")

    # -- appends -------------------------------------------------------------------------
    def list_append(self, obj: Any, value: Any, node: ast.AST) -> None:
        """``xs.append(value)`` (``node`` is the call)."""
        if isinstance(obj, list) and self._mutable_here(obj):
            obj.append(value)
            return
        target = node.func.value if isinstance(node.func, ast.Attribute) else None
        value = self.as_atom(value) if not isinstance(value, (list, tuple)) else value
        if isinstance(obj, list):
            lst = self.to_run_list(obj) if obj else self._empty_like_item(self.as_atom(value))
            if lst is None:
                raise self.error_at(node, "appending to this list inside a run-time loop or "
                                    "branch needs items that are all numbers or arrays of "
                                    "one shape", _HINT_SHAPE)
        else:
            lst = obj
        new = self.run_list_append(lst, self.as_atom(value))
        self.rebind_list(obj, new, target)

    def list_extend(self, obj: Any, items: Any, node: ast.AST) -> None:
        """``xs.extend(items)``: the items of a list or tuple, of a run-time list, or the rows
        of an array (``node`` is the call)."""
        if isinstance(obj, list) and self._mutable_here(obj) and isinstance(items, (list, tuple)):
            obj.extend(items)
            return
        target = node.func.value if isinstance(node.func, ast.Attribute) else None
        lst = obj if isinstance(obj, RunList) else self.to_run_list(obj)
        if isinstance(items, (list, tuple)):
            for v in items:
                v = self.as_atom(v)
                lst = self.run_list_append(lst if lst is not None else
                                           self._empty_like_item(v), v)
            if lst is not None:
                self.rebind_list(obj, lst, target)
            return
        if is_atom(items) and items.type.ndim > 0:
            items = RunList(items, self.b.shape(items, axis=0))
        if not isinstance(items, RunList):
            raise self.error_at(node, f"extend() with {type(items).__name__} is not supported",
                                "extend with a list, a tuple or an array")
        added = self._items_view(items)
        if lst is None or (isinstance(lst.n, Const) and lst.n.value == 0):
            buf = self.b.copy(added)  # (an empty list takes the items' shape)
        else:
            if added.type.ndim != lst.buf.type.ndim:
                raise ChainruleTypeError(
                    f"a list of {lst.buf.type.ndim - 1}-d items cannot take "
                    f"{added.type.ndim - 1}-d items", self.b.loc, _HINT_SHAPE)
            buf = self.b.concatenate(self._items_view(lst), added, axis=0)
        n = self.b.add(lst.n, items.n) if lst is not None else items.n
        self.mark_nonneg(n)
        self.rebind_list(obj, RunList(buf, n), target)

    def list_pop(self, obj: Any, index: Any, node: ast.AST) -> Any:
        """``xs.pop()``: the last item, removed (any index for a list known at compile time)."""
        if isinstance(index, Const):
            index = index.value
        if isinstance(obj, list) and self._mutable_here(obj) and isinstance(index, int):
            if not -len(obj) <= index < len(obj):
                raise self.error_at(node, "pop from an empty list or with an index out of "
                                    "range", None)
            return obj.pop(index)
        if index != -1:
            raise self.error_at(node, "pop() with an index of a list changed at run time is "
                                "not supported", "pop the last item (xs.pop()), or build a new "
                                "list with a comprehension")
        target = node.func.value if isinstance(node.func, ast.Attribute) else None
        lst = obj if isinstance(obj, RunList) else self.to_run_list(obj)
        if lst is None:
            raise self.error_at(node, "pop from this list inside a run-time loop or branch "
                                "needs items that are all numbers or arrays of one shape",
                                _HINT_SHAPE)
        b = self.b
        last = b.sub(lst.n, 1)
        if self.bounds_check:  # (IndexError, as Python's pop from an empty list)
            b.emit("check_index", last, lst.n, axis=0,
                   where=f"{self._where()} (pop from an empty list)")
        item = self.index_read(self.fresh_views(lst.buf), ("i",), [last])
        if item.type.ndim > 0:
            item = b.copy(item)  # (the slot is written again by the next append)
        self.mark_nonneg(last)
        self.rebind_list(obj, RunList(lst.buf, last), target)
        return item

    def _empty_like_item(self, v: Any) -> RunList:
        t = v.type
        dtype = "float64" if t.dtype == "float32" else t.dtype
        return RunList(self.b.zeros(*[const(0)] * (t.ndim + 1), dtype=dtype), const(0))

    def run_list_append(self, lst: RunList, v: Any) -> RunList:
        b = self.b
        buf = self._promoted(lst.buf, v)
        n = lst.n
        cap = b.shape(buf, axis=0)
        hint = self._list_state()["hints"].get(buf.name) if isinstance(buf, Var) else None
        out = buf
        if hint is None or v.type.ndim > 0:
            # When full: a bigger buffer, assigned to the buffer's own variable (so the reverse
            # sweep moves the adjoint of the whole buffer only when it grows, not per append).
            if not isinstance(buf, Var):
                out = self.b.emit("id", buf)
            grow: list = []
            with b.nested(grow):
                newcap = hint if hint is not None else b.maximum(b.mul(cap, 2), 4)
                dims = [newcap] + [b.shape(v, axis=k) for k in range(v.type.ndim)]
                nb = b.zeros(*dims, dtype=buf.type.dtype)
                if hint is None and not (isinstance(n, Const) and n.value == 0):
                    # (with a hint the buffer is only ever full when it is still empty)
                    copy: list = []
                    with b.nested(copy):
                        self._internal_write(nb, ("s010",), [n],
                                             self.index_read(out, ("s010",), [n]))
                    b.append(If(b.gt(n, 0), copy, [], b.loc))
                b.emit("id", nb, out=out)
            b.append(If(b.ge(n, cap), grow, [], b.loc))
        self._check_item_shape(out, v)
        self._internal_write(out, ("i",), [n], v)
        self._note_held(v)
        n1 = const(n.value + 1) if isinstance(n, Const) else b.add(n, 1)
        self.mark_nonneg(n1)
        return RunList(out, n1)

    def _internal_write(self, buf: Any, spec: tuple, idx: list, value: Any) -> None:
        st = self._list_state()
        st["internal"] = True
        try:
            self.write_into(buf, spec, idx, value)
        finally:
            st["internal"] = False

    def _note_held(self, v: Any) -> None:
        """A list now holds a copy of array ``v``: Python's list would hold ``v`` itself, so a
        later in-place write into ``v`` (or the array it is a view of) must not happen."""
        if isinstance(v, Var) and v.type.ndim > 0:
            info = self.view_info(v)
            root = info.root if info is not None else v
            self._list_state()["held"][id(root)] = root

    def check_write_after_append(self, root: Any) -> None:
        """Called for every in-place write (see .views.write_into)."""
        st = self._list_state()
        if st.get("internal") or id(root) not in st["held"] or st["held"][id(root)] is not root:
            return
        raise UnsupportedSyntaxError(
            f"`{root.name}` is written in place after it was put into a list; a Python list "
            "holds the array itself and would see the change, chainrule's lists hold copies",
            self.b.loc, "put a copy into the list (xs.append(a.copy())) or write into a new "
            "array")

    def rebind_list(self, old: Any, new: RunList, target: ast.AST | None) -> None:
        """Every name holding ``old`` now holds ``new`` (the target expression too)."""
        if target is not None and not isinstance(target, ast.Name):
            raise self.error_at(target, "changing a list held in a dict, a tuple, a list or an "
                                "object inside a run-time loop or branch is not supported",
                                "bind the list to a local name (xs = d['k']), change it, and "
                                "put it back after the loop")
        if isinstance(target, ast.Name):
            frame = self.frame
            while frame is not None and target.id not in frame.env:
                frame = frame.lexical
            (frame or self.frame).env[target.id] = new
        for f in self.frames:
            for k, v in list(f.env.items()):
                if v is old:
                    f.env[k] = new
                elif _holds(v, old):
                    raise UnsupportedSyntaxError(
                        f"a list changed inside a run-time loop or branch is also held by "
                        f"`{k}`", self.b.loc, "use one name for a list that is changed at run "
                        "time, and build containers of it afterwards")

    # -- comprehensions of run-time length -------------------------------------------------
    def runtime_comprehension(self, node: ast.AST, elt: ast.AST, k: int, it: Any,
                              acc: str) -> None:
        """Lower generators ``k..`` of a comprehension as loops appending to ``acc``; ``it``
        is the value generator ``k`` iterates over (already evaluated)."""
        st = self._list_state()
        st["lc"] += 1
        it_name = f"#it{st['lc']}"
        self.frame.env[it_name] = it
        gens = node.generators

        def build(j: int) -> ast.AST:
            g = gens[j]
            if j + 1 < len(gens):
                body = [build(j + 1)]
            else:
                call = ast.Call(func=ast.Attribute(value=ast.Name(id=acc, ctx=ast.Load()),
                                                   attr="append", ctx=ast.Load()),
                                args=[elt], keywords=[])
                body = [ast.Expr(value=call)]
            for c in reversed(g.ifs):
                body = [ast.If(test=c, body=body, orelse=[])]
            src = ast.Name(id=it_name, ctx=ast.Load()) if j == k else g.iter
            return ast.For(target=g.target, iter=src, body=body, orelse=[])

        loop = build(k)
        for sub in ast.walk(loop):
            if not hasattr(sub, "lineno"):
                ast.copy_location(sub, gens[k].iter if sub is not loop else node)
        if len(gens) == k + 1 and not gens[k].ifs:
            items = self.iterable(it, gens[k].iter)
            st["pending_hint"] = (acc, _trip_count(self.b, items))
        self.lower_stmt(loop)
        st.pop("pending_hint", None)
        self.frame.env.pop(it_name, None)

    def _pending_hint(self, name: str) -> Any:
        pending = self._list_state().get("pending_hint")
        if pending is not None and pending[0] == name:
            return pending[1]
        return None

    def initial_run_list(self, name: str, cur: list, like: RunList) -> RunList | None:
        """The value a loop carrying list ``name`` (which it appends to) starts from. A
        comprehension's list of numbers is allocated whole before its loop."""
        hint = self._pending_hint(name)
        if hint is not None and not cur and like.item_ndim == 0:
            return RunList(self.b.zeros(hint, dtype=like.buf.type.dtype), const(0))
        return self.to_run_list(cur, like)

    def note_carried_list(self, name: str, slots: RunList) -> None:
        """A loop carries list ``name`` in ``slots``: a comprehension's buffer holds its trip
        count of items (appends never copy)."""
        hint = self._pending_hint(name)
        if hint is not None:
            self._list_state()["hints"][slots.buf.name] = hint

    def next_accumulator(self) -> str:
        st = self._list_state()
        st["lc"] += 1
        return f"#lc{st['lc']}"

    # -- joins and carries -----------------------------------------------------------------
    def unify_lists(self, vals: list, blocks: list | None) -> list:
        """Values of one name on several paths: when they are lists that differ (a static list
        on one path, a run-time list on another, or static lists of different lengths), all
        become run-time lists (converted at the end of each path's block)."""
        present = [v for v in vals if v is not MISSING]
        if not all(is_list(v) for v in present) or len(present) < 2:
            return vals
        runs = [v for v in present if isinstance(v, RunList)]
        if not runs:
            lens = {len(v) for v in present}
            if len(lens) == 1:
                return vals
        like = runs[0] if runs else None
        out = []
        for idx, v in enumerate(vals):
            if isinstance(v, list):
                if blocks is not None:
                    with self.b.nested(blocks[idx]):
                        conv = self.to_run_list(v, like)
                else:
                    conv = self.to_run_list(v, like)
                if conv is None:
                    return vals
                like = like or conv
                out.append(conv)
            else:
                out.append(v)
        return out

    def loop_list_names(self, body: list) -> list:
        """Names of lists the loop body appends to or assigns items of (carried by the loop);
        raises when such a list has another name the loop would not update."""
        names = []
        for name in _mutated_lists(body):
            v = self.frame.env.get(name)
            if not is_list(v):
                continue
            names.append(name)
            for f in self.frames:
                for other, w in f.env.items():
                    if (w is v or _holds(w, v)) and not (f is self.frame and other == name) \
                            and not other.startswith("#"):
                        raise UnsupportedSyntaxError(
                            f"the list `{name}` is changed in a loop and also has the name "
                            f"`{other}`", self.b.loc,
                            "use one name for a list that a loop appends to")
        return names

    def outer_lists(self, carried: list | None = None) -> list:
        """(frame, name, value) of the lists the enclosing frames hold, and for a loop
        (``carried``: the names it carries) those of the current frame it does not carry."""
        frames = self.frames if carried is not None else self.frames[:-1]
        return [(f, k, v) for f in frames for k, v in f.env.items() if is_list(v)
                and not (f is self.frame and k in (carried or ()))]

    def check_outer_lists(self, before: list) -> None:
        """A run-time loop or branch must not change the lists of enclosing frames by
        rebinding (a helper function appending to its caller's list)."""
        for f, k, v in before:
            if f.env.get(k) is not v:
                raise UnsupportedSyntaxError(
                    f"the list `{k}` of `{f.name}` is appended to by a function it calls "
                    "inside a run-time loop or branch", self.b.loc,
                    "append in the loop body itself, or have the helper return the items")


def _holds(container: Any, obj: Any, depth: int = 0) -> bool:
    """Whether ``obj`` is an item of ``container`` (tuples, lists, dicts, a few levels)."""
    if depth > 4 or not isinstance(container, (tuple, list, dict)):
        return False
    items = container.values() if isinstance(container, dict) else container
    return any(x is obj or _holds(x, obj, depth + 1) for x in items)


def _mutated_lists(body: list) -> list:
    """Names ``x`` with ``x.append(...)``, ``x[i] = ...`` or ``x[i] += ...`` in ``body``."""
    out: list = []
    for node in ast.walk(ast.Module(body=body, type_ignores=[])):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr in LIST_METHODS and isinstance(node.func.value, ast.Name):
            out.append(node.func.value.id)
        elif isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name):
                    out.append(t.value.id)
    return list(dict.fromkeys(out))


def _trip_count(b: Any, items: Any) -> Any:
    if not isinstance(items, RunLoop):
        return None
    start, stop, step, _ = items
    if not (isinstance(step, Const) and step.value == 1):
        return None
    if isinstance(start, Const) and start.value == 0:
        return b.maximum(stop, 1)
    return b.maximum(b.sub(stop, start), 1)

