"""Random programs over the subset chainrule compiles, as Python source text.

``generate(seed)`` returns a :class:`Program`: the source of a module defining ``f(x, a, n)``
(a float ``x``, a float vector ``a`` of length :data:`N`, an int ``n`` in 0..3, so a loop
over ``range(n)`` may make no trip) and the helper functions it calls, with example
arguments. Programs use scalar and vector arithmetic, NumPy functions on safe domains (``log``
and ``sqrt`` of ``1 + e*e``, ``exp`` of a sine), branches on run-time values, ``for`` over
ranges, ``while`` with a bounded data-dependent trip count, ``break``/``continue``, early
returns, helpers that write into their array argument, aliases (``b = a``), basic-slice views
and writes through them, overlapping slice writes, in-place ``+=`` and loop indices read after
their loop. Every index is in bounds by construction. ``f`` returns a float scalar.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np

N = 6  # length of the array argument

HELPERS = {
    "scale_part": ("def {name}(v, c):\n"
                   "    v[1:3] *= c\n"
                   "    return np.sum(v) * 0.5\n"),
    "shift": ("def {name}(v, c):\n"
              "    v[1:] = v[:-1] * c + v[1:]\n"
              "    return c * v[0]\n"),
    "pure": ("def {name}(v, c):\n"
             "    t = np.tanh(v * c)\n"
             "    return np.sum(t) + c * c\n"),
    "early": ("def {name}(v, c):\n"
              "    if c > {k}:\n"
              "        return np.sum(v) * c\n"
              "    v += c\n"
              "    return v[0]\n"),
    "loop": ("def {name}(v, c):\n"
             "    s = 0.0\n"
             "    for k in range(2):\n"
             "        s = s + v[k] * c\n"
             "        if s > {k}:\n"
             "            break\n"
             "    return s\n"),
    "view": ("def {name}(v, c):\n"
             "    w = v[1:]\n"
             "    w[0] = w[1] * c\n"
             "    w += 0.25\n"
             "    return np.mean(v)\n"),
}

# NumPy functions on their safe domains, as templates over one operand
SAFE_UNARY = ("np.sin({0})", "np.tanh({0})", "np.exp(np.sin({0}))", "np.log(1.0 + {0} * {0})",
              "np.sqrt(1.0 + {0} * {0})")

FEATURES = ("if", "for", "while", "break", "continue", "return", "helper", "alias", "view",
            "overlap", "inplace", "index_after")


@dataclass
class Program:
    seed: int
    source: str
    x: float
    a: np.ndarray
    n: int = 2
    features: set = field(default_factory=set)

    def args(self) -> tuple:
        return (self.x, self.a.copy(), self.n)


@dataclass
class _Scope:
    scalars: list
    arrays: dict  # name -> length
    ints: dict  # name -> largest value it can hold


class _Gen:
    def __init__(self, rng: random.Random):
        self.r = rng
        self.count = 0
        self.lines: list[str] = []
        self.helpers: list[tuple] = []  # (name, kind)
        self.features: set = set()

    def fresh(self, base: str) -> str:
        self.count += 1
        return f"{base}{self.count}"

    def const(self) -> str:
        return repr(round(self.r.uniform(-1.5, 1.5), 2))

    # -- expressions ---------------------------------------------------------------------
    def array_of(self, sc: _Scope, length: int) -> str | None:
        """An array expression of the given length made of names and slices, or None."""
        exact = [nm for nm, ln in sc.arrays.items() if ln == length]
        longer = [(nm, ln) for nm, ln in sc.arrays.items() if ln > length]
        options = [nm for nm in exact]
        for nm, ln in longer:
            lo = self.r.randrange(0, ln - length + 1)
            options.append(f"{nm}[{lo}:{lo + length}]")
        return self.r.choice(options) if options else None

    def scalar_leaf(self, sc: _Scope) -> str:
        r = self.r.random()
        if r < 0.35 and sc.scalars:
            return self.r.choice(sc.scalars)
        if r < 0.5:
            return "x"
        if r < 0.75 and sc.arrays:
            nm = self.r.choice(list(sc.arrays))
            ln = sc.arrays[nm]
            idx = [i for i, top in sc.ints.items() if top < ln]
            if idx and self.r.random() < 0.4:
                return f"{nm}[{self.r.choice(idx)}]"
            k = self.r.randrange(-ln, ln)
            return f"{nm}[{k}]"
        if r < 0.85 and sc.arrays:
            nm = self.r.choice(list(sc.arrays))
            fn = self.r.choice(["np.sum", "np.mean"])
            return f"{fn}({nm})"
        return self.const()

    def scalar(self, sc: _Scope, depth: int = 2) -> str:
        if depth == 0 or self.r.random() < 0.3:
            return self.scalar_leaf(sc)
        a = self.scalar(sc, depth - 1)
        k = self.r.randrange(9)
        if k < len(SAFE_UNARY):
            return SAFE_UNARY[k].format(a)
        if k == 5 and sc.arrays:
            nm = self.r.choice(list(sc.arrays))
            other = self.array_of(sc, sc.arrays[nm])
            return f"np.dot({nm}, {other})"
        b = self.scalar(sc, depth - 1)
        op = self.r.choice(["+", "-", "*", "*"])
        return f"({a} {op} {b})"

    def array(self, sc: _Scope, length: int, depth: int = 2) -> str:
        base = self.array_of(sc, length)
        if base is None:
            return f"np.full({length}, {self.scalar(sc, 1)})"
        if depth == 0 or self.r.random() < 0.25:
            return base
        k = self.r.randrange(6)
        if k < 2:
            return SAFE_UNARY[k].format(self.array(sc, length, depth - 1))
        if k == 2:
            return f"({self.array(sc, length, depth - 1)} * {self.scalar(sc, 1)})"
        if k == 3:
            return f"({self.scalar(sc, 1)} + {self.array(sc, length, depth - 1)})"
        op = self.r.choice(["+", "-", "*"])
        return f"({self.array(sc, length, depth - 1)} {op} {self.array(sc, length, depth - 1)})"

    def cond(self, sc: _Scope) -> str:
        return f"{self.scalar(sc, 1)} {self.r.choice(['>', '<'])} {self.const()}"

    # -- statements ----------------------------------------------------------------------
    def emit(self, pad: str, text: str) -> None:
        for line in text.split("\n"):
            self.lines.append(pad + line)

    def block(self, sc: _Scope, pad: str, count: int, depth: int, loop: bool) -> None:
        inner = _Scope(list(sc.scalars), dict(sc.arrays), dict(sc.ints))
        for _ in range(count):
            self.stmt(inner, pad, depth, loop)
        # names first bound in this block stay local to it (Python would raise after it on
        # paths that skip the block); writes to outer arrays and scalars remain visible

    def stmt(self, sc: _Scope, pad: str, depth: int, loop: bool) -> None:
        r = self.r
        kinds = ["sassign", "sassign", "supdate", "anew", "ainplace", "aitem"]
        if sc.arrays:
            kinds += ["alias", "view", "overlap", "slicewrite", "helper"]
        if depth > 0:
            kinds += ["if", "if", "for", "while"]
        if loop:
            kinds += ["break", "continue"]
        kinds += ["return"]
        kind = r.choice(kinds)
        getattr(self, "s_" + kind)(sc, pad, depth, loop)

    def s_sassign(self, sc, pad, depth, loop):
        nm = self.fresh("s")
        self.emit(pad, f"{nm} = {self.scalar(sc)}")
        sc.scalars.append(nm)

    def s_supdate(self, sc, pad, depth, loop):
        if not sc.scalars:
            return self.s_sassign(sc, pad, depth, loop)
        nm = self.r.choice(sc.scalars)
        if self.r.random() < 0.5:
            self.emit(pad, f"{nm} += np.tanh({self.scalar(sc)})")
            self.features.add("inplace")
        else:
            self.emit(pad, f"{nm} = 0.5 * {nm} + np.sin({self.scalar(sc)})")

    def s_anew(self, sc, pad, depth, loop):
        length = self.r.choice(sorted(set(sc.arrays.values())) or [N])
        nm = self.fresh("c")
        expr = self.array(sc, length)
        if expr in sc.arrays or "[" in expr.split("(")[0]:
            expr = f"{expr} * 1.0"  # a new array, not an alias
        self.emit(pad, f"{nm} = {expr}")
        sc.arrays[nm] = length

    def s_ainplace(self, sc, pad, depth, loop):
        if not sc.arrays:
            return self.s_anew(sc, pad, depth, loop)
        nm = self.r.choice(list(sc.arrays))
        if self.r.random() < 0.5:
            self.emit(pad, f"{nm} += {self.array(sc, sc.arrays[nm], 1)}")
        else:
            self.emit(pad, f"{nm} *= np.tanh({self.scalar(sc, 1)})")
        self.features.add("inplace")

    def s_aitem(self, sc, pad, depth, loop):
        if not sc.arrays:
            return self.s_sassign(sc, pad, depth, loop)
        nm = self.r.choice(list(sc.arrays))
        ln = sc.arrays[nm]
        idx = [i for i, top in sc.ints.items() if top < ln]
        k = self.r.choice(idx) if idx and self.r.random() < 0.5 else str(self.r.randrange(ln))
        op = self.r.choice(["=", "+="])
        self.emit(pad, f"{nm}[{k}] {op} {self.scalar(sc)}")

    def s_alias(self, sc, pad, depth, loop):
        src = self.r.choice(list(sc.arrays))
        nm = self.fresh("b")
        self.emit(pad, f"{nm} = {src}")
        sc.arrays[nm] = sc.arrays[src]
        self.features.add("alias")

    def s_view(self, sc, pad, depth, loop):
        src = self.r.choice(list(sc.arrays))
        ln = sc.arrays[src]
        if ln < 2:
            return self.s_alias(sc, pad, depth, loop)
        lo = self.r.randrange(0, ln - 1)
        hi = self.r.randrange(lo + 1, ln + 1)
        step = 2 if self.r.random() < 0.2 else 1
        nm = self.fresh("v")
        self.emit(pad, f"{nm} = {src}[{lo}:{hi}{':2' if step == 2 else ''}]")
        sc.arrays[nm] = len(range(lo, hi, step))
        self.features.add("view")

    def s_overlap(self, sc, pad, depth, loop):
        cands = [nm for nm, ln in sc.arrays.items() if ln >= 2]
        if not cands:
            return self.s_aitem(sc, pad, depth, loop)
        nm = self.r.choice(cands)
        if self.r.random() < 0.5:
            self.emit(pad, f"{nm}[1:] = {nm}[:-1] * {self.scalar(sc, 1)}")
        else:
            self.emit(pad, f"{nm}[:-1] += {nm}[1:] * {self.scalar(sc, 1)}")
        self.features.add("overlap")

    def s_slicewrite(self, sc, pad, depth, loop):
        nm = self.r.choice(list(sc.arrays))
        ln = sc.arrays[nm]
        lo = self.r.randrange(0, ln)
        hi = self.r.randrange(lo + 1, ln + 1)
        self.emit(pad, f"{nm}[{lo}:{hi}] = {self.array(sc, hi - lo, 1)}")

    def s_helper(self, sc, pad, depth, loop):
        cands = [nm for nm, ln in sc.arrays.items() if ln >= 3]
        if not cands:
            return self.s_sassign(sc, pad, depth, loop)
        if not self.helpers or (len(self.helpers) < 3 and self.r.random() < 0.5):
            kind = self.r.choice(sorted(HELPERS))
            self.helpers.append((f"h{len(self.helpers)}", kind))
        name, _ = self.r.choice(self.helpers)
        nm = self.fresh("s")
        self.emit(pad, f"{nm} = {name}({self.r.choice(cands)}, {self.scalar(sc, 1)})")
        sc.scalars.append(nm)
        self.features.add("helper")

    def s_if(self, sc, pad, depth, loop):
        self.emit(pad, f"if {self.cond(sc)}:")
        self.block(sc, pad + "    ", self.r.randint(1, 3), depth - 1, loop)
        if self.r.random() < 0.5:
            self.emit(pad, "else:")
            self.block(sc, pad + "    ", self.r.randint(1, 2), depth - 1, loop)
        self.features.add("if")

    def s_for(self, sc, pad, depth, loop):
        i = self.fresh("i")
        if self.r.random() < 0.4:
            rng, top = "range(n)", 2  # n is 0..3; indices are used only when provably small
        else:
            lo = self.r.randrange(0, 2)
            hi = self.r.randrange(lo + 1, 5)
            rng, top = f"range({lo}, {hi})", hi - 1
        after = self.r.random() < 0.3  # the index is read after the loop: bind it before
        if after:
            self.emit(pad, f"{i} = {self.r.randrange(-2, 3)}")
        self.emit(pad, f"for {i} in {rng}:")
        inner = _Scope(sc.scalars, sc.arrays, {**sc.ints, i: top})
        self.block(inner, pad + "    ", self.r.randint(1, 3), depth - 1, True)
        self.trailing_continue(pad + "    ")
        self.features.add("for")
        if after:  # (its last value, or the value before the loop when it made no trip)
            sc.scalars.append(i)
            self.features.add("index_after")

    def s_while(self, sc, pad, depth, loop):
        k = self.fresh("k")
        self.emit(pad, f"{k} = 0")
        self.emit(pad, f"while {k} < {self.r.randint(1, 4)} and {self.cond(sc)}:")
        self.emit(pad + "    ", f"{k} += 1")
        self.block(sc, pad + "    ", self.r.randint(1, 3), depth - 1, True)
        self.trailing_continue(pad + "    ")
        self.features.add("while")

    def trailing_continue(self, pad: str) -> None:
        if self.r.random() < 0.05:
            self.emit(pad, "continue")
            self.features.add("continue")

    def s_break(self, sc, pad, depth, loop):
        self.emit(pad, f"if {self.cond(sc)}:")
        self.emit(pad + "    ", "break")
        self.features.add("break")

    def s_continue(self, sc, pad, depth, loop):
        self.emit(pad, f"if {self.cond(sc)}:")
        self.emit(pad + "    ", "continue")
        self.features.add("continue")

    def s_return(self, sc, pad, depth, loop):
        if pad == "    ":
            return self.s_sassign(sc, pad, depth, loop)  # an unconditional return ends f
        self.emit(pad, f"if {self.cond(sc)}:")
        self.emit(pad + "    ", f"return {self.result(sc)}")
        self.features.add("return")

    def result(self, sc: _Scope) -> str:
        parts = ["x"] + [f"np.tanh({s})" for s in sc.scalars[-4:]]
        parts += [f"0.1 * np.sum(np.sin({nm}))" for nm in list(sc.arrays)[-3:]]
        return " + ".join(parts)


def generate(seed: int, statements: int | None = None) -> Program:
    """The program for ``seed`` (deterministic)."""
    rng = random.Random(seed)
    g = _Gen(rng)
    sc = _Scope([], {"a": N}, {})
    count = statements or rng.randint(3, 8)
    for _ in range(count):
        g.stmt(sc, "    ", 2, False)
    g.emit("    ", f"return {g.result(sc)}")
    head = ["import numpy as np", ""]
    for name, kind in g.helpers:
        head += ["", HELPERS[kind].format(name=name, k=round(rng.uniform(-0.5, 0.5), 2))]
    source = "\n".join(head + ["", "def f(x, a, n):"] + g.lines) + "\n"
    nrng = np.random.default_rng(seed)
    x = float(np.round(nrng.uniform(-1.2, 1.2), 3))
    a = np.round(nrng.uniform(-1.0, 1.0, N), 3)
    return Program(seed, source, x, a, int(nrng.integers(0, 4)), g.features)


__all__ = ["FEATURES", "N", "Program", "generate"]
