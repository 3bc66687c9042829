"""The in-memory compile caches: compiled code per (function, argument kinds, options).

The compile driver (chainrule.driver) keeps the compiled code of each kind that is not a
transform object (``jvp``, ``vjp``, ``jet``, ``directional``; a transform keeps its own
per-object table) in a :class:`CompileCache`, and ``into`` keeps its transform objects in one.
An entry holds its function weakly where Python allows it (an entry whose function is gone is
never returned and is evicted first), and a cache holds at most ``maxsize`` entries, evicting
the least recently used -- so a notebook that defines functions in a loop does not grow without
bound. An evicted ``into`` object's code is loaded again from the disk cache (chainrule.cache);
the other kinds are compiled again."""

from __future__ import annotations

import weakref
from collections import OrderedDict
from typing import Any

MAXSIZE = 256


class CompileCache:
    def __init__(self, maxsize: int = MAXSIZE):
        self.maxsize = maxsize
        self._entries: OrderedDict = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, fun: Any, key: Any) -> Any:
        """The value stored for ``fun`` under ``key``, or None."""
        k = (id(fun), key)
        hit = self._entries.get(k)
        if hit is None:
            return None
        ref, value = hit
        if _target(ref) is not fun:  # a dead function whose id was reused
            del self._entries[k]
            return None
        self._entries.move_to_end(k)
        return value

    def put(self, fun: Any, key: Any, value: Any) -> Any:
        try:
            ref: Any = weakref.ref(fun)
        except TypeError:  # (bound methods made per access, partials, builtins: held strongly)
            ref = fun
        self._entries[(id(fun), key)] = (ref, value)
        self._entries.move_to_end((id(fun), key))
        while len(self._entries) > self.maxsize:
            self._evict_one()
        return value

    def clear(self) -> None:
        self._entries.clear()

    def _evict_one(self) -> None:
        for k, (ref, _) in self._entries.items():  # dead functions first
            if _target(ref) is None:
                del self._entries[k]
                return
        self._entries.popitem(last=False)


def _target(ref: Any) -> Any:
    return ref() if isinstance(ref, weakref.ref) else ref
