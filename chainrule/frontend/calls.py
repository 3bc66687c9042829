"""Lowering of calls: user functions are inlined (with their own frame), builtins and NumPy /
``math`` functions map to primitives (see :mod:`.numpy_api`), array methods and attributes map
to the same handlers, and anything else is rejected with the callee's name.
"""

from __future__ import annotations

import ast
import builtins
import math
import sys
import types
from typing import Any

import numpy as np

from .. import pytree
from ..errors import (ChainruleError, IRVerificationError, Loc, MissingRuleError,
                      UnsupportedCallError)
from ..ir.builder import const
from ..ir.nodes import Var
from ..ir.types import BOOL
from . import numpy_api, scan
from .frames import Frame
from .opaque import in_custom_rule, is_interpreted, lower_opaque
from .objects import MISSING_CALL, SuperProxy, user_class
from .source import LIB_DIRS, in_library_file, loc_of, parse_function
from .stmts import NeedFlags
from .values import AstFunction, BoundMethod, RunList, flatten, is_atom, rebuild

MAX_INLINE_DEPTH = 64
def _is_library_function(fn: types.FunctionType) -> bool:
    mod = (getattr(fn, "__module__", "") or "").split(".")[0]
    if mod == "chainrule":
        return not fn.__module__.startswith(("chainrule.examples", "chainrule.testing"))
    if mod in ("numpy", "scipy", "math", "numba", "builtins"):
        return True
    file = fn.__code__.co_filename
    in_lib = any(file.startswith(d) for d in LIB_DIRS) and "site-packages" in file
    return in_lib and "chainrule" not in file


def _note_call(exc: ChainruleError, func: Any, name: str, file: str, site: Loc) -> None:
    """Add the call being compiled to ``exc``'s chain; an error inside library code (the
    standard library, an installed package) is reported at the user's call instead."""
    qual = name
    mod = getattr(func, "__module__", None)
    if mod and not isinstance(func, AstFunction):
        qual = f"{mod}.{getattr(func, '__qualname__', name)}"
    if in_library_file(file) and not in_library_file(site.file):
        inner = exc.loc
        where = f" (library code at {inner.file}:{inner.line})" if inner is not None else ""
        exc.calls.clear()  # the library's own calls are not the user's business
        exc.relocate(site, f"cannot compile a call to `{qual}`{where}: {exc.message}",
                     "call your own Python functions and the supported NumPy/math functions "
                     "(docs/numpy_functions.md); compute other code outside the function "
                     "chainrule compiles, or register it with its derivative "
                     "(chainrule.register_primitive)")
        return
    exc.add_call(name, site)


# How calls of the public transforms (``grad``, ``jvp``, ``vjp``, ``jet``, ...) written inside
# compiled code are lowered. The modules defining them sit above the front end and register
# their lowerings here when imported; the front end never imports them.
_IN_CODE: dict = {}
_FACTORY = "transform factory"  # key of callables marked ``__chainrule_transform_factory__``


def register_in_code(func: Any, lowering: Any) -> None:
    """Lower calls of ``func`` in compiled code with ``lowering(lowerer, func, args, kwargs,
    node)``; ``func`` may be the string ``"transform factory"`` (see ``_FACTORY``)."""
    _IN_CODE[func] = lowering


def in_code_lowering(func: Any) -> Any:
    try:
        lowering = _IN_CODE.get(func)
    except TypeError:  # an unhashable callable
        return None
    if lowering is None and getattr(func, "__chainrule_transform_factory__", False):
        lowering = _IN_CODE.get(_FACTORY)
    return lowering


