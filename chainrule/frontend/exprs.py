"""Lowering of expressions: names, constants, operators, comparisons, indexing, literals and
comprehensions. Operations on compile-time numbers are folded; everything else becomes IR.
"""

from __future__ import annotations

import ast
import operator
from typing import Any

import numpy as np

from ..errors import ChainruleTypeError, UnsupportedSyntaxError
from ..ir.builder import const
from ..ir.nodes import Const, Var
from . import numpy_arrays
from .frames import BOUND, MISSING, bound_key
from .iteration import RunLoop
from .values import AstFunction, RangeVal, RunList, is_atom, static_number

BINOPS = {
    ast.Add: ("add", operator.add),
    ast.Sub: ("sub", operator.sub),
    ast.Mult: ("mul", operator.mul),
    ast.Div: ("div", operator.truediv),
    ast.FloorDiv: ("floordiv", operator.floordiv),
    ast.Mod: ("mod", operator.mod),
    ast.Pow: ("pow", operator.pow),
    ast.MatMult: ("matmul", None),
    ast.BitAnd: ("logical_and", operator.and_),
    ast.BitOr: ("logical_or", operator.or_),
}
CMPOPS = {
    ast.Lt: ("lt", operator.lt),
    ast.LtE: ("le", operator.le),
    ast.Gt: ("gt", operator.gt),
    ast.GtE: ("ge", operator.ge),
    ast.Eq: ("eq", operator.eq),
    ast.NotEq: ("ne", operator.ne),
}


