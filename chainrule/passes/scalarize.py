"""Scalarisation of small arrays: a 1-D array whose size is known at compile time becomes one
scalar variable per element (``u`` -> ``u_0, u_1, u_2``), and each operation on it one scalar
operation per element. Run on the primal IR before differentiation, so the derivative code is
scalar code too.

Sizes come from literal shapes (``np.zeros(3)``, ``np.array([a, b, c])``), from parameters whose
sizes the caller fixed (shape specialisation, see :mod:`chainrule.passes.specialize`), from rows
``x[i]`` (any integer ``i``) of 2-D parameters whose row length the caller fixed (their elements
are read in place, ``x[i, 0]``, ...), and flow through elementwise operations, copies, joins and
slices with constant bounds. An array is
scalarised only when every statement that defines it and every statement that reads or writes
it is one this pass rewrites exactly:

* definitions: creation with a literal size, ``pack``, ``copy``, elementwise primitives, slices
  with constant bounds, rows of sized matrix parameters, ``*_like`` creation, a parameter that
  is never written;
* uses: elementwise primitives, ``x[k]`` with a constant ``k``, slices with constant bounds,
  ``sum``, ``dot`` of two sized vectors, ``x.shape``/``x.size``, writes ``x[k] = v``,
  ``x[...] = v``, ``x[a:b] = v`` (and ``+=``) with constant indices, and the function's results
  (rebuilt as an array at the end).

Anything else (an unknown primitive, a run-time index, a write into an array another name aliases)
keeps the array. A statement that still needs an array made from scalarised values gets one built
right before it (``pack``), which only happens where the statement only reads it.
"""

from __future__ import annotations

from ..ir.builder import Names
from ..ir.nodes import Assign, Const, Effect, ForRange, Function, If, Var, While, walk
from ..ir.types import Type
from .buffers import Uses, written_shared_buffers

SMALL = 8  # arrays with at most this many elements are scalarised

# Elementwise primitives whose scalar form gives what the array form gives per element (the
# Python operators ``/ // % **`` raise on scalars where NumPy gives inf or nan: see _def_ok).
ELEMENTWISE = {
    "add", "sub", "mul", "div", "neg", "pow", "floordiv", "mod", "lt", "le", "gt", "ge", "eq",
    "ne", "logical_and", "logical_or", "logical_not", "where", "to_float", "to_bool",
    "stop_gradient", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh",
    "tanh", "arcsinh", "arccosh", "arctanh", "exp", "expm1", "log", "log1p", "log2", "log10",
    "sqrt", "square", "abs", "sign", "floor", "ceil", "maximum", "minimum", "arctan2", "hypot",
}
PYTHON_OPERATORS = {"div", "floordiv", "mod", "pow"}
FILLED = {"zeros": 0, "ones": 1, "empty": 0}
FILLED_LIKE = {"zeros_like": 0, "ones_like": 1, "empty_like": 0}
WRITES = ("setitem", "additem")


def _const_int(a) -> int | None:
    if isinstance(a, Const) and isinstance(a.value, int) and not isinstance(a.value, bool):
        return a.value
    return None


def _fill(value: int, dtype: str) -> Const:
    if dtype == "bool":
        return Const(bool(value), Type("bool"))
    if dtype == "int64":
        return Const(int(value), Type("int64"))
    return Const(float(value), Type(dtype))


def _is_vec(a) -> bool:
    return isinstance(a, Var) and a.type.is_array and a.type.ndim == 1


def _is_mat(a) -> bool:
    return isinstance(a, Var) and a.type.is_array and a.type.ndim == 2


# A row of a matrix: ``x[i]`` or ``x[i, :]`` with any (run-time) integer index ``i``.
ROW_SPECS = (("i",), ("i", "s000"))


def row_of(s, rows: dict):
    """The matrix ``s`` reads a row of (``x[i]`` of a matrix parameter whose row length
    ``rows`` knows), or None."""
    if s.prim == "getitem" and _is_mat(s.args[0]) and s.args[0].name in rows and \
            _spec(s) in ROW_SPECS and len(s.args) == 2:
        return s.args[0]
    return None


