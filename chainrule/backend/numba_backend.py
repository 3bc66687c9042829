"""The Numba backend: the same generated source, compiled with ``numba.njit``.

Only a few emissions differ from the NumPy backend (helpers come from :mod:`.nbrt`, scatter-adds
with an index array use a loop instead of ``np.add.at``). Compilation is lazy (first call) and
cached on disk by Numba next to the generated source file.
"""

from __future__ import annotations

import os

from ..rules.indexing import (
    _additem_emit,
    _getitem_emit,
    _setitem_emit,
    index_atoms_count,
    index_source,
)
from .codegen import Statements
from .nbelementwise import BINARY, UNARY

ELEMENTWISE = BINARY + UNARY + ("where",)

HEADER = "import numpy as np\nimport math\nfrom chainrule.backend import nbrt as _rt\n"


def _numba_additem(srcs: list[str], spec: tuple, types: tuple = (), **params) -> str:
    """``x[idx] += v`` accumulating repeated indices: a loop over the index array."""
    if spec == ("e",):
        return f"_rt.iadd({srcs[0]}, {srcs[1]})"
    spec = _no_ellipsis(spec, types[0].ndim) if types else spec
    arrays = [k for k, code in enumerate(spec) if code in ("a", "m")]
    if not arrays:
        return _additem_emit(srcs, spec, **params)
    pos = arrays[0]
    idx_type = types[2 + index_atoms_count(spec[:pos])]
    if len(arrays) == 1 and spec[pos] == "m" and idx_type.ndim == 1:
        return f"{srcs[0]}[{index_source(srcs[2:], spec)}] += {srcs[1]}"  # a mask never repeats
    if len(arrays) > 1 or spec[pos] == "m" or "e" in spec:
        return _additem_emit(srcs, spec, **params)  # np.add.at: Numba falls back
    axis = _advanced_axis(spec)
    if idx_type.ndim > 1 and axis > 0:
        return _additem_emit(srcs, spec, **params)  # np.add.at: Numba falls back
    loop = "_j in np.ndindex({idx}.shape)" if idx_type.ndim > 1 else "_j in range({idx}.shape[0])"
    idx_parts, k = [], 2
    idx_name = None
    for code in spec:
        if code in ("i", "a"):
            if code == "a":
                idx_name = srcs[k]
                idx_parts.append(f"{srcs[k]}[_j]")
            else:
                idx_parts.append(srcs[k])
            k += 1
        elif code == "n":
            idx_parts.append("None")
        else:
            bits = []
            for flag in code[1:]:
                bits.append(srcs[k] if flag == "1" else "")
                k += flag == "1"
            text = ":".join(bits)
            idx_parts.append(text[:-1] if text.endswith(":") and code[3] == "0" else text)
    value = srcs[1]
    if types and types[1].ndim > 0:
        value = f"{value}[{', '.join([':'] * axis + ['_j'])}]"
    return f"for {loop.format(idx=idx_name)}: {srcs[0]}[{', '.join(idx_parts)}] += {value}"


def _advanced_axis(spec: tuple) -> int:
    """Where the index array's dimension sits in the result (NumPy's rule, integers counting
    as advanced indices): in place when the advanced indices are adjacent, else first."""
    adv = [k for k, code in enumerate(spec) if code in ("i", "a")]
    if adv != list(range(adv[0], adv[-1] + 1)):
        return 0
    return sum(1 for code in spec[:adv[0]] if code[0] in ("s", "n"))


_REDUCERS = {"sum": ("np.sum", "sum_axis"), "mean": ("np.mean", "mean_axis"),
             "prod": ("np.prod", "prod_axis"), "amax": ("np.max", "max_axis"),
             "amin": ("np.min", "min_axis"), "argmax": ("np.argmax", "argmax_axis"),
             "argmin": ("np.argmin", "argmin_axis")}


def _reduction(prim: str):
    whole, helper = _REDUCERS[prim]

    def emit(srcs: list[str], axis=None, keepdims=False, types: tuple = (), **_) -> str:
        x = srcs[0]
        if axis is None or (isinstance(axis, tuple) and len(axis) == 0):
            value = f"{whole}({x})"
            return f"_rt.keepdims_all({value}, {x})" if keepdims else value
        if isinstance(axis, tuple):
            if len(axis) != 1:
                return f"{whole}({x}, axis={axis!r}, keepdims={keepdims})"  # not for Numba
            axis = axis[0]
        axis %= max(types[0].ndim, 1)  # the helpers index shapes from the front
        value = f"_rt.{helper}({x}, {axis})"
        return f"_rt.keepdims({value}, {x}, {axis})" if keepdims else value

    return emit


