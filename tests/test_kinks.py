"""Kink reporting: ``kinks="warn" | "raise" | "count"`` on grad, value_and_grad, jit, jvp, vjp.

* each kinked primitive of the user's code reached at one of its points is reported with the
  user's file:line, and so is a float comparison (a branch condition) at equality;
* away from kinks nothing is reported and the results equal the uninstrumented ones;
* the composition caveat (relu(x) - relu(-x) at 0) is flagged;
* counts scale with loop trips; derivative code and non-differentiated inputs are not sites;
* with the option off the generated code and the cache key are exactly the old ones.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest
from rule_harness import compile_fn

import chainrule as cr
from chainrule.backend.executable import Executable
from chainrule.cache import disk
from chainrule.errors import KinkError, KinkWarning
from chainrule.ir.builder import Builder
from chainrule.ir.nodes import Function
from chainrule.ir.types import F64
from chainrule.passes import kinks


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def line_of(fn, text: str) -> int:
    """The line number, in this file, of the first line of ``fn`` containing ``text``."""
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, ln in enumerate(lines) if text in ln)


def hits(t) -> list[tuple[int, str, str, int]]:
    return [(h.loc.line, h.primitive, h.kind, h.count) for h in t.kinks_hit]


def relu(x):
    return np.maximum(x, 0.0)


def relu_np(x):
    return np.sum(np.maximum(x, 0.0))


def absolute(x):
    return np.abs(x) * 2.0


def largest(v):
    return np.max(v)


def clipped(x):
    return np.clip(x, 0.0, 1.0) * 3.0


def norm(v):
    return np.linalg.norm(v)


def branch(x):
    if x > 0:
        return x * x
    return 2.0 * x


def odd_identity(x):
    a = np.maximum(x, 0.0)
    b = np.maximum(-x, 0.0)
    return a - b


def odd_identity_helper(x):
    return relu(x) - relu(-x)


def looped(x, n):
    s = 0.0
    for _ in range(n):
        s = s + np.abs(x)
    return s


CASES = [
    (relu, 0.0, "np.maximum", "maximum", "kink"),
    (relu_np, np.array([-1.0, 0.0, 0.0, 2.0]), "np.maximum", "maximum", "kink"),
    (absolute, 0.0, "np.abs", "abs", "kink"),
    (largest, np.array([1.0, 3.0, 3.0]), "np.max", "amax", "kink"),
    (clipped, 1.0, "np.clip", "clip", "kink"),
    (norm, np.zeros(3), "np.linalg.norm", "norm", "kink"),
    (branch, 0.0, "if x > 0", "gt", "equality"),
]


@pytest.mark.parametrize("fn,x,text,prim,kind", CASES, ids=[c[0].__name__ for c in CASES])
def test_reached_kink_is_reported_with_its_line(fn, x, text, prim, kind) -> None:
    g = cr.grad(fn, kinks="warn")
    with pytest.warns(KinkWarning) as rec:
        value = g(x)
    np.testing.assert_allclose(value, cr.grad(fn)(x))
    msg = str(rec[0].message)
    line = line_of(fn, text)
    assert f"{__file__}:{line}: " in msg
    assert rec[0].filename == __file__  # the warning points at the call
    (hit,) = g.kinks_hit
    assert (hit.loc.file, hit.loc.line, hit.primitive, hit.kind) == (__file__, line, prim, kind)
    expected = 2 if fn is relu_np else 1
    assert hit.count == expected and f"\u00d7{expected}" in msg


def test_message_names_the_convention() -> None:
    with pytest.warns(KinkWarning) as rec:
        cr.grad(relu, kinks="warn")(0.0)
    msg = str(rec[0].message)
    assert "maximum at a kink (x == y); returned: 1/2 to each operand" in msg
    with pytest.warns(KinkWarning) as rec:
        cr.grad(branch, kinks="warn")(0.0)
    assert "comparison `>` at equality" in str(rec[0].message)


AWAY = [(relu, 0.5), (relu_np, np.array([-1.0, 2.0])), (absolute, -0.3),
        (largest, np.array([1.0, 3.0, 2.0])), (clipped, 0.5), (norm, np.ones(3)),
        (branch, 0.25), (odd_identity, -1.0)]


@pytest.mark.parametrize("fn,x", AWAY, ids=[a[0].__name__ for a in AWAY])
def test_nothing_reported_away_from_kinks(fn, x) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", KinkWarning)
        for make in (cr.grad, cr.value_and_grad, cr.jit):
            got, ref = make(fn, kinks="warn")(x), make(fn)(x)
            got, ref = (got, ref) if isinstance(got, tuple) else ((got,), (ref,))
            for a, b in zip(got, ref, strict=True):
                np.testing.assert_array_equal(a, b)
        dx = np.ones_like(x) if isinstance(x, np.ndarray) else 1.0
        got = cr.jvp(fn, (x,), (dx,), kinks="raise")
        ref = cr.jvp(fn, (x,), (dx,))
        np.testing.assert_array_equal(got[1], ref[1])
        out, pull = cr.vjp(fn, x, kinks="raise")
        np.testing.assert_array_equal(pull(1.0)[0], cr.vjp(fn, x)[1](1.0)[0])
    assert cr.last_kinks() == []


def test_composition_caveat_is_flagged() -> None:
    # relu(x) - relu(-x) is x (derivative 1), but the per-primitive rules give 0 at 0.
    g = cr.grad(odd_identity, kinks="count")
    assert g(0.0) == 0.0
    assert hits(g) == [(line_of(odd_identity, "a = "), "maximum", "kink", 1),
                       (line_of(odd_identity, "b = "), "maximum", "kink", 1)]
    # Through a helper: both calls are reported at the helper's line (one message line, x2).
    with pytest.warns(KinkWarning) as rec:
        cr.grad(odd_identity_helper, kinks="warn")(0.0)
    line = line_of(relu, "np.maximum")
    assert f"{__file__}:{line}: maximum" in str(rec[0].message)
    assert "\u00d72" in str(rec[0].message)


def test_raise_names_the_location() -> None:
    g = cr.grad(absolute, kinks="raise")
    with pytest.raises(KinkError) as info:
        g(0.0)
    assert info.value.loc.line == line_of(absolute, "np.abs")
    assert info.value.loc.file == __file__
    assert f"{__file__}:{info.value.loc.line}: abs at a kink" in str(info.value)
    assert [h.count for h in info.value.hits] == [1]
    assert g(1.0) == 2.0  # fine away from the kink


def test_counts_scale_with_trip_count() -> None:
    g = cr.grad(looped, kinks="count")
    line = line_of(looped, "np.abs")
    for n in (1, 3, 7):
        assert g(0.0, n) == 0.0
        assert hits(g) == [(line, "abs", "kink", n)]
        assert [h.count for h in cr.last_kinks()] == [n]
    g(1.0, 5)
    assert g.kinks_hit == []


def test_jvp_vjp_and_value_and_grad_report() -> None:
    line = line_of(relu, "np.maximum")
    _, t = cr.jvp(relu, (0.0,), (1.0,), kinks="count")
    assert t == 0.0
    assert [(h.loc.line, h.primitive, h.count) for h in cr.last_kinks()] == [(line, "maximum", 1)]
    out, pull = cr.vjp(relu, 0.0, kinks="warn")
    with pytest.warns(KinkWarning, match=f":{line}: maximum"):
        assert pull(1.0) == (0.0,)
    g = cr.value_and_grad(relu, kinks="count")
    assert g(0.0) == (0.0, 0.0)
    assert hits(g) == [(line, "maximum", "kink", 1)]
    j = cr.jit(relu, kinks="count")
    assert j(0.0) == 0.0 and hits(j) == [(line, "maximum", "kink", 1)]


def scaled(x, c):
    return np.maximum(c, 0.0) * x + np.abs(x)


def test_only_points_that_can_change_the_derivative() -> None:
    # c is not differentiated: maximum(c, 0.0) at c == 0 does not change d/dx.
    g = cr.grad(scaled, kinks="count")
    g(1.0, 0.0)
    assert g.kinks_hit == []
    g(0.0, 0.0)
    assert hits(g) == [(line_of(scaled, "np.abs"), "abs", "kink", 1)]
    # grad w.r.t. c, and jit (no derivative: every site), see it.
    g1 = cr.grad(scaled, argnums=1, kinks="count")
    g1(1.0, 0.0)
    assert [h.primitive for h in g1.kinks_hit] == ["maximum"]
    j = cr.jit(scaled, kinks="count")
    j(0.0, 0.0)
    assert [h.primitive for h in j.kinks_hit] == ["maximum", "abs"]


def powers(x):
    return x ** 2 + x ** 3 + np.sqrt(x * x)


def test_points_that_cannot_be_reached_cost_nothing() -> None:
    j = cr.jit(powers, kinks="count")
    src = cr.show(j, 0.0)
    assert src.count("kink_counts[") == 1  # only sqrt: x ** 2 and x ** 3 have no such point
    j(0.0)
    assert [(h.primitive, h.kind) for h in j.kinks_hit] == [("sqrt", "infinite")]


def inner(y):
    return np.maximum(y, 0.0) ** 2


def outer(x):
    return cr.grad(inner)(x) + np.abs(x)


def test_nested_transforms_report_the_users_code_only() -> None:
    g = cr.grad(outer, kinks="count")
    assert g(0.0) == 0.0
    # inner's derivative code compares y with 0 too; only the user's statements are sites.
    assert hits(g) == [(line_of(inner, "np.maximum"), "maximum", "kink", 1),
                       (line_of(outer, "np.abs"), "abs", "kink", 1)]
    gg = cr.grad(cr.grad(looped), kinks="count")
    assert gg(0.0, 4) == 0.0
    assert hits(gg) == [(line_of(looped, "np.abs"), "abs", "kink", 4)]
    # A transform of a reporting function reports (the outer one's arguments decide).
    j = cr.jit(cr.grad(looped, kinks="count"))
    assert j.kinks == "count" and j(0.0, 2) == 0.0
    assert hits(j) == [(line_of(looped, "np.abs"), "abs", "kink", 2)]
    cr.jvp(cr.jit(relu, kinks="count"), (0.0,), (1.0,))
    assert [h.primitive for h in cr.last_kinks()] == ["maximum"]


def gated(x):
    if np.abs(x) > 1.0:
        return x
    return 2.0 * x


def scaled_relu(y):
    return np.maximum(y, 0.0) * 3.0


def grad_inside(x):
    return cr.grad(scaled_relu)(x)


def test_values_that_only_feed_tests_are_not_sites() -> None:
    # abs(x) only decides a branch: its kink at 0 cannot change the derivative (a convergence
    # test like abs(dx) > tol is the common case); the comparison is a site at equality.
    g = cr.grad(gated, kinks="count")
    assert g(0.0) == 2.0 and g.kinks_hit == []
    assert g(1.0) == 2.0
    assert hits(g) == [(line_of(gated, "if np.abs"), "gt", "equality", 1)]
    # Inside cr.grad(scaled_relu), maximum's value is not needed by the derivative code, but
    # its kink decides scaled_relu's gradient: still a site.
    g2 = cr.grad(grad_inside, kinks="count")
    assert g2(0.0) == 0.0
    assert hits(g2) == [(line_of(scaled_relu, "np.maximum"), "maximum", "kink", 1)]


def test_option_off_is_the_old_code() -> None:
    x = np.array([0.0, 1.0, 1.0])
    for fn in (relu_np, largest, norm):
        plain = cr.show(cr.grad(fn), x)
        assert plain == cr.show(cr.grad(fn, kinks=None), x)
        assert "kink_counts" not in plain
        assert cr.show(cr.grad(fn, kinks="count"), x) != plain
    exe = cr.grad(relu_np).executable((x,))
    assert exe.kink_sites is None
    assert exe.call_simple.__func__ is Executable.call_simple  # the fast path is untouched
    parts = disk._parts(cr.grad(relu_np), (x,), True, "numpy")
    assert "kinks" not in parts["options"]
    assert disk._parts(cr.grad(relu_np, kinks="warn"), (x,), True, "numpy")["options"][
        "kinks"] is True
    with pytest.raises(ValueError, match="kinks"):
        cr.grad(relu, kinks="loud")


def tied(v):
    return np.max(v) + np.min(v)  # a function only this test compiles


def test_site_table_survives_the_disk_cache() -> None:
    x = np.array([2.0, 2.0, 0.0])
    first = cr.grad(tied, kinks="count")
    first(x)
    # a new object (cr.grad(tied, kinks=...) would be the same one): code from the disk cache
    second = cr.api.Transformed("grad", tied, kinks="count")
    assert cr.cache.explain(second, x) == "hit"
    second(x)
    assert second.executable((x,)).compiled is None
    assert hits(second) == hits(first) == [(line_of(tied, "np.max"), "amax", "kink", 1)]
    assert cr.cache.explain(cr.grad(tied), x).startswith("miss")  # off: another key


def test_overwriting_statement_is_checked_on_the_old_value() -> None:
    # x = abs(x) in IR (the front end would name the result afresh): the mask must see the
    # argument, not the result.
    b = Builder()
    x = b.new_var("x", F64)
    b.emit("abs", x, out=x)
    stmt = b.block[-1]
    fn = Function("f", [x], b.block, [x])
    col = kinks.Collector()
    col.primal[id(stmt)] = stmt
    compiled = type("C", (), {"fn": fn})()
    kinks.instrument(compiled, col, None, b.names)
    run = compile_fn(compiled.fn)
    assert run(0.0)[1].tolist() == [1]
    assert run(-2.0)[1].tolist() == [0]
    assert run(-2.0)[0] == 2.0


def test_numba_backend() -> None:
    pytest.importorskip("numba")
    g = cr.grad(looped, kinks="count", backend="numba")
    assert g(0.0, 3) == 0.0
    assert hits(g) == [(line_of(looped, "np.abs"), "abs", "kink", 3)]
    assert g(0.0, 5) == 0.0  # the fast call path
    assert hits(g) == [(line_of(looped, "np.abs"), "abs", "kink", 5)]
    assert g(1.0, 2) == 2.0 and g.kinks_hit == []