def index_positions(spec: tuple, atoms: list, n: int) -> list | None:
    """Element positions an index with constant atoms selects in a vector of ``n`` elements:
    an int for ``x[k]``, a list for a slice or ``...``; None when not constant or out of range."""
    if spec == ("e",) and not atoms:
        return list(range(n))
    if len(spec) != 1:
        return None
    code = spec[0]
    if code == "i":
        k = _const_int(atoms[0]) if len(atoms) == 1 else None
        if k is None or not -n <= k < n:
            return None
        return k % n
    if code[0] != "s":
        return None
    bounds, it = [], iter(atoms)
    for flag in code[1:]:
        if flag == "1":
            k = _const_int(next(it, None))
            if k is None:
                return None
            bounds.append(k)
        else:
            bounds.append(None)
    if bounds[2] == 0:
        return None
    return list(range(*slice(*bounds).indices(n)))


def _spec(s) -> tuple:
    return tuple(s.param("spec") or ())


# -- sizes -----------------------------------------------------------------------------------
_TOP = object()  # not determined yet (optimistic start, for loop-carried variables)
_BOTTOM = None  # not known at compile time


def _def_size(s: Assign, size, rows: dict) -> object:
    """The size ``s`` gives its (1-D) result, from the sizes of its arguments (``rows``: the
    row length of matrix parameters, see :func:`known_sizes`)."""
    p, args = s.prim, s.args
    if row_of(s, rows) is not None:
        return rows[args[0].name]
    if p in FILLED:
        return _const_int(args[0]) if len(args) == 1 else _BOTTOM
    if p == "full":
        return _const_int(args[0]) if len(args) == 2 else _BOTTOM
    if p == "pack":
        return len(args) if all(a.type.ndim == 0 for a in args) else _BOTTOM
    if p in FILLED_LIKE or p in ("copy", "id", "full_like"):
        return size(args[0]) if _is_vec(args[0]) else _BOTTOM
    if p in ELEMENTWISE:
        if any(a.type.is_array and a.type.ndim != 1 for a in args):
            return _BOTTOM
        sizes = {size(a) if isinstance(a, Var) else len(a.value) for a in args
                 if a.type.is_array}
        if _BOTTOM in sizes:
            return _BOTTOM
        sizes.discard(_TOP)
        return _TOP if not sizes else (sizes.pop() if len(sizes) == 1 else _BOTTOM)
    if p == "getitem" and _is_vec(args[0]):
        n = size(args[0])
        if n is _TOP or n is _BOTTOM:
            return n
        pos = index_positions(_spec(s), list(args[1:]), n)
        return len(pos) if isinstance(pos, list) else _BOTTOM
    return _BOTTOM


def known_sizes(fn: Function, param_sizes: dict) -> dict:
    """Name -> size for every 1-D array variable whose size is known at compile time
    (``param_sizes``: the sizes of 1-D parameters and the row lengths of 2-D ones)."""
    defs: dict = {}
    for s in walk(fn.body):
        if isinstance(s, Assign) and _is_vec(s.out):
            defs.setdefault(s.out.name, []).append(s)
    rows = matrix_rows(fn, param_sizes)
    sizes: dict = {v: _TOP for v in defs}
    for p in fn.params:
        if _is_vec(p):
            sizes[p.name] = param_sizes.get(p.name, _BOTTOM)
            if p.name in defs:
                sizes[p.name] = _BOTTOM

    def size(a):
        return sizes.get(a.name, _BOTTOM)

    changed = True
    while changed:
        changed = False
        for name, ds in defs.items():
            if sizes[name] is _BOTTOM:
                continue
            got = _TOP
            for s in ds:
                n = _def_size(s, size, rows)
                if n is _TOP:
                    continue
                if n is _BOTTOM or (got is not _TOP and got != n):
                    got = _BOTTOM
                    break
                got = n
            if got is not _TOP and got != sizes[name]:
                sizes[name] = got if sizes[name] is _TOP or sizes[name] == got else _BOTTOM
                changed = True
    return {k: v for k, v in sizes.items() if isinstance(v, int) and v >= 0}