def _matmul(srcs: list[str], **_) -> str:
    return f"_rt.matmul({srcs[0]}, {srcs[1]})"


def _squeeze(srcs: list[str], axis, **_) -> str:
    return f"_rt.squeeze({srcs[0]}, {axis})"


def _expand_dims(srcs: list[str], axis, types: tuple = (), **_) -> str:
    if types[0].ndim == 0:
        return f"np.array([{srcs[0]}])"
    return f"np.expand_dims({srcs[0]}, {axis % (types[0].ndim + 1)})"


def _clip(srcs: list[str], types: tuple = (), **_) -> str:
    """``np.clip`` as NumPy defines it, for every mix of scalar and array operands."""
    x, lo, hi = srcs
    if any(t.ndim for t in types):
        return f"_rt.ew_clip({x}, {lo}, {hi})"
    return f"np.minimum(np.maximum({x}, {lo}), {hi})"


def _elementwise(prim: str):
    """An elementwise primitive with an array operand as a call of its compiled helper
    (:mod:`.nbelementwise`); on scalars the primitive's own emission (scalar code is cheap
    to compile)."""

    def emit(srcs: list[str], types: tuple = (), **params) -> str:
        if any(t.ndim for t in types) and not any(params.values()):
            return f"_rt.ew_{prim}({', '.join(srcs)})"
        from ..rules import PRIMS

        return PRIMS[prim].emit(srcs, **params)

    return emit


def _flip(srcs: list[str], axis=None, types: tuple = (), **_) -> str:
    ndim = types[0].ndim
    if ndim == 0:
        return srcs[0]
    axes = range(ndim) if axis is None else [axis % ndim]
    return f"{srcs[0]}[{', '.join('::-1' if k in axes else ':' for k in range(ndim))}]"


def _norm(srcs: list[str], types: tuple = (), **_) -> str:
    ndim = types[0].ndim
    if ndim == 0:
        return f"abs({srcs[0]})"
    if ndim <= 2:
        return f"np.linalg.norm({srcs[0]})"
    return f"np.sqrt(np.sum({srcs[0]} * {srcs[0]}))"


def _no_ellipsis(spec: tuple, ndim: int) -> tuple:
    """``...`` spelled out as full slices (Numba cannot lower ``x[...]``)."""
    if "e" not in spec:
        return spec
    used = sum(1 for code in spec if code in ("i", "a") or code[0] == "s")
    k = spec.index("e")
    return spec[:k] + ("s000",) * max(ndim - used, 0) + spec[k + 1:]


def _numba_getitem(srcs: list[str], spec: tuple, types: tuple = (), **params) -> str:
    return _getitem_emit(srcs, _no_ellipsis(spec, types[0].ndim), **params)


def _numba_setitem(srcs: list[str], spec: tuple, types: tuple = (), **params) -> str:
    if spec == ("e",):
        return f"_rt.{'assign' if types[1].ndim else 'fill'}({srcs[0]}, {srcs[1]})"
    spec = _no_ellipsis(spec, types[0].ndim)
    if types[1].ndim and all(code in ("i", "n") or code[0] == "s" for code in spec):
        # an array into a view: the compiled helper holds the shape check (compiling Numba's
        # raise of a shape mismatch costs about a second per function)
        return f"_rt.assign({_getitem_emit([srcs[0]] + srcs[2:], spec)}, {srcs[1]})"
    return _setitem_emit(srcs, spec, **params)



# Scalar tapes are a growable array ``T`` plus a count ``T__n``, pushed and popped with plain
# indexing in the generated function itself (no calls, so no reference counting per value).
def _tape_new(srcs: list[str], dtype: str, ndim: int, types: tuple = (), **_):
    if ndim:
        return "[]"
    suffix = {"float64": "f64", "float32": "f32"}.get(dtype, "i64")
    return Statements(f"{{out}} = _rt.tnew_{suffix}()", "{out}__n = 0")


def _tape_push(srcs: list[str], types: tuple = (), reserved: bool = False, **_):
    t, x = srcs
    if types[0].ndim:
        return f"{t}.append({x})"
    if reserved:  # capacity was reserved before the enclosing loop
        return Statements(f"{t}[{t}__n] = {x}", f"{t}__n += 1")
    return Statements(f"if {t}__n == {t}.shape[0]:", f"    {t} = _rt.tgrow({t})",
                      f"{t}[{t}__n] = {x}", f"{t}__n += 1")


def _tape_reserve(srcs: list[str], per_trip: int, types: tuple = (), **_):
    t, start, stop, step = srcs
    need = f"{t}__n + {per_trip} * len(range({start}, {stop}, {step})) + 1"
    return Statements(f"if {need} > {t}.shape[0]:", f"    {t} = _rt.tgrow_to({t}, {need})")


