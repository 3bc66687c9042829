"""IR -> readable Python source.

The output is deterministic: the same IR always gives the same text (golden tests rely on it).
Each primitive's source comes from its ``emit`` rule; array constants become module globals
``_k0, _k1, ...``; comments point at the user's source lines.
"""

from __future__ import annotations

import hashlib
import linecache
import math
import os

import numpy as np

from ..ir.nodes import Assign, Const, Effect, ForRange, Function, If, Var, While
from ..rules.registry import Statements  # noqa: F401 (emissions return it)

INDENT = "    "

# Globals that user-registered primitives' emitted source refers to (name -> object).
EXTRA_GLOBALS: dict = {}


class SourceWriter:
    def __init__(self, registry, with_comments: bool = True, tape_factory: str | None = None,
                 overrides: dict | None = None):
        self.prims = registry
        self.tape_factory = tape_factory
        self.overrides = overrides or {}
        self.lines: list[str] = []
        self.consts: dict[str, object] = {}
        self._const_ids: dict[int, str] = {}
        self.with_comments = with_comments
        self._last_line: tuple | None = None
        # Module-level definitions emissions ask for (fused loop kernels): source -> name,
        # in order of first use; equal sources share one definition.
        self.defs: dict[str, str] = {}

    # -- atoms ---------------------------------------------------------------------------
    def atom(self, a) -> str:
        if isinstance(a, Var):
            return a.name
        if isinstance(a, Const):
            v = a.value
            if isinstance(v, np.ndarray):
                key = id(v)
                if key not in self._const_ids:
                    name = f"_k{len(self._const_ids)}"
                    self._const_ids[key] = name
                    self.consts[name] = v
                return self._const_ids[key]
            if isinstance(v, bool):
                return repr(v)
            if isinstance(v, int):
                return f"({v})" if v < 0 else repr(v)
            if isinstance(v, float):
                if math.isnan(v):
                    return "np.nan"
                if math.isinf(v):
                    return "np.inf" if v > 0 else "(-np.inf)"
                text = repr(v)
                if a.type.dtype == "float32":
                    text = f"np.float32({text})"
                return f"({text})" if v < 0 or text.startswith("-") else text
            return repr(v)
        raise TypeError(f"not an atom: {a!r}")

    # -- statements ----------------------------------------------------------------------
    def comment_for(self, stmt, depth: int) -> None:
        loc = getattr(stmt, "loc", None)
        if not self.with_comments or loc is None:
            return
        key = (loc.file, loc.line)
        if key == self._last_line:
            return
        self._last_line = key
        text = linecache.getline(loc.file, loc.line).strip()
        where = f"{os.path.basename(loc.file)}:{loc.line}"
        pad = INDENT * depth
        self.lines.append(f"{pad}# {where}: {text}" if text else f"{pad}# {where}")

    def block(self, stmts: list, depth: int) -> None:
        if not stmts:
            self.lines.append(INDENT * depth + "pass")
            return
        for s in stmts:
            self.stmt(s, depth)

    def stmt(self, s, depth: int) -> None:
        pad = INDENT * depth
        self.comment_for(s, depth)
        if isinstance(s, Assign) and s.prim == "tape_new" and self.tape_factory:
            self.lines.append(f"{pad}{s.out.name} = {self.tape_factory}()")
        elif isinstance(s, Assign) and self.prims[s.prim].inline:
            self.inline_call(s, depth)
        elif isinstance(s, Assign):
            expr = self.emit(s)
            if isinstance(expr, Statements):
                names = self.define(expr.defs)
                self.lines.extend(pad + ln.format(out=s.out.name, **names) for ln in expr.lines)
            else:
                self.lines.append(f"{pad}{s.out.name} = {expr}")
        elif isinstance(s, Effect):
            text = self.emit(s)
            lines = text.lines if isinstance(text, Statements) else [text]
            if isinstance(text, Statements) and text.defs:
                names = self.define(text.defs)
                lines = [ln.format(**names) for ln in lines]
            self.lines.extend(pad + ln for ln in lines)
        elif isinstance(s, If):
            self.lines.append(f"{pad}if {self.atom(s.cond)}:")
            self.block(s.then, depth + 1)
            if s.orelse:
                self.lines.append(f"{pad}else:")
                self.block(s.orelse, depth + 1)
        elif isinstance(s, While):
            if s.cond_body:
                self.lines.append(f"{pad}while True:")
                self.block(s.cond_body, depth + 1)
                self.lines.append(f"{pad}{INDENT}if not {self.atom(s.cond)}:")
                self.lines.append(f"{pad}{INDENT * 2}break")
                for b in s.body:
                    self.stmt(b, depth + 1)
            else:
                self.lines.append(f"{pad}while {self.atom(s.cond)}:")
                self.block(s.body, depth + 1)
        elif isinstance(s, ForRange):
            start, stop, step = (self.atom(a) for a in (s.start, s.stop, s.step))
            if step == "1":
                rng = f"range({stop})" if start == "0" else f"range({start}, {stop})"
            else:
                rng = f"range({start}, {stop}, {step})"
            self.lines.append(f"{pad}for {s.var.name} in {rng}:")
            self.block(s.body, depth + 1)
        else:
            raise TypeError(f"unknown statement {s!r}")
        self._last_line = self._last_line if isinstance(s, (Assign, Effect)) else None

    def define(self, defs: tuple) -> dict:
        """Names (``def0``, ``def1``, ... -> ``_kernel3``, ...) of an emission's module-level
        definitions; a source already defined keeps its first name."""
        names = {}
        for j, text in enumerate(defs):
            if text not in self.defs:
                self.defs[text] = f"_kernel{len(self.defs)}"
            names[f"def{j}"] = self.defs[text]
        return names

    def module_defs(self) -> list:
        """The definitions' source lines, each followed by two blank lines."""
        out = []
        for text, name in self.defs.items():
            out += text.replace("{name}", name).split("\n") + ["", ""]
        return out

    def emit(self, s) -> str:
        """Source of one primitive application; backend overrides also see the arg types."""
        srcs = [self.atom(a) for a in s.args]
        override = self.overrides.get(s.prim)
        if override is not None:
            return override(srcs, types=tuple(a.type for a in s.args), **dict(s.params))
        return self.prims[s.prim].emit(srcs, **dict(s.params))

    def inline_call(self, s: Assign, depth: int) -> None:
        """A primitive whose evaluation is a compiled function body (custom rules): its
        statements are written in place, with fresh names."""
        from ..ir.builder import Builder, Names
        from ..ir.inline import inline

        spec = dict(s.params)[self.prims[s.prim].inline]
        body = spec.primal
        b = Builder(Names(self.names), self.prims)
        (result,) = inline(b, body, list(s.args[: len(body.params)]))
        self.names |= b.names.used
        self.lines.append(f"{INDENT * depth}# {spec!r}")
        for st in b.block:
            self.stmt(st, depth)
        self.lines.append(f"{INDENT * depth}{s.out.name} = {self.atom(result)}")

    def function(self, fn: Function) -> None:
        from ..ir.nodes import block_reads, block_writes

        self.names = ({p.name for p in fn.params} | {v.name for v in block_writes(fn.body)}
                      | {v.name for v in block_reads(fn.body)})
        params = ", ".join(p.name for p in fn.params)
        self.lines.append(f"def {fn.name}({params}):")
        doc = fn.meta.get("doc")
        if doc:
            self.lines.append(f'{INDENT}"""{doc}"""')
        for s in fn.body:
            self.stmt(s, 1)
        res = ", ".join(self.atom(r) for r in fn.results)
        self.lines.append(f"{INDENT}return ({res}{',' if len(fn.results) == 1 else ''})")


HEADER = "import numpy as np\nimport math\nfrom chainrule import runtime as _rt\n"


def generate(fn: Function, registry=None, with_comments: bool = True,
             tape_factory: str | None = None, header: str = HEADER,
             overrides: dict | None = None) -> tuple[str, dict]:
    """Return (module source, constants) for ``fn``; the function is named ``fn.name``.

    ``tape_factory`` replaces the empty-list tapes by calls to that expression (used to
    measure tapes)."""
    if registry is None:
        from ..rules import PRIMS

        registry = PRIMS
    w = SourceWriter(registry, with_comments, tape_factory, overrides)
    w.function(fn)
    if w.consts:
        # The constants' values are part of the code's identity (module reuse, Numba's cache).
        h = hashlib.sha256()
        for name in sorted(w.consts):
            value = np.ascontiguousarray(w.consts[name])
            h.update(f"{name}:{value.dtype}:{value.shape}".encode())
            h.update(value.tobytes())
        header += f"# constants {', '.join(sorted(w.consts))}: sha256 {h.hexdigest()[:16]}\n"
    src = header + "\n\n" + "\n".join(w.module_defs() + w.lines) + "\n"
    return src, {**EXTRA_GLOBALS, **w.consts}