def matrix_rows(fn: Function, param_sizes: dict) -> dict:
    """Name -> row length of the 2-D parameters in ``param_sizes`` that the function never
    rebinds (their rows ``x[i]`` are sized vectors; writes into them are the aliasing
    analysis's business, passes/buffers.py)."""
    rebound = {s.out.name for s in walk(fn.body) if isinstance(s, Assign)}
    return {p.name: param_sizes[p.name] for p in fn.params
            if _is_mat(p) and p.name in param_sizes and p.name not in rebound}


# -- which arrays become scalars ----------------------------------------------------------------
def _operator_exact(s: Assign) -> bool:
    """Whether a Python operator on scalars cannot raise where NumPy would give inf or nan:
    a non-zero constant divisor, a non-negative integral constant exponent."""
    c = s.args[1]
    if not isinstance(c, Const) or c.type.is_array or isinstance(c.value, bool):
        return False
    if s.prim == "pow":
        return float(c.value).is_integer() and c.value >= 0
    return c.value != 0


# Arithmetic whose scalar form differs on bools (True + True is 2, a bool array sum is True).
BOOL_ARITHMETIC = {"add", "sub", "mul", "neg", "pow", "floordiv", "mod", "abs", "square",
                   "sign", "maximum", "minimum"}


def _float_division(s: Assign) -> bool:
    """A float ``/`` whose elements become ``fdiv`` (NumPy's division of scalars: inf or nan
    at a zero divisor, where Python's ``/`` raises)."""
    return s.prim == "div" and s.out.type.dtype == "float64" and \
        all(a.type.dtype == "float64" for a in s.args)


def _def_ok(s: Assign, sizes: dict) -> bool:
    p, n = s.prim, sizes[s.out.name]
    if s.out.type.dtype == "bool" and p in BOOL_ARITHMETIC:
        return False
    if p in PYTHON_OPERATORS and not _operator_exact(s) and not _float_division(s):
        return False
    if p in ("full", "full_like"):
        return _value_fits(s.out.type.dtype, s.args[-1])
    if p in FILLED or p in FILLED_LIKE or p in ("copy", "id") or p in ELEMENTWISE:
        return True
    if p == "pack":
        return all(a.type.dtype == s.out.type.dtype or
                   (s.out.type.dtype == "float64" and a.type.dtype in ("int64", "bool"))
                   for a in s.args) and len(s.args) == n
    return p == "getitem"  # a constant slice (its size is known)


def _value_fits(dtype: str, value) -> bool:
    """Whether a value written into an array of ``dtype`` keeps its value (an int or bool
    written into a float64 array is converted: see _Rewriter.effect)."""
    return value.type.dtype == dtype or (dtype == "float64" and
                                         value.type.dtype in ("int64", "bool"))


def _use_ok(s, name: str, sizes: dict) -> bool:
    """Whether ``s`` reading or writing the sized vector ``name`` can be rewritten exactly."""
    if isinstance(s, Effect):
        if s.prim not in WRITES:
            return False
        target, value = s.args[0], s.args[1]
        if any(isinstance(a, Var) and a.name == name for a in s.args[2:]):
            return False
        if target.name != name:
            return True  # only the value is read; a target array gets it built
        pos = index_positions(_spec(s), list(s.args[2:]), sizes[name])
        if pos is None:
            return False
        if not _value_fits(target.type.dtype, value):
            return False
        if isinstance(pos, int):
            return value.type.ndim == 0
        return value.type.ndim == 0 or (_is_vec(value) and sizes.get(value.name) == len(pos))
    p = s.prim
    if p in ELEMENTWISE or p in ("copy", "id", "shape", "size") or p in FILLED_LIKE:
        return True
    if p == "full_like":
        return s.args[0].name == name
    if p == "getitem":
        return s.args[0].name == name and \
            index_positions(_spec(s), list(s.args[1:]), sizes[name]) is not None
    if p == "sum":
        return s.param("axis") is None and not s.param("keepdims") and s.out.type.is_float
    if p == "dot":
        return all(_is_vec(a) and a.name in sizes for a in s.args) and s.out.type.is_float
    return False


