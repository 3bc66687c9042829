"""In-place writes: every write form in forward and reverse mode against finite differences,
writes through views and aliases, mutating programs against out-of-place equivalents
(hypothesis), the alias case, tape size, errors for aliasing chainrule cannot resolve, the
semantics of mutated arguments, the out-argument API (into / vjp_into / jvp_into) and the
in-place examples (Lorenz RK4, 2-D Brusselator).

Programs that would mutate their arguments start from a copy (``a = x * 1.0``) so that
``check_grads`` may call them repeatedly; mutation of arguments is tested on its own below.
"""

from __future__ import annotations

import functools
import inspect

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.errors import ChainruleTypeError, UnsupportedCallError, UnsupportedMutationError
from chainrule.examples import inplace_examples as ex
from chainrule.testing import check_grads, numerical_grad, tape_stats

X6 = np.array([0.3, -1.2, 0.7, 1.1, -0.4, 0.9])


def close(a, b, rtol=1e-6, atol=1e-8):
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                               rtol=rtol, atol=atol)


# ------------------------------------------------------------------ every write form, fwd + rev


def item_and_slices(x):
    a = np.zeros((3, 4))
    a[0, 1] = x[0] * x[1]
    a[1:3, 2] = x[2:4] ** 2
    a[2, :] = np.sin(x[:4])
    a[0, ::2] = x[4]
    a[-1, -1] = a[0, 1] * 3.0
    return np.sum(a * a) + a[2, 3]


def fancy_and_mask(x):
    a = x * 1.0
    idx = np.array([0, 2, 5])
    a[idx] = x[1:4] ** 2
    a[a > 0.5] = 0.5 * x[0]
    a[idx] += 1.0
    return np.sum(a * np.cos(a))


def aug_names_and_items(x):
    a = x * 2.0
    a += np.sin(x)
    a -= x[0]
    a *= x
    a /= 1.0 + x * x
    a[1] *= x[2]
    a[0] += a[5]
    a[1:] -= 0.5 * a[:-1]
    a[::2] **= 2
    return np.sum(a)


def fill_copyto_ellipsis(x):
    a = x * 1.0
    s = np.sum(a * a)
    a.fill(x[0])
    b = np.empty_like(x)
    np.copyto(b, x * x)
    c = np.zeros((2, 3))
    c[...] = x.reshape(2, 3) * 3.0
    c[1, ...] = x[:3]
    return s + np.sum(a * x) + np.sum(b * c.ravel())


def ufunc_out(x):
    y = np.zeros(6)
    np.sin(x, out=y)
    np.multiply(y, x, out=y)
    z = np.empty_like(x)
    np.add(y, x * x, z)  # positional out
    np.exp(z[2:], out=z[2:])
    np.negative(y[:3], out=z[:3])
    np.clip(y, -0.5, 0.5, out=y)
    np.maximum(y, z, out=y)
    return np.sum(y * z)


def out_param_helper(du, u, p):
    du[0] = p[0] * (u[1] - u[0])
    du[1] = u[0] * (p[1] - u[2]) - u[1]
    du[2] = u[0] * u[1] - p[2] * u[2]


def calls_out_param(x):
    du = np.empty(3)
    out_param_helper(du, x[:3], x[3:])
    half = np.zeros(6)
    out_param_helper(half[3:], x[3:], x[:3])  # the helper writes through a view
    return np.sum(du * du) + np.sum(half * x)


def views_and_aliases(x):
    a = x * 1.0
    v = a[1:]
    v[0] = 3.0 * x[0]  # a[1]
    w = v[::-2]  # a[5], a[3], a[1]
    w[-1] += x[2]  # a[1]
    w[:2] *= x[4]  # a[5], a[3]
    b = a
    b[0] = a[2] * a[3]
    m = np.outer(x[:3], x[3:])
    row = m[1]
    row[1:] = x[:2] ** 2
    col = m[:, 0]
    col *= 2.0
    for r in m:
        r[2] = r[0] + r[1]
    for k, r in enumerate(m[::2]):
        r[1:] *= x[k]
    return np.sum(a * a) + np.sum(v) + np.sum(m * m)


