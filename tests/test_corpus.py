"""End-to-end corpus: every program in corpus_programs is differentiated in forward and reverse
mode and compared with central finite differences of the plain NumPy program, then run through
``check_grads`` (order 1, and order 2 for a subset)."""

from __future__ import annotations

import copy
import zlib

import numpy as np
import pytest
from corpus_programs import CASES, f, newton_root

import chainrule as cr
from chainrule.testing import GradCheckError, check_grads, numerical_grad


def _params(cases):
    return [pytest.param(c, id=c.name, marks=[pytest.mark.slow] if c.slow else [])
            for c in cases]


ALL = _params(CASES)
SCALAR = _params([c for c in CASES if "nonscalar" not in c.tags])
NONSCALAR = _params([c for c in CASES if "nonscalar" in c.tags])
ORDER2 = _params([c for c in CASES if c.order2])
# Extended sweep (pytest -m slow): second-order checks of the rest of the corpus too.
ORDER2_REST = [pytest.param(c, id=c.name, marks=[pytest.mark.slow])
               for c in CASES if not c.order2]


# -------- helpers


def leaves(tree):
    if isinstance(tree, dict):
        return [x for k in sorted(tree) for x in leaves(tree[k])]
    if isinstance(tree, (tuple, list)):
        return [x for t in tree for x in leaves(t)]
    return [tree]


def rebuild(like, new):
    it = iter(new)

    def go(t):
        if isinstance(t, dict):
            vals = {k: go(t[k]) for k in sorted(t)}
            return {k: vals[k] for k in t}
        if isinstance(t, (tuple, list)):
            return type(t)(go(c) for c in t)
        return next(it)

    return go(like)


def is_float(x):
    if isinstance(x, (bool, np.bool_)):
        return False
    return isinstance(x, float) or (isinstance(x, (np.ndarray, np.generic))
                                    and np.issubdtype(x.dtype, np.floating))


def same_structure(a, b):
    if isinstance(b, dict):
        return isinstance(a, dict) and set(a) == set(b) and all(
            same_structure(a[k], b[k]) for k in b)
    if isinstance(b, (tuple, list)):
        return isinstance(a, (tuple, list)) and len(a) == len(b) and all(
            same_structure(x, y) for x, y in zip(a, b))
    return not isinstance(a, (tuple, list, dict))


def assert_close(got, want, rtol, atol, what):
    assert same_structure(got, want), f"{what}: structure {got!r} != {want!r}"
    got_l, want_l = leaves(got), leaves(want)
    scale = max(float(np.max(np.abs(np.asarray(w, dtype=np.float64)), initial=0.0))
                for w in want_l)
    for k, (g, w) in enumerate(zip(got_l, want_l)):
        g64 = np.asarray(g, dtype=np.float64)
        w64 = np.asarray(w, dtype=np.float64)
        assert g64.shape == w64.shape, f"{what}: leaf {k} shape {g64.shape} != {w64.shape}"
        err = float(np.max(np.abs(g64 - w64), initial=0.0))
        assert err <= atol + rtol * scale, (
            f"{what}: leaf {k} differs by {err:.3e} (allowed {atol + rtol * scale:.3e})\n"
            f"  got  {g64!r}\n  want {w64!r}")


def assert_unchanged(args, before):
    for a, b in zip(leaves(args), leaves(before)):
        assert np.array_equal(np.asarray(a), np.asarray(b)), "an argument was mutated"


def rng_for(name):
    return np.random.default_rng(zlib.crc32(name.encode()))


def random_like(tree, rng, active=True):
    """Random float leaves typed like ``tree``'s leaves; zeros for int leaves or if not active."""
    out = []
    for x in leaves(tree):
        if not is_float(x) or not active:
            out.append(np.zeros_like(x) if isinstance(x, np.ndarray) else type(x)(0))
        elif isinstance(x, np.ndarray):
            out.append(rng.standard_normal(x.shape).astype(x.dtype))
        elif isinstance(x, np.generic):
            out.append(x.dtype.type(rng.standard_normal()))
        else:
            out.append(float(rng.standard_normal()))
    return rebuild(tree, out)


def inner(a, b):
    """Sum over float leaves of <a_leaf, b_leaf> (a, b pytrees of the same structure)."""
    return sum(float(np.sum(np.asarray(x, dtype=np.float64) * np.asarray(y, dtype=np.float64)))
               for x, y in zip(leaves(a), leaves(b)) if is_float(y))


def upcast(tree):
    return rebuild(tree, [x.astype(np.float64) if isinstance(x, np.ndarray) and is_float(x)
                          else (np.float64(x) if isinstance(x, np.generic) and is_float(x)
                                else x) for x in leaves(tree)])


