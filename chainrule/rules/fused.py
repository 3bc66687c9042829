"""The fused statements of :mod:`chainrule.passes.fusion` (docs/fusion.md): their records and
their source under Numba (the only back end that sees them).

Three statements: ``ok = fused_guard(leaves)`` (the shape assumption as one boolean),
``out = fused(leaves)`` (a new array, or a sum over some loop axes) and
``fused_iadd(target, leaves)`` (``target[...] += tree``). The guard is written inline; each
loop nest is a small function of its leaves (``_kernel0(a0, a1, ...)``, defined once above
the generated function for every distinct source and compiled by Numba on its own) of plain
``for`` loops over the loop extents, C order, indexing every leaf in place; the value of the
tree is one scalar expression per element. A reduction whose summed
axes are the innermost ones accumulates in a local (the order of the additions is then the
same as ``_rt.sum_axis``'s and ``np.sum``'s). The ``kernel`` parameter is the pass's
``Kernel`` (read through its methods only).
"""

from __future__ import annotations

from ..ir.types import Type
from .registry import Primitive, Statements

# Scalar forms of the elementwise primitives. ``np.log``, ``np.sin``, ... on a scalar are the
# C library's functions, as in the unfused code. ``exp``, ``expm1`` and ``tanh`` and the
# quotients use backend/nbmath.py instead: straight-line code that LLVM vectorises (the C
# library's are one call per value, 5-15x slower than NumPy's and XLA's array kernels) and
# division as NumPy divides arrays (inf at 0; Numba's own ``/`` tests for zero and raises,
# which also keeps the loop from being vectorised). They are within 1 (exp) to 4 (expm1, tanh)
# units in the last place of NumPy's values.
_TANH = "_rt.tanh_from(_rt.fexpm1(-2.0 * min(abs({0}), 40.0)), {0})"
SCALAR = {
    "add": "({0} + {1})", "sub": "({0} - {1})", "mul": "({0} * {1})", "div": "_rt.fdiv({0}, {1})",
    "neg": "(-{0})", "pow": "({0} ** {1})", "square": "({0} * {0})",
    "reciprocal": "_rt.fdiv(1.0, {0})", "zmul": "(0.0 if {0} == 0 else {0} * {1})",
    "maximum": "np.maximum({0}, {1})", "minimum": "np.minimum({0}, {1})", "id": "{0}",
    "exp": "_rt.fexp({0})", "expm1": "_rt.fexpm1({0})", "tanh": _TANH,
    **{f: f"np.{f}({{0}})" for f in ("log", "sin", "cos", "sqrt", "abs", "log1p", "tan", "sinh",
                                     "cosh", "arctan")},
}
# A sum into one local is not vectorised (that would reorder the additions): there, one value
# at a time, the C library's functions are faster (glibc's exp: about 3.6 ns, fexp 8 ns).
SERIAL = {**SCALAR, **{f: f"np.{f}({{0}})" for f in ("exp", "expm1", "tanh")}}


def _names(k) -> tuple:
    p = f"_fu{k.kid}"
    return (p, [f"{p}i{d}" for d in range(k.ndim)], [f"{p}n{d}" for d in range(k.ndim)])


def _knames(k) -> tuple:
    """The kernel function's own names: loop indices ``i0, ...``, extents ``n0, ...``."""
    return ([f"i{d}" for d in range(k.ndim)], [f"n{d}" for d in range(k.ndim)])


def _extent_lines(k, srcs: list, n: list) -> list:
    lines = []
    for d, src in enumerate(k.extents()):
        lines.append(f"{n[d]} = {srcs[src[0]]}.shape[{src[1]}]" if src else f"{n[d]} = 1")
    return lines


def _access(k, leaf: int, srcs: list, idx: list) -> str:
    nd = k.leaves[leaf][0]
    if nd == 0:
        return srcs[leaf]
    parts = ["0" if unit else idx[d] for _, d, unit in k.placement(leaf)]
    return f"{srcs[leaf]}[{', '.join(parts)}]"


def _expr(k, tree, srcs: list, idx: list, table: dict = SCALAR) -> str:
    tag = tree[0]
    if tag == "leaf":
        return _access(k, tree[1], srcs, idx)
    if tag == "const":
        return _atom(tree[1])
    if tag == "bcast":
        return _expr(k, tree[1], srcs, idx, table)
    _, prim, _params, kids = tree
    return table[prim].format(*(_expr(k, c, srcs, idx, table) for c in kids))


def _atom(c) -> str:
    v = c.value
    if isinstance(v, float):
        return f"({v!r})" if v < 0 else repr(v)
    return f"({v})" if v < 0 else repr(v)


def _loops(idx: list, n: list, dims: list, depth: int) -> tuple:
    lines = [f"{'    ' * (depth + t)}for {idx[d]} in range({n[d]}):" for t, d in enumerate(dims)]
    return lines, depth + len(dims)


