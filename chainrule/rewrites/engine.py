"""The rewrite engine: applies pattern -> replacement rules to a function's IR.

One round walks every block in program order and keeps what is known at the current statement:

* **definitions** that may be matched through: ``v = prim(args)`` of a pure primitive, dropped
  as soon as ``v`` or one of ``args`` is assigned again or an in-place write reaches the buffer
  of one of them (buffers: :mod:`.aliasing`); a loop body starts without the definitions its
  writes invalidate (they may have happened on an earlier trip), and a block's writes invalidate
  the enclosing block's definitions after it. A rule's replacement reads the operands it bound
  at the rewritten statement, so it sees the values the original computation saw.
* **shape classes**: variables known to hold arrays of one shape (``y = exp(x)``, ``x * 2.0``,
  ``broadcast_like(g, x)``...), which rules ask through :meth:`RewriteBuilder.same_shape`.

Each statement ``out = prim(...)`` is offered to the rules whose pattern root is ``prim``; the
first that matches and builds a replacement of the same type wins. The replacement's statements
replace the original one (that rule is never applied to the statements it built); its result
is assigned to ``out`` (a result that is an existing variable becomes a copy ``out = id(x)``;
for arrays only where no in-place write or function result can tell the two buffers apart,
else ``np.copy`` for primitives whose result is a new array, else the rule does not fire).
Rounds repeat until no rule fires (at most :data:`MAX_ROUNDS`).
"""

from __future__ import annotations

import inspect
import itertools
import os
import sys
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import ChainruleError, Loc
from ..ir.builder import Builder, Names
from ..ir.nodes import Assign, Const, Effect, ForRange, Function, If, Var, While, walk
from .aliasing import FRESH, Buffers, mutating
from .patterns import OpPattern

MAX_ROUNDS = 8

# Never matched through nor rewritten: primitives with side effects, or whose value depends on
# more than their operands (tapes, uninitialised memory, adjoint bookkeeping).
OPAQUE = frozenset({"tape_pop", "tape_new", "tape_push", "debug_print", "check", "check_index",
                    "check_index_array", "empty", "empty_like", "adj_zero", "materialize",
                    "dematerialize", "custom_call"})

# Elementwise primitives: the result has the shape of the array operands when those agree.
_ELEMENTWISE = frozenset({
    "add", "sub", "mul", "div", "pow", "neg", "zmul", "exp", "log", "log2", "log10", "log1p",
    "expm1", "sin", "cos", "tan", "tanh", "sinh", "cosh", "arcsin", "arccos", "arctan",
    "arcsinh", "arccosh", "arctanh", "sqrt", "cbrt", "square", "reciprocal", "abs", "sign",
    "floor", "ceil", "round", "maximum", "minimum", "arctan2", "hypot", "id", "copy", "to_float",
    "to_int", "to_bool", "astype", "stop_gradient", "clip", "where", "mod", "floordiv", "lt",
    "le", "gt", "ge", "eq", "ne", "logical_and", "logical_or", "logical_not", "and_", "or_",
    "not_"})
# The result has the shape of the last operand.
_SHAPED_LIKE_LAST = frozenset({"broadcast_like", "unbroadcast", "broadcast_as", "materialize",
                               "dematerialize"})
_SHAPED_LIKE_FIRST = frozenset({"zeros_like", "ones_like", "full_like"})


@dataclass
class Rule:
    """``pattern`` -> ``build(b, **bindings)`` (an atom, or None when the rule declines).

    ``stage``: "before" (the primal, before differentiation), "after" (the clean-up of derivative
    code) or "both". ``exact`` says in words how the replacement's values relate to the
    original's. ``same_buffer``: the matched primitive may already return its operand itself
    (a view, or ``unbroadcast`` of an array of the right shape), so a result that is an operand
    needs no aliasing check.
    """

    name: str
    pattern: OpPattern
    build: Callable[..., Any]
    stage: str = "both"
    exact: str = ""
    same_buffer: bool = False
    user: bool = False
    _wants: tuple | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.pattern, OpPattern):
            raise TypeError("a rule's pattern must be an op pattern (op.<primitive>(...))")
        if self.stage not in ("before", "after", "both"):
            raise ValueError(f"stage must be 'before', 'after' or 'both', not {self.stage!r}")
        params = inspect.signature(self.build).parameters.values()
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
            self._wants = None
        else:
            self._wants = tuple(p.name for p in params)[1:]

    def call(self, b: Any, env: dict) -> Any:
        if self._wants is None:
            return self.build(b, **env)
        return self.build(b, **{k: v for k, v in env.items() if k in self._wants})


@dataclass(frozen=True)
class Fired:
    """One application of a rule: which rule, at which stage, where in the user's code."""

    rule: str
    stage: str
    prim: str
    loc: Loc | None

    def __str__(self) -> str:
        where = f"{self.loc.file}:{self.loc.line}" if self.loc is not None else "<generated>"
        return f"{self.rule} ({self.stage}) at {where}"


