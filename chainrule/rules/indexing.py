"""Indexing primitives: ``getitem``, the array writes ``setitem``/``additem``, ``copy``,
``zeros_like`` and the shape queries ``shape``/``size``.

An index is described statically by ``spec``, a tuple with one code per index entry, and
dynamically by the atoms that follow the array (and the value, for writes) in ``args``:

* ``"i"`` an integer (one atom) -- removes the axis
* ``"sXYZ"`` a slice; X, Y, Z are ``1`` when start, stop, step are given (one atom each)
* ``"n"`` ``None``/``np.newaxis`` -- adds an axis;   ``"e"`` ``...``
* ``"a"`` an integer array (one atom) -- gather;     ``"m"`` a boolean mask (one atom)
"""

from __future__ import annotations

from ..errors import ChainruleTypeError
from ..ir.types import Type
from . import taylor as T
from .common import template
from .registry import Primitive


def index_atoms_count(spec: tuple) -> int:
    n = 0
    for code in spec:
        if code in ("i", "a", "m"):
            n += 1
        elif code[0] == "s":
            n += code[1:].count("1")
    return n


def index_result_ndim(ndim: int, spec: tuple, idx_types: list[Type]) -> int:
    """ndim of ``x[index]`` for an ``x`` of ``ndim`` dimensions."""
    consumed = 0
    out = 0
    k = 0
    adv = 0
    for code in spec:
        if code == "i":
            consumed += 1
            k += 1
        elif code[0] == "s":
            consumed += 1
            out += 1
            k += code[1:].count("1")
        elif code == "n":
            out += 1
        elif code == "a":
            consumed += 1
            adv = max(adv, idx_types[k].ndim)
            k += 1
        elif code == "m":
            consumed += idx_types[k].ndim
            adv = max(adv, 1)
            k += 1
    if "e" not in spec and consumed > ndim:
        raise ChainruleTypeError(f"too many indices for an array of ndim {ndim}")
    return out + adv + max(ndim - consumed, 0)


def index_source(srcs: list[str], spec: tuple, as_tuple: bool = False) -> str:
    """Source of the index expression (inside the brackets), e.g. ``i, 1:n, None``."""
    parts = []
    k = 0
    for code in spec:
        if code in ("i", "a", "m"):
            parts.append(srcs[k])
            k += 1
        elif code == "n":
            parts.append("None")
        elif code == "e":
            parts.append("...")
        else:
            bits = []
            for flag in code[1:]:
                if flag == "1":
                    bits.append(srcs[k])
                    k += 1
                else:
                    bits.append("None" if as_tuple else "")
            if as_tuple:
                parts.append(f"slice({', '.join(bits)})")
            else:
                text = ":".join(bits)
                parts.append(text[:-1] if text.endswith(":") and code[3] == "0" else text)
    if not parts:
        return "()" if as_tuple else "..."
    if as_tuple:
        return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
    return ", ".join(parts)


def _getitem_type(types, spec, **_):
    x = types[0]
    return Type(x.dtype, index_result_ndim(x.ndim, spec, types[1:]))


def _getitem_emit(srcs, spec, **_):
    return f"{srcs[0]}[{index_source(srcs[1:], spec)}]"


def _getitem_jvp(b, args, tans, out, spec, **_):
    if tans[0] is None:
        return None
    return b.getitem(tans[0], *args[1:], spec=spec)


def _getitem_vjp(b, args, out, g, spec, **_):
    z = b.zeros_like(args[0])
    b.effect("additem", z, g, *args[1:], spec=spec)
    return [z]


def _getitem_accumulate(b, args, out, g, adj, spec, **_):
    """Reverse of ``y = x[idx]`` straight into the adjoint array of ``x``."""
    b.effect("additem", adj, g, *args[1:], spec=spec)


def _write_type(types, spec, **_):
    target, value = types[0], types[1]
    if target.ndim == 0:
        raise ChainruleTypeError("cannot assign into a scalar by index")
    if value.ndim > index_result_ndim(target.ndim, spec, types[2:]):
        raise ChainruleTypeError("value has more dimensions than the indexed region")
    return target


def _setitem_emit(srcs, spec, **_):
    return f"{srcs[0]}[{index_source(srcs[2:], spec)}] = {srcs[1]}"


def _additem_emit(srcs, spec, **_):
    if "a" in spec or "m" in spec:
        return f"np.add.at({srcs[0]}, {index_source(srcs[2:], spec, as_tuple=True)}, {srcs[1]})"
    return f"{srcs[0]}[{index_source(srcs[2:], spec)}] += {srcs[1]}"


def _copy_emit(srcs, **_):
    return f"np.copy({srcs[0]})"


def _copy_type(types, **_):
    return types[0]


def _identity_jvp(b, args, tans, out, **_):
    return None if tans[0] is None else b.copy(tans[0])


def _identity_vjp(b, args, out, g, **_):
    return [g]


def _int_type(types, **_):
    return Type("int64")


def _check_index_emit(srcs, axis, where, nonneg=False, **_):
    i, n = srcs
    test = f"{i} < {n}" if nonneg else f"-{n} <= {i} < {n}"  # (nonneg: i >= 0 is proven)
    return f"{i} if {test} else _rt.index_error({i}, {n}, {axis}, _rt.text({where!r}))"


def _shape_emit(srcs, axis, **_):
    return f"{srcs[0]}.shape[{axis}]"


# -- Numba emissions (``numba_emit``: where Numba needs other source than NumPy) ---------------
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


PRIMS = [
    Primitive(
        "getitem",
        _getitem_type,
        _getitem_emit,
        _getitem_jvp,
        _getitem_vjp,
        diff_args=(0,),
        accumulate=_getitem_accumulate,
        numba_emit=_numba_getitem,
        movable=True,
        may_raise=True,
        doc="x[index]; basic slices are views, as in NumPy",
    ),
    Primitive("setitem", _write_type, _setitem_emit, effect=True, doc="x[index] = v",
              numba_emit=_numba_setitem),
    Primitive("additem", _write_type, _additem_emit, effect=True, numba_emit=_numba_additem,
              doc="x[index] += v (repeated integer-array indices accumulate)"),
    Primitive("copy", _copy_type, _copy_emit, _identity_jvp, _identity_vjp, doc="np.copy(x)"),
    Primitive("zeros_like", _copy_type, template("np.zeros_like({0})"), nondiff=True),
    Primitive("shape", _int_type, _shape_emit, nondiff=True, doc="x.shape[axis]",
              movable=True),
    Primitive("size", _int_type, template("{0}.size"), nondiff=True, doc="x.size",
              movable=True),
    Primitive("check_index", _int_type, _check_index_emit, nondiff=True, keep=True,
              doc="i, after checking -n <= i < n (else IndexError naming the user's file:line)"),
    Primitive("check_index_array", _int_type,
              lambda srcs, axis, where, **_: f"_rt.check_index_array({srcs[0]}, {srcs[1]}, "
                                             f"{axis}, _rt.text({where!r}))", nondiff=True,
              keep=True,
              doc="0, after checking -n <= i < n for every element i of an integer array"),
]

# Taylor rules (rules/taylor.py): every differentiable primitive here is linear in its
# differentiable arguments, so each Taylor coefficient goes through the JVP rule.
T.attach(PRIMS, coefficientwise_=tuple(p.name for p in PRIMS if p.jvp is not None))
