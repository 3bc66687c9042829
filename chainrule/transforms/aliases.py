"""Alias check for in-place writes under reverse mode.

Reverse mode keeps one adjoint per variable. When two names share one buffer (``b = a``, or a
view such as ``a[1:]``, ``a.T``, ``a.reshape(...)``) and the buffer is written in place, the
adjoint of the write and the adjoint of the other name's reads would live apart and the gradient
would be wrong. Until alias-aware adjoints exist, such writes raise
:class:`~chainrule.errors.UnsupportedMutationError` instead of giving a wrong gradient.
"""

from __future__ import annotations

from ..errors import UnsupportedMutationError
from ..ir.nodes import Assign, Effect, Function, Var, walk

# Primitives whose result may share memory with their first argument.
VIEW_PRIMS = {"id", "reshape", "ravel", "transpose", "squeeze", "expand_dims", "broadcast_to"}


def _basic_index(params: tuple) -> bool:
    spec = dict(params).get("spec", ())
    return not any(code in ("a", "m") for code in spec) and any(
        code[0] == "s" or code in ("e", "n") for code in spec
    )


def check_writes(fn: Function, active: set[str], prims) -> None:
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb

    reads: dict[str, int] = {}
    stmts = list(walk(fn.body))
    for s in stmts:
        if isinstance(s, Assign):
            for a in s.args:
                if isinstance(a, Var):
                    reads[a.name] = reads.get(a.name, 0) + 1
            x = s.args[0] if s.args else None
            if isinstance(x, Var) and x.type.ndim > 0 and s.out.type.ndim > 0:
                if s.prim in VIEW_PRIMS or (s.prim == "getitem" and _basic_index(s.params)):
                    union(s.out.name, x.name)
    members: dict[str, list[str]] = {}
    for name in list(parent):
        members.setdefault(find(name), []).append(name)
    for s in stmts:
        if not (isinstance(s, Effect) and s.prim in ("setitem", "additem")):
            continue
        target = s.args[0]
        if target.name not in active:
            continue
        group = members.get(find(target.name), [target.name])
        others = [m for m in group if m != target.name and reads.get(m, 0) > 1]
        if others:
            raise UnsupportedMutationError(
                f"in-place write to `{target.name}`, which shares memory with "
                f"`{others[0]}` (an alias or a view), is not yet differentiable in reverse mode",
                s.loc,
                "write into a copy (`y = x.copy()`) or into the original array by index",
            )