def stencil_and_scratch(x):
    u = x * 1.0
    lap = np.zeros_like(u)
    for _ in range(3):
        lap[1:-1] = u[2:] - 2.0 * u[1:-1] + u[:-2]
        u[1:-1] += 0.1 * lap[1:-1] * u[1:-1]
        inner = u[1:-1]
        for i in range(inner.shape[0]):
            inner[i] = inner[i] - 0.05 * inner[i] ** 3
    return np.sum(u * u)


def elementwise_loop(x):
    n = x.shape[0]
    y = np.zeros(n)
    for i in range(n):
        y[i] = np.sin(x[i]) * x[n - 1 - i]
    v = y[::-1]
    for i in range(n):
        v[i] += y[i] * 0.5
    return np.sum(y * y)


WRITE_PROGRAMS = [item_and_slices, fancy_and_mask, aug_names_and_items, fill_copyto_ellipsis,
                  ufunc_out, calls_out_param, views_and_aliases, stencil_and_scratch,
                  elementwise_loop]


@pytest.mark.parametrize("prog", WRITE_PROGRAMS, ids=lambda f: f.__name__)
def test_write_forms_fwd_rev_vs_fd(prog):
    x = X6.copy()
    check_grads(prog, (x,), order=1)
    close(cr.jit(prog)(x), prog(x), rtol=1e-13, atol=0)
    close(cr.grad(prog)(x), numerical_grad(prog, (x,)), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("prog", [views_and_aliases, stencil_and_scratch, aug_names_and_items],
                         ids=lambda f: f.__name__)
def test_write_forms_second_order(prog):
    check_grads(prog, (X6.copy(),), order=2)


def test_write_through_view_is_rewritten_into_the_base():
    def f(x):
        a = x * 1.0
        v = a[1:]
        v[0] = 3.0
        return np.sum(a * a)

    x = np.linspace(-1.0, 1.0, 12)  # (more elements than small arrays that become scalars)
    ir = cr.show_ir(cr.jit(f), x)
    assert "setitem(a, 3.0, 1; spec=('i',))" in ir
    close(cr.grad(f)(x), 2.0 * x * (np.arange(12) != 1), rtol=1e-14)
    close(cr.grad(f)(X6), 2.0 * X6 * (np.arange(6) != 1), rtol=1e-14)


def buffer_filled_through_a_view(x):
    c = np.zeros(3)  # depends on no input: only the write through v makes it carry derivatives
    v = c[:]
    v[0] = x[0] * 2.0
    return np.sum(c * c)


def name_alias_in_a_loop(u0):
    u = u0 * 1.0
    w = u  # the same array under two names
    for _ in range(3):
        u += 0.1 * u * u
    return np.sum(u) + np.sum(w * w)


@pytest.mark.parametrize("prog", [buffer_filled_through_a_view, name_alias_in_a_loop],
                         ids=lambda f: f.__name__)
def test_aliases_carry_derivatives(prog):
    check_grads(prog, (X6[:3].copy(),), order=2)


# ------------------------------------------------------------------ mutating vs out-of-place


def _interpret_mutating(x, ops):
    a = x * 1.0
    for op in ops:  # ops is a compile-time tuple: unrolled
        kind, lo, hi, c = op
        if kind == 0:
            a[lo:hi] += c * x[lo:hi]
        elif kind == 1:
            a[lo] *= c + a[hi]
        elif kind == 2:
            v = a[lo:hi]
            v[...] = np.sin(v) * c
        elif kind == 3:
            v = a[lo:hi]
            v.fill(a[0] * c)
        elif kind == 4:
            np.copyto(a[lo:hi], x[lo:hi] * a[lo:hi] + c)
        elif kind == 5:
            np.multiply(a[lo:hi], c, out=a[lo:hi])
        else:
            a *= 1.0 + c * a
    return np.sum(a * np.cos(a))


def _interpret_pure(x, ops):
    a = x * 1.0
    idx = np.arange(x.shape[0])
    for op in ops:
        kind, lo, hi, c = op
        m = (idx >= lo) & (idx < hi)
        if kind == 0:
            a = np.where(m, a + c * x, a)
        elif kind == 1:
            a = np.where(idx == lo, a * (c + a[hi]), a)
        elif kind == 2:
            a = np.where(m, np.sin(a) * c, a)
        elif kind == 3:
            a = np.where(m, a[0] * c, a)
        elif kind == 4:
            a = np.where(m, x * a + c, a)
        elif kind == 5:
            a = np.where(m, a * c, a)
        else:
            a = a * (1.0 + c * a)
    return np.sum(a * np.cos(a))


def _op(n):
    def build(kind, lo, length, c):
        lo = lo % n
        hi = min(n, lo + 1 + length) if kind != 1 else (lo + length) % n
        return (kind, lo, hi, c)

    return st.builds(build, st.integers(0, 6), st.integers(0, n - 1), st.integers(0, n),
                     st.sampled_from([-1.5, 0.5, 2.0]))


@settings(deadline=None, max_examples=20, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_op(6), min_size=1, max_size=4))
def test_property_mutating_equals_out_of_place(ops):
    ops = tuple(ops)
    x = X6 * 0.5

    def mutating(x):
        return _interpret_mutating(x, ops)

    def pure(x):
        return _interpret_pure(x, ops)

    close(mutating(x), pure(x), rtol=1e-12)  # the two programs really are equivalent
    close(cr.jit(mutating)(x), pure(x), rtol=1e-12)
    g = cr.grad(mutating)(x)
    close(g, cr.grad(pure)(x), rtol=1e-9, atol=1e-12)
    t = np.linspace(-1.0, 1.0, 6)
    close(cr.jvp(mutating, (x,), (t,))[1], cr.jvp(pure, (x,), (t,))[1], rtol=1e-9, atol=1e-12)
    close(g, numerical_grad(mutating, (x,)), rtol=1e-5, atol=1e-7)


