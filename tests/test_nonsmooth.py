"""Derivatives at non-differentiable points, through the public API.

* the anchor table of docs/nonsmooth.md: every row, forward = reverse, and the directional mode;
* the conventions of the kinked primitives (which operands carry derivatives, ties, bounds);
* NaN safety: the branch ``np.where`` / ``if`` did not take never leaks nan or inf, in forward
  and reverse mode, to first and second order;
* ``stop_gradient``, ``directional_derivative``, the zero-safe product;
* docs/nonsmooth.md matches the rule table, and every kink's mask finds its points.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from rule_harness import compile_fn, value_type

import chainrule as cr
from chainrule import runtime
from chainrule.ir.builder import Builder
from chainrule.ir.nodes import Function
from chainrule.rules import PRIMS, conventions
from chainrule.rules.registry import ZERO


@pytest.fixture(autouse=True)
def _quiet():
    # The branch not taken is computed (as NumPy does), so NumPy may warn about it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def relu(x):
    return np.maximum(x, 0.0)


# -- the anchor table --------------------------------------------------------------------------

def maximum_int(x):
    return np.maximum(x, 0)


def clip01(x):
    return np.clip(x, 0.0, 1.0)


def norm_x0(x):
    return np.linalg.norm(np.array([x, 0.0]))


def relu_difference(x):
    return relu(x) - relu(-x)


def where_sqrt(x):
    return np.where(x > 0, np.sqrt(x), 0.0)


def sqrt_relu(x):
    return np.sqrt(relu(x))


ANCHOR_FNS = {
    "relu": (relu, 0.0),
    "maximum": (maximum_int, 0.0),
    "abs": (np.abs, 0.0),
    "clip": (clip01, 0.0),
    "norm": (norm_x0, 0.0),
    "max": (np.max, np.array([1.0, 1.0, 0.0])),
    "relu_difference": (relu_difference, 0.0),
    "where_sqrt": (where_sqrt, 0.0),
    "sqrt_relu": (sqrt_relu, -10.0),
}


def fwd_rev(f, x):
    """The derivative of a scalar-valued ``f`` at ``x`` by jvp (one per input element), vjp and
    grad; asserts that all three agree exactly and returns it."""
    g = np.asarray(cr.grad(f)(x), dtype=float)
    _, pullback = cr.vjp(f, x)
    r = np.asarray(pullback(1.0)[0], dtype=float)
    if np.ndim(x) == 0:
        fwd = np.asarray(cr.jvp(f, (x,), (1.0,))[1], dtype=float)
    else:
        fwd = np.array([cr.jvp(f, (x,), (e.reshape(np.shape(x)),))[1]
                        for e in np.eye(np.size(x))], dtype=float).reshape(np.shape(x))
    np.testing.assert_array_equal(g, r)
    np.testing.assert_array_equal(fwd, r)
    return r


def test_every_anchor_has_a_function() -> None:
    assert sorted(ANCHOR_FNS) == sorted(a.id for a in conventions.ANCHORS)


@pytest.mark.parametrize("anchor", conventions.ANCHORS, ids=lambda a: a.id)
def test_anchor(anchor) -> None:
    f, x = ANCHOR_FNS[anchor.id]
    np.testing.assert_array_equal(fwd_rev(f, x), np.asarray(anchor.value))
    direction = np.asarray(anchor.direction) if np.ndim(x) else anchor.direction
    value, slope = cr.directional_derivative(f, (x,), (direction,))
    assert value == cr.jit(f)(x)
    assert slope == anchor.directional


def test_relu_difference_is_exact_in_every_direction() -> None:
    for v in (1.0, -1.0, 2.5, 0.0):
        assert cr.directional_derivative(relu_difference, (0.0,), (v,))[1] == v


# -- conventions of the kinked primitives --------------------------------------------------------


def test_maximum_minimum_split_between_active_operands() -> None:
    for op in (np.maximum, np.minimum):
        def f(x, y, op=op):
            return op(x, y)

        gx, gy = cr.grad(f, argnums=(0, 1))(2.0, 2.0)
        assert (gx, gy) == (0.5, 0.5)
        assert cr.jvp(f, (2.0, 2.0), (1.0, 3.0))[1] == 2.0
        assert cr.grad(f)(2.0, 2.0) == 0.0  # y is not differentiated: a constant operand
        big = max if op is np.maximum else min
        assert cr.directional_derivative(f, (2.0, 2.0), (1.0, 3.0))[1] == big(1.0, 3.0)


def test_maximum_with_a_constant_operand() -> None:
    def f(x, y):  # y is a float argument, but not differentiated
        return np.maximum(x, y) + np.minimum(x, 1.0)

    assert cr.grad(f)(1.0, 1.0) == 0.0
    assert cr.jvp(lambda x: f(x, 1.0), (1.0,), (1.0,))[1] == 0.0
    x = np.array([0.0, 1.0, 2.0])
    np.testing.assert_array_equal(cr.grad(lambda x: np.sum(np.maximum(x, 1.0)))(x), [0, 0, 1])
    # The same operand twice is the identity.
    assert cr.grad(lambda x: np.maximum(x, x))(1.0) == 1.0


def test_clip_bounds() -> None:
    def f(x):
        return np.sum(np.clip(x, 0.0, 1.0))

    x = np.array([-1.0, 0.0, 0.5, 1.0, 2.0])
    np.testing.assert_array_equal(fwd_rev(f, x), [0, 0, 1, 0, 0])
    v = np.array([1.0, 1.0, 1.0, 1.0, 1.0])
    assert cr.directional_derivative(f, (x,), (v,))[1] == 2.0  # 0.5's 1 and the lower bound's 1

    def g(x, lo, hi):
        return np.clip(x, lo, hi)

    grads = cr.grad(g, argnums=(0, 1, 2))
    assert grads(0.0, 0.0, 1.0) == (0.5, 0.5, 0.0)
    assert grads(1.0, 1.0, 1.0) == (1 / 3, 1 / 3, 1 / 3)
    assert grads(0.5, 1.0, 0.0) == (0.0, 0.0, 1.0)  # lo > hi: the value is hi
    assert cr.grad(g, argnums=(0, 2))(0.0, 0.0, 1.0) == (0.0, 0.0)  # lo constant and selectable
    assert cr.jvp(g, (0.0, 0.0, 1.0), (1.0, 1.0, 1.0))[1] == 1.0
    assert cr.directional_derivative(g, (1.0, 0.0, 1.0), (1.0, 0.0, -2.0))[1] == -2.0


def test_reduction_ties() -> None:
    x = np.array([[1.0, 1.0, 0.0], [2.0, 3.0, 3.0]])
    g = fwd_rev(lambda x: np.sum(np.max(x, axis=1)), x)
    np.testing.assert_array_equal(g.reshape(2, 3), [[0.5, 0.5, 0], [0, 0.5, 0.5]])
    g = fwd_rev(lambda x: np.min(x), np.array([0.0, 2.0, 0.0]))
    np.testing.assert_array_equal(g, [0.5, 0, 0.5])
    v = np.array([[5.0, -1.0, 9.0], [9.0, 2.0, 4.0]])
    out, slope = cr.directional_derivative(lambda x: np.max(x, axis=1), (x,), (v,))
    np.testing.assert_array_equal(slope, [5.0, 4.0])
    _, slope = cr.directional_derivative(lambda x: np.min(x, axis=0), (x,), (v,))
    np.testing.assert_array_equal(slope, [5.0, -1.0, 9.0])


def test_abs_norm_hypot_at_zero() -> None:
    x = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(fwd_rev(lambda x: np.sum(np.abs(x)), x), [-1, 0, 1])
    v = np.array([1.0, -4.0, 1.0])
    assert cr.directional_derivative(lambda x: np.sum(np.abs(x)), (x,), (v,))[1] == 4.0
    np.testing.assert_array_equal(fwd_rev(np.linalg.norm, np.zeros(3)), [0, 0, 0])
    assert cr.directional_derivative(np.linalg.norm, (np.zeros(2),),
                                     (np.array([3.0, 4.0]),))[1] == 5.0
    assert cr.grad(lambda x, y: np.hypot(x, y), argnums=(0, 1))(0.0, 0.0) == (0.0, 0.0)
    assert cr.directional_derivative(np.hypot, (0.0, 0.0), (3.0, -4.0))[1] == 5.0
    # Second derivatives at the kink differentiate the convention: 0 for all of them.
    for f in (np.abs, norm_x0, relu, clip01, lambda x: np.hypot(x, 0.0)):
        assert cr.grad(cr.grad(f))(0.0) == 0.0
        assert cr.hessian(f)(0.0) == 0.0


def test_piecewise_constant_primitives_have_zero_derivative() -> None:
    def f(x):
        return (np.floor(x) + np.ceil(x) + np.round(x) + np.sign(x) + float(x > 0.5)
                + np.argmax(np.array([x, 1.0 - x])) + x // 0.5)

    for x in (0.0, 0.5, 1.0, 0.3):
        assert fwd_rev(f, x) == 0.0


def test_infinite_derivatives_are_stated() -> None:
    assert fwd_rev(np.sqrt, 0.0) == np.inf
    assert fwd_rev(np.log, 0.0) == np.inf
    assert fwd_rev(np.arcsin, 1.0) == np.inf
    assert fwd_rev(lambda x: x ** 0.5, 0.0) == np.inf
    assert fwd_rev(lambda x: x ** 0, 0.0) == 0.0  # not 0 * inf
    assert fwd_rev(lambda x: x ** 2.0, 0.0) == 0.0
    # A zero tangent stays zero: x is constant along the direction (0, 1).
    assert cr.jvp(lambda x, y: np.sqrt(x) * y, (0.0, 2.0), (0.0, 1.0))[1] == 0.0


# -- NaN safety --------------------------------------------------------------------------------


def w_sqrt(x):
    return np.where(x > 0, np.sqrt(x), 0.0)


def w_log(x):
    return np.where(x > 0, np.log(x), -1.0)


def w_entropy(p):
    return np.where(p > 0, p * np.log(p), 0.0)


def w_softplus(x):
    return np.where(x > 30.0, x, np.log1p(np.exp(x)))


def w_pow(x):
    return np.where(x > 0, x ** 1.5 + np.arcsin(x - 1.0) / x, 0.0)


def i_sqrt(x):
    if x > 0:
        return np.sqrt(x)
    return 0.0


def i_entropy(p):
    y = 0.0
    if p > 0:
        y = p * np.log(p)
    return y


def i_softplus(x):
    return x if x > 30.0 else np.log1p(np.exp(x))


def i_loop(xs):
    s = 0.0
    for x in xs:
        if x > 0:
            s = s + np.sqrt(x) * np.log(x)
        else:
            s = s + x
    return s


# (function, point, first derivative, second derivative), each in the branch taken
NAN_CASES = [
    (w_sqrt, 0.0, 0.0, 0.0), (w_sqrt, -1.0, 0.0, 0.0), (w_log, 0.0, 0.0, 0.0),
    (w_log, -2.0, 0.0, 0.0), (w_entropy, 0.0, 0.0, 0.0), (w_softplus, 1000.0, 1.0, 0.0),
    (w_softplus, -1000.0, 0.0, 0.0), (w_pow, 0.0, 0.0, 0.0),
    (i_sqrt, 0.0, 0.0, 0.0), (i_entropy, 0.0, 0.0, 0.0), (i_softplus, 1000.0, 1.0, 0.0),
]


@pytest.mark.parametrize("f,x,d1,d2", NAN_CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_branch_not_taken_scalar(f, x, d1, d2) -> None:
    assert fwd_rev(f, x) == d1
    assert cr.grad(cr.grad(f))(x) == d2  # reverse over reverse
    assert cr.jvp(cr.grad(f), (x,), (1.0,))[1] == d2  # forward over reverse
    assert cr.hessian(f)(x) == d2
    assert cr.jacrev(cr.jacfwd(f))(x) == d2  # reverse over forward
    assert cr.directional_derivative(f, (x,), (1.0,))[1] == d1


def test_branch_not_taken_arrays() -> None:
    p = np.array([0.0, 0.25, 0.5, -1.0])
    cases = [(w_sqrt, [0.0, 1.0, 1 / np.sqrt(2.0), 0.0]),
             (w_entropy, [0.0, np.log(0.25) + 1.0, np.log(0.5) + 1.0, 0.0]),
             (w_log, [0.0, 4.0, 2.0, 0.0])]
    for f, want in cases:
        def total(p, f=f):
            return np.sum(f(p))

        g = fwd_rev(total, p)
        np.testing.assert_allclose(g, want, rtol=1e-15)
        h = cr.hessian(total)(p)
        assert np.all(np.isfinite(h))
        assert h[0, 0] == 0.0 and h[3, 3] == 0.0
        np.testing.assert_array_equal(h, cr.jacrev(cr.grad(total))(p))
    np.testing.assert_array_equal(cr.hessian(lambda p: np.sum(w_entropy(p)))(p),
                                  np.diag([0.0, 4.0, 2.0, 0.0]))


def test_branch_not_taken_in_a_loop() -> None:
    xs = np.array([0.0, 1.0, -2.0, np.e])
    want = [1.0, 1.0, 1.0, (0.5 * 1.0 + 1.0) / np.sqrt(np.e)]
    np.testing.assert_allclose(fwd_rev(i_loop, xs), want, rtol=1e-15)
    assert np.all(np.isfinite(cr.hessian(i_loop)(xs)))


def test_zero_safe_product() -> None:
    a = np.array([0.0, 2.0, 0.0, 1.0])
    b = np.array([np.inf, 3.0, np.nan, np.inf])
    np.testing.assert_array_equal(runtime.zmul(a, b), [0.0, 6.0, 0.0, np.inf])
    np.testing.assert_array_equal(runtime.zmul(0.0, b), np.zeros(4))
    np.testing.assert_array_equal(runtime.zmul(a, np.inf), [0.0, np.inf, 0.0, np.inf])
    assert runtime.zmul(a.astype(np.float32), b.astype(np.float32)).dtype == np.float32
    assert runtime.zmul(a.astype(np.float32), 2.0).dtype == np.float32
    # Emitted inline for scalars, as a helper call for arrays.
    assert "if" in cr.show(cr.grad(lambda x: x * np.sin(x)), 1.0)
    assert "_rt.zmul(" in cr.show(cr.grad(lambda x: np.sum(x * np.sin(x))), np.ones(2))
    # A finite constant factor needs no guard.
    assert "zmul" not in cr.show_ir(cr.grad(lambda x: np.sum(3.0 * x)), np.ones(2))


def test_branch_not_taken_numba() -> None:
    pytest.importorskip("numba")
    p = np.array([0.0, 0.25, -1.0])

    def f(p):
        return np.sum(w_entropy(p) + w_sqrt(p))

    np.testing.assert_array_equal(cr.grad(f, backend="numba")(p), cr.grad(f)(p))
    assert cr.grad(w_sqrt, backend="numba")(0.0) == 0.0


# -- stop_gradient -----------------------------------------------------------------------------


def test_stop_gradient() -> None:
    assert cr.stop_gradient(1.5) == 1.5  # plain Python: the identity
    x = np.array([1.0, 2.0])
    assert cr.stop_gradient(x) is x

    def f(x):
        return np.sum(x * cr.stop_gradient(x))

    np.testing.assert_array_equal(fwd_rev(f, x), x)
    np.testing.assert_array_equal(cr.hessian(f)(x), np.zeros((2, 2)))
    assert cr.jit(f)(x) == 5.0

    def g(x, y):
        a, b = cr.stop_gradient((x, {"y": y}))
        return a * b["y"] + x * y + cr.stop_gradient(2.0) + cr.stop_gradient(3)

    assert cr.grad(g, argnums=(0, 1))(2.0, 3.0) == (3.0, 2.0)
    assert cr.jit(g)(2.0, 3.0) == 17.0
    assert "stop_gradient" in cr.show_ir(cr.grad(f), x)
    assert PRIMS["stop_gradient"].nondiff


def test_directional_derivative_structures() -> None:
    def f(p):
        return {"m": np.maximum(p["a"], p["b"]), "s": np.abs(p["a"]) * 2.0}

    p = {"a": np.array([0.0, 1.0]), "b": np.array([0.0, 3.0])}
    v = {"a": np.array([-1.0, 1.0]), "b": np.array([2.0, 1.0])}
    out, slope = cr.directional_derivative(f, (p,), (v,))
    np.testing.assert_array_equal(out["m"], [0.0, 3.0])
    np.testing.assert_array_equal(slope["m"], [2.0, 1.0])
    np.testing.assert_array_equal(slope["s"], [2.0, 2.0])
    with pytest.raises(TypeError):
        cr.directional_derivative(f, (p,), (1.0,))
    # Away from kinks it is the JVP.
    q = {"a": np.array([0.3, -1.0]), "b": np.array([0.1, 3.0])}
    j = cr.jvp(f, (q,), (v,))[1]
    d = cr.directional_derivative(f, (q,), (v,))[1]
    for k in j:
        np.testing.assert_array_equal(j[k], d[k])


# -- the documentation and the kink masks ------------------------------------------------------


def test_docs_match_the_rule_table() -> None:
    text = conventions.DOC.read_text()
    blocks = conventions.generated_blocks(text)
    assert set(blocks) == set(conventions.TABLES)
    for name, make in conventions.TABLES.items():
        assert blocks[name] == make() + "\n", (
            f"docs/nonsmooth.md is out of date ({name}); run python -m chainrule.rules.conventions")
    for name in ("abs", "maximum", "minimum", "clip", "amax", "amin", "norm", "sqrt", "log",
                 "floor", "round", "sign", "argmax", "lt", "stop_gradient"):
        assert f"| `{name}` |" in text


# Per kinked primitive: (arguments at one of its points, arguments away from them, params).
MASK_CASES = {
    "abs": ((0.0,), (0.5,), {}), "maximum": ((1.0, 1.0), (1.0, 2.0), {}),
    "minimum": ((1.0, 1.0), (1.0, 2.0), {}), "hypot": ((0.0, 0.0), (0.0, 1.0), {}),
    "clip": ((0.0, 0.0, 1.0), (0.5, 0.0, 1.0), {}), "norm": ((np.zeros(2),), (np.ones(2),), {}),
    "amax": ((np.array([2.0, 2.0, 1.0]),), (np.array([2.0, 1.0]),), {}),
    "amin": ((np.array([[0.0, 0.0]]),), (np.array([[0.0, 1.0]]),), {"axis": 1}),
    "arcsin": ((-1.0,), (0.5,), {}), "arccos": ((1.0,), (0.5,), {}),
    "arccosh": ((1.0,), (2.0,), {}), "arctanh": ((1.0,), (0.5,), {}),
    "cbrt": ((0.0,), (1.0,), {}), "sqrt": ((0.0,), (1.0,), {}), "log": ((0.0,), (1.0,), {}),
    "log1p": ((-1.0,), (0.0,), {}), "log2": ((0.0,), (1.0,), {}), "log10": ((0.0,), (1.0,), {}),
    "reciprocal": ((0.0,), (1.0,), {}),
    "div": ((np.ones(1), np.zeros(1)), (np.ones(1), np.ones(1)), {}),
    "fdiv": ((1.0, 0.0), (1.0, 1.0), {}),
    "pow": ((0.0, 0.5), (1.0, 0.5), {}), "arctan2": ((0.0, 0.0), (0.0, 1.0), {}),
    "mod": ((4.0, 2.0), (3.0, 2.0), {}), "floordiv": ((4.0, 2.0), (3.0, 2.0), {}),
    "sign": ((0.0,), (1.0,), {}), "floor": ((2.0,), (2.5,), {}), "ceil": ((2.0,), (2.5,), {}),
    "round": ((2.5,), (2.4,), {}), "to_int": ((3.0,), (3.5,), {}),
    "to_bool": ((0.0,), (3.5,), {}), "astype": ((np.array([1.0]),), (np.array([1.5]),),
                                                {"dtype": "int64"}),
    "argmax": ((np.array([1.0, 1.0]),), (np.array([1.0, 2.0]),), {}),
    "argmin": ((np.array([1.0, 1.0]),), (np.array([1.0, 2.0]),), {}),
    "det": ((np.ones((2, 2)),), (np.eye(2),), {}),
    "logabsdet": ((np.ones((2, 2)),), (np.eye(2),), {}),
    "detsign": ((np.ones((2, 2)),), (np.eye(2),), {}),
    "eigvalsh": ((np.eye(2),), (np.diag([1.0, 2.0]),), {}),
    "eigh_vectors": ((np.eye(2),), (np.diag([1.0, 2.0]),), {}),
    "svd_s": ((np.eye(2),), (np.diag([1.0, 2.0]),), {}),
    "svd_u": ((np.diag([1.0, 0.0]),), (np.diag([1.0, 2.0]),), {}),
    "svd_vt": ((np.eye(2),), (np.diag([1.0, 2.0]),), {}),
    "lgamma": ((-2.0,), (-2.5,), {}), "gamma": ((0.0,), (0.5,), {}),
    "polygamma": ((-1.0,), (1.0,), {"n": 1}),
    "argsort": ((np.array([[1.0, 1.0]]),), (np.array([[1.0, 2.0, 3.0]]),), {}),
    "searchsorted": ((np.array([0.0, 1.0, 2.0]), np.array([1.0])),
                     (np.array([0.0, 1.0, 2.0]), np.array([1.5])), {"side": "right"}),
    **{c: ((1.0, 1.0), (1.0, 2.0), {}) for c in ("lt", "le", "gt", "ge", "eq", "ne")},
}


def _mask_value(name: str, args: tuple, params: dict, which: int = 0):
    b = Builder()
    xs = [b.new_var(f"x{i}", value_type(a)) for i, a in enumerate(args)]
    out = b.emit(name, *xs, **params)
    m = PRIMS[name].kinks[which].mask(b, xs, out, **params)
    return np.all(compile_fn(Function("mask", xs, b.block, [b.atom(m)]))(*args)[0])


def test_every_located_kink_has_a_mask_case() -> None:
    prims = conventions.builtin_primitives()
    located = {p.name for p in prims for k in p.kinks if k.mask is not None}
    assert located == set(MASK_CASES)
    unlocated = [p.name for p in prims for k in p.kinks if k.mask is None]
    assert unlocated == ["stop_gradient"]
    assert all(k.kind == ZERO for k in PRIMS["stop_gradient"].kinks)


@pytest.mark.parametrize("name", sorted(MASK_CASES))
def test_kink_mask(name: str) -> None:
    at, away, params = MASK_CASES[name]
    assert _mask_value(name, at, params)
    assert not _mask_value(name, away, params)


def test_pow_domain_mask() -> None:
    assert _mask_value("pow", (-2.0, 2.0), {}, which=1)
    assert not _mask_value("pow", (2.0, 2.0), {}, which=1)
