"""The rule table: one row (or more) per user-facing differentiable primitive.

Every row is checked by ``tests/rule_harness.py``: JVP vs central finite differences, VJP vs JVP
(``<g, J v> == <J^T g, v>``) and forward-over-reverse second derivatives vs finite differences of
the VJP. Coverage tests fail when a primitive is added to ``chainrule.rules.PRIMS`` without a row
here (or a ``nondiff``/``effect``/``internal`` marking). Kink conventions get explicit tests.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special
from rule_harness import Row, check_nondiff, check_row, compile_fn, primal_fn, value_type, vjp_fn

from chainrule.errors import ChainruleTypeError
from chainrule.ir.builder import Builder
from chainrule.ir.types import Type
from chainrule.rules import PRIMS

# -- input builders ----------------------------------------------------------------------------


def U(lo: float, hi: float):
    """Uniform on (lo, hi); a Python float for shape ()."""

    def draw(rng, shape):
        a = rng.uniform(lo, hi, shape)
        return float(a) if shape == () else a

    return draw


def AWAY(lo: float, hi: float):
    """Magnitude uniform on (lo, hi), random sign: keeps away from a kink at 0."""

    def draw(rng, shape):
        a = rng.uniform(lo, hi, shape) * rng.choice([-1.0, 1.0], shape)
        return float(a) if shape == () else a

    return draw


R = U(-2.0, 2.0)
POS = U(0.2, 3.0)
UNIT = U(-0.9, 0.9)

UNARY_SHAPES = [(), (4,), (2, 3)]
BINARY_SHAPES = [((), ()), ((4,), (4,)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2, 3)),
                 ((2, 3), ())]


def ew(prim: str, *doms, shapes=None, **kw) -> Row:
    """An elementwise row: each argument drawn from its domain, over broadcasting shapes."""
    if shapes is None:
        shapes = [(s,) for s in UNARY_SHAPES] if len(doms) == 1 else BINARY_SHAPES

    def cases(rng):
        return [tuple(d(rng, s) for d, s in zip(doms, shp)) for shp in shapes]

    kw.setdefault("ref", getattr(np, prim, None))
    return Row(prim, cases, **kw)


def arr(rng, *shape, lo=-2.0, hi=2.0):
    return rng.uniform(lo, hi, shape)


def fixed(*cases):
    """Cases from a function of rng returning one argument tuple each."""
    return lambda rng: [c(rng) for c in cases]


def well_conditioned(rng, n=3):
    return np.eye(n) * 3.0 + rng.uniform(-1.0, 1.0, (n, n))


def spd_lower(rng, n=3):
    """Symmetric positive definite in its lower triangle; the strict upper triangle is noise
    (cholesky and eigh read the lower triangle only)."""
    m = rng.uniform(-1.0, 1.0, (n, n))
    return m @ m.T + np.eye(n) * 2.0 + np.triu(rng.uniform(-1.0, 1.0, (n, n)), 1)


def lower_sym(a):
    return np.tril(a) + np.tril(a, -1).T


def with_zeros(rng):
    x = arr(rng, 3, 4, lo=0.5, hi=1.5)
    x[0, 1] = 0.0  # one zero in row 0
    x[1, 0] = x[1, 3] = 0.0  # two zeros in row 1
    return (x,)


# -- the table ---------------------------------------------------------------------------------

ARITH = [
    ew("add", R, R), ew("sub", R, R), ew("mul", R, R),
    ew("div", R, AWAY(0.5, 2.0), ref=np.divide),
    ew("fdiv", R, AWAY(0.5, 2.0), ref=np.divide),
    ew("neg", R, ref=np.negative), ew("id", R, ref=lambda x: x),
    ew("pow", POS, R, ref=np.power),
    ew("mod", U(0.1, 5.0), U(1.1, 2.0), ref=np.mod),
    Row("where", fixed(lambda r: (arr(r, 4) > 0, arr(r, 4), arr(r, 4)),
                       lambda r: (arr(r, 2, 3) > 0, arr(r, 3), 1.5),
                       lambda r: (True, 0.5, arr(r, 2))), ref=np.where),
    Row("to_float", fixed(lambda r: (float(r.uniform()),)), ref=float),
    Row("astype", fixed(lambda r: (arr(r, 2, 3),), lambda r: (1.5,)),
        params={"dtype": "float64"}),
    Row("astype", fixed(lambda r: (arr(r, 4),)), params={"dtype": "float32"}, h=1e-2,
        rtol=1e-4, atol=1e-5),
    Row("copy", fixed(lambda r: (arr(r, 2, 3),)), ref=np.copy),
]

INDEXING = [
    Row("getitem", fixed(lambda r: (arr(r, 4, 3), 2), lambda r: (arr(r, 4), 1)),
        params={"spec": ("i",)}),
    Row("getitem", fixed(lambda r: (arr(r, 6), 1, 4)), params={"spec": ("s110",)}),
    Row("getitem", fixed(lambda r: (arr(r, 3, 4), 1)), params={"spec": ("s000", "i")}),
    Row("getitem", fixed(lambda r: (arr(r, 5), np.array([0, 2, 2, 4])),
                         lambda r: (arr(r, 4, 2), np.array([[1, 1], [3, 0]]))),
        params={"spec": ("a",)}),
    Row("getitem", fixed(lambda r: (arr(r, 5), np.array([True, False, True, True, False]))),
        params={"spec": ("m",)}),
    Row("getitem", fixed(lambda r: (arr(r, 2, 3),)), params={"spec": ("n", "e")}),
]

ELEMENTWISE = [
    ew("sin", R), ew("cos", R), ew("tan", UNIT), ew("arcsin", UNIT), ew("arccos", UNIT),
    ew("arctan", R), ew("sinh", R), ew("cosh", R), ew("tanh", R), ew("arcsinh", R),
    ew("arccosh", U(1.2, 4.0)), ew("arctanh", UNIT), ew("exp", R), ew("expm1", R),
    ew("log", POS), ew("log1p", U(-0.8, 3.0)), ew("log2", POS), ew("log10", POS),
    ew("sqrt", POS), ew("cbrt", AWAY(0.2, 3.0)), ew("square", R), ew("reciprocal", AWAY(0.3, 2.0)),
    ew("abs", AWAY(0.1, 2.0)),
    ew("maximum", R, R), ew("minimum", R, R), ew("arctan2", R, R), ew("hypot", R, R),
    ew("clip", R, U(-1.0, -0.3), U(0.3, 1.0),
       shapes=[((4,), (), ()), ((2, 3), (3,), ()), ((), (), ()), ((3, 4), (3, 1), (4,))]),
]

SPECIAL = [
    ew("erf", R, ref=scipy.special.erf), ew("erfc", R, ref=scipy.special.erfc),
    ew("lgamma", U(0.3, 6.0), ref=scipy.special.gammaln),
    ew("lgamma", U(-2.9, -2.1), ref=scipy.special.gammaln),  # negative: log |gamma(x)|
    ew("gamma", U(0.3, 4.0), ref=scipy.special.gamma, rtol=1e-4),
    ew("polygamma", U(0.3, 6.0), params={"n": 0}, ref=lambda x, n: scipy.special.digamma(x)),
    ew("polygamma", U(-1.9, -1.1), params={"n": 0}, ref=lambda x, n: scipy.special.digamma(x),
       rtol=1e-4),
    ew("polygamma", U(0.5, 6.0), params={"n": 1}, ref=lambda x, n: scipy.special.polygamma(n, x),
       rtol=1e-4),
]

REDUCTIONS = [
    *(Row(p, fixed(lambda r: (arr(r, 2, 3),), lambda r: (arr(r, 4),), lambda r: (1.5,)),
          ref=getattr(np, p)) for p in ("sum", "mean")),
    *(Row(p, fixed(lambda r: (arr(r, 2, 3, 4),)), params={"axis": 1}, ref=getattr(np, p))
      for p in ("sum", "mean", "prod", "amax", "amin")),
    *(Row(p, fixed(lambda r: (arr(r, 2, 3),)), params={"axis": -1, "keepdims": True},
          ref=getattr(np, p)) for p in ("sum", "mean", "prod", "amax", "amin")),
    *(Row(p, fixed(lambda r: (arr(r, 2, 3, 4),)), params={"axis": (0, 2)}, ref=getattr(np, p))
      for p in ("sum", "mean", "prod", "amax", "amin")),
    *(Row(p, fixed(lambda r: (arr(r, 5),), lambda r: (arr(r, 2, 3),), lambda r: (0.7,)),
          ref=getattr(np, p)) for p in ("amax", "amin")),
    Row("prod", fixed(with_zeros, lambda r: (arr(r, 4, lo=0.5, hi=1.5),), lambda r: (1.5,),
                      lambda r: (np.array([0.0, 1.5, 0.7]),)), ref=np.prod),
    Row("prod", fixed(with_zeros), params={"axis": 1}, ref=np.prod),
    Row("prod", fixed(with_zeros), params={"axis": 0, "keepdims": True}, ref=np.prod),
    Row("cumsum", fixed(lambda r: (arr(r, 2, 3),), lambda r: (arr(r, 5),), lambda r: (0.5,)),
        ref=np.cumsum),
    Row("cumsum", fixed(lambda r: (arr(r, 2, 3),)), params={"axis": 0}, ref=np.cumsum),
    Row("cumsum", fixed(lambda r: (arr(r, 2, 3, 2),)), params={"axis": -1}, ref=np.cumsum),
]

LINALG = [
    Row("dot", fixed(lambda r: (arr(r, 3), arr(r, 3)), lambda r: (arr(r, 2, 3), arr(r, 3)),
                     lambda r: (arr(r, 3), arr(r, 3, 2)), lambda r: (arr(r, 2, 3), arr(r, 3, 4)),
                     lambda r: (1.5, arr(r, 2, 3)), lambda r: (arr(r, 3), -0.5),
                     lambda r: (1.5, 2.0)), ref=np.dot),
    Row("matmul", fixed(lambda r: (arr(r, 3), arr(r, 3)), lambda r: (arr(r, 2, 3), arr(r, 3)),
                        lambda r: (arr(r, 3), arr(r, 3, 2)),
                        lambda r: (arr(r, 2, 3), arr(r, 3, 4)),
                        lambda r: (arr(r, 2, 2, 3), arr(r, 3, 4)),
                        lambda r: (arr(r, 1, 2, 3), arr(r, 4, 3, 2)),
                        lambda r: (arr(r, 3), arr(r, 2, 3, 2)),
                        lambda r: (arr(r, 2, 2, 3), arr(r, 3))), ref=np.matmul),
    Row("outer", fixed(lambda r: (arr(r, 3), arr(r, 4))), ref=np.outer),
    Row("inner", fixed(lambda r: (arr(r, 3), arr(r, 3))), ref=np.inner),
    Row("cross", fixed(lambda r: (arr(r, 3), arr(r, 3))), ref=np.cross),
    Row("transpose", fixed(lambda r: (arr(r, 2, 3),), lambda r: (arr(r, 4),),
                           lambda r: (arr(r, 2, 3, 4),)), ref=np.transpose),
    Row("transpose", fixed(lambda r: (arr(r, 2, 3, 4),)), params={"axes": (1, 2, 0)},
        ref=np.transpose),
    Row("transpose", fixed(lambda r: (arr(r, 2, 3, 4),)), params={"axes": (-1, 0, 1)},
        ref=np.transpose),
    Row("norm", fixed(lambda r: (arr(r, 4),), lambda r: (arr(r, 2, 3),), lambda r: (-1.5,)),
        ref=np.linalg.norm),
    Row("solve", fixed(lambda r: (well_conditioned(r), arr(r, 3)),
                       lambda r: (well_conditioned(r), arr(r, 3, 2))), ref=np.linalg.solve),
    Row("inv", fixed(lambda r: (well_conditioned(r),)), ref=np.linalg.inv),
    Row("det", fixed(lambda r: (well_conditioned(r),), lambda r: (well_conditioned(r, 2),)),
        ref=np.linalg.det),
]


def _np_reshape(x, *shape, ndim):
    return np.reshape(x, shape)


DECOMP = [
    Row("logabsdet", fixed(lambda r: (well_conditioned(r),), lambda r: (-well_conditioned(r),),
                           lambda r: (well_conditioned(r, 2),)),
        ref=lambda a: np.linalg.slogdet(a)[1]),
    Row("cholesky", fixed(lambda r: (spd_lower(r),), lambda r: (spd_lower(r, 2),)),
        ref=lambda a: np.linalg.cholesky(lower_sym(a))),
    Row("eigvalsh", fixed(lambda r: (spd_lower(r),), lambda r: (spd_lower(r, 4) - 3.0,)),
        ref=lambda a: np.linalg.eigvalsh(lower_sym(a))),
    Row("eigh_vectors", fixed(lambda r: (spd_lower(r),), lambda r: (spd_lower(r, 4) - 3.0,)),
        rtol=1e-4, atol=1e-6),
    Row("svd_s", fixed(lambda r: (arr(r, 3, 3),), lambda r: (arr(r, 4, 2),),
                       lambda r: (arr(r, 2, 3),)),
        ref=lambda a: np.linalg.svd(a, compute_uv=False)),
    Row("svd_u", fixed(lambda r: (arr(r, 3, 3),), lambda r: (arr(r, 4, 2),),
                       lambda r: (arr(r, 2, 3),)), rtol=1e-4, atol=1e-6),
    Row("svd_vt", fixed(lambda r: (arr(r, 3, 3),), lambda r: (arr(r, 4, 2),),
                        lambda r: (arr(r, 2, 3),)), rtol=1e-4, atol=1e-6),
]

SHAPES = [
    Row("reshape", fixed(lambda r: (arr(r, 2, 3), 3, 2), lambda r: (arr(r, 6), -1, 3)),
        params={"ndim": 2}, ref=_np_reshape),
    Row("reshape", fixed(lambda r: (arr(r, 2, 3), -1),), params={"ndim": 1}, ref=_np_reshape),
    Row("reshape", fixed(lambda r: (arr(r, 1, 1),),), params={"ndim": 0}, ref=_np_reshape),
    Row("ravel", fixed(lambda r: (arr(r, 2, 3),), lambda r: (0.5,)), ref=np.ravel),
    Row("squeeze", fixed(lambda r: (arr(r, 2, 1, 3),)), params={"axis": 1}, ref=np.squeeze),
    Row("squeeze", fixed(lambda r: (arr(r, 2, 1),)), params={"axis": -1}, ref=np.squeeze),
    Row("expand_dims", fixed(lambda r: (arr(r, 2, 3),)), params={"axis": -1},
        ref=np.expand_dims),
    Row("expand_dims", fixed(lambda r: (arr(r, 2, 3),), lambda r: (0.5,)), params={"axis": 0},
        ref=np.expand_dims),
    Row("broadcast_to", fixed(lambda r: (arr(r, 3), 2, 3), lambda r: (arr(r, 2, 1), 2, 4),
                              lambda r: (1.5, 2, 2)),
        ref=lambda x, *shape: np.broadcast_to(x, shape)),
    Row("flip", fixed(lambda r: (arr(r, 2, 3),), lambda r: (arr(r, 4),)), ref=np.flip),
    Row("flip", fixed(lambda r: (arr(r, 2, 3),)), params={"axis": 1}, ref=np.flip),
    Row("concatenate", fixed(lambda r: (arr(r, 2), arr(r, 3)),
                             lambda r: (arr(r, 2, 3), arr(r, 1, 3), arr(r, 2, 3))),
        ref=lambda *xs, axis=0: np.concatenate(xs, axis=axis)),
    Row("concatenate", fixed(lambda r: (arr(r, 2, 3), arr(r, 2, 1))), params={"axis": -1},
        ref=lambda *xs, axis=0: np.concatenate(xs, axis=axis)),
    Row("concatenate", fixed(lambda r: (arr(r, 2), np.array([4, 5]))),
        ref=lambda *xs, axis=0: np.concatenate(xs, axis=axis)),
    Row("stack", fixed(lambda r: (arr(r, 3), arr(r, 3)), lambda r: (1.5, 2.5, -0.5)),
        ref=lambda *xs, axis=0: np.stack(xs, axis=axis)),
    Row("stack", fixed(lambda r: (arr(r, 2, 3), arr(r, 2, 3))), params={"axis": -1},
        ref=lambda *xs, axis=0: np.stack(xs, axis=axis)),
    Row("column_stack", fixed(lambda r: (arr(r, 3), arr(r, 3, 2), arr(r, 3))),
        ref=lambda *xs: np.column_stack(xs)),
    Row("pack", fixed(lambda r: (1.5, -0.5, 2.0), lambda r: (arr(r, 2), arr(r, 2)),
                      lambda r: (1.5, 2)),
        ref=lambda *xs: np.array(list(xs))),
    Row("full", fixed(lambda r: (2, 3, 1.5), lambda r: (0.5,)),
        ref=lambda *a: np.full(a[:-1], a[-1])),
    Row("full_like", fixed(lambda r: (arr(r, 2, 3), 1.5), lambda r: (0.5, -1.0)),
        ref=np.full_like),
    Row("linspace", fixed(lambda r: (0.5, 2.0, 5), lambda r: (1.0, -1.0, 1)), ref=np.linspace),
    Row("linspace", fixed(lambda r: (0.5, 2.0, 4)), params={"endpoint": False},
        ref=np.linspace),
]

TABLE = ARITH + INDEXING + ELEMENTWISE + SPECIAL + REDUCTIONS + LINALG + DECOMP + SHAPES

# Internal primitives with derivative rules (used by generated code, differentiated again for
# higher order): checked on ordinary inputs. ``diff`` leaves out shape-only arguments.
INTERNAL = [
    Row("unbroadcast", fixed(lambda r: (arr(r, 2, 3), arr(r, 1, 3)),
                             lambda r: (arr(r, 4, 2, 3), arr(r, 3)),
                             lambda r: (arr(r, 2, 3), arr(r, 2, 3))), diff=(0,)),
    Row("broadcast_like", fixed(lambda r: (arr(r, 3), arr(r, 2, 3)),
                                lambda r: (1.5, arr(r, 2, 2))), diff=(0,)),
    Row("broadcast_as", fixed(lambda r: (arr(r, 1, 3), arr(r, 2, 3)),
                              lambda r: (arr(r, 2, 3), arr(r, 2, 3))), diff=(0,)),
    Row("materialize", fixed(lambda r: (arr(r, 2, 3), arr(r, 2, 3))), diff=(0,)),
    Row("dematerialize", fixed(lambda r: (arr(r, 2, 3), arr(r, 2, 3))), diff=(0,)),
    Row("zmul", fixed(lambda r: (arr(r, 2, 3), arr(r, 2, 3)), lambda r: (arr(r, 2, 3), arr(r, 3)),
                      lambda r: (0.5, arr(r, 2, 2)), lambda r: (arr(r, 4), -1.5)),
        params={"scalar": False}),
    Row("zmul", fixed(lambda r: (0.5, -1.5), lambda r: (-2.0, 0.25)), params={"scalar": True}),
]

# Piecewise-constant primitives, at points away from their jumps: (prim, args, params).
NONDIFF = [
    ("sign", lambda r: (arr(r, 2, 3),), {}),
    ("floor", lambda r: (arr(r, 4) + 0.5,), {}),
    ("ceil", lambda r: (1.3,), {}),
    ("round", lambda r: (np.array([0.2, 1.3, -2.4]),), {}),
    ("round", lambda r: (np.array([0.22, 1.37, -2.41]),), {"decimals": 1}),
    ("argmax", lambda r: (arr(r, 2, 3),), {"axis": 1}),
    ("argmin", lambda r: (arr(r, 5),), {}),
    ("argsort", lambda r: (arr(r, 5),), {}),
    ("detsign", lambda r: (well_conditioned(r),), {}),
    ("argsort", lambda r: (arr(r, 2, 3),), {}),
    ("searchsorted", lambda r: (np.sort(arr(r, 5)), arr(r, 3)), {"side": "right"}),
    ("searchsorted", lambda r: (np.sort(arr(r, 5)), 0.3), {}),
    ("floordiv", lambda r: (np.array([1.3, 2.5]), 0.7), {}),
    *((p, lambda r: (arr(r, 3), arr(r, 3)), {}) for p in ("lt", "le", "gt", "ge", "eq", "ne")),
    ("logical_and", lambda r: (arr(r, 3), arr(r, 3)), {}),
    ("logical_or", lambda r: (arr(r, 3), arr(r, 3)), {}),
    ("logical_not", lambda r: (arr(r, 3),), {}),
    ("to_int", lambda r: (2.5,), {}),
    ("to_bool", lambda r: (2.5,), {}),
    ("zeros_like", lambda r: (arr(r, 3),), {}),
    ("ones_like", lambda r: (arr(r, 3),), {}),
    ("shape", lambda r: (arr(r, 2, 3),), {"axis": 1}),
    ("size", lambda r: (arr(r, 2, 3),), {}),
]

# Nondiff primitives without a NONDIFF row, and why.
NONDIFF_EXEMPT = {
    "and_": "operands are Python bools",
    "or_": "operands are Python bools",
    "not_": "operand is a Python bool",
    "zeros": "only integer (size) arguments",
    "ones": "only integer (size) arguments",
    "empty": "only integer (size) arguments",
    "eye": "only integer (size) arguments",
    "adj_zero": "no arguments",
    "fused_guard": "Numba-only loop nests of passes/fusion.py (tests/test_fusion.py)",
    "fused": "Numba-only loop nests of passes/fusion.py (tests/test_fusion.py)",
    "check_index": "only integer arguments (tests/test_wrong_answers.py)",
    "check_index_array": "only integer arguments (tests/test_wrong_answers.py)",
    "empty_like": "its values are unspecified",
    "arange": "treated as constant by convention, although float start/step move its values",
    "stop_gradient": "the identity with a zero derivative by definition (tests/test_nonsmooth.py)",
    "debug_print": "an unused integer result (printing: tests/test_pytrees.py)",
    "check": "an unused integer result (assert: tests/test_pytrees.py)",
    "check_batch_size": "only integer arguments (tests/test_vmap.py)",
    "check_bound": "an unused integer result (tests/test_unbound_reads.py)",
    "check_domain": "an unused integer result (tests/test_python_semantics.py)",
}


@pytest.mark.parametrize("row", TABLE + INTERNAL, ids=lambda r: r.id)
def test_rule(row: Row) -> None:
    check_row(row)


# -- coverage ----------------------------------------------------------------------------------


def test_every_primitive_has_a_row() -> None:
    rows = {r.prim for r in TABLE}
    missing = [p.name for p in PRIMS.all()
               if p.name not in rows and not (p.nondiff or p.effect or p.internal)
               and not p.user]
    assert not missing, f"primitives without a row in tests/test_rules_table.py: {missing}"


def test_every_differentiable_primitive_has_a_taylor_rule() -> None:
    """Taylor mode needs a rule for each primitive not marked nondiff (tests/test_taylor_rules.py
    checks them against nested forward mode)."""
    assert PRIMS.coverage()["taylor"] == []


# Internal primitives whose rules are checked by other tests (with the reason).
RULES_ELSEWHERE = {
    "custom_call": "its rules are the user's: tests/test_custom_rules.py checks them per function",
    "opaque_call": "its rules raise MissingRuleError: tests/test_opaque.py checks they do",
}


def test_internal_primitives_with_rules_are_checked() -> None:
    rows = {r.prim for r in INTERNAL}
    missing = [p.name for p in PRIMS.all() if p.internal and not p.nondiff and not p.effect
               and (p.jvp or p.vjp) and p.name not in rows and p.name not in RULES_ELSEWHERE]
    assert not missing, f"internal primitives with rules but no INTERNAL row: {missing}"


def test_every_nondiff_primitive_is_checked() -> None:
    rows = {name for name, _, _ in NONDIFF}
    missing = [p.name for p in PRIMS.all()
               if p.nondiff and p.name not in rows and p.name not in NONDIFF_EXEMPT]
    assert not missing, f"nondiff primitives without a NONDIFF row or exemption: {missing}"


def test_table_rows_name_real_primitives() -> None:
    names = [r.prim for r in TABLE + INTERNAL] + [n for n, _, _ in NONDIFF] + list(NONDIFF_EXEMPT)
    assert [n for n in names if n not in PRIMS] == []
    assert all(PRIMS[r.prim].has_jvp() and PRIMS[r.prim].has_vjp() for r in TABLE)


@pytest.mark.parametrize("name,make,params", NONDIFF, ids=lambda v: v if isinstance(v, str) else "")
def test_nondiff_is_flat(name, make, params) -> None:
    rng = np.random.default_rng(1)
    check_nondiff(name, make(rng), params, rng)


# -- kink conventions --------------------------------------------------------------------------


def grads(prim: str, *args, **params) -> list:
    """The VJP with g = 1 (or ones) at ``args``: one cotangent per float argument."""
    types = [value_type(a) for a in args]
    diff = [i for i, t in enumerate(types) if t.is_float]
    out = compile_fn(primal_fn(prim, types, params))(*args)[0]
    fn, kept = vjp_fn(prim, types, params, diff)
    g = np.ones(np.shape(out)) if np.ndim(out) else 1.0
    cots = dict(zip(kept, compile_fn(fn)(*args, g)))
    return [cots.get(i, 0.0) for i in diff]


def test_kink_conventions() -> None:
    assert grads("abs", 0.0) == [0.0]
    np.testing.assert_allclose(grads("abs", np.array([-1.0, 0.0, 2.0]))[0], [-1, 0, 1])
    assert grads("maximum", 1.0, 1.0) == [0.5, 0.5]
    assert grads("minimum", 1.0, 1.0) == [0.5, 0.5]
    gx, gy = grads("maximum", np.array([1.0, 2.0, 3.0]), 2.0)
    np.testing.assert_allclose(gx, [0, 0.5, 1])
    assert gy == 1.5  # all of the first element's share, half of the tie's
    assert grads("clip", 0.0, 0.0, 1.0) == [0.5, 0.5, 0.0]
    assert grads("clip", 1.0, 0.0, 1.0) == [0.5, 0.0, 0.5]
    assert grads("clip", 1.0, 1.0, 1.0) == [1 / 3, 1 / 3, 1 / 3]  # all three selectable
    assert grads("clip", 0.5, 1.0, 0.0) == [0.0, 0.0, 1.0]  # lo > hi: the result is hi
    assert grads("hypot", 0.0, 0.0) == [0.0, 0.0]
    assert grads("arctan2", 0.0, 0.0) == [0.0, 0.0]
    assert grads("norm", np.zeros(3))[0].tolist() == [0.0, 0.0, 0.0]
    assert grads("norm", np.zeros((2, 2)))[0].tolist() == [[0.0, 0.0], [0.0, 0.0]]
    with np.errstate(divide="ignore"):
        assert grads("sqrt", 0.0) == [np.inf]
        assert grads("log", 0.0) == [np.inf]
    np.testing.assert_allclose(grads("amax", np.array([1.0, 3.0, 3.0, 3.0]))[0],
                               [0, 1 / 3, 1 / 3, 1 / 3])
    np.testing.assert_allclose(grads("amin", np.array([[1.0, 1.0], [2.0, 0.0]]), axis=1)[0],
                               [[0.5, 0.5], [0.0, 1.0]])
    np.testing.assert_allclose(grads("prod", np.array([0.0, 2.0, 3.0]))[0], [6, 0, 0])
    np.testing.assert_allclose(grads("prod", np.array([0.0, 2.0, 0.0]))[0], [0, 0, 0])
    for name in ("abs", "maximum", "minimum", "clip", "hypot", "arctan2", "norm", "amax",
                 "amin", "sqrt", "log"):
        assert PRIMS[name].kinks, f"{name} must document its kink convention"


def test_type_rules() -> None:
    b = Builder()
    x = b.new_var("x", Type("float64", 3))
    assert b.sum(x, axis=-1, keepdims=False).type.ndim == 2
    assert b.sum(x, axis=(0, 2), keepdims=True).type.ndim == 3
    assert b.mean(b.new_var("i", Type("int64", 1))).type.dtype == "float64"
    assert b.argmax(x, axis=None).type == Type("int64")
    assert b.cumsum(x).type.ndim == 1
    assert b.matmul(x, b.new_var("v", Type("float64", 1))).type.ndim == 2
    assert b.zeros(2, 3, dtype="int64").type == Type("int64", 2)
    for bad in (lambda: b.sum(x, axis=3), lambda: b.squeeze(x), lambda: b.sum(x, axis=(0, -3)),
                lambda: b.dot(x, x), lambda: b.inv(x), lambda: b.transpose(x, axes=(0, 1))):
        with pytest.raises(ChainruleTypeError):
            bad()