class CallMixin:
    def expr_Call(self, node: ast.Call) -> Any:
        func = self.expr(node.func)
        args = []
        for a in node.args:
            if isinstance(a, ast.Starred):
                v = self.expr(a.value)
                if not isinstance(v, (tuple, list)):
                    raise self.error_at(a, "`*args` in a call needs a tuple or list",
                                        "pass the arguments explicitly")
                args.extend(v)
            else:
                args.append(self.expr(a))
        kwargs = {}
        for kw in node.keywords:
            if kw.arg is None:
                v = self.expr(kw.value)
                if not isinstance(v, dict):
                    raise self.error_at(kw, "`**kwargs` in a call needs a dict",
                                        "pass the keywords explicitly")
                kwargs.update(v)
            else:
                kwargs[kw.arg] = self.expr(kw.value)
        self.set_loc(node)
        return self.call(func, args, kwargs, node)

    def call(self, func: Any, args: list, kwargs: dict, node: ast.AST) -> Any:
        if func is builtins.print:
            return self.lower_print(args, kwargs, node)
        handler = numpy_api.handler_for(func)
        if handler is not None:
            return handler(self, args, kwargs, node)
        if isinstance(func, BoundMethod):
            return numpy_api.call_method(self, func, args, kwargs, node)
        if isinstance(func, AstFunction):
            return self.inline(func, args, kwargs, node)
        special = self.call_special(func, args, kwargs, node)
        if special is not MISSING_CALL:
            return special
        if getattr(func, "__chainrule_transform__", False) or \
                getattr(func, "__chainrule_custom__", False):
            return func.lower_call(self, args, kwargs, node)
        lowering = in_code_lowering(func)
        if lowering is not None:
            return lowering(self, func, args, kwargs, node)
        if getattr(func, "__chainrule_opaque__", False):
            return func.lower_call(self, args, kwargs, node)
        if in_custom_rule(self) and is_interpreted(func) and not isinstance(func, type):
            return lower_opaque(self, func, args, kwargs)  # the user's rule gives its derivative
        if isinstance(func, types.FunctionType) and not _is_library_function(func):
            return self.inline(func, args, kwargs, node)
        name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or repr(func)
        mod = getattr(func, "__module__", None)
        full = f"{mod}.{name}" if mod and mod != "builtins" else name
        is_np_ufunc = isinstance(func, np.ufunc) and getattr(np, func.__name__, None) is func
        if (mod and mod.split(".")[0] == "numpy") or is_np_ufunc:
            full = f"numpy.{name}" if is_np_ufunc else full
            raise MissingRuleError(
                f"NumPy function `{full}` has no derivative rule in chainrule",
                self.b.loc,
                "express it with supported NumPy functions, or register a primitive with its "
                "rules (see docs/architecture.md, 'Adding a primitive')",
            )
        raise UnsupportedCallError(
            f"cannot compile a call to `{full}`",
            self.b.loc,
            "call only Python functions defined in your code, math/NumPy functions from the "
            "supported list, or chainrule transforms; to run other code as it is, give the "
            "function calling it a derivative with chainrule.custom_jvp/custom_vjp, or wrap it "
            "with chainrule.opaque (docs/opaque.md)",
        )

    # -- inlining ------------------------------------------------------------------------
    def inline(self, func: Any, args: list, kwargs: dict, node: ast.AST) -> Any:
        site = self.b.loc
        try:
            return self._inline(func, args, kwargs, node)
        except ChainruleError as exc:
            if site is not None and not isinstance(exc, IRVerificationError):
                if isinstance(func, AstFunction):
                    _note_call(exc, func, func.name, func.frame.file, site)
                else:
                    _note_call(exc, func, func.__name__, func.__code__.co_filename, site)
            raise

    def _inline(self, func: Any, args: list, kwargs: dict, node: ast.AST) -> Any:
        if isinstance(func, AstFunction):
            fnode = func.node
            lexical = func.frame
            globals_ = lexical.globals
            closure: dict = {}
            defaults = list(func.defaults)
            kwdefaults = {}
            file = lexical.file
            name = func.name
        else:
            parsed = parse_function(func)
            fnode = parsed.node
            lexical = None
            globals_ = func.__globals__
            closure = {}
            for var, cell in zip(func.__code__.co_freevars, func.__closure__ or ()):
                closure[var] = cell  # read (and recorded) where the code uses it
            from .values import from_python

            defaults = [from_python(d) for d in (func.__defaults__ or ())]
            kwdefaults = {k: from_python(v) for k, v in (func.__kwdefaults__ or {}).items()}
            file = parsed.file
            name = func.__name__
        key = id(fnode)
        depth = self.depth.get(key, 0)
        if depth >= MAX_INLINE_DEPTH:
            raise self.error_at(
                node,
                f"recursion of `{name}` deeper than {MAX_INLINE_DEPTH} levels (is its depth "
                "data-dependent?)",
                "recursion is supported when its depth is fixed by Python ints known at "
                "compile time; use a loop for data-dependent repetition",
            )
        env = self.bind_arguments(fnode, name, args, kwargs, defaults, kwdefaults, file, node)
        frame = Frame(name, file, globals_, closure, lexical, env, node=fnode, deps=self.deps,
                      outside=self.outside)
        self.depth[key] = depth + 1
        self.frames.append(frame)
        saved_loc = self.b.loc
        self.set_loc(fnode)
        try:
            if isinstance(fnode, ast.Lambda):
                return self.expr(fnode.body)
            return self.run_frame(frame, fnode.body)
        finally:
            self.frames.pop()
            self.depth[key] = depth
            self.b.loc = saved_loc

    def bind_arguments(self, fnode, name, args, kwargs, defaults, kwdefaults, file, node) -> dict:
        a = fnode.args
        if a.vararg is not None or a.kwarg is not None:
            bad = a.vararg or a.kwarg
            star = "*" if bad is a.vararg else "**"
            raise UnsupportedCallError(
                f"`{star}{bad.arg}` parameters of `{name}` are not supported",
                loc_of(bad, file, name),
                "give the function a fixed list of parameters",
            )
        params = [p.arg for p in a.posonlyargs + a.args]
        env: dict = {}
        if len(args) > len(params):
            raise UnsupportedCallError(f"`{name}` takes {len(params)} positional arguments but "
                                       f"{len(args)} were given", self.b.loc)
        for p, v in zip(params, args):
            env[p] = v
        first_default = len(params) - len(defaults)
        for i, p in enumerate(params):
            if p in env:
                if p in kwargs:
                    raise UnsupportedCallError(f"`{name}` got multiple values for `{p}`",
                                               self.b.loc)
                continue
            if p in kwargs:
                env[p] = kwargs[p]
            elif i >= first_default:
                env[p] = defaults[i - first_default]
            else:
                raise UnsupportedCallError(f"`{name}` is missing the argument `{p}`", self.b.loc)
        for p, d in zip(a.kwonlyargs, a.kw_defaults):
            if p.arg in kwargs:
                env[p.arg] = kwargs[p.arg]
            elif p.arg in kwdefaults:
                env[p.arg] = kwdefaults[p.arg]
            elif d is not None:
                env[p.arg] = self.expr(d)
            else:
                raise UnsupportedCallError(f"`{name}` is missing the argument `{p.arg}`",
                                           self.b.loc)
        extra = set(kwargs) - set(params) - {p.arg for p in a.kwonlyargs}
        if extra:
            raise UnsupportedCallError(f"`{name}` got unexpected keyword(s) {sorted(extra)}",
                                       self.b.loc)
        return env

    def run_frame(self, frame: Frame, body: list) -> Any:
        """Lower a function body; re-lower with a return flag if it returns from inside
        run-time control flow."""
        mark = len(self.b.block)
        names = self.b.names
        snapshot = type(names)()
        snapshot.used, snapshot.counters = set(names.used), dict(names.counters)
        env0 = dict(frame.env)
        tracking = (dict(self.views), dict(self.writes), dict(self.nonneg_ids))
        try:
            self.lower_block(body)
            return frame.result
        except NeedFlags as exc:
            if exc.frame is not frame:
                raise
        del self.b.block[mark:]
        names.used, names.counters = snapshot.used, snapshot.counters
        # (the view tracking is keyed by names, which the next passes hand out again)
        self.views, self.writes, self.nonneg_ids = tracking
        # Pass 1 (speculative): collect the kinds of all returned values.
        frame.env = dict(env0)
        frame.ret_flag = Var("#ret", BOOL)
        frame.ret_values = []
        with self.speculate():
            self.lower_block(body)
            values = list(frame.ret_values)
        frame.ret_values = None
        frame.env = dict(env0)
        template = values[0] if values else None
        leaves = []
        if template is not None:
            for v in values[1:]:
                self.check_same_structure("return value", template, v)
            cols = [[a for _, a in flatten(v)] for v in values]
            for i, (_, a) in enumerate(flatten(template)):
                typ = a.type
                for c in cols[1:]:
                    typ = self.join_leaf_type("return value", Var("?", typ), c[i])
                slot = self.b.new_var(f"{frame.name.strip('<>')}_result", typ)
                from .frames import typed_zero

                self.b.emit("id", typed_zero(self.b, typ), out=slot)
                leaves.append(slot)
        frame.ret_flag = self.b.new_var("returned", BOOL)
        self.b.emit("id", False, out=frame.ret_flag)
        frame.ret_leaves = leaves
        frame.ret_template = template
        self.lower_block(body)
        return rebuild(template, list(leaves)) if template is not None else None

    # -- attributes ----------------------------------------------------------------------
    def attribute(self, base: Any, attr: str, node: ast.AST) -> Any:
        if isinstance(base, types.ModuleType):
            if not hasattr(base, attr):
                raise self.error_at(node, f"module `{base.__name__}` has no `{attr}`", None)
            from .values import from_python

            return from_python(getattr(base, attr))
        if is_atom(base):
            return numpy_api.array_attribute(self, base, attr, node)
        if isinstance(base, (list, RunList)) and attr in ("append", "extend", "pop"):
            return BoundMethod(base, attr)
        if isinstance(base, RunList):
            raise self.error_at(node, f"list method `.{attr}` is not supported on a list of "
                                "run-time length", "use append, extend, pop, indexing, len, for "
                                "loops, sum "
                                "and np.array(xs)")
        if isinstance(base, dict) and attr in ("keys", "values", "items", "get"):
            return BoundMethod(base, attr)
        if pytree.is_namedtuple(base) or pytree.is_object(base):
            return self.object_attribute(base, attr, node)
        if user_class(base):
            return self.class_attribute(base, attr, node)
        if isinstance(base, SuperProxy):
            return self.super_attribute(base, attr, node)
        raise self.error_at(node, f"attribute `{attr}` of {type(base).__name__} is not supported",
                            "read attributes of your own classes, dataclasses and NamedTuples; "
                            "objects of library classes (and classes with __slots__) are "
                            "opaque: pass the arrays they hold instead")


__all__ = ["CallMixin", "const", "math", "scan", "sys"]
