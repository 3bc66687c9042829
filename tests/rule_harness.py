"""A small harness that checks one primitive's derivative rules by running generated code.

For a primitive and concrete example arguments it builds one-primitive IR functions (primal, JVP,
VJP), generates Python source with the code generator, loads and runs it, and compares:
the JVP with central finite differences, the VJP with the JVP (``<g, J v> == <J^T g, v>``), and
-- by running every JVP rule over the IR that the VJP rule produced (forward over reverse) -- the
second derivative with finite differences of the VJP.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chainrule.backend.codegen import generate
from chainrule.backend.loader import load_source
from chainrule.ir.builder import Builder, Names
from chainrule.ir.nodes import Assign, Effect, Function, Var, block_reads, walk
from chainrule.ir.types import Type
from chainrule.rules import PRIMS


@dataclass
class Row:
    """One line of a rule table: a primitive, example inputs and how to check it."""

    prim: str
    cases: Callable[[np.random.Generator], list[tuple]]  # argument tuples to check at
    params: dict = field(default_factory=dict)
    diff: tuple | None = None  # differentiated argument positions (default: the float ones)
    rtol: float = 1e-5
    atol: float = 1e-7
    h: float = 1e-6  # finite-difference step
    second: bool = True  # also check forward-over-reverse second derivatives
    ref: Callable | None = None  # NumPy reference for the primal value

    @property
    def id(self) -> str:
        opts = ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.prim}({opts})" if opts else self.prim


# -- values and types --------------------------------------------------------------------------


def value_type(v: Any) -> Type:
    if isinstance(v, (bool, np.bool_)):
        return Type("bool")
    if isinstance(v, (int, np.integer)):
        return Type("int64")
    if isinstance(v, float):
        return Type("float64")
    a = np.asarray(v)
    dt = {"b": "bool", "i": "int64", "u": "int64"}.get(a.dtype.kind, str(a.dtype))
    return Type(dt, a.ndim)


def random_like(rng: np.random.Generator, v: Any) -> Any:
    """A standard-normal value of the same shape (a Python float for a scalar)."""
    if np.ndim(v) == 0:
        return float(rng.standard_normal())
    return rng.standard_normal(np.shape(v)).astype(np.asarray(v).dtype)


def axpy(x: Any, h: float, v: Any) -> Any:
    """``x + h * v`` kept in the dtype (and scalar-ness) of ``x``."""
    if isinstance(x, np.ndarray):
        return np.asarray(x + h * v, dtype=x.dtype)
    return type(x)(x + h * v)


def inner(a: Any, b: Any) -> float:
    return float(np.sum(np.asarray(a, dtype=np.float64) * np.asarray(b, dtype=np.float64)))


def zero_like(v: Any) -> Any:
    return np.zeros(np.shape(v)) if np.ndim(v) else 0.0


# -- building and running IR -------------------------------------------------------------------


def compile_fn(fn: Function) -> Callable:
    src, consts = generate(fn, with_comments=False)
    return load_source(fn.name, src, consts)


def _start(prim: str, types: Sequence[Type], params: dict):
    b = Builder()
    xs = [b.new_var(f"x{i}", t) for i, t in enumerate(types)]
    out = b.emit(prim, *xs, **params)
    return b, xs, out


def primal_fn(prim: str, types: Sequence[Type], params: dict) -> Function:
    b, xs, out = _start(prim, types, params)
    return Function(f"f_{prim}", xs, b.block, [out])


def jvp_fn(prim: str, types: Sequence[Type], params: dict, diff: Sequence[int]) -> Function:
    """``(args..., tangents of diff args...) -> (out, tangent or nothing when zero)``."""
    b, xs, out = _start(prim, types, params)
    ts = [b.new_var(f"dx{i}", types[i]) for i in diff]
    tans = [None] * len(xs)
    for i, t in zip(diff, ts):
        tans[i] = t
    tout = PRIMS[prim].jvp(b, xs, tans, out, **params)
    results = [out] if tout is None else [out, b.atom(tout)]
    return Function(f"jvp_{prim}", xs + ts, b.block, results)


def vjp_fn(prim: str, types: Sequence[Type], params: dict, diff: Sequence[int]):
    """``(args..., g) -> cotangents of the diff args``; also returns which ones are zero."""
    b, xs, out = _start(prim, types, params)
    g = b.new_var("g", out.type)
    cots = PRIMS[prim].vjp(b, xs, out, g, **params)
    # getitem's rule returns cotangents only for the array, not for its index atoms.
    assert max(diff) < len(cots) <= len(xs), f"{prim}: vjp returned {len(cots)} cotangents"
    kept = [i for i in diff if cots[i] is not None]
    fn = Function(f"vjp_{prim}", xs + [g], b.block, [b.atom(cots[i]) for i in kept])
    return fn, kept


def _all_names(fn: Function) -> set[str]:
    names = {p.name for p in fn.params}
    names |= {v.name for v in block_reads(fn.body)}
    for s in walk(fn.body):
        if isinstance(s, Assign):
            names.add(s.out.name)
    return names


def forward_over(fn: Function, wrt: Sequence[Var]) -> tuple[Function, list[bool]]:
    """Forward mode over straight-line IR, using each primitive's JVP rule.

    Returns ``(params..., tangents of wrt...) -> tangents of the results`` (the zero ones left
    out) and, per result, whether its tangent is present.
    """
    b = Builder(Names(_all_names(fn)))
    tvars = [b.new_var(f"d_{v.name}", v.type) for v in wrt]
    tan: dict[str, Any] = {v.name: t for v, t in zip(wrt, tvars)}

    def t_of(a):
        return tan.get(a.name) if isinstance(a, Var) else None

    for s in fn.body:
        b.append(s)
        if isinstance(s, Assign):
            p = PRIMS[s.prim]
            ts = [t_of(a) for a in s.args]
            tan.pop(s.out.name, None)
            if p.nondiff or not s.out.type.is_float or all(t is None for t in ts):
                continue
            t = p.jvp(b, list(s.args), ts, s.out, **dict(s.params))
            if t is not None:
                tan[s.out.name] = b.atom(t)
        elif isinstance(s, Effect) and s.prim in ("additem", "setitem"):
            target, tv = s.args[0], t_of(s.args[1])
            if tv is None and (s.prim == "additem" or target.name not in tan):
                continue
            old = tan.get(target.name)
            tt = b.zeros_like(target) if old is None else b.copy(old)
            b.effect(s.prim, tt, 0.0 if tv is None else tv, *s.args[2:], **dict(s.params))
            tan[target.name] = tt
        else:
            raise NotImplementedError(f"forward_over: {type(s).__name__} {getattr(s, 'prim', '')}")
    present = [t_of(r) is not None for r in fn.results]
    results = [t_of(r) for r in fn.results if t_of(r) is not None]
    return Function(f"fwd_{fn.name}", list(fn.params) + tvars, b.block, results), present


# Primitives whose NumPy function gives a 0-d array, not a scalar, for scalar operands.
ZERO_D = {"where", "astype", "zeros_like", "ones_like", "empty_like", "full_like"}


def check_types(fn: Function, *args: Any) -> None:
    """Run ``fn`` returning every assigned variable; each value must match its IR type."""
    outs = [s.out for s in fn.body if isinstance(s, Assign)]
    s_prim = {s.out.name: s.prim for s in fn.body if isinstance(s, Assign)}
    probe = compile_fn(Function(f"types_{fn.name}", fn.params, fn.body, outs))
    for var, value in zip(outs, probe(*args)):
        a = np.asarray(value)
        dt = {"b": "bool", "i": "int64"}.get(a.dtype.kind, str(a.dtype))
        assert (a.ndim, dt) == (var.type.ndim, var.type.dtype), (
            f"{fn.name}: {var.name} is typed {var.type} but holds {a.dtype}, ndim {a.ndim}")
        assert var.type.ndim or not isinstance(value, np.ndarray) or s_prim[var.name] in ZERO_D, (
            f"{fn.name}: scalar {var.name} holds a 0-d array")


# -- the checks --------------------------------------------------------------------------------


def _close(actual, expected, row: Row, what: str) -> None:
    np.testing.assert_allclose(
        np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64),
        rtol=row.rtol, atol=row.atol, err_msg=f"{row.id}: {what}",
    )


def check_case(row: Row, args: tuple, rng: np.random.Generator) -> None:
    prim, params = row.prim, row.params
    types = [value_type(a) for a in args]
    diff = list(row.diff if row.diff is not None else [i for i, t in enumerate(types)
                                                          if t.is_float])
    assert diff, f"{row.id}: nothing to differentiate"
    f = compile_fn(primal_fn(prim, types, params))
    out = f(*args)[0]
    assert np.ndim(out) == primal_fn(prim, types, params).results[0].type.ndim, row.id
    if row.ref is not None:
        _close(out, row.ref(*args, **params), row, "primal value vs NumPy")

    def perturbed(sign: float, vs) -> list:
        a = list(args)
        for i, v in zip(diff, vs):
            a[i] = axpy(a[i], sign * row.h, v)
        return a

    # (a) JVP against central finite differences
    vs = [random_like(rng, args[i]) for i in diff]
    jfn = jvp_fn(prim, types, params, diff)
    check_types(jfn, *args, *vs)
    res = compile_fn(jfn)(*args, *vs)
    jv = res[1] if len(res) > 1 else zero_like(out)
    assert np.shape(jv) == np.shape(out), f"{row.id}: tangent shape {np.shape(jv)}"
    fd = (np.asarray(f(*perturbed(1.0, vs))[0], dtype=np.float64)
          - np.asarray(f(*perturbed(-1.0, vs))[0], dtype=np.float64)) / (2 * row.h)
    _close(jv, fd, row, "JVP vs finite differences")

    # (b) VJP against JVP
    g = random_like(rng, out)
    vfn, kept = vjp_fn(prim, types, params, diff)
    check_types(vfn, *args, g)
    vjp = compile_fn(vfn)
    cots = dict(zip(kept, vjp(*args, g)))
    for i in kept:
        assert np.shape(cots[i]) == np.shape(args[i]), (
            f"{row.id}: cotangent of arg {i} has shape {np.shape(cots[i])}, "
            f"arg has {np.shape(args[i])}")
    lhs = inner(g, jv)
    rhs = sum(inner(cots[i], v) for i, v in zip(diff, vs) if i in cots)
    _close(rhs, lhs, row, "<J^T g, v> vs <g, J v>")

    # (c) forward over reverse against finite differences of the VJP
    if not row.second or not kept:
        return
    wrt = [vfn.params[i] for i in diff]
    ffn, present = forward_over(vfn, wrt)
    check_types(ffn, *args, g, *vs)
    second = iter(compile_fn(ffn)(*args, g, *vs))
    plus, minus = vjp(*perturbed(1.0, vs), g), vjp(*perturbed(-1.0, vs), g)
    for k, i in enumerate(kept):
        got = next(second) if present[k] else zero_like(args[i])
        fd = (np.asarray(plus[k], dtype=np.float64)
              - np.asarray(minus[k], dtype=np.float64)) / (2 * row.h)
        _close(got, fd, row, f"forward-over-reverse, cotangent of arg {i}")


def check_row(row: Row, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for args in row.cases(rng):
        check_case(row, tuple(args), rng)


def check_nondiff(prim: str, args: tuple, params: dict, rng: np.random.Generator,
                  h: float = 1e-6) -> None:
    """A piecewise-constant primitive really is flat around ``args`` (away from its jumps)."""
    assert PRIMS[prim].nondiff, f"{prim} is not marked nondiff"
    types = [value_type(a) for a in args]
    f = compile_fn(primal_fn(prim, types, params))
    moved = list(args)
    for i, t in enumerate(types):
        if t.is_float:
            moved[i] = axpy(args[i], h, random_like(rng, args[i]))
    a, c = f(*args)[0], f(*moved)[0]
    assert np.array_equal(a, c), f"{prim}: value moved under a perturbation of size {h}"
