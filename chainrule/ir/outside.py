"""Values a compiled function reads from outside its arguments: module globals and closure cells.

The rule (docs/architecture.md, "Choices and limits"): such values are read when the compiled
function is *called*, not when it was compiled.

* An array (float, integer or bool, ndim >= 1), also inside a tuple/list/dict, becomes a hidden
  run-time input of the generated function: it is fetched from its global or cell at each call
  and passed without a copy, so rebinding it and writing into it are both seen. A change of its
  dtype or ndim recompiles.
* Every other value the code depends on (numbers, tuples, strings, user functions, ...) was
  folded into the code; a :class:`Guard` re-checks it at each call (identity first, then
  equality of a small description) and a change recompiles. Modules and library functions are
  not checked.

:class:`Outside` is the record the front end attaches to ``Function.meta["outside"]``;
:class:`Reader` is the call-time side the executable uses. ``Reader.values()`` returns the hidden
inputs in order, or None when something changed and the function must be compiled again.
"""

from __future__ import annotations

import functools
import sys
import types
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MISSING = object()


@dataclass(eq=False)
class Source:
    """Where a value lives: ``ns[name]`` (a module's globals) or ``cell.cell_contents``."""

    name: str
    ns: dict | None = None
    cell: Any = None

    def getter(self) -> Any:
        if self.cell is not None:
            return functools.partial(getattr, self.cell, "cell_contents", MISSING)
        return functools.partial(self.ns.get, self.name, MISSING)

    def key(self) -> tuple:
        return ("c", id(self.cell)) if self.cell is not None else ("g", id(self.ns), self.name)


@dataclass(eq=False)
class ArrayInput:
    """A hidden parameter ``param`` fed at each call from ``source`` (then ``path`` inside)."""

    param: str
    source: Source
    path: tuple
    dtype: str  # dtype.char
    ndim: int


@dataclass(eq=False)
class Guard:
    """A folded value: ``value`` as seen when compiling."""

    source: Source
    value: Any


@dataclass(eq=False)
class Outside:
    inputs: list = field(default_factory=list)
    guards: list = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.inputs or self.guards)


def is_input_array(value: Any) -> bool:
    """Plain arrays only (a subclass such as a masked array stays a guarded constant)."""
    return type(value) is np.ndarray and value.ndim > 0 and value.dtype.kind in "fiub"


def unchecked(value: Any) -> bool:
    """Values not guarded: modules, builtins and library functions (rebinding them is not a
    notebook workflow, and checking them would cost every call)."""
    if isinstance(value, (types.ModuleType, types.BuiltinFunctionType, np.ufunc, type)):
        return True
    if isinstance(value, types.FunctionType):
        mod = (getattr(value, "__module__", "") or "").split(".")[0]
        return mod in ("numpy", "math", "scipy", "numba") or (
            mod == "chainrule" and not value.__module__.startswith(
                ("chainrule.examples", "chainrule.testing")))
    return False


def describe(value: Any) -> Any:
    """What of a folded value the code depends on (arrays: only dtype and ndim, they are
    inputs; numbers: type and exact value; other objects: identity)."""
    t = type(value)
    if t is np.ndarray:
        if value.ndim == 0:
            return ("a0", value.dtype.char, repr(value.item()))
        return ("a", value.dtype.char, value.ndim)
    if t in (tuple, list):
        return (t, tuple(describe(v) for v in value))
    if t is dict:
        return (t, tuple((k, describe(v)) for k, v in value.items()))
    if value is None or t in (bool, int, float, str, complex) or isinstance(value, np.generic):
        return (t, repr(value))
    if t is slice:
        return (t, repr(value))
    return ("id", id(value))


def _immutable(value: Any) -> bool:
    t = type(value)
    if t is tuple:
        return all(_immutable(v) for v in value)
    return t is not list and t is not dict and not (t is np.ndarray and value.ndim == 0)


