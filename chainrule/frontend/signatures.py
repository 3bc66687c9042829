"""Declared signatures of the functions the front end maps to primitives, and argument binding.

Every NumPy / ``math`` / builtin handler is wrapped by :func:`signed` with the callee's
parameter list, written as Python source (``"a, axis=None, *, where=True"``), and the names of
the parameters chainrule does not implement. A call is bound to that signature before the
handler runs: an unknown keyword, a missing or duplicated argument, or an unimplemented
parameter given a non-default value raises :class:`UnsupportedKeywordError` /
:class:`UnsupportedCallError` naming the parameter, the function and the call's file:line. So a
keyword can never be ignored in silence. Handlers receive a :class:`Params` (bound values,
defaults filled in) instead of raw ``args``/``kwargs``.
"""

from __future__ import annotations

import ast
import inspect
from typing import Any

import numpy as np

from ..errors import UnsupportedCallError, UnsupportedKeywordError
from ..ir.nodes import Const
from .values import from_python


class Params:
    """Arguments of one call, bound to a declared signature (attribute access by name)."""

    def __init__(self, values: dict, given: set):
        self.__dict__.update(values)
        self._given = given

    def given(self, name: str) -> bool:
        """Was ``name`` passed by the caller (rather than filled in from its default)?"""
        return name in self._given


def parse_signature(spec: str) -> inspect.Signature:
    """``inspect.Signature`` of ``def f(<spec>)``; defaults must be literals."""
    fdef = ast.parse(f"def f({spec}): pass").body[0]
    a = fdef.args
    P = inspect.Parameter
    params = []
    positional = a.posonlyargs + a.args
    defaults = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
    for i, (arg, d) in enumerate(zip(positional, defaults)):
        kind = P.POSITIONAL_ONLY if i < len(a.posonlyargs) else P.POSITIONAL_OR_KEYWORD
        default = P.empty if d is None else ast.literal_eval(d)
        params.append(P(arg.arg, kind, default=default))
    if a.vararg is not None:
        params.append(P(a.vararg.arg, P.VAR_POSITIONAL))
    for arg, d in zip(a.kwonlyargs, a.kw_defaults):
        params.append(P(arg.arg, P.KEYWORD_ONLY,
                        default=P.empty if d is None else ast.literal_eval(d)))
    if a.kwarg is not None:
        params.append(P(a.kwarg.arg, P.VAR_KEYWORD))
    return inspect.Signature(params)


def _same_as_default(value: Any, default: Any) -> bool:
    """Is a passed compile-time ``value`` equal to the parameter's literal ``default``?"""
    if value is None or default is None:
        return value is default
    if isinstance(value, Const):
        value = value.value
    if not isinstance(value, (str, bool, int, float)) or isinstance(value, np.ndarray):
        return False
    return isinstance(value, str) == isinstance(default, str) and value == default


class Signed:
    """A handler bound to a declared signature; called as ``h(lw, args, kwargs, node)``."""

    def __init__(self, name: str, spec: str, handler: Any, unsupported: str = "",
                 hint: str | None = None):
        self.name = name
        self.signature = parse_signature(spec)
        self.unsupported = set(unsupported.split())
        unknown = self.unsupported - set(self.signature.parameters)
        assert not unknown, f"{name}: unsupported names not in the signature: {unknown}"
        self.handler = handler
        self.hint = hint

    def bind(self, lw: Any, args: list, kwargs: dict) -> Params:
        sig = self.signature
        loc = lw.b.loc
        has_var_kw = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
        names = {n for n, p in sig.parameters.items()
                 if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        for k in kwargs:
            if k not in names and not has_var_kw:
                raise UnsupportedKeywordError(
                    f"`{self.name}` got the keyword `{k}`, which it does not accept"
                    if k not in sig.parameters else
                    f"`{self.name}`: `{k}` cannot be passed by keyword",
                    loc, f"remove `{k}=`; `{self.name}` takes {self._describe()}")
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError as exc:
            raise UnsupportedCallError(f"`{self.name}`: {exc}", loc,
                                       f"`{self.name}` takes {self._describe()}") from None
        given = set(bound.arguments)
        for name in sorted(given & self.unsupported):
            default = sig.parameters[name].default
            if default is not inspect.Parameter.empty and \
                    _same_as_default(bound.arguments[name], default):
                continue
            raise UnsupportedKeywordError(
                f"`{self.name}`: the argument `{name}` is not supported by chainrule", loc,
                self.hint or f"call `{self.name}` without `{name}` and express its effect "
                "with supported operations")
        bound.apply_defaults()
        values = {}
        for name, value in bound.arguments.items():
            values[name] = value if name in given else _frontend_default(value)
        return Params(values, given)

    def _describe(self) -> str:
        shown = [str(p) for n, p in self.signature.parameters.items()
                 if n not in self.unsupported]
        return f"({', '.join(shown)})"

    def __call__(self, lw: Any, args: list, kwargs: dict, node: Any) -> Any:
        return self.handler(lw, self.bind(lw, list(args), dict(kwargs)), node)


def _frontend_default(value: Any) -> Any:
    if isinstance(value, (bool, int, float)):
        return from_python(value)
    if isinstance(value, tuple):
        return tuple(_frontend_default(v) for v in value)
    if isinstance(value, dict):
        return {}
    return value


def signed(name: str, spec: str, unsupported: str = "", hint: str | None = None):
    """Decorator form of :class:`Signed` for handlers ``h(lw, params, node)``."""
    def deco(handler: Any) -> Signed:
        return Signed(name, spec, handler, unsupported, hint)
    return deco
