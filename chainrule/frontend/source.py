"""Finding a Python function's source and AST, with positions in the user's file.

``parse_function(fn)`` returns the ``ast.FunctionDef`` or ``ast.Lambda`` node of ``fn`` with line
numbers and columns as they are in the user's file, so errors and generated-code comments can
point at ``file:line:col``. Results are cached per code object.
"""

from __future__ import annotations

import ast
import inspect
import linecache
import sysconfig
import textwrap
import types
from dataclasses import dataclass

from ..errors import Loc, UnsupportedSyntaxError


# Where the standard library and installed packages live: their code is not the user's.
LIB_DIRS = tuple(
    p
    for p in {
        sysconfig.get_paths().get("stdlib"),
        sysconfig.get_paths().get("purelib"),
        sysconfig.get_paths().get("platlib"),
    }
    if p
)


def in_library_file(file: str) -> bool:
    """Whether ``file`` belongs to the standard library or an installed package."""
    return any(file.startswith(d) for d in LIB_DIRS) and "chainrule" not in file


@dataclass
class ParsedFunction:
    node: ast.AST  # ast.FunctionDef or ast.Lambda
    file: str
    name: str


_CACHE: dict = {}


def _shift(tree: ast.AST, line_offset: int, col_offset: int) -> None:
    for node in ast.walk(tree):
        if hasattr(node, "lineno"):
            node.lineno += line_offset
            node.col_offset += col_offset
            if getattr(node, "end_lineno", None) is not None:
                node.end_lineno += line_offset
                node.end_col_offset += col_offset


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip())


def _parse_chunk(lines: list[str]) -> tuple[ast.AST, int] | None:
    text = "".join(lines)
    indent = min((_indent_of(ln) for ln in lines if ln.strip()), default=0)
    body = textwrap.dedent(text)
    for candidate, col in ((body, indent), ("(" + body.strip() + "\n)", indent - 1)):
        try:
            return ast.parse(candidate), col
        except SyntaxError:
            continue
    return None


_FILES: dict = {}


def _parse_file(file: str, lines: list[str]) -> ast.AST | None:
    """The AST of a whole source file (None when it does not parse), cached by its text."""
    text = "".join(lines)
    digest = hash(text)
    hit = _FILES.get(file)
    if hit is None or hit[0] != digest:
        try:
            tree = ast.parse(text)
        except SyntaxError:
            tree = None
        hit = _FILES[file] = (digest, tree)
    return hit[1]


def _find_lambda(fn: types.FunctionType) -> tuple[ast.Lambda, str]:
    code = fn.__code__
    file = code.co_filename
    lines = linecache.getlines(file, fn.__globals__)
    start = code.co_firstlineno - 1
    argnames = list(code.co_varnames[: code.co_argcount])
    # The body's first column (instructions at column 0 are the code object's prologue; a
    # lambda's body never starts there).
    cols = [c for (_, _, c, _) in code.co_positions() if c]
    body_col = min(cols) if cols else None
    def matching(tree: ast.AST) -> list[ast.Lambda]:
        found = [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.Lambda)
            and n.lineno == code.co_firstlineno
            and [a.arg for a in n.args.args] == argnames
        ]
        if len(found) > 1 and body_col is not None:
            found = [n for n in found if n.body.col_offset == body_col] or found
        if len(found) > 1:
            raise UnsupportedSyntaxError(
                f"several lambdas with parameters ({', '.join(argnames)}) start on this line; "
                "chainrule cannot tell which one it was given",
                Loc(file, code.co_firstlineno, 0, "<lambda>"),
                "define the function with `def`, or put each lambda on its own line",
            )
        return found

    # The whole file first: a lambda inside a multi-line expression (a dict literal, a call
    # spanning lines) parses only with its surroundings.
    whole = _parse_file(file, lines)
    if whole is not None:
        found = matching(whole)
        if found:
            return found[0], file
    for end in range(start + 1, min(start + 60, len(lines)) + 1):
        parsed = _parse_chunk(lines[start:end])
        if parsed is None:
            continue
        tree, col = parsed
        _shift(tree, start, col)
        found = matching(tree)
        if found:
            return found[0], file
    raise UnsupportedSyntaxError(
        "cannot find the source of this lambda",
        Loc(file, code.co_firstlineno, 0, "<lambda>"),
        "define the function with `def` in a file",
    )


def parse_function(fn: types.FunctionType) -> ParsedFunction:
    """The AST node of a Python function or lambda, positioned in its file."""
    code = fn.__code__
    hit = _CACHE.get(code)
    if hit is not None:
        return hit
    if fn.__name__ == "<lambda>":
        node, file = _find_lambda(fn)
        result = ParsedFunction(node, file, "<lambda>")
    else:
        try:
            lines, first = inspect.getsourcelines(code)  # not `fn`: that follows __wrapped__
        except (OSError, TypeError) as exc:
            raise UnsupportedSyntaxError(
                f"cannot read the source of {fn.__qualname__}: {exc}",
                Loc(code.co_filename, code.co_firstlineno, 0, fn.__name__),
                "chainrule compiles functions from source; define them in a file "
                "(or use linecache for interactive code)",
            ) from None
        indent = min((_indent_of(ln) for ln in lines if ln.strip()), default=0)
        tree = ast.parse(textwrap.dedent("".join(lines)))
        _shift(tree, first - 1, indent)
        node = tree.body[0]
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            raise UnsupportedSyntaxError(
                f"{fn.__qualname__} is not a plain function definition",
                Loc(code.co_filename, first, 0, fn.__name__),
            )
        result = ParsedFunction(node, code.co_filename, fn.__name__)
    _CACHE[code] = result
    return result


def loc_of(node: ast.AST, file: str, func: str) -> Loc:
    return Loc(file, getattr(node, "lineno", 0), getattr(node, "col_offset", 0), func)