def fd_directional(fn, args, tangents, eps=1e-6):
    """Central difference (fn(x + eps t) - fn(x - eps t)) / (2 eps), computed in float64."""
    base = upcast(args)

    def moved(sign):
        new = []
        for x, t in zip(leaves(base), leaves(tangents)):
            if is_float(x):
                y = x + sign * eps * np.asarray(t, dtype=np.float64)
                new.append(float(y) if isinstance(x, float) and not isinstance(x, np.generic)
                           else y)
            else:
                new.append(x)
        return fn(*rebuild(base, new))

    plus, minus = moved(1.0), moved(-1.0)
    return rebuild(plus, [(np.asarray(p, dtype=np.float64) - np.asarray(m, dtype=np.float64))
                          / (2.0 * eps) if is_float(p) else 0.0
                          for p, m in zip(leaves(plus), leaves(minus))])


def float_part(tree):
    """``tree`` with non-float leaves replaced by 0.0 (those carry no derivative)."""
    return rebuild(tree, [x if is_float(x) else 0.0 for x in leaves(tree)])


def tangents_for(case, rng):
    return tuple(random_like(a, rng, active=i in case.argnums) for i, a in enumerate(case.args))


# -------- corpus tests


def test_corpus_size():
    assert len({c.fn for c in CASES}) >= 65
    assert sum(c.order2 for c in CASES) >= 10
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", SCALAR)
def test_reverse_mode_vs_fd(case):
    args = case.args
    before = copy.deepcopy(args)
    want = numerical_grad(case.fn, args, case.argnums)
    got = cr.grad(case.fn, argnums=case.argnums)(*args)
    assert isinstance(got, tuple) and len(got) == len(case.argnums)
    assert_close(got, want, case.rtol, case.atol, f"grad of {case.name}")
    value, got2 = cr.value_and_grad(case.fn, argnums=case.argnums)(*args)
    assert_close(value, case.fn(*args), case.rtol, case.atol, "value of value_and_grad")
    assert_close(got2, want, case.rtol, case.atol, f"value_and_grad of {case.name}")
    if case.argnums == (0,):
        assert_close(cr.grad(case.fn)(*args), want[0], case.rtol, case.atol, "grad, argnums=0")
    assert_unchanged(args, before)


@pytest.mark.parametrize("case", NONSCALAR)
def test_reverse_mode_vjp_vs_fd(case):
    args = case.args
    before = copy.deepcopy(args)
    expected_out = case.fn(*args)
    out, vjp_fn = cr.vjp(case.fn, *args)
    assert_close(float_part(out), float_part(expected_out), case.rtol, case.atol, "vjp output")
    ct = random_like(expected_out, rng_for(case.name))
    cts = vjp_fn(ct)
    assert isinstance(cts, tuple) and len(cts) == len(args)

    def scalarized(*a):
        return inner(case.fn(*a), ct)

    want = numerical_grad(scalarized, args, case.argnums)
    assert_close(tuple(cts[i] for i in case.argnums), want, case.rtol, case.atol,
                 f"vjp of {case.name}")
    assert_unchanged(args, before)


@pytest.mark.parametrize("case", ALL)
def test_forward_mode_vs_fd(case):
    args = case.args
    before = copy.deepcopy(args)
    tangents = tangents_for(case, rng_for(case.name))
    out, t_out = cr.jvp(case.fn, args, tangents)
    expected_out = case.fn(*args)
    assert_close(float_part(out), float_part(expected_out), case.rtol, case.atol, "jvp output")
    want = fd_directional(case.fn, args, tangents)
    assert_close(float_part(t_out), want, case.rtol, case.atol, f"jvp of {case.name}")
    if "nonscalar" not in case.tags:
        # The same directional derivative assembled from the numerical gradient.
        grads = numerical_grad(case.fn, args, case.argnums)
        dot = sum(inner(tangents[i], g) for i, g in zip(case.argnums, grads))
        assert_close(float(t_out), dot, case.rtol, case.atol, "jvp vs <numerical grad, v>")
    assert_unchanged(args, before)


@pytest.mark.parametrize("case", ALL)
def test_check_grads_order1(case):
    before = copy.deepcopy(case.args)
    check_grads(case.fn, case.args, order=1)
    assert_unchanged(case.args, before)


@pytest.mark.parametrize("case", ORDER2)
def test_check_grads_order2(case):
    check_grads(case.fn, case.args, order=2)


@pytest.mark.parametrize("case", ORDER2_REST)
def test_check_grads_order2_extended(case):
    check_grads(case.fn, case.args, order=2)


# -------- flagship example