def _needs_out(s, name: str) -> Var | None:
    """The result that must be scalarised too for ``s`` to read ``name`` without building an
    array of it (None when ``s`` reads its elements directly)."""
    if isinstance(s, Effect):
        return s.args[0] if s.args[0].name != name else None
    if s.prim in ("shape", "size", "sum", "dot") or \
            (s.prim == "getitem" and s.out.type.ndim == 0):
        return None
    return s.out


def choose(fn: Function, sizes: dict) -> set:
    """Names of the arrays to scalarise: every definition and use rewritable, and no use that
    would need the array built again (except the function's results)."""
    uses = Uses(fn)
    excluded = written_shared_buffers(fn, uses)
    params = {p.name for p in fn.params}
    results = {r.name for r in fn.results if isinstance(r, Var)}
    # float64 and bool elements behave as Python/Numba scalars exactly (float32 and int64
    # elements would be computed in float64 / Python ints)
    dtypes = {v.name: v.type.dtype for v in _vars(fn)}
    chosen = set()
    for name, n in sizes.items():
        if n > SMALL or name in excluded or dtypes.get(name) not in ("float64", "bool"):
            continue
        if name in params and (name in uses.written or name in uses.defs or name in results):
            continue  # (the caller sees writes into it, and gets it back unchanged)
        if not all(_def_ok(s, sizes) for s in uses.defs.get(name, [])):
            continue
        if all(_use_ok(s, name, sizes) for s in uses.reads.get(name, [])):
            chosen.add(name)
    changed = True
    while changed:
        changed = False
        for name in sorted(chosen):
            for s in uses.reads.get(name, []):
                out = _needs_out(s, name)
                if out is not None and out.name not in chosen:
                    chosen.discard(name)
                    changed = True
                    break
    return chosen