@functools.cache
def _slice_view_programs(step, wstep):
    def written(x, lo, hi, wlo, whi, s):
        a = x * 1.0
        v = a[lo:hi:step]
        v[wlo:whi:wstep] = s * s
        v[wlo:whi:wstep] *= s
        return a

    def loss(x, lo, hi, wlo, whi, s):
        return np.sum(np.sin(written(x, lo, hi, wlo, whi, s)) * x)

    def pure(x, mask, s):
        return np.sum(np.sin(np.where(mask, s * s * s, x * 1.0)) * x)

    return written, cr.jit(written), cr.grad(loss, argnums=(0, 5)), cr.grad(pure, argnums=(0, 2))


_bound = st.one_of(st.none(), st.integers(-9, 9))


@settings(deadline=None, max_examples=40, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(_bound, _bound, st.sampled_from([1, 2, -1, -2]), _bound, _bound,
       st.sampled_from([1, 3, -1, -2]))
def test_property_slice_of_slice_write(lo, hi, step, wlo, whi, wstep):
    """Slice bounds are run-time ints (negative, out of range) or None; the composed write must
    hit exactly the elements NumPy's view semantics hit."""
    written, written_jit, g_loss, g_pure = _slice_view_programs(step, wstep)
    x, s = np.linspace(-1.0, 1.2, 7), 0.7
    want = written(x, lo, hi, wlo, whi, s)
    np.testing.assert_array_equal(written_jit(x, lo, hi, wlo, whi, s), want)
    mask = np.zeros(7, dtype=bool)
    mask[np.arange(7)[lo:hi:step][wlo:whi:wstep]] = True
    got = g_loss(x, lo, hi, wlo, whi, s)
    ref = g_pure(x, mask, s)
    close(got[0], ref[0], rtol=1e-12, atol=1e-14)
    close(got[1], ref[1], rtol=1e-12, atol=1e-14)


@functools.cache
def _index_view_programs(step1, step2):
    def written(x, lo, j, s):
        a = x * 1.0
        v = a[lo::step1]
        w = v[1::step2]
        w[j] = s * s
        w[j] += s
        return a

    return written, cr.jit(written), cr.jacfwd(written, argnums=3), cr.jacrev(written,
                                                                                argnums=3)


@settings(deadline=None, max_examples=40, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(-7, 6), st.sampled_from([1, 2, -1, -3]), st.sampled_from([1, 2, -1]),
       st.integers(-4, 3))
def test_property_item_write_through_view_of_view(lo, step1, step2, j):
    written, written_jit, jf, jr = _index_view_programs(step1, step2)
    x = np.linspace(-1.0, 1.2, 7)
    n_w = len(np.arange(7)[lo::step1][1::step2])
    if not -n_w <= j < n_w:
        return  # NumPy would raise IndexError
    want = written(x, lo, j, 0.7)
    np.testing.assert_array_equal(written_jit(x, lo, j, 0.7), want)
    e = np.zeros(7)
    e[np.arange(7)[lo::step1][1::step2][j]] = 2 * 0.7 + 1.0
    close(jf(x, lo, j, 0.7), e, rtol=1e-14)
    close(jr(x, lo, j, 0.7), e, rtol=1e-14)


# ------------------------------------------------------------------ the alias case


def anchors(x):
    A = np.outer(x, x)
    v = A @ x
    A[0, 0] = 10.0
    A *= 3.0
    return np.sum(v) + np.sum(A)


def test_alias_case_uses_matrix_as_it_was_when_the_product_ran():
    x = np.array([0.3, -1.2, 0.7])
    # v = (x . x) x, so d sum(v) = 2 x sum(x) + (x . x); sum(A) without A[0, 0] is 3 (s^2 - x0^2)
    s = np.sum(x)
    want = 2.0 * x * s + np.dot(x, x) + 6.0 * s - 6.0 * x[0] * (np.arange(3) == 0)
    close(cr.grad(anchors)(x), want, rtol=1e-12)
    check_grads(anchors, (x,), order=2)


# ------------------------------------------------------------------ tape size


def fill_one_by_one(x):
    n = x.shape[0]
    y = np.zeros(n)
    for i in range(n):
        y[i] = x[i] * x[i]
    v = y[1:]
    for i in range(n - 1):
        v[i] += y[i] * x[i]
    return np.sum(y)


def test_tape_grows_linearly_with_element_writes():
    stats = {n: tape_stats(cr.grad(fill_one_by_one), np.linspace(0.1, 1.0, n))
             for n in (10, 100, 1000)}
    for key in ("pushes", "max_elements"):
        per = [stats[n][key] / n for n in (10, 100, 1000)]
        assert per[2] < 20, stats  # a few numbers per written element
        assert per[2] <= per[1] * 1.05 and per[1] <= per[0] * 1.05, stats  # not growing with n
    x = np.linspace(0.1, 1.0, 100)
    close(cr.grad(fill_one_by_one)(x), numerical_grad(fill_one_by_one, (x,)), rtol=1e-6)


# ------------------------------------------------------------------ what raises


def write_through_reshape(x):
    a = x * 1.0
    b = a.reshape(2, 3)
    b[0, 0] = 5.0  # WRITE
    return np.sum(a * a)


def write_through_transpose(x):
    m = np.outer(x, x)
    t = m.T
    t[0, 1] = x[0]  # WRITE
    return np.sum(m * m)


def write_through_joined_view(x, c):
    a = x * 1.0
    if c > 0.0:
        v = a[1:]
    else:
        v = a[2:]
    v[0] = 7.0 * x[0]  # WRITE
    return np.sum(a * a)


def write_inactive_reshape_view(x):
    c = np.zeros(6)
    v = c.reshape(2, 3)
    v[0, 0] = x[0] * 2.0  # WRITE
    return np.sum(c * c) + x[1]


def _write_line(fn):
    lines, start = inspect.getsourcelines(fn)
    return next(start + i for i, text in enumerate(lines) if "# WRITE" in text)


@pytest.mark.parametrize("fn,args,names", [
    (write_through_reshape, (X6,), ("b", "a")),
    (write_through_transpose, (X6,), ("t", "m")),
    (write_through_joined_view, (X6, 1.0), ("v", "a")),
    (write_inactive_reshape_view, (X6,), ("v", "c")),
], ids=lambda v: getattr(v, "__name__", ""))
def test_unresolvable_alias_raises_in_reverse_mode(fn, args, names):
    with pytest.raises(UnsupportedMutationError) as info:
        cr.grad(fn)(*args)
    err = info.value
    assert err.loc is not None and err.loc.file.endswith("test_mutation.py")
    assert err.loc.line == _write_line(fn)
    msg = str(err)
    for name in names:
        assert f"`{name}`" in msg
    assert "hint:" in msg
    # Forward mode and plain execution handle the same program (tangents alias like primals).
    x = args[0]
    t = np.linspace(-1.0, 1.0, 6)
    tangents = (t,) + tuple(0.0 for _ in args[1:])
    fd = numerical_grad(fn, args) @ t
    close(cr.jvp(fn, args, tangents)[1], fd, rtol=1e-6, atol=1e-8)
    close(cr.jit(fn)(*[np.copy(a) for a in args]), fn(*[np.copy(a) for a in args]), rtol=1e-14)
    assert x is args[0]


def test_ufunc_keywords_other_than_out_are_rejected():
    def f(x):
        y = np.zeros_like(x)
        np.add(x, 1.0, out=y, where=x > 0)
        return np.sum(y)

    with pytest.raises(UnsupportedCallError, match="where"):
        cr.jit(f)(X6)


def test_out_must_be_an_array():
    def f(x):
        np.sin(x, out=1.0)
        return x

    with pytest.raises(ChainruleTypeError, match="out="):
        cr.jit(f)(X6)


# ------------------------------------------------------------------ mutated arguments


def scales_its_argument(x):
    x[0] = x[1] * 2.0
    x *= 3.0
    return np.sum(x * x)


def _on_a_copy(x):
    return scales_its_argument(x.copy())


def test_grad_is_wrt_the_value_at_call_time_and_leaves_the_argument_alone():
    x = X6.copy()
    g = cr.grad(scales_its_argument)(x)
    np.testing.assert_array_equal(x, X6)  # the caller's array is not changed
    close(g, numerical_grad(_on_a_copy, (X6.copy(),)), rtol=1e-7)
    v, g2 = cr.value_and_grad(scales_its_argument)(x)
    np.testing.assert_array_equal(x, X6)
    close(v, _on_a_copy(X6), rtol=1e-14)
    close(g2, g, rtol=1e-14)
    _, t = cr.jvp(scales_its_argument, (x,), (np.ones(6),))
    np.testing.assert_array_equal(x, X6)
    close(t, g @ np.ones(6), rtol=1e-12)


def test_jit_mutates_the_argument_like_python():
    x, y = X6.copy(), X6.copy()
    close(cr.jit(scales_its_argument)(x), scales_its_argument(y), rtol=1e-14)
    np.testing.assert_array_equal(x, y)
    assert not np.array_equal(x, X6)


def test_vjp_leaves_the_argument_alone():
    x = X6.copy()
    cr.vjp(scales_its_argument, x)
    np.testing.assert_array_equal(x, X6)


# ------------------------------------------------------------------ out-argument API


def lorenz_accumulating(du, u, p):
    du += p[0] * u * u
    du[0] = u[1]


U3 = np.array([1.0, 2.0, 3.0])
P3 = np.array([10.0, 28.0, 8.0 / 3.0])


def _functional(f):
    def g(du, u, p):
        d = du.copy()
        f(d, u, p)
        return d
    return g


@pytest.mark.parametrize("rhs", [ex.lorenz_rhs, lorenz_accumulating], ids=lambda f: f.__name__)
def test_vjp_into_gives_cotangents_of_every_argument(rhs):
    du = np.full(3, 7.0)
    new, pullback = cr.vjp_into(rhs, du, U3, P3)
    want = _functional(rhs)(np.full(3, 7.0), U3, P3)
    assert new is du  # written into the caller's buffer, like the call would
    close(du, want, rtol=1e-14)
    ct = np.array([0.3, -0.2, 1.0])
    cts = pullback(ct)
    assert isinstance(cts, tuple) and len(cts) == 3
    for k in range(3):
        jac = numerical_grad(_functional(rhs), (np.full(3, 7.0), U3, P3), argnum=k)
        close(cts[k], ct @ jac, rtol=1e-6, atol=1e-8)
    if rhs is ex.lorenz_rhs:  # du is overwritten entirely: its old value gets no cotangent
        np.testing.assert_array_equal(cts[0], 0.0)
    else:  # du[1:] accumulates into the old value, du[0] is overwritten
        close(cts[0], [0.0, -0.2, 1.0], rtol=1e-14)


def test_jvp_into_and_into_compose_with_transforms():
    du = np.zeros(3)
    tangents = (np.ones(3), np.array([0.1, 0.2, 0.3]), np.zeros(3))
    new, tan = cr.jvp_into(lorenz_accumulating, (du, U3, P3), tangents)
    assert new is du
    g = _functional(lorenz_accumulating)
    fd = sum(numerical_grad(g, (np.zeros(3), U3, P3), argnum=k) @ t
             for k, t in enumerate(tangents))
    close(tan, fd, rtol=1e-6, atol=1e-8)
    jac = cr.jacrev(cr.into(ex.lorenz_rhs), argnums=1)(np.zeros(3), U3, P3)
    close(jac, numerical_grad(_functional(ex.lorenz_rhs), (np.zeros(3), U3, P3), argnum=1),
          rtol=1e-6, atol=1e-6)
    buf = np.full(3, 5.0)
    close(cr.into(ex.lorenz_rhs)(buf, U3, P3), _functional(ex.lorenz_rhs)(buf, U3, P3))
    np.testing.assert_array_equal(buf, 5.0)  # into() does not touch its arguments


def test_into_inside_compiled_code():
    step = cr.into(ex.lorenz_rhs)

    def euler(u, p):
        v = u * 1.0
        for _ in range(3):
            v = v + 0.01 * step(np.zeros(3), v, p)
        return np.sum(v * v)

    check_grads(euler, (U3, P3), order=1)


def test_into_errors():
    with pytest.raises(TypeError, match="out=3"):
        cr.into(ex.lorenz_rhs, out=3)(np.zeros(3), U3, P3)
    with pytest.raises(ChainruleTypeError, match="no array"):
        cr.into(lambda s, u: None, out=0)(1.0, U3)


# ------------------------------------------------------------------ in-place examples


def test_lorenz_rk4_with_in_place_rhs():
    u0, p = ex.LORENZ_U0, ex.LORENZ_P
    g_u0, g_p = cr.grad(ex.lorenz_loss, argnums=(0, 1))(u0, p)
    fd_u0, fd_p = numerical_grad(ex.lorenz_loss, (u0, p), argnum=(0, 1))
    close(g_u0, fd_u0, rtol=1e-6, atol=1e-8)
    close(g_p, fd_p, rtol=1e-6, atol=1e-8)
    t = (np.array([0.2, -0.1, 0.3]), np.array([0.01, -0.02, 0.05]))
    close(cr.jvp(ex.lorenz_loss, (u0, p), t)[1], fd_u0 @ t[0] + fd_p @ t[1], rtol=1e-6)
    close(cr.jit(ex.lorenz_final)(u0, p), ex.lorenz_final(u0, p), rtol=1e-13)


def test_brusselator_with_explicit_loops():
    u0, p = ex.brusselator_init(), ex.BRUSSELATOR_P
    g_u0, g_p = cr.grad(ex.brusselator_loss, argnums=(0, 1))(u0, p)
    fd_u0, fd_p = numerical_grad(ex.brusselator_loss, (u0, p), argnum=(0, 1))
    close(g_u0, fd_u0, rtol=1e-6, atol=1e-9)
    close(g_p, fd_p, rtol=1e-6, atol=1e-9)
    t = np.linspace(-1.0, 1.0, 3)
    close(cr.jvp(ex.brusselator_loss, (u0, p), (np.zeros_like(u0), t))[1], fd_p @ t,
          rtol=1e-6)
    close(cr.jit(ex.brusselator_final)(u0, p), ex.brusselator_final(u0, p), rtol=1e-13)