def reserve_tapes(fn):
    """A copy of ``fn`` in which every innermost ``for`` loop first reserves room on each
    scalar tape for all its pushes, so the pushes inside need no capacity check."""
    from ..ir.nodes import Assign, Effect, ForRange, Function, If, While, walk

    def pushes(stmts: list) -> dict:
        counts: dict = {}
        for s in walk(stmts):
            if isinstance(s, Effect) and s.prim == "tape_push" and s.args[0].type.ndim == 0:
                counts[s.args[0].name] = counts.get(s.args[0].name, 0) + 1
        return counts

    def mark(stmts: list, reserved: set) -> list:
        out = []
        for s in stmts:
            if isinstance(s, Effect) and s.prim == "tape_push" and s.args[0].name in reserved:
                s = Effect(s.prim, s.args, s.params + (("reserved", True),), s.loc)
            elif isinstance(s, If):
                s = If(s.cond, mark(s.then, reserved), mark(s.orelse, reserved), s.loc)
            out.append(s)
        return out

    def block(stmts: list) -> list:
        out = []
        for s in stmts:
            if isinstance(s, ForRange):
                inner = any(isinstance(x, (ForRange, While)) for x in walk(s.body))
                if inner:
                    s = ForRange(s.var, s.start, s.stop, s.step, block(s.body), s.loc)
                else:
                    tapes = {a.name: a for x in walk(s.body) if isinstance(x, Effect)
                             and x.prim == "tape_push" for a in x.args[:1]}
                    # (a tape made inside the loop does not exist before it)
                    made = {x.out.name for x in walk(s.body)
                            if isinstance(x, Assign) and x.prim == "tape_new"}
                    counts = {n: k for n, k in pushes(s.body).items() if n not in made}
                    for name, k in sorted(counts.items()):
                        out.append(Effect("tape_reserve", (tapes[name], s.start, s.stop, s.step),
                                          (("per_trip", k),), s.loc))
                    s = ForRange(s.var, s.start, s.stop, s.step, mark(s.body, set(counts)),
                                 s.loc)
            elif isinstance(s, If):
                s = If(s.cond, block(s.then), block(s.orelse), s.loc)
            elif isinstance(s, While):
                s = While(block(s.cond_body), s.cond, block(s.body), s.loc)
            out.append(s)
        return out

    return Function(fn.name, fn.params, block(fn.body), fn.results, fn.loc, fn.meta)


def _tape_pop(srcs: list[str], types: tuple = (), **_):
    (t,) = srcs
    if types[0].ndim:
        return f"{t}.pop()"
    value = f"{t}[{t}__n] != 0" if types[0].dtype == "bool" else f"{t}[{t}__n]"
    return Statements(f"{t}__n -= 1", f"{{out}} = {value}")


def _opaque_call(srcs: list[str], path: str, ndim: int, types: tuple = (), **_) -> Statements:
    """The call in Numba's object mode, its result typed as a C-contiguous float64 array."""
    typ = "float64" if ndim == 0 else "float64[" + ", ".join([":"] * (ndim - 1) + ["::1"]) + "]"
    args = "".join(", " + s for s in srcs)
    return Statements(f"with _rt.objmode({{out}}={typ!r}):",
                      f"    {{out}} = _rt.opaque_call_py({path!r}, {ndim}{args})")


OVERRIDES = {
    "tape_new": _tape_new, "tape_push": _tape_push, "tape_pop": _tape_pop,
    "tape_reserve": _tape_reserve,
    "getitem": _numba_getitem, "setitem": _numba_setitem, "additem": _numba_additem,
    "matmul": _matmul, "dot": _matmul, "inner": _matmul, "squeeze": _squeeze,
    "expand_dims": _expand_dims, "clip": _clip, "flip": _flip, "norm": _norm,
    "opaque_call": _opaque_call,
    **{p: _reduction(p) for p in _REDUCERS},
    **{p: _elementwise(p) for p in ELEMENTWISE},
}


def available() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return os.environ.get("NUMBA_DISABLE_JIT") != "1"


def jit(pyfn):
    import numba

    # Opaque calls run in object mode, which holds the GIL (Numba warns about nogil there).
    nogil = "_rt.objmode(" not in pyfn.__globals__.get("__chainrule_source__", "")
    return numba.njit(pyfn, cache=True, nogil=nogil)


def compile_errors() -> tuple:
    """Exception types that mean "Numba cannot compile this" (not a run-time error)."""
    from numba.core import errors

    return (errors.NumbaError,)
