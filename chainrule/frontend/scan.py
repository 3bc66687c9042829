"""Syntactic queries on statement lists: assigned names, and whether control can leave early.

These look only at the AST (never inside nested ``def``/``lambda``) and decide how a block is
lowered: which names a loop carries, whether a loop needs ``break``/``return`` flags, whether the
rest of a block must be guarded.
"""

from __future__ import annotations

import ast

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_LOOPS = (ast.For, ast.While, ast.AsyncFor)


def _walk_same_scope(nodes: list, into_loops: bool = True):
    stack = list(reversed(nodes))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, _SCOPES):
            continue
        if not into_loops and isinstance(node, _LOOPS):
            # still look at the loop's else-less body for returns, handled by callers
            continue
        stack.extend(reversed(list(ast.iter_child_nodes(node))))


def _target_names(target: ast.AST, out: list) -> None:
    if isinstance(target, ast.Name):
        out.append(target.id)
    elif isinstance(target, (ast.Tuple, ast.List)):
        for elt in target.elts:
            _target_names(elt, out)
    elif isinstance(target, ast.Starred):
        _target_names(target.value, out)


def assigned_names(stmts: list) -> list[str]:
    """Names bound by assignments, ``for`` targets and ``def``s in ``stmts`` (ordered, unique)."""
    out: list[str] = []
    for node in _walk_same_scope(stmts):
        if isinstance(node, ast.Assign):
            for t in node.targets:
                _target_names(t, out)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor)):
            _target_names(node.target, out)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.append(node.name)
        elif isinstance(node, ast.NamedExpr):
            _target_names(node.target, out)
    seen: dict = {}
    for n in out:
        seen.setdefault(n, None)
    return list(seen)


def augassigned_only(stmts: list) -> set[str]:
    """Names that ``stmts`` bind only through augmented assignment (``a += v``), never through
    ``=``, ``for``, ``def`` or ``:=`` (for an array, ``a += v`` writes in place)."""
    aug: list[str] = []
    others: list[str] = []
    for node in _walk_same_scope(stmts):
        if isinstance(node, ast.AugAssign):
            _target_names(node.target, aug)
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                _target_names(t, others)
        elif isinstance(node, (ast.AnnAssign, ast.For, ast.AsyncFor, ast.NamedExpr)):
            _target_names(node.target, others)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            others.append(node.name)
    return set(aug) - set(others)


def has_return(stmts: list) -> bool:
    return any(isinstance(n, ast.Return) for n in _walk_same_scope(stmts))


def returns(stmts: list) -> list:
    return [n for n in _walk_same_scope(stmts) if isinstance(n, ast.Return)]


def _loop_exits(stmts: list, kind: type) -> bool:
    """True if ``stmts`` contain a ``kind`` (Break/Continue) belonging to the enclosing loop."""
    stack = list(stmts)
    while stack:
        node = stack.pop()
        if isinstance(node, kind):
            return True
        if isinstance(node, _SCOPES):
            continue
        if isinstance(node, _LOOPS):
            stack.extend(getattr(node, "orelse", []))
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False


def has_break(stmts: list) -> bool:
    return _loop_exits(stmts, ast.Break)


def has_continue(stmts: list) -> bool:
    return _loop_exits(stmts, ast.Continue)


def may_leave(stmt: ast.AST, in_loop: bool) -> bool:
    """Can control leave the rest of the block after ``stmt`` (return, or break/continue)?"""
    if has_return([stmt]):
        return True
    return in_loop and (has_break([stmt]) or has_continue([stmt]))


def reads_outside(func: ast.AST | None, inner: ast.AST) -> set[str]:
    """Names read in ``func`` outside the subtree ``inner`` (conservative, for loop carries)."""
    if func is None:
        return set()
    inside = {id(n) for n in ast.walk(inner)}
    return {
        n.id
        for n in ast.walk(func)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and id(n) not in inside
    }