class ExprMixin:
    def expr(self, node: ast.AST) -> Any:
        method = getattr(self, "expr_" + type(node).__name__, None)
        if method is None:
            raise self.error_at(node, f"`{type(node).__name__}` expressions are not supported",
                                "use arithmetic, calls, indexing and literals")
        return method(node)

    def as_atom(self, v: Any) -> Any:
        if is_atom(v):
            return v
        if isinstance(v, RunList):
            return self.list_array(v)
        if isinstance(v, (bool, int, float)):
            return const(v)
        if isinstance(v, (tuple, list)) and v and all(is_atom(x) or isinstance(x, (tuple, list))
                                                      for x in v):
            return self.pack(v)
        raise ChainruleTypeError(f"expected a number or an array, got {_kind(v)}", self.b.loc)

    def pack(self, items: Any) -> Any:
        """``np.array`` of (nested) sequences of scalars/arrays."""
        atoms = [self.pack(x) if isinstance(x, (tuple, list)) else self.as_atom(x) for x in items]
        if all(a.type.ndim == 0 for a in atoms):
            return self.b.pack(*atoms)
        return self.b.stack(*atoms, axis=0)

    # -- leaves --------------------------------------------------------------------------
    def expr_Constant(self, node: ast.Constant) -> Any:
        v = node.value
        if isinstance(v, (bool, int, float)):
            return const(v)
        if v is None or v is Ellipsis or isinstance(v, str):
            return v
        raise self.error_at(node, f"constant {v!r} is not supported", "use int or float")

    def expr_Name(self, node: ast.Name) -> Any:
        return self.load_name(node.id, node)

    def load_name(self, name: str, node: ast.AST) -> Any:
        v = self.frame.lookup(name)
        if v is MISSING:
            raise self.error_at(node, f"name `{name}` is not defined (or not assigned on every "
                                      "path before this use)", "assign it before the use")
        env = self.frame.env
        flag = env.get(bound_key(name))
        if flag is not None and flag is not BOUND and env.get(name, MISSING) is v:
            # assigned on some paths only: the read raises where it is unassigned, as in Python
            loc = self.b.loc
            where = f"{loc.file.rsplit('/', 1)[-1]}:{loc.line}: " if loc is not None else ""
            self.b.emit("check_bound", flag, message=(
                f"{where}cannot access local variable '{name}' where it is not associated "
                "with a value"))
            env[bound_key(name)] = BOUND
        return self.fresh_views(v)

    def expr_Tuple(self, node: ast.Tuple) -> Any:
        return tuple(self._elts(node.elts))

    def expr_List(self, node: ast.List) -> Any:
        return self.note_new_list(list(self._elts(node.elts)))

    def _elts(self, elts: list) -> list:
        out = []
        for e in elts:
            if isinstance(e, ast.Starred):
                v = self.expr(e.value)
                if not isinstance(v, (tuple, list)):
                    raise self.error_at(e, "only tuples/lists can be unpacked with *",
                                        "index the array instead")
                out.extend(v)
            else:
                out.append(self.expr(e))
        return out

    def expr_Dict(self, node: ast.Dict) -> Any:
        out = {}
        for k, v in zip(node.keys, node.values):
            if k is None:
                out.update(self.expr(v))
            else:
                out[self.static_value(k)] = self.expr(v)
        return out

    def expr_DictComp(self, node: ast.DictComp) -> Any:
        """``{k: v for ...}`` over compile-time iterables (dict keys, tuples, static ranges)."""
        env0 = dict(self.frame.env)
        out: dict = {}

        def level(k: int) -> None:
            if k == len(node.generators):
                key = self.expr(node.key)
                if isinstance(key, Const) and not isinstance(key.value, np.ndarray):
                    key = key.value
                elif not isinstance(key, (str, type(None))):
                    raise self.error_at(node.key, "dict keys must be known at compile time",
                                        "use strings or constants as keys")
                out[key] = self.expr(node.value)
                return
            gen = node.generators[k]
            items = self.iterable(self.expr(gen.iter), gen.iter)
            if isinstance(items, RunLoop):
                items = self._static_range_items(items, gen.iter, dict_comp=True)
            for item in items:
                self.assign(gen.target, item, gen)
                if all(self._static_true(c) for c in gen.ifs):
                    level(k + 1)

        level(0)
        self.frame.env = env0
        return out

    def static_value(self, node: ast.AST) -> Any:
        v = self.expr(node)
        if isinstance(v, Const) and not isinstance(v.value, np.ndarray):
            return v.value
        if isinstance(v, (str, type(None))):
            return v
        raise self.error_at(node, "this must be known at compile time (a literal or a constant)",
                            "use a literal value here")

    def static_index(self, node: ast.AST) -> Any:
        return self.static_value(node)

    def expr_Lambda(self, node: ast.Lambda) -> Any:
        defaults = [self.expr(d) for d in node.args.defaults]
        return AstFunction(node, self.frame, defaults, "<lambda>")

    def expr_NamedExpr(self, node: ast.NamedExpr) -> Any:
        self.bind(node.target.id, self.expr(node.value))
        return self.frame.lookup(node.target.id)  # (binding may rename the value's variable)

    # -- operators -----------------------------------------------------------------------
    def expr_BinOp(self, node: ast.BinOp) -> Any:
        return self.binop(node.op, self.expr(node.left), self.expr(node.right), node)

    def binop(self, op: ast.AST, a: Any, b: Any, node: ast.AST) -> Any:
        if type(op) not in BINOPS:
            raise self.error_at(node, f"operator `{type(op).__name__}` is not supported",
                                "use arithmetic operators or NumPy functions")
        prim, pyop = BINOPS[type(op)]
        if isinstance(a, RunList) or isinstance(b, RunList):
            raise self.error_at(node, "operators on a list of run-time length are not supported "
                                "(`+` would join lists, `*` repeat them)",
                                "convert it with np.array(xs) for arithmetic on its items")
        if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
            return self._sequence_op(op, a, b, node)
        if static_number(a) and static_number(b) and pyop is not None:
            try:
                return const(pyop(a.value, b.value))
            except ZeroDivisionError:
                raise ChainruleTypeError("division by zero in a constant expression",
                                         self.b.loc) from None
        a, b = self.as_atom(a), self.as_atom(b)
        if prim in ("logical_and", "logical_or") and not (
            a.type.dtype == "bool" and b.type.dtype == "bool"
        ):
            raise self.error_at(node, "bitwise & and | are supported on booleans only",
                                "use np.logical_and / np.logical_or on comparisons")
        if prim == "pow" and static_number(b) and b.value == 2 and a.type.is_float:
            return self.b.mul(a, a) if a.type.ndim == 0 else self.b.square(a)
        out = self.b.emit(prim, a, b)
        self.note_arith(prim, a, b, out)
        if prim in ("add", "mul") and self.nonneg(a) and self.nonneg(b):
            self.mark_nonneg(out)  # e.g. i + 1 for a range index: no wrap-around needed
        if prim == "mod" and not out.type.is_float and self.nonneg(b):
            self.mark_nonneg(out)  # Python's a % n lies in [0, n) for n > 0 (n == 0 raises)
        return out

    def _sequence_op(self, op: ast.AST, a: Any, b: Any, node: ast.AST) -> Any:
        if isinstance(op, ast.Add) and isinstance(a, (tuple, list)) and type(a) is type(b):
            return a + b
        if isinstance(op, ast.Mult):
            seq, n = (a, b) if isinstance(a, (tuple, list)) else (b, a)
            if static_number(n) and isinstance(n.value, int):
                return seq * n.value
        raise self.error_at(node, "this operation on a tuple/list is not supported",
                            "convert to an array with np.array(...) first")

    def expr_UnaryOp(self, node: ast.UnaryOp) -> Any:
        v = self.expr(node.operand)
        if isinstance(v, RunList) and not isinstance(node.op, ast.Not):
            raise self.error_at(node, "operators on a list are not supported",
                                "convert it with np.array(xs) first")
        if isinstance(node.op, ast.Not):
            t = self.truth(v, node.operand)
            return const(not t.value) if isinstance(t, Const) else self.b.not_(t)
        if static_number(v):
            fn = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert}
            return const(fn[type(node.op)](v.value))
        v = self.as_atom(v)
        if isinstance(node.op, ast.USub):
            return self.b.neg(v)
        if isinstance(node.op, ast.UAdd):
            return v
        if v.type.dtype == "bool" and v.type.ndim > 0:
            return self.b.logical_not(v)
        if v.type.dtype == "bool":  # ~True is -2 for a Python bool, False for a NumPy bool
            raise self.error_at(node, "`~` of a scalar boolean is ambiguous (-2 for Python's "
                                "True, False for NumPy's)", "use `not` (or np.logical_not)")
        raise self.error_at(node, "`~` is supported on boolean arrays only", "use np.logical_not")

    def truth(self, v: Any, node: ast.AST) -> Any:
        """A scalar boolean atom (or a Const) for use as a condition."""
        if isinstance(v, Const) and not isinstance(v.value, np.ndarray):
            return const(bool(v.value))
        if v is None:
            return const(False)
        if isinstance(v, (tuple, list, dict)):
            return const(bool(v))
        if isinstance(v, RunList):
            return self.b.gt(v.n, 0) if not isinstance(v.n, Const) else const(v.n.value > 0)
        if is_atom(v):
            if v.type.ndim > 0:
                raise self.error_at(node, "the truth value of an array is ambiguous",
                                    "use np.any(...) or np.all(...), or compare a scalar")
            if v.type.dtype == "bool":
                return v
            return self.b.ne(v, 0)
        return const(True)

    def as_bool_atom(self, v: Any) -> Any:
        return v

    def expr_BoolOp(self, node: ast.BoolOp) -> Any:
        """``a and b`` / ``a or b`` as Python evaluates them: the value of the operand that
        decides (``x or 2.0`` is ``x`` when ``x`` is truthy), and the right operand evaluated
        only when the left one does not decide. A right operand that cannot raise or write
        (comparisons and arithmetic of bound names and constants) is evaluated anyway and the
        value selected (``and_``/``or_`` of booleans, ``where`` otherwise): no branch."""
        return self._bool_op(list(node.values), isinstance(node.op, ast.And))

    def _bool_op(self, values: list, is_and: bool) -> Any:
        first = self.expr(values[0])
        if len(values) == 1:
            return first
        t = self.truth(first, values[0])
        if isinstance(t, Const):
            return first if t.value != is_and else self._bool_op(values[1:], is_and)
        if all(self._eager_ok(v) for v in values[1:]):
            rest = self._bool_op(values[1:], is_and)
            if is_atom(rest) and not isinstance(rest, Const) and rest.type.ndim == 0 and \
                    rest.type.dtype == "bool" and isinstance(first, Var) and \
                    first.type.dtype == "bool":
                return self.b.and_(first, rest) if is_and else self.b.or_(first, rest)
            if is_atom(rest) and is_atom(first) and getattr(rest.type, "ndim", 0) == 0:
                return self._bool_op_select(t, first, rest, is_and)

        def keep():
            self.frame.env["#boolop"] = first
            return False

        def evaluate_rest():
            self.frame.env["#boolop"] = self._bool_op(values[1:], is_and)
            return False

        if is_and:
            self.branch(t, evaluate_rest, keep)
        else:
            self.branch(t, keep, evaluate_rest)
        return self.frame.env.pop("#boolop")

    def _bool_op_select(self, t: Any, first: Any, rest: Any, is_and: bool) -> Any:
        first, rest = self.as_atom(first), self.as_atom(rest)
        return self.b.where(t, rest, first) if is_and else self.b.where(t, first, rest)

    def _eager_ok(self, node: ast.AST) -> bool:
        """Whether evaluating ``node`` cannot raise, write or call anything: constants, names
        assigned on every path, comparisons, ``not``, ``+ - *`` of those."""
        if isinstance(node, ast.Constant):
            return isinstance(node.value, (bool, int, float))
        if isinstance(node, ast.Name):
            v = self.frame.lookup(node.id)
            flag = self.frame.env.get(bound_key(node.id))
            return v is not MISSING and (flag is None or flag is BOUND) and \
                (isinstance(v, Const) or (is_atom(v) and v.type.ndim == 0))
        if isinstance(node, ast.Compare):
            return all(type(op) in CMPOPS for op in node.ops) and \
                all(self._eager_ok(n) for n in [node.left, *node.comparators])
        if isinstance(node, ast.UnaryOp):
            return isinstance(node.op, (ast.Not, ast.USub, ast.UAdd)) and \
                self._eager_ok(node.operand)
        if isinstance(node, ast.BinOp):
            return isinstance(node.op, (ast.Add, ast.Sub, ast.Mult)) and \
                self._eager_ok(node.left) and self._eager_ok(node.right)
        if isinstance(node, ast.BoolOp):
            return all(self._eager_ok(v) for v in node.values)
        return False

    def expr_Compare(self, node: ast.Compare) -> Any:
        left = self.expr(node.left)
        result = None
        for op, right_node in zip(node.ops, node.comparators):
            right = self.expr(right_node)
            if isinstance(left, RunList) or isinstance(right, RunList):
                raise self.error_at(node, "comparisons of a list of run-time length are not "
                                    "supported", "compare np.array(xs) or its items")
            if type(op) in (ast.Is, ast.IsNot):
                same = left is right or (left is None and right is None)
                c = const(same if isinstance(op, ast.Is) else not same)
            elif _compared_in_python(op, left, right):
                # strings, None and tuples of them (options such as mode="sum")
                pyop = {ast.Eq: operator.eq, ast.NotEq: operator.ne,
                        ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b}
                c = const(bool(pyop[type(op)](_py(left), _py(right))))
            elif type(op) not in CMPOPS:
                raise self.error_at(node, f"comparison `{type(op).__name__}` is not supported",
                                    "use <, <=, >, >=, == or !=")
            else:
                prim, pyop = CMPOPS[type(op)]
                if static_number(left) and static_number(right):
                    c = const(bool(pyop(left.value, right.value)))
                else:
                    c = self.b.emit(prim, self.as_atom(left), self.as_atom(right))
            if result is None:
                result = c
            elif isinstance(result, Const):
                result = c if result.value else result
            elif isinstance(c, Const):
                result = result if c.value else c
            else:
                result = self.b.and_(result, c) if result.type.ndim == 0 else \
                    self.b.logical_and(result, c)
            left = right
        return result

    def expr_IfExp(self, node: ast.IfExp) -> Any:
        cond = self.truth(self.expr(node.test), node.test)
        if isinstance(cond, Const):
            return self.expr(node.body if cond.value else node.orelse)
        env = self.frame.env

        def side(n):
            def run():
                self.frame.env["#ifexp"] = self.expr(n)
                return False
            return run

        self.branch(cond, side(node.body), side(node.orelse))
        value = self.frame.env.pop("#ifexp")
        del env
        return value

    # -- attributes and indexing -----------------------------------------------------------
    def expr_Attribute(self, node: ast.Attribute) -> Any:
        base = self.expr(node.value)
        return self.attribute(base, node.attr, node)

    def expr_Subscript(self, node: ast.Subscript) -> Any:
        base = self.expr(node.value)
        if isinstance(base, RunList):
            key = None if isinstance(node.slice, ast.Slice) else self.expr(node.slice)
            return self.list_getitem(base, key, node)
        if isinstance(base, (tuple, list)):
            if isinstance(node.slice, ast.Slice):
                return base[self._static_slice(node.slice)]
            key = self.expr(node.slice)
            if static_number(key):
                return base[key.value]
            if is_atom(key) and key.type.ndim == 0 and key.type.dtype == "int64":
                # a run-time index into a compile-time list: index the packed items
                items = self.to_run_list(base)
                if items is not None:
                    return self.list_getitem(items, key, node)
            raise self.error_at(node, "tuples and lists can only be indexed by integers (at "
                                "run time, when their items are all numbers or arrays of one "
                                "shape)", "convert to an array with np.array(...) to index "
                                "it with arrays")
        if isinstance(base, dict):
            return base[self.static_value(node.slice)]
        if base is np.r_:
            return numpy_arrays.r_(self, node.slice)
        if isinstance(base, RangeVal):
            raise self.error_at(node, "indexing a range is not supported", "compute the value")
        if not is_atom(base) or base.type.ndim == 0:
            raise self.error_at(node, f"cannot index {_kind(base)}", "index arrays only")
        spec, idx = self.index_spec(node.slice, base)
        return self.index_read(base, spec, idx)

    def _static_slice(self, node: ast.AST) -> slice:
        parts = [None if p is None else self.static_value(p)
                 for p in (node.lower, node.upper, node.step)]
        return slice(*parts)

    def index_spec(self, node: ast.AST, base: Any) -> tuple[tuple, list]:
        elts = node.elts if isinstance(node, ast.Tuple) else [node]
        spec: list = []
        atoms: list = []
        for e in elts:
            if isinstance(e, ast.Slice):
                flags = ""
                for part in (e.lower, e.upper, e.step):
                    if part is None:
                        flags += "0"
                        continue
                    v = self.expr(part)
                    if v is None:
                        flags += "0"
                        continue
                    atoms.append(self._int_atom(v, part))
                    flags += "1"
                spec.append("s" + flags)
                continue
            v = self.expr(e)
            if v is None:
                spec.append("n")
            elif v is Ellipsis:
                spec.append("e")
            elif isinstance(v, (tuple, list)):
                atoms.append(self.pack(v))
                spec.append("a")
            elif is_atom(v) and v.type.ndim == 0:
                atoms.append(self._int_atom(v, e))
                spec.append("i")
            elif is_atom(v) and v.type.dtype == "bool":
                atoms.append(v)
                spec.append("m")
            elif is_atom(v) and v.type.dtype == "int64":
                atoms.append(v)
                spec.append("a")
            else:
                raise self.error_at(e, f"cannot index with {_kind(v)}",
                                    "use integers, slices, None, integer or boolean arrays")
        self.check_indices(base, tuple(spec), atoms)
        return tuple(spec), atoms

    def _int_atom(self, v: Any, node: ast.AST) -> Any:
        if is_atom(v) and v.type.ndim == 0 and v.type.dtype in ("int64", "bool"):
            return v
        raise self.error_at(node, f"indices must be integers, got {_kind(v)}",
                            "convert with int(...)")

    # -- comprehensions --------------------------------------------------------------------
    def expr_ListComp(self, node: ast.ListComp) -> Any:
        return self._comprehension(node, node.elt)

    def expr_GeneratorExp(self, node: ast.GeneratorExp) -> Any:
        return self._comprehension(node, node.elt)

    def _comprehension(self, node: ast.AST, elt: ast.AST) -> Any:
        """Generators over compile-time iterables unroll into a compile-time list; the first
        one of run-time length (and all after it) becomes a loop filling a run-time list
        (see :mod:`.lists`)."""
        env0 = dict(self.frame.env)
        acc = self.next_accumulator()
        self.frame.env[acc] = self.note_new_list([])

        def level(k: int) -> None:
            if k == len(node.generators):
                self.list_append_name(acc, self.expr(elt), node)
                return
            gen = node.generators[k]
            value = self.expr(gen.iter)
            items = self.iterable(value, gen.iter)
            if isinstance(items, RunLoop) and not _static_range(items):
                self.runtime_comprehension(node, elt, k, value, acc)
                return
            if isinstance(items, RunLoop):
                items = self._static_range_items(items, gen.iter)
            for item in items:
                self.assign(gen.target, item, gen)
                conds = [self.truth(self.expr(c), c) for c in gen.ifs]
                if any(not isinstance(c, Const) for c in conds):
                    self._runtime_filter(node, k, conds, level)
                elif all(c.value for c in conds):
                    level(k + 1)

        level(0)
        out = self.frame.env[acc]
        self.frame.env = env0
        return out

    def _runtime_filter(self, node, k, conds, level) -> None:
        cond = conds[0]
        for c in conds[1:]:
            cond = self.b.and_(cond, self.as_atom(c)) if not isinstance(c, Const) else (
                cond if c.value else c)
        if isinstance(cond, Const):
            if cond.value:
                level(k + 1)
            return
        self.branch(cond, lambda: level(k + 1) or False, lambda: False)

    def list_append_name(self, name: str, value: Any, node: ast.AST) -> None:
        call = ast.Call(func=ast.Attribute(value=ast.Name(id=name, ctx=ast.Load()),
                                           attr="append", ctx=ast.Load()), args=[], keywords=[])
        ast.copy_location(call, node)
        self.list_append(self.frame.env[name], value, call)

    def _static_range_items(self, it: tuple, node: ast.AST, dict_comp: bool = False) -> list:
        start, stop, step, getter = it
        if all(isinstance(a, Const) for a in (start, stop, step)):
            return [getter(const(i)) for i in range(start.value, stop.value, step.value)]
        raise self.error_at(node, "dict comprehensions need keys known at compile time",
                            "iterate over a dict, a tuple or a range of constants")

    def _static_true(self, node: ast.AST) -> bool:
        t = self.truth(self.expr(node), node)
        if not isinstance(t, Const):
            raise self.error_at(node, "dict comprehension conditions must be known at compile "
                                "time", "filter the keys with constants")
        return bool(t.value)

    def expr_JoinedStr(self, node: ast.AST) -> Any:
        raise self.error_at(node, "f-strings are not supported", "remove string formatting")

    def expr_Yield(self, node: ast.AST) -> Any:
        raise self.error_at(node, "`yield` is not supported (generators cannot be compiled)",
                            "return a tuple or write results into an array")

    expr_YieldFrom = expr_Yield

    def expr_Await(self, node: ast.AST) -> Any:
        raise self.error_at(node, "`await` is not supported", "use plain functions")

    def expr_Starred(self, node: ast.AST) -> Any:
        raise self.error_at(node, "`*` unpacking is not supported here",
                            "pass the items explicitly")