_recorders: list[list] = []


def record(fired: Fired) -> None:
    for log in _recorders:
        log.append(fired)
    if os.environ.get("CHAINRULE_SHOW_REWRITES", "") not in ("", "0"):
        print(f"chainrule rewrite: {fired}", file=sys.stderr)


class RewriteBuilder(Builder):
    """The builder a replacement gets: the IR builder plus what the engine knows here."""

    def __init__(self, names: Names, facts: _Facts, stmt: Assign):
        super().__init__(names)
        self.facts = facts
        self.matched = stmt
        self.loc = stmt.loc

    def same_shape(self, a: Any, b: Any) -> bool:
        """Whether arrays ``a`` and ``b`` certainly have one shape here."""
        return self.facts.same_shape(a, b)


_fresh_tokens = itertools.count()

# statement -> the rule whose replacement built it: that rule is not applied to it again
# (log(sum(exp(a))) -> log(sum(exp(a - m))) + m must not go on), in later stages neither.
_MADE_BY: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class _Facts:
    """Definitions and shape classes valid at the current statement of a block walk."""

    def __init__(self, buffers: Buffers):
        self.buffers = buffers
        self.defs: dict[str, Assign] = {}
        self.readers: dict[str, set] = {}  # variable -> the defined variables whose def reads it
        self.shapes: dict[str, Any] = {}

    def copy(self) -> _Facts:
        new = _Facts(self.buffers)
        new.defs, new.shapes = dict(self.defs), dict(self.shapes)
        new.readers = {k: set(v) for k, v in self.readers.items()}
        return new

    # -- Definitions protocol ----------------------------------------------------------------
    def definition(self, var: Var) -> Assign | None:
        return self.defs.get(var.name)

    def resolve(self, atom: Any) -> Any:
        for _ in range(32):
            if not isinstance(atom, Var):
                return atom
            d = self.defs.get(atom.name)
            if d is None or d.prim != "id" or d.args[0].type != atom.type:
                return atom
            atom = d.args[0]
        return atom

    # -- shapes ------------------------------------------------------------------------------
    def token(self, atom: Any) -> Any:
        if isinstance(atom, Const):
            return ("const", id(atom.value)) if atom.type.ndim else None
        return self.shapes.get(atom.name, ("var", atom.name))

    def same_shape(self, a: Any, b: Any) -> bool:
        if a.type.ndim != b.type.ndim:
            return False
        return a.type.ndim == 0 or self.token(a) == self.token(b)

    def _shape_token(self, s: Assign) -> Any:
        arrays = [a for a in s.args if a.type.ndim > 0 and not a.type.tape]
        if s.prim in _ELEMENTWISE:
            tokens = {self.token(a) for a in arrays}
            if len(tokens) == 1 and all(a.type.ndim == s.out.type.ndim for a in arrays):
                return tokens.pop()
        elif s.prim in _SHAPED_LIKE_LAST and s.args[-1].type.ndim == s.out.type.ndim:
            return self.token(s.args[-1])
        elif s.prim in _SHAPED_LIKE_FIRST and s.args[0].type.ndim == s.out.type.ndim:
            return self.token(s.args[0])
        return ("fresh", next(_fresh_tokens))

    # -- updates -----------------------------------------------------------------------------
    def assigned(self, s: Assign) -> None:
        name = s.out.name
        token = self._shape_token(s)
        self._forget_names({name})
        self.shapes[name] = token
        reads_self = any(isinstance(a, Var) and a.name == name for a in s.args)
        if s.prim not in OPAQUE and not reads_self and not s.out.type.tape:
            self.defs[name] = s
            for a in s.args:
                if isinstance(a, Var):
                    self.readers.setdefault(a.name, set()).add(name)

    def written(self, target: Var) -> None:
        """An in-place write into ``target``'s buffer."""
        self._forget_buffers(self.buffers.members(target.name))

    def forget_block(self, block: list, loop_var: Var | None = None) -> None:
        """Forget what the statements of ``block`` (run any number of times) may change."""
        names, buffers = set(), set()
        for s in walk(block):
            if isinstance(s, Assign):
                names.add(s.out.name)
            elif isinstance(s, ForRange):
                names.add(s.var.name)
            elif isinstance(s, Effect) and mutating(s):
                buffers |= self.buffers.members(s.args[0].name)
        if loop_var is not None:
            names.add(loop_var.name)
        self._forget_names(names)
        self._forget_buffers(buffers)

    def _forget_names(self, names: set) -> None:
        for n in names:
            self.shapes[n] = ("fresh", next(_fresh_tokens))
        self._forget_buffers(names)

    def _forget_buffers(self, names: set) -> None:
        """Drop the definitions of ``names`` and those that read one of them."""
        for n in names:
            self.defs.pop(n, None)
            for reader in self.readers.pop(n, ()):
                self.defs.pop(reader, None)