# -- rewriting ---------------------------------------------------------------------------------
class _Rewriter:
    def __init__(self, fn: Function, sizes: dict, chosen: set, names: Names):
        self.sizes, self.chosen, self.names = sizes, chosen, names
        self.elems: dict = {}
        for name in sorted(chosen):
            var = next(v for v in _vars(fn) if v.name == name)
            et = Type(var.type.dtype)
            self.elems[name] = [Var(names.fresh(f"{name}_{i}"), et)
                                for i in range(sizes[name])]

    # element access
    def elem(self, a, i: int, out: list, loc):
        if isinstance(a, Const) and a.type.is_array:
            return Const(a.value[i].item(), Type(a.type.dtype))
        if not (isinstance(a, Var) and a.type.is_array):
            return a
        if a.name in self.chosen:
            return self.elems[a.name][i]
        t = Var(self.names.temp(), Type(a.type.dtype))
        out.append(Assign(t, "getitem", (a, Const(i, Type("int64"))), (("spec", ("i",)),), loc))
        return t

    def packed(self, a, out: list, loc):
        """``a`` as an array: a fresh ``pack`` of its scalars when it is scalarised."""
        if not (isinstance(a, Var) and a.name in self.chosen):
            return a
        t = Var(self.names.fresh(f"{a.name}_arr"), a.type)
        out.append(Assign(t, "pack", tuple(self.elems[a.name]), (("dtype", a.type.dtype),), loc))
        return t

    def block(self, stmts: list) -> list:
        out: list = []
        for s in stmts:
            if isinstance(s, Assign):
                self.assign(s, out)
            elif isinstance(s, Effect):
                self.effect(s, out)
            else:
                if isinstance(s, If):
                    s.then, s.orelse = self.block(s.then), self.block(s.orelse)
                elif isinstance(s, While):
                    s.cond_body, s.body = self.block(s.cond_body), self.block(s.body)
                elif isinstance(s, ForRange):
                    s.body = self.block(s.body)
                out.append(s)
        return out

    def assign(self, s: Assign, out: list) -> None:
        loc, p = s.loc, s.prim
        if s.out.name in self.chosen:
            for i, e in enumerate(self.elems[s.out.name]):
                out.append(self._element(s, i, e, out))
            return
        x = s.args[0] if s.args else None
        if isinstance(x, Var) and x.name in self.chosen:
            n = self.sizes[x.name]
            if p == "getitem" and s.out.type.ndim == 0:
                k = index_positions(_spec(s), list(s.args[1:]), n)
                out.append(Assign(s.out, "id", (self.elems[x.name][k],), (), loc))
                return
            if p in ("shape", "size"):
                out.append(Assign(s.out, "id", (Const(n, Type("int64")),), (), loc))
                return
            if p in ("sum", "dot"):
                terms = []
                for i in range(n):
                    if p == "sum":
                        terms.append(self.elems[x.name][i])
                    else:
                        t = Var(self.names.temp(), s.out.type)
                        out.append(Assign(t, "mul", (self.elem(x, i, out, loc),
                                                     self.elem(s.args[1], i, out, loc)), (), loc))
                        terms.append(t)
                out.append(Assign(s.out, "id", (self._total(terms, s.out.type, out, loc),), (),
                                  loc))
                return
        if p == "dot" and isinstance(s.args[1], Var) and s.args[1].name in self.chosen:
            s.args = (s.args[1], s.args[0])  # dot of vectors is symmetric
            return self.assign(s, out)
        s.args = tuple(self.packed(a, out, loc) for a in s.args)
        out.append(s)

    def _converted(self, a, dtype: str, out: list, loc):
        """``a`` as an element of an array of ``dtype`` (see _value_fits)."""
        if a.type.dtype == dtype:
            return a
        if isinstance(a, Const):
            return Const(float(a.value), Type(dtype))
        t = Var(self.names.temp(), Type(dtype))
        out.append(Assign(t, "to_float", (a,), (), loc))
        return t

    def _total(self, terms: list, t: Type, out: list, loc):
        if not terms:
            return _fill(0, t.dtype)
        acc = terms[0]
        for term in terms[1:]:
            nxt = Var(self.names.temp(), t)
            out.append(Assign(nxt, "add", (acc, term), (), loc))
            acc = nxt
        return acc

    def _element(self, s: Assign, i: int, e: Var, out: list) -> Assign:
        p, loc, dt = s.prim, s.loc, s.out.type.dtype
        if p in FILLED or p in FILLED_LIKE:
            return Assign(e, "id", (_fill(FILLED.get(p, FILLED_LIKE.get(p)), dt),), (), loc)
        if p in ("full", "full_like"):
            return Assign(e, "id", (self._converted(s.args[-1], dt, out, loc),), (), loc)
        if p == "pack":
            a = s.args[i]
            return Assign(e, "to_float" if a.type.dtype != dt else "id", (a,), (), loc)
        if p in ("copy", "id"):
            return Assign(e, "id", (self.elem(s.args[0], i, out, loc),), (), loc)
        if p == "getitem" and _is_mat(s.args[0]):  # a row (see row_of): x[i, k]
            return Assign(e, "getitem", (s.args[0], s.args[1], Const(i, Type("int64"))),
                          (("spec", ("i", "i")),), loc)
        if p == "getitem":
            x = s.args[0]
            k = index_positions(_spec(s), list(s.args[1:]), self.sizes[x.name])[i]
            return Assign(e, "id", (self.elem(x, k, out, loc),), (), loc)
        args = tuple(self.elem(a, i, out, loc) for a in s.args)
        if p == "div" and not _operator_exact(s):
            p = "fdiv"  # (a run-time divisor may be 0: NumPy's inf, not ZeroDivisionError)
        return Assign(e, p, args, s.params, loc)

    def effect(self, s: Effect, out: list) -> None:
        target, value, loc = s.args[0], s.args[1], s.loc
        if not (isinstance(target, Var) and target.name in self.chosen):
            s.args = tuple(self.packed(a, out, loc) for a in s.args)
            out.append(s)
            return
        pos = index_positions(_spec(s), list(s.args[2:]), self.sizes[target.name])
        positions = [pos] if isinstance(pos, int) else pos
        # read every value before writing (the value may be computed from the target)
        values = [self._converted(self.elem(value, j, out, loc), target.type.dtype, out, loc)
                  for j in range(len(positions))]
        for k, v in zip(positions, values):
            e = self.elems[target.name][k]
            if s.prim == "additem":
                out.append(Assign(e, "add", (e, v), (), loc))
            else:
                out.append(Assign(e, "id", (v,), (), loc))


