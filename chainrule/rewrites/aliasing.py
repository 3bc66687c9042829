"""Which variables of a function may share an array buffer (for the rewrite engine).

A flow-insensitive, conservative partition: the result of a primitive that may return (a view
of) an operand is in its operands' class (anything not in :data:`FRESH`: ``id``, indexing,
reshapes, transposes, ``materialize``, user primitives...), an array pushed on a tape is in the
tape's class (so is what a pop returns), and all array parameters are in one class (a caller
may pass one array twice). A class is *written* when an in-place write (``setitem``,
``additem``, any effect but ``tape_push``) targets one of its variables, or when it is an
operand of a custom rule's call.
"""

from __future__ import annotations

from ..ir.nodes import Assign, Effect, Function, Var, walk

# Primitives whose result is always a new array (never a view of an operand).
FRESH = frozenset({
    "add", "sub", "mul", "div", "pow", "neg", "zmul", "exp", "log", "log2", "log10", "log1p",
    "expm1", "sin", "cos", "tan", "tanh", "sinh", "cosh", "arcsin", "arccos", "arctan",
    "arcsinh", "arccosh", "arctanh", "sqrt", "cbrt", "square", "reciprocal", "abs", "sign",
    "floor", "ceil", "round", "maximum", "minimum", "arctan2", "hypot", "mod", "floordiv",
    "lt", "le", "gt", "ge", "eq", "ne", "logical_and", "logical_or", "logical_not",
    "sum", "mean", "prod", "amax", "amin", "argmax", "argmin", "cumsum", "norm", "det",
    "dot", "matmul", "inner", "outer", "cross", "solve", "inv",
    "zeros", "ones", "full", "arange", "linspace", "eye", "zeros_like", "ones_like",
    "full_like", "copy", "concatenate", "stack", "column_stack", "where",
    "clip", "shape", "size"})


def mutating(s: Effect) -> bool:
    """Whether an effect writes into the contents of its target array."""
    return s.prim != "tape_push"


class Buffers:
    def __init__(self, fn: Function):
        self.parent: dict[str, str] = {}
        self.groups: dict[str, set] = {}  # root -> members (classes of one variable: absent)
        self.written: set[str] = set()  # roots of written classes (kept up to date on union)
        arrays = [p.name for p in fn.params if p.type.ndim > 0 or p.type.tape]
        for a, b in zip(arrays, arrays[1:]):
            self._union(a, b)
        self.results = {r.name for r in fn.results if isinstance(r, Var)}
        for s in walk(fn.body):
            if isinstance(s, (Assign, Effect)):
                self.note(s)

    def note(self, s: Assign | Effect) -> None:
        """Record what statement ``s`` (also a newly built one) makes share a buffer."""
        if isinstance(s, Effect):
            if s.prim == "tape_push":
                for a in s.args[1:]:
                    if isinstance(a, Var):
                        self._union(s.args[0].name, a.name)
            else:
                self.written.add(self._find(s.args[0].name))
            return
        if s.prim in FRESH:
            return
        if s.prim == "custom_call":  # (a user's code, inlined: it may write into operands)
            for a in s.args:
                if isinstance(a, Var) and a.type.ndim > 0:
                    self.written.add(self._find(a.name))
        for a in s.args:
            if isinstance(a, Var) and (a.type.ndim > 0 or a.type.tape):
                self._union(s.out.name, a.name)

    def _find(self, name: str) -> str:
        root = name
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while name != root:  # path compression
            self.parent[name], name = root, self.parent.get(name, name)
        return root

    def _union(self, a: str, b: str) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            self.parent[ra] = rb
            self.groups[rb] = self.groups.pop(rb, {rb}) | self.groups.pop(ra, {ra})
            if ra in self.written:
                self.written.discard(ra)
                self.written.add(rb)

    def members(self, name: str) -> set[str]:
        root = self._find(name)
        return self.groups.get(root, {name})

    def sharing_is_invisible(self, a: str, b: str) -> bool:
        """Whether ``a`` and ``b`` may become one buffer without any difference in behaviour:
        nothing writes into either's class and neither class reaches a function result."""
        classes = self.members(a) | self.members(b)
        if self._find(a) in self.written or self._find(b) in self.written:
            return False
        return not (classes & self.results)