def test_flagship_newton_matches_implicit_function_theorem():
    a, w = 1.5, np.array([0.3, -0.2, 0.9])
    ga, gw = cr.grad(f, argnums=(0, 1))(a, w)
    # Independent oracle: the real root of x**3 + a x - 2 from the companion matrix, and
    # dx/da = -x / (3 x**2 + a) from the implicit function theorem.
    roots = np.roots([1.0, 0.0, a, -2.0])
    x = float(np.real(roots[np.argmin(np.abs(np.imag(roots)))]))
    assert abs(newton_root(a) - x) < 1e-12
    dx_da = -x / (3.0 * x**2 + a)
    pos = w > 0.0
    s = np.sum(np.sin(w[pos] * x))
    want_a = s + a * np.sum(np.cos(w[pos] * x) * w[pos]) * dx_da
    want_w = np.where(pos, a * np.cos(w * x) * x, 0.0)
    assert isinstance(ga, float) or np.ndim(ga) == 0
    assert abs(ga - want_a) < 1e-9
    assert np.asarray(gw).shape == (3,)
    np.testing.assert_allclose(gw, want_w, rtol=1e-9, atol=1e-12)
    fd_a, fd_w = numerical_grad(f, (a, w), (0, 1))
    assert abs(ga - fd_a) < 1e-6
    np.testing.assert_allclose(gw, fd_w, rtol=1e-6, atol=1e-8)
    _, t = cr.jvp(f, (a, w), (1.0, np.zeros(3)))
    assert abs(t - want_a) < 1e-9


# -------- API details


def loss_with_aux(w, x):
    r = x @ w - 1.0
    return np.sum(r**2), {"residual": r, "n": len(r)}


def test_has_aux():
    w = np.array([0.5, -0.2])
    x = np.array([[1.0, 2.0], [0.5, -1.0], [0.3, 0.3]])
    g, aux = cr.grad(loss_with_aux, has_aux=True)(w, x)
    want = numerical_grad(lambda w_, x_: loss_with_aux(w_, x_)[0], (w, x), 0)
    np.testing.assert_allclose(g, want, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(g, 2.0 * x.T @ (x @ w - 1.0), rtol=1e-12)
    np.testing.assert_allclose(aux["residual"], x @ w - 1.0, rtol=1e-12)
    assert aux["n"] == 3
    (value, aux2), g2 = cr.value_and_grad(loss_with_aux, has_aux=True)(w, x)
    assert abs(value - np.sum((x @ w - 1.0) ** 2)) < 1e-12
    np.testing.assert_allclose(g2, want, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(aux2["residual"], x @ w - 1.0, rtol=1e-12)


def vector_field(x):
    return np.array([x[0] * x[1], np.sin(x[2]) * x[0], x[1] ** 2 - x[2]])


@pytest.mark.parametrize("jac", ["jacfwd", "jacrev"])
def test_jacobians_vs_fd(jac):
    x = np.array([0.5, -0.4, 1.2])
    got = getattr(cr, jac)(vector_field)(x)
    assert np.shape(got) == (3, 3)
    x0, x1, x2 = x
    exact = np.array([[x1, x0, 0.0], [np.sin(x2), 0.0, x0 * np.cos(x2)], [0.0, 2 * x1, -1.0]])
    np.testing.assert_allclose(got, exact, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got, numerical_grad(vector_field, (x,)), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("jac", ["jacfwd", "jacrev"])
def test_jacobian_scalar_in_matrix_out(jac):
    def curve(t):
        return np.array([[np.cos(t), t * t], [np.exp(-t), 1.0]])

    got = getattr(cr, jac)(curve)(0.7)
    assert np.shape(got) == (2, 2)
    np.testing.assert_allclose(got, numerical_grad(curve, (0.7,)), rtol=1e-6, atol=1e-9)


def test_check_grads_detects_a_wrong_derivative(monkeypatch):
    """check_grads must not be vacuous: a corrupted jvp has to be reported."""
    def prog(x):
        return np.sum(np.sin(x) * x)

    real_jvp = cr.jvp

    def bad_jvp(fun, primals, tangents):
        out, t = real_jvp(fun, primals, tangents)
        return out, t * 1.01

    monkeypatch.setattr(cr, "jvp", bad_jvp)
    with pytest.raises(GradCheckError, match="jvp"):
        check_grads(prog, (np.array([0.3, 1.2, -0.4]),), order=1, modes=("fwd",))


def test_check_grads_detects_a_wrong_cotangent(monkeypatch):
    def prog(x, y):
        return {"a": np.sin(x) * y, "b": np.sum(x * x)}

    real_vjp = cr.vjp

    def bad_vjp(fun, *primals):
        out, vjp_fn = real_vjp(fun, *primals)
        return out, lambda ct: tuple(np.asarray(c) * 0.99 for c in vjp_fn(ct))

    monkeypatch.setattr(cr, "vjp", bad_vjp)
    with pytest.raises(GradCheckError, match="reverse"):
        check_grads(prog, (np.array([0.3, 1.2, -0.4]), 0.7), order=1, modes=("rev",))