def _static_range(items: Any) -> bool:
    return all(isinstance(a, Const) for a in items[:3])


def _compared_in_python(op: ast.AST, left: Any, right: Any) -> bool:
    """``==``/``!=`` of strings, None or tuples, and ``in`` a tuple/list/str, between
    compile-time values (options such as ``mode == "sum"`` or ``k in (0, 2)``)."""
    def ok(x):
        return isinstance(x, (str, type(None))) or static_number(x) or (
            isinstance(x, (tuple, list)) and all(ok(y) for y in x))

    if type(op) in (ast.In, ast.NotIn) and isinstance(right, dict) and ok(left):
        return True  # ``key in d``: the keys are known at compile time
    if not (ok(left) and ok(right)):
        return False
    if type(op) in (ast.In, ast.NotIn):
        return isinstance(right, (tuple, list, str))
    if type(op) in (ast.Eq, ast.NotEq):
        return not (static_number(left) and static_number(right))
    return False


def _py(v: Any) -> Any:
    if isinstance(v, (tuple, list)):
        return type(v)(_py(x) for x in v)
    return v.value if isinstance(v, Const) else v


def _kind(v: Any) -> str:
    if is_atom(v):
        return f"a {v.type} value"
    if isinstance(v, Var):
        return str(v.type)
    return type(v).__name__


__all__ = ["ExprMixin", "UnsupportedSyntaxError"]