class _Round:
    """One walk over a function applying the rules of one stage."""

    def __init__(self, fn: Function, rules: dict, stage: str, names: Names | None):
        self.rules = rules  # root primitive -> [Rule]
        self.stage = stage
        self.buffers = Buffers(fn)
        taken = {p.name for p in fn.params}
        for s in walk(fn.body):
            taken |= {v.name for v in _written_vars(s)}
        if names is None:
            names = Names(taken)
        else:
            names.used |= taken
        self.names = names
        self.fired: list[Fired] = []

    def block(self, stmts: list, facts: _Facts) -> list:
        out: list = []
        for s in stmts:
            if isinstance(s, Assign):
                if s.prim == "custom_call":  # (see aliasing: it may write into operands)
                    for a in s.args:
                        if isinstance(a, Var) and a.type.ndim > 0:
                            facts.written(a)
                new = self.rewrite(s, facts)
                for t in new if new is not None else [s]:
                    out.append(t)
                    facts.assigned(t)
                continue
            if isinstance(s, Effect):
                if mutating(s):
                    facts.written(s.args[0])
            elif isinstance(s, If):
                s.then = self.block(s.then, facts.copy())
                s.orelse = self.block(s.orelse, facts.copy())
                facts.forget_block(s.then + s.orelse)
            elif isinstance(s, While):
                facts.forget_block(s.cond_body + s.body)
                s.cond_body = self.block(s.cond_body, facts.copy())
                s.body = self.block(s.body, facts.copy())
                facts.forget_block(s.cond_body + s.body)
            elif isinstance(s, ForRange):
                facts.forget_block(s.body, s.var)
                s.body = self.block(s.body, facts.copy())
                facts.forget_block(s.body, s.var)
            out.append(s)
        return out

    def rewrite(self, s: Assign, facts: _Facts) -> list | None:
        if s.prim in OPAQUE or s.out.type.tape:
            return None
        made = _MADE_BY.get(s)
        for rule in self.rules.get(s.prim, ()):
            if made is rule:
                continue
            env = rule.pattern.match_stmt(s, facts, {})
            if env is None:
                continue
            b = RewriteBuilder(self.names, facts, s)
            try:
                result = rule.call(b, env)
            except ChainruleError:  # (a primitive's type rule refused the operands)
                continue
            if result is None:
                continue
            result = b.atom(result)
            new = self._finish(rule, s, b.block, result)
            if new is None:
                continue
            self.fired.append(Fired(rule.name, self.stage, s.prim, s.loc))
            for st in new:
                _MADE_BY[st] = rule
            return new
        return None

    def _finish(self, rule: Rule, s: Assign, stmts: list, result: Any) -> list | None:
        """The replacement's statements with its result assigned to ``s.out``."""
        out = s.out
        if result.type != out.type:
            return None
        if stmts and isinstance(result, Var) and stmts[-1].out.name == result.name and \
                all(st.out.name != result.name for st in stmts[:-1]):
            last = stmts[-1]
            stmts[-1] = Assign(out, last.prim, last.args, last.params, s.loc)
        elif isinstance(result, Var) and result.name == out.name:
            pass  # (the variable holds the value already)
        elif isinstance(result, Var) and out.type.ndim > 0 and not rule.same_buffer and \
                not self.buffers.sharing_is_invisible(out.name, result.name):
            if s.prim not in FRESH:
                return None
            stmts.append(Assign(out, "copy", (result,), (), s.loc))
        else:
            stmts.append(Assign(out, "id", (result,), (), s.loc))
        for st in stmts:
            self.buffers.note(st)
        return stmts


def _written_vars(s: Any) -> list:
    if isinstance(s, Assign):
        return [s.out]
    if isinstance(s, ForRange):
        return [s.var]
    return []


def run(fn: Function, rules: list, stage: str, names: Names | None = None) -> Function:
    """Apply ``rules`` (those for ``stage``) to ``fn`` until none fires (bounded); new
    variables get their names from ``names`` (the build's allocator)."""
    table: dict[str, list] = {}
    for r in rules:
        if r.stage in (stage, "both"):
            table.setdefault(r.pattern.prim, []).append(r)
    if not table:
        return fn
    body = fn.body
    for _ in range(MAX_ROUNDS):
        rnd = _Round(Function(fn.name, fn.params, body, fn.results), table, stage, names)
        body = rnd.block(body, _Facts(rnd.buffers))
        for f in rnd.fired:
            record(f)
        if not rnd.fired:
            break
    return Function(fn.name, fn.params, body, fn.results, fn.loc, fn.meta)