def _vars(fn: Function):
    yield from fn.params
    for s in walk(fn.body):
        if isinstance(s, Assign):
            yield s.out
        elif isinstance(s, Effect):
            yield s.args[0]


def scalarize(fn: Function, names: Names, param_sizes: dict | None = None) -> Function:
    """``fn`` with its small arrays of known size replaced by scalars (``param_sizes``: sizes
    the caller fixed for 1-D array parameters, by name)."""
    sizes = known_sizes(fn, param_sizes or {})
    chosen = choose(fn, sizes)
    if not chosen:
        return fn
    rw = _Rewriter(fn, sizes, chosen, names)
    entry = []
    for p in fn.params:
        if p.name in chosen:
            for i, e in enumerate(rw.elems[p.name]):
                entry.append(Assign(e, "getitem", (p, Const(i, Type("int64"))),
                                    (("spec", ("i",)),), fn.loc))
    body = entry + rw.block(fn.body)
    done = set()
    for r in fn.results:
        if isinstance(r, Var) and r.name in chosen and r.name not in done:
            done.add(r.name)
            body.append(Assign(r, "pack", tuple(rw.elems[r.name]), (("dtype", r.type.dtype),)))
    return Function(fn.name, fn.params, body, fn.results, fn.loc, fn.meta)


def benefiting_params(fn: Function, param_sizes: dict) -> set:
    """Parameters (of ``param_sizes``) worth compiling per size: the parameter, or an array
    scalarised from it, has elements read with constant indices or is used inside a loop."""
    sizes = known_sizes(fn, param_sizes)
    chosen = choose(fn, sizes)
    out = set()
    for p in param_sizes:
        family, grown = {p}, True
        while grown:  # the arrays scalarised from ``p``
            grown = False
            for s in walk(fn.body):
                target = s.out if isinstance(s, Assign) else \
                    s.args[0] if isinstance(s, Effect) else None
                if target is not None and target.name in chosen and \
                        target.name not in family and _reads_any(s, family):
                    family.add(target.name)
                    grown = True
        if p not in chosen and len(family) == 1:
            continue
        for s, depth in _walk_depth(fn.body):
            if not isinstance(s, (Assign, Effect)) or not _reads_any(s, family):
                continue
            if depth > 0 or (isinstance(s, Assign) and s.prim == "getitem" and
                             s.out.type.ndim == 0 and s.args[0].name in family):
                out.add(p)
    return out


def _reads_any(s, names: set) -> bool:
    return any(isinstance(a, Var) and a.name in names for a in s.args)


def _walk_depth(block: list, depth: int = 0):
    """Statements with the number of loops around them."""
    for s in block:
        yield s, depth
        if isinstance(s, If):
            yield from _walk_depth(s.then, depth)
            yield from _walk_depth(s.orelse, depth)
        elif isinstance(s, While):
            yield from _walk_depth(s.cond_body, depth + 1)
            yield from _walk_depth(s.body, depth + 1)
        elif isinstance(s, ForRange):
            yield from _walk_depth(s.body, depth + 1)
