"""Objects in compiled code: attribute reads, methods, constructors and attribute writes.

At compile time a NamedTuple, dataclass or plain object (see :mod:`chainrule.pytree`) is an
instance of the user's class whose attributes hold values (IR atoms for run-time numbers and
arrays). Reading ``p.W`` returns that value; a method (``self.helper(x)``, ``model.loss``) is a
bound method whose function is inlined with the object as ``self``; a ``property`` is inlined
the same way; class-level constants are compile-time constants; ``super()`` looks attributes up
after the method's class; ``isinstance``, ``getattr`` and ``hasattr`` are answered at compile
time (a run-time number or array answers as a float/int/bool or an ``np.ndarray`` of its dtype).
Calling a user class builds a new object: a NamedTuple from its fields, a dataclass from its
generated ``__init__``'s signature (then ``__post_init__`` is inlined), any other class by
inlining its ``__init__``.

Attribute writes (``self.W = ...``) are allowed on objects built by the compiled code itself,
outside run-time branches and loops opened after the object was made (where Python's meaning
would depend on the path taken); writes to argument objects are rejected because the caller
would not see them.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import types
from typing import Any

import numpy as np

from .. import pytree
from ..errors import UnsupportedCallError, UnsupportedSyntaxError
from ..ir.builder import const
from .values import from_python, is_atom

_MISSING = object()


class SuperProxy:
    """``super()`` / ``super(cls, obj)`` in a method: attribute lookup starts after ``cls``."""

    def __init__(self, cls: type, obj: Any):
        self.cls = cls
        self.obj = obj


class CompileTimeCall:
    """A callable run in Python at compile time on compile-time values (``p._replace``)."""

    def __init__(self, fn: Any):
        self.fn = fn


def user_class(cls: Any) -> bool:
    """A class whose instances compiled code may build (not a library or builtin class)."""
    if not isinstance(cls, type) or getattr(cls, "__chainrule_static__", False):
        return False
    if pytree.is_namedtuple_class(cls):
        return True
    if pytree.library_module(cls.__module__ or ""):
        return False
    return cls.__new__ is object.__new__


class ObjectMixin:
    # -- reads ---------------------------------------------------------------------------
    def object_attribute(self, base: Any, attr: str, node: ast.AST) -> Any:
        cls = type(base)
        if pytree.is_namedtuple(base):
            if attr in cls._fields:
                return getattr(base, attr)
            if attr in ("_replace", "_asdict"):
                return CompileTimeCall(getattr(base, attr))
        cls_attr = inspect.getattr_static(cls, attr, _MISSING)
        if isinstance(cls_attr, property):
            if cls_attr.fget is None:
                raise self.error_at(node, f"property `{attr}` has no getter", None)
            return self.call(cls_attr.fget, [base], {}, node)
        inst = getattr(base, "__dict__", None)
        if inst is not None and attr in inst:
            return from_python(inst[attr])
        if isinstance(cls_attr, types.MemberDescriptorType):  # a __slots__ dataclass field
            return from_python(getattr(base, attr))
        if isinstance(cls_attr, staticmethod):
            return cls_attr.__func__
        if isinstance(cls_attr, classmethod):
            return types.MethodType(cls_attr.__func__, cls)
        if isinstance(cls_attr, types.FunctionType) or \
                getattr(cls_attr, "__chainrule_transform__", False):  # (a decorated method)
            return types.MethodType(cls_attr, base)
        if cls_attr is not _MISSING:
            return from_python(cls_attr)
        raise self.error_at(node, f"`{cls.__name__}` object has no attribute `{attr}`",
                            "read attributes the object has (set in __init__ or as fields)")

    def class_attribute(self, cls: type, attr: str, node: ast.AST) -> Any:
        """``Cls.name`` for a user class: methods, class/static methods, constants."""
        value = inspect.getattr_static(cls, attr, _MISSING)
        if isinstance(value, staticmethod):
            return value.__func__
        if isinstance(value, classmethod):
            return types.MethodType(value.__func__, cls)
        if value is _MISSING or isinstance(value, (property, types.MemberDescriptorType)):
            raise self.error_at(node, f"class `{cls.__name__}` has no attribute `{attr}` "
                                      "usable in compiled code", None)
        return from_python(value)

    def super_attribute(self, proxy: SuperProxy, attr: str, node: ast.AST) -> Any:
        mro = type(proxy.obj).__mro__ if not isinstance(proxy.obj, type) else proxy.obj.__mro__
        for klass in mro[mro.index(proxy.cls) + 1:]:
            if attr in vars(klass):
                value = vars(klass)[attr]
                if isinstance(value, types.FunctionType):
                    return types.MethodType(value, proxy.obj)
                if isinstance(value, classmethod):
                    return types.MethodType(value.__func__, type(proxy.obj))
                if isinstance(value, staticmethod):
                    return value.__func__
                if isinstance(value, property) and value.fget is not None:
                    return self.call(value.fget, [proxy.obj], {}, node)
                if value is object.__init__:
                    return CompileTimeCall(lambda: None)
                return from_python(value)
        raise self.error_at(node, f"super() has no attribute `{attr}`", None)

    def lower_super(self, args: list, node: ast.AST) -> SuperProxy:
        if len(args) == 2:
            return SuperProxy(args[0], args[1])
        frame = self.frame
        cell = frame.closure.get("__class__")  # (closures map names to cells)
        cls = None if cell is None else cell.cell_contents
        params = frame.node.args.posonlyargs + frame.node.args.args if frame.node else []
        if args or cls is None or not params:
            raise UnsupportedCallError("super() is supported in methods, with no arguments or "
                                       "as super(Class, self)", self.b.loc)
        return SuperProxy(cls, frame.env[params[0].arg])

    # -- construction --------------------------------------------------------------------
    def construct(self, cls: type, args: list, kwargs: dict, node: ast.AST) -> Any:
        """``cls(*args, **kwargs)`` for a user class, at compile time."""
        if pytree.is_namedtuple_class(cls):
            try:
                return cls(*args, **kwargs)
            except TypeError as exc:
                raise UnsupportedCallError(str(exc), self.b.loc) from None
        obj = object.__new__(cls)
        self.owned_objects[id(obj)] = (obj, self._open_dyn())
        init = cls.__init__
        if dataclasses.is_dataclass(cls) and _generated(init):
            self._dataclass_init(obj, cls, args, kwargs)
            post = getattr(cls, "__post_init__", None)
            if post is not None:
                self.call(types.MethodType(post, obj), [], {}, node)
        elif init is object.__init__:
            if args or kwargs:
                raise UnsupportedCallError(f"`{cls.__name__}()` takes no arguments", self.b.loc)
        elif isinstance(init, types.FunctionType):
            self.call(types.MethodType(init, obj), args, kwargs, node)
        else:
            raise UnsupportedCallError(f"cannot compile the constructor of `{cls.__name__}`",
                                       self.b.loc, "build the object outside the function")
        return obj

    def _dataclass_init(self, obj: Any, cls: type, args: list, kwargs: dict) -> None:
        try:
            bound = inspect.signature(cls).bind(*args, **kwargs)
        except TypeError as exc:
            raise UnsupportedCallError(f"`{cls.__name__}`: {exc}", self.b.loc) from None
        for f in dataclasses.fields(cls):
            if f.name in bound.arguments:
                value = bound.arguments[f.name]
            elif f.default is not dataclasses.MISSING:
                value = from_python(f.default)
            elif f.default_factory is not dataclasses.MISSING:
                value = from_python(f.default_factory())
            else:
                continue
            object.__setattr__(obj, f.name, value)

    # -- writes --------------------------------------------------------------------------
    def store_attribute(self, obj: Any, attr: str, value: Any, node: Any,
                        force: bool = False) -> None:
        entry = self.owned_objects.get(id(obj))
        if entry is None or entry[0] is not obj:
            raise UnsupportedSyntaxError(
                f"cannot assign the attribute `{attr}` of an object the compiled function did "
                "not create (the caller would not see the change)", self.b.loc,
                "return a new object instead (dataclasses.replace(p, ...), p._replace(...))")
        if entry[1] != self._open_dyn():
            raise UnsupportedSyntaxError(
                f"assigning the attribute `{attr}` inside a run-time branch or loop",
                self.b.loc, "assign a local variable in the branch and set the attribute after")
        params = getattr(type(obj), "__dataclass_params__", None)
        if params is not None and params.frozen and not force:
            raise UnsupportedSyntaxError(f"cannot assign to field `{attr}` of a frozen "
                                         "dataclass", self.b.loc,
                                         "use object.__setattr__ in __post_init__")
        object.__setattr__(obj, attr, value)

    def _open_dyn(self) -> int:
        return sum(f.dyn for f in self.frames)

    # -- calls ---------------------------------------------------------------------------
    def call_special(self, func: Any, args: list, kwargs: dict, node: ast.AST) -> Any:
        """Calls involving objects, or _MISSING when ``func`` is none of them."""
        if isinstance(func, CompileTimeCall):
            return func.fn(*args, **kwargs)
        if func is super:
            return self.lower_super(args, node)
        if func is isinstance and len(args) == 2 and not kwargs:
            return const(isinstance(_representative(args[0]), args[1]))
        if func in (getattr, hasattr) and len(args) in (2, 3) and isinstance(args[1], str):
            try:
                value = self.attribute(args[0], args[1], node)
            except (UnsupportedSyntaxError, UnsupportedCallError):
                if func is hasattr:
                    return const(False)
                if len(args) == 3:
                    return args[2]
                raise
            return const(True) if func is hasattr else value
        if isinstance(func, types.MethodType):
            return self.call(func.__func__, [func.__self__, *args], kwargs, node)
        if func is dataclasses.replace:
            if len(args) != 1 or not dataclasses.is_dataclass(args[0]):
                raise UnsupportedCallError("dataclasses.replace(obj, **changes) needs one "
                                           "dataclass instance", self.b.loc)
            new = pytree.with_children(args[0], [v for _, v in pytree.items(args[0])])
            for k, v in kwargs.items():
                object.__setattr__(new, k, v)
            return new
        if func is object.__setattr__ and len(args) == 3 and isinstance(args[1], str):
            self.store_attribute(args[0], args[1], args[2], node, force=True)
            return None
        if isinstance(func, type) and user_class(func):
            return self.construct(func, args, kwargs, node)
        if pytree.is_object(func):
            call = inspect.getattr_static(type(func), "__call__", None)
            if isinstance(call, types.FunctionType):
                return self.call(call, [func, *args], kwargs, node)
        return _MISSING


def _representative(v: Any) -> Any:
    """A Python value standing for ``v`` in ``isinstance`` (atoms: by dtype and ndim)."""
    if not is_atom(v):
        return v
    dtype = {"float64": np.float64, "float32": np.float32, "int64": np.int64,
             "bool": np.bool_}[v.type.dtype]
    if v.type.ndim > 0:
        return np.zeros((1,) * v.type.ndim, dtype=dtype)
    return {"float64": 0.0, "float32": np.float32(0), "int64": 0, "bool": False}[v.type.dtype]


def _generated(init: Any) -> bool:
    code = getattr(init, "__code__", None)
    return code is not None and code.co_filename.startswith("<")


MISSING_CALL = _MISSING

__all__ = ["CompileTimeCall", "MISSING_CALL", "ObjectMixin", "SuperProxy", "user_class"]