class Reader:
    """Call-time reading of a function's outside values (see the module docstring).

    ``fast()`` is generated code: it returns the hidden inputs as a tuple when every guarded
    value is the very object seen before and every array has its dtype and ndim, else None;
    then ``values()`` compares descriptions (an equal value rebound is fine) and returns the
    inputs, or None when the function must be compiled again."""

    def __init__(self, outside: Outside):
        self.inputs = outside.inputs
        self.guards = [[g.source, g.value, describe(g.value), _immutable(g.value)]
                       for g in outside.guards]
        self.fast = self._generate()

    def _generate(self) -> Any:
        env: dict = {"MISSING": MISSING, "ndarray": np.ndarray, "describe": describe}
        lines = ["def fast():"]

        def fetch(source: Source, var: str) -> str:
            k = len(env)
            if source.cell is not None:
                env[f"c{k}"] = source.cell
                return f"    {var} = getattr(c{k}, 'cell_contents', MISSING)"
            env[f"n{k}"] = source.ns
            return f"    {var} = n{k}.get({source.name!r}, MISSING)"

        for i, (source, old, desc, immutable) in enumerate(self.guards):
            lines.append(fetch(source, "v"))
            env[f"old{i}"], env[f"desc{i}"] = old, desc
            test = f"v is not old{i}" if immutable else f"describe(v) != desc{i}"
            lines += [f"    if {test}:", "        return None"]
        for i, a in enumerate(self.inputs):
            lines.append(fetch(a.source, f"a{i}"))
            for p in a.path:
                lines += [f"    if type(a{i}) not in (tuple, list, dict):", "        return None",
                          f"    a{i} = a{i}[{p!r}]"]
            lines += [f"    if type(a{i}) is not ndarray or a{i}.ndim != {a.ndim} or "
                      f"a{i}.dtype.char != {a.dtype!r}:", "        return None"]
        lines.append(f"    return ({''.join(f'a{i}, ' for i in range(len(self.inputs)))})")
        exec("\n".join(lines), env)
        return env["fast"]

    def values(self) -> tuple | None:
        """The hidden inputs, after the full check (None: compile again)."""
        renewed = False
        for guard in self.guards:
            v = guard[0].getter()()
            if v is not guard[1]:
                if describe(v) != guard[2]:
                    return None
                guard[1], renewed = v, True
        if renewed:
            self.fast = self._generate()
        try:
            return self.fast()
        except (KeyError, IndexError, TypeError):  # a container changed under a path
            return None


# -- the disk cache: where a value lives, as JSON ---------------------------------------------
def locate(source: Source, top_cells: tuple) -> list | None:
    """A JSON locator of ``source`` (None when it cannot be found again in another process):
    a module global, or a closure cell of the function the transform was applied to."""
    if source.cell is not None:
        for i, cell in enumerate(top_cells or ()):
            if cell is source.cell:
                return ["c", i, source.name]
        return None
    modname = source.ns.get("__name__")
    mod = sys.modules.get(modname) if isinstance(modname, str) else None
    if mod is None or mod.__dict__ is not source.ns:
        return None
    return ["g", modname, source.name]


def resolve(loc: list, top_cells: tuple) -> Source | None:
    if loc[0] == "c":
        cells = top_cells or ()
        return Source(loc[2], cell=cells[loc[1]]) if loc[1] < len(cells) else None
    mod = sys.modules.get(loc[1])
    return None if mod is None else Source(loc[2], ns=mod.__dict__)


def to_json(outside: Outside, top_cells: tuple) -> dict | None:
    """The payload form; None when a hidden input cannot be located (not cacheable). Guards
    that cannot be located are left out: the cache key validated them when loading."""
    inputs = []
    for a in outside.inputs:
        loc = locate(a.source, top_cells)
        if loc is None or not all(isinstance(p, (int, str)) for p in a.path):
            return None
        inputs.append([a.param, loc, list(a.path), a.dtype, a.ndim])
    guards = [loc for g in outside.guards
              if (loc := locate(g.source, top_cells)) is not None]
    return {"inputs": inputs, "guards": guards}


def from_json(data: dict, top_cells: tuple) -> Outside | None:
    """The record back, with the values current now as the guards' values (None: a location
    is gone)."""
    out = Outside()
    for param, loc, path, dtype, ndim in data.get("inputs", ()):
        src = resolve(loc, top_cells)
        if src is None:
            return None
        out.inputs.append(ArrayInput(param, src, tuple(path), dtype, ndim))
    for loc in data.get("guards", ()):
        src = resolve(loc, top_cells)
        if src is None:
            return None
        value = src.getter()()
        if value is MISSING:
            return None
        out.guards.append(Guard(src, value))
    return out
