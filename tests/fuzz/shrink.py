"""Shrink a failing fuzz program while it keeps failing the same way.

``shrink(source, x, a, n, backend, kind)`` tries, greedily and repeatedly, smaller variants of
the program: delete a statement (a helper's too), replace an ``if``/``for``/``while`` by its
body, drop an ``else``, replace an expression by one of its operands or by a constant. A
variant is kept when :func:`check` still reports a failure of the same ``kind`` (so programs
that stop running in plain Python, or stop failing, are never kept).
"""

from __future__ import annotations

import ast
import copy
import time

from .check import check


def _stmt_lists(tree: ast.AST) -> list:
    """Every statement list in the tree, as (owner, field) pairs, in source order."""
    out = []
    for node in ast.walk(tree):
        for field in ("body", "orelse"):
            block = getattr(node, field, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                out.append((node, field))
    return out


def _statement_variants(tree: ast.Module):
    """Variants that remove or flatten one statement."""
    count = sum(len(getattr(o, f)) for o, f in _stmt_lists(tree))
    for k in range(count):
        for action in ("delete", "inline", "drop_else"):
            new = copy.deepcopy(tree)
            if _apply(new, k, action):
                yield new


def _apply(tree: ast.Module, k: int, action: str) -> bool:
    for owner, field in _stmt_lists(tree):
        block = getattr(owner, field)
        if k >= len(block):
            k -= len(block)
            continue
        s = block[k]
        if action == "delete":
            if isinstance(s, ast.Import) or (isinstance(s, ast.FunctionDef) and s.name == "f"):
                return False
            del block[k]
        elif action == "inline":
            if not isinstance(s, (ast.If, ast.For, ast.While)):
                return False
            block[k:k + 1] = s.body
        else:
            if not isinstance(s, ast.If) or not s.orelse:
                return False
            s.orelse = []
        if not block:
            block.append(ast.Pass())
        return True
    return False


def _expr_sites(tree: ast.AST) -> list:
    """(parent, field, index) of every expression inside function bodies."""
    sites = []
    for node in ast.walk(tree):
        for field, value in ast.iter_fields(node):
            if isinstance(value, ast.expr) and not isinstance(value, (ast.Name, ast.Constant)):
                sites.append((node, field, None))
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, ast.expr) and \
                            not isinstance(item, (ast.Name, ast.Constant)):
                        sites.append((node, field, i))
    return sites


def _replacements(e: ast.expr) -> list:
    if isinstance(e, ast.BinOp):
        return [e.left, e.right]
    if isinstance(e, ast.Call):
        return [a for a in e.args if not isinstance(a, ast.Starred)]
    if isinstance(e, ast.UnaryOp):
        return [e.operand]
    if isinstance(e, ast.BoolOp):
        return list(e.values)
    return []


def _expression_variants(tree: ast.Module):
    n = len(_expr_sites(tree))
    for k in range(n):
        for r in range(3):
            new = copy.deepcopy(tree)
            parent, field, idx = _expr_sites(new)[k]
            old = getattr(parent, field) if idx is None else getattr(parent, field)[idx]
            if isinstance(parent, (ast.Assign, ast.AugAssign)) and field == "target":
                continue
            options = _replacements(old)
            if isinstance(old, (ast.BinOp, ast.Call)) and not isinstance(parent, ast.Subscript):
                options.append(ast.Constant(0.5))
            if r >= len(options):
                continue
            if idx is None:
                setattr(parent, field, options[r])
            else:
                getattr(parent, field)[idx] = options[r]
            yield new


def shrink(source: str, x, a, n, backend: str, kind: str, budget: int = 400,
           seconds: float = 180.0) -> str:
    """The smallest variant of ``source`` found that still fails with ``kind`` (at most
    ``budget`` variants tried, for about ``seconds``)."""
    best = ast.parse(source)
    current = ast.unparse(best) + "\n"
    improved = True
    stop = time.monotonic() + seconds
    while improved and budget > 0 and time.monotonic() < stop:
        improved = False
        for gen in (_statement_variants, _expression_variants):
            for variant in gen(best):
                budget -= 1
                if budget <= 0 or time.monotonic() > stop:
                    break
                try:
                    text = ast.unparse(variant) + "\n"
                except Exception:  # a variant that cannot be printed is skipped
                    continue
                if len(text) >= len(current):
                    continue  # (e.g. ``pass`` replaced by ``pass``)
                o = check(text, x, a, n, backend, timeout=2 if kind == "timeout" else 30,
                          jit_only=kind in ("jit", "jit-mutation"))
                if o.status == "fail" and o.kind == kind:
                    best, current = ast.parse(text), text
                    improved = True
                    break
            if improved:
                break
    return ast.unparse(best) + "\n"


__all__ = ["shrink"]