def _guard(srcs: list, kernel, types: tuple = (), **_) -> Statements:
    k = kernel
    _, _, n = _names(k)
    conds = []
    for leaf, j, d in k.checks():
        conds.append(f"{srcs[leaf]}.shape[{j}] == {'1' if d is None else n[d]}")
    return Statements(*_extent_lines(k, srcs, n), "{out} = " + " and ".join(conds))


def _kernel(k, body: list) -> str:
    """The source of the loop nest as a function of its leaves ``a0, a1, ...`` (``{name}``
    stands for its name, which the code generator gives it)."""
    args = ", ".join(f"a{j}" for j in range(len(k.leaves)))
    return "\n".join(["@_rt.kernel", f"def {{name}}({args}):"] + ["    " + ln for ln in body])


def _call(srcs: list) -> str:
    return f"{{def0}}({', '.join(srcs)})"


def _fused(srcs: list, kernel, types: tuple = (), **_) -> Statements:
    k = kernel
    a = [f"a{j}" for j in range(len(k.leaves))]
    idx, n = _knames(k)
    lines = _extent_lines(k, a, n)
    value = _expr(k, k.tree, a, idx)
    serial = _expr(k, k.tree, a, idx, SERIAL)
    if k.kind == "map":
        shape = ", ".join(n) + ("," if k.ndim == 1 else "")
        lines.append(f"o = np.empty(({shape}), dtype=np.float64)")
        loops, depth = _loops(idx, n, list(range(k.ndim)), 0)
        lines += loops + [f"{'    ' * depth}o[{', '.join(idx)}] = {value}", "return o"]
    else:  # a sum over k.axes
        kept = [d for d in range(k.ndim) if d not in k.axes]
        out_dims = [d for d in range(k.ndim) if k.keep or d not in k.axes]
        shape = [("1" if d in k.axes else n[d]) for d in out_dims]
        oidx = [("0" if d in k.axes else idx[d]) for d in out_dims]
        tup = ", ".join(shape) + ("," if len(shape) == 1 else "")
        if not out_dims:
            loops, depth = _loops(idx, n, list(range(k.ndim)), 0)
            lines += ["acc = 0.0"] + loops + [f"{'    ' * depth}acc += {serial}", "return acc"]
        elif kept == list(range(len(kept))):  # the summed axes are the innermost ones
            lines.append(f"o = np.empty(({tup}), dtype=np.float64)")
            outer, depth = _loops(idx, n, kept, 0)
            inner, depth2 = _loops(idx, n, list(k.axes), depth)
            lines += outer + [f"{'    ' * depth}acc = 0.0"] + inner
            lines += [f"{'    ' * depth2}acc += {serial}",
                      f"{'    ' * depth}o[{', '.join(oidx)}] = acc", "return o"]
        else:
            lines.append(f"o = np.zeros(({tup}), dtype=np.float64)")
            loops, depth = _loops(idx, n, list(range(k.ndim)), 0)
            lines += loops + [f"{'    ' * depth}o[{', '.join(oidx)}] += {value}", "return o"]
    return Statements("{out} = " + _call(srcs), defs=(_kernel(k, lines),))


def _fused_iadd(srcs: list, kernel, types: tuple = (), **_) -> Statements:
    k = kernel
    a = [f"a{j}" for j in range(len(k.leaves))]
    idx, n = _knames(k)
    lines = _extent_lines(k, a, n)
    value = _expr(k, k.tree, a, idx)
    loops, depth = _loops(idx, n, list(range(k.ndim)), 0)
    lines += loops + [f"{'    ' * depth}a0[{', '.join(idx)}] += {value}", "return 0"]
    return Statements(_call(srcs), defs=(_kernel(k, lines),))


def _numpy_emit(*_a, **_k):
    raise AssertionError("fused statements exist only in code for the Numba backend")


def _bool_type(types, **_):
    return Type("bool", 0)


def _f64_type(types, kernel=None, **_):
    k = kernel
    if k is None or k.kind == "map":
        return Type("float64", k.ndim if k is not None else 0)
    kept = sum(1 for d in range(k.ndim) if k.keep or d not in k.axes)
    return Type("float64", kept)


def _target_type(types, **_):
    return types[0]


_DOC = "made by passes/fusion.py on the final IR for Numba; see docs/fusion.md"
PRIMS = [
    Primitive("fused_guard", _bool_type, _numpy_emit, nondiff=True, internal=True,
              doc="the shape assumption of a fused loop nest; " + _DOC, numba_emit=_guard),
    Primitive("fused", _f64_type, _numpy_emit, nondiff=True, internal=True,
              doc="a fused loop nest making a new array or a sum; " + _DOC, numba_emit=_fused),
    Primitive("fused_iadd", _target_type, _numpy_emit, effect=True, internal=True,
              doc="a fused loop nest adding into its first argument; " + _DOC,
              numba_emit=_fused_iadd),
]

__all__ = ["PRIMS", "SCALAR"]
