"""Programs that once gave wrong numbers in silence: each is checked against plain Python (the
value) and finite differences (forward and reverse derivatives), on the NumPy backend and, for a
representative subset, on Numba."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.testing import numerical_grad


def check_all(f, args, backend="numpy", rtol=1e-6, atol=1e-8):
    """jit matches Python; grad and jvp (argument 0) match central differences."""
    expect = f(*args)
    np.testing.assert_allclose(cr.jit(f, backend=backend)(*args), expect, rtol=rtol, atol=atol)
    fd = numerical_grad(f, args)
    np.testing.assert_allclose(cr.grad(f, backend=backend)(*args), fd, rtol=1e-5, atol=1e-6)
    x = args[0]
    t = np.ones_like(x) if isinstance(x, np.ndarray) else 1.0
    tangents = (t,) + tuple(np.zeros_like(a) if isinstance(a, np.ndarray) else 0.0
                            for a in args[1:])
    _, dout = cr.jvp(f, tuple(args), tangents, backend=backend)
    np.testing.assert_allclose(dout, np.sum(fd * t), rtol=1e-5, atol=1e-6)


# -- continue / break at the end of a loop body ---------------------------------------------
def continue_at_end(a):
    s = 1.0
    for _k in range(3):
        s = 0.5 * s + a
        continue
    return s


def break_at_end(a):
    s = 1.0
    for _k in range(3):
        s = 0.5 * s + a
        break
    return s


def continue_in_folded_if(a):
    s = 1.0
    for _k in range(4):
        s = 0.5 * s + a
        if np.sin(2.0) > -0.5:
            continue
        s = s * 100.0
    return s


def while_continue_at_end(a):
    s = a
    i = 0
    while i < 5:
        s = s * 0.9 + a
        i += 1
        continue
    return s


def while_continue_in_folded_if(a):
    s = a
    i = 0
    while i < 4:
        i = i + 1
        s = np.sin(s) + a
        if 2 > 1:
            continue
        s = s * 10.0
    return s


def nested_continue_and_break(a):
    s = a
    for i in range(4):
        for _j in range(3):
            s = s * 0.8 + a
            if s > 2.5:
                break
            continue
        if i == 2:
            continue
        s = s + 0.1 * a
    return s


def continue_then_break(a):
    s = a
    k = 0
    while True:
        k += 1
        s = s * 1.1 + a
        if k < 3:
            continue
        s = s - 0.5 * a
        if k >= 5:
            break
        continue
    return s


def static_loop_continue(a):
    s = 1.0
    for _k in range(3):
        s = 0.5 * s + a
        for j in (1, 2):
            s = s + a * j
            if j == 1:
                continue
            s = s * 0.5
    return s


def static_loop_break(a):
    s = 1.0
    for _k in range(3):
        s = 0.5 * s + a
        for j in (1, 2, 3):
            s = s * 0.9
            if j == 2:
                break
    return s


def static_loop_break_runtime(a):
    s = a
    for w in (0.5, 2.0, 3.0):
        s = s * w
        if s > 1.5:
            break
    return s


def static_loop_break_outside_any_loop(a):
    s = a
    for w in (0.5, 2.0, 3.0):
        s = s + w * a
        if w > 1.0:
            break
    return s


LOOP_CASES = [continue_at_end, break_at_end, continue_in_folded_if, while_continue_at_end,
              while_continue_in_folded_if, nested_continue_and_break, continue_then_break,
              static_loop_continue, static_loop_break, static_loop_break_runtime,
              static_loop_break_outside_any_loop]


@pytest.mark.parametrize("f", LOOP_CASES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("a", [0.4, 1.0])
def test_loop_exits_numpy(f, a):
    check_all(f, (a,))


@pytest.mark.parametrize("f", [continue_at_end, while_continue_at_end, nested_continue_and_break,
                               static_loop_break_runtime], ids=lambda f: f.__name__)
def test_loop_exits_numba(f):
    check_all(f, (0.7,), backend="numba")


# -- keyword arguments are implemented or rejected, never ignored -----------------------------
V = np.linspace(0.1, 1.0, 7)
X = (np.arange(12.0).reshape(3, 4) + 0.5) / 7

def kw_sum_where(v):
    return np.sum(v ** 2, where=v > 0.3)


def kw_mean_where(v):
    return np.mean(np.sin(v), where=v > 0.3)


def kw_sum_initial(v):
    return np.sum(v * 3.0, initial=10.0)


def kw_mean_axis_where(x):
    return np.sum(np.mean(x, axis=1, where=x > 0.3) ** 2)


def kw_prod_axis_where(x):
    return np.sum(np.prod(x + 1, axis=0, where=x > 0.45))


def kw_max_where_initial(x):
    return np.sum(np.max(x, axis=0, where=x < 0.95, initial=-5.0))


def kw_min_initial(v):
    return np.min(v * 2.0, initial=0.5)


def kw_method_sum_where(x):
    return x.sum(where=x > 0.6) * x[0, 0]


def kw_linspace_no_endpoint(a):
    return np.sum(np.linspace(a, 2 * a, 5, endpoint=False) ** 2)


def kw_linspace_endpoint_kw(a):
    return np.sum(np.linspace(a, 3.0, num=4, endpoint=True) ** 2)


def kw_arange_dtype(x):
    return np.sum(np.arange(4, dtype=float) / 3 * x[0])


def kw_asarray_dtype(x):
    return np.sum(np.asarray(x > 0.55, dtype=float) * x)


def kw_keepdims(x):
    return np.sum(x.sum(axis=0, keepdims=True) * x)


def kw_reshape_method(x):
    return np.sum(x.reshape(4, 3)[1] * x.reshape((12,))[:3])


def kw_clip_one_sided(x):
    return np.sum(np.clip(x, 0.2, None) ** 2)


def kw_clip_min_kw(x):
    return np.sum(np.clip(x, min=0.2, max=0.9) ** 2)


def kw_round_decimals(x):
    return np.sum(np.round(x * 7.0, decimals=1) * x) + np.sum(np.round(x, 2) * x)


KEYWORD_CASES = {
    "sum_where": (kw_sum_where, V),
    "mean_where": (kw_mean_where, V),
    "sum_initial": (kw_sum_initial, V),
    "mean_axis_where": (kw_mean_axis_where, X),
    "prod_axis_where": (kw_prod_axis_where, X),
    "max_where_initial": (kw_max_where_initial, X),
    "min_initial": (kw_min_initial, V),
    "method_sum_where": (kw_method_sum_where, X),
    "linspace_no_endpoint": (kw_linspace_no_endpoint, 1.3),
    "linspace_endpoint_kw": (kw_linspace_endpoint_kw, 1.3),
    "arange_dtype": (kw_arange_dtype, X),
    "asarray_dtype": (kw_asarray_dtype, X),
    "keepdims": (kw_keepdims, X),
    "reshape_method": (kw_reshape_method, X),
    "clip_one_sided": (kw_clip_one_sided, X),
    "clip_min_kw": (kw_clip_min_kw, X),
    "round_decimals": (kw_round_decimals, X),
}


@pytest.mark.parametrize("name", sorted(KEYWORD_CASES))
def test_keywords_numpy(name):
    f, a = KEYWORD_CASES[name]
    check_all(f, (a,))


@pytest.mark.parametrize("name", ["sum_where", "max_where_initial",
                                  pytest.param("mean_axis_where", marks=pytest.mark.slow),
                                  pytest.param("linspace_no_endpoint", marks=pytest.mark.slow)])
def test_keywords_numba(name):
    f, a = KEYWORD_CASES[name]
    check_all(f, (a,), backend="numba")


def _np_where_kw(x):
    return np.sin(x, where=x > 0)


def _sum_dtype(x):
    return np.sum(x, dtype=np.float32)


def _sum_typo(x):
    return np.sum(x, axes=0)


def _linspace_retstep(a):
    return np.linspace(a, 1.0, 5, retstep=True)[0].sum()


def _builtin_max_key(x):
    return max(x[0], x[1], key=abs)


def _method_typo(x):
    return x.sum(keepdim=True)


@pytest.mark.parametrize("f, keyword, fname", [
    (_np_where_kw, "where", "np.sin"),
    (_sum_dtype, "dtype", "np.sum"),
    (_sum_typo, "axes", "np.sum"),
    (_linspace_retstep, "retstep", "np.linspace"),
    (_builtin_max_key, "key", "max"),
    (_method_typo, "keepdim", "np.sum"),
])
def test_unsupported_keyword_is_rejected_with_location(f, keyword, fname):
    arg = 0.5 if f is _linspace_retstep else np.linspace(-1.0, 1.0, 4)
    with pytest.raises(cr.errors.UnsupportedKeywordError) as info:
        cr.jit(f)(arg)
    err = info.value
    assert f"`{keyword}`" in str(err) and f"`{fname}`" in str(err)
    assert err.loc.file == __file__
    assert err.loc.line == f.__code__.co_firstlineno + 1


def _explicit_defaults(x):
    return np.sum(x, dtype=None, out=None) + np.sin(x[0], casting="same_kind")


def test_default_value_of_unsupported_keyword_is_accepted():
    check_all(_explicit_defaults, (V,))


def test_every_handler_rejects_an_unknown_keyword():
    """Walks the whole table, so a future handler cannot ignore keywords in silence."""
    from types import SimpleNamespace

    from chainrule.frontend import numpy_api
    from chainrule.frontend.signatures import Signed

    table = numpy_api._build_table()
    methods = numpy_api._SPECIAL_METHODS
    assert len(table) > 100
    stub = SimpleNamespace(b=SimpleNamespace(loc=None))
    for fn, handler in [*table.items(), *methods.items()]:
        if fn in numpy_api._REGISTERED and fn is not cr.stop_gradient:
            continue  # a user primitive (register_primitive): its keywords are its parameters
        assert isinstance(handler, Signed), f"{fn} has no declared signature"
        with pytest.raises(cr.errors.UnsupportedKeywordError, match="no_such_keyword"):
            handler(stub, [], {"no_such_keyword": 1}, None)


# -- out-of-bounds indices raise IndexError with the user's file:line -------------------------
def read_at(x, k):
    return x[k] * 2.0


def write_at(x, k):
    y = np.zeros(3)
    y[k] = x[0]
    return np.sum(y * x[:3])


def loop_one_past_the_end(x):
    s = 0.0
    for i in range(len(x) + 1):
        s = s + x[i] ** 2
    return s


def second_axis(x, k):
    return np.sum(x[1, k] * x)


def after_ellipsis(x, k):
    return np.sum(x[..., k] ** 2)


def through_a_view(x, k):
    v = x[2:]
    return v[k] * x[0]


OOB_CASES = [(read_at, 4), (read_at, -5), (write_at, 3), (write_at, -4),
             (loop_one_past_the_end, None), (second_axis, 3), (after_ellipsis, 3),
             (through_a_view, 2)]


def _oob_args(f, k):
    x = np.arange(1.0, 5.0) if f in (read_at, write_at, loop_one_past_the_end, through_a_view) \
        else np.arange(6.0).reshape(2, 3)
    return (x,) if k is None else (x, k)


def _line_of(f, text):
    import inspect

    lines, first = inspect.getsourcelines(f)
    return first + next(i for i, ln in enumerate(lines) if text in ln)


OOB_NUMBA_DEFAULT = {(read_at, 4), (write_at, 3), (loop_one_past_the_end, None)}
OOB_PARAMS = [pytest.param(f, k, backend, id=f"{f.__name__}-{k}-{backend}",
                           marks=[pytest.mark.slow] if backend == "numba"
                           and (f, k) not in OOB_NUMBA_DEFAULT else [])
              for f, k in OOB_CASES for backend in ("numpy", "numba")]


@pytest.mark.parametrize("f, k, backend", OOB_PARAMS)
def test_out_of_bounds_raises(f, k, backend):
    args = _oob_args(f, k)
    with pytest.raises(IndexError):
        f(*args)  # plain Python
    where = f"{__file__}:{_line_of(f, 'k]' if k is not None else 'x[i]')}"
    transforms = [lambda: cr.jit(f, backend=backend)(*args),
                  lambda: cr.grad(f, backend=backend)(*args),
                  lambda: cr.jvp(f, args, (np.ones_like(args[0]),) + args[1:],
                                 backend=backend)]
    for run in transforms:
        with pytest.raises(IndexError, match="out of bounds") as info:
            run()
        assert where in str(info.value)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_in_bounds_negative_index_wraps(backend):
    x = np.arange(1.0, 5.0)
    check_all(read_at, (x, -4), backend=backend)
    check_all(read_at, (x, -1), backend=backend)
    check_all(write_at, (x, -1), backend=backend)


def stencil(x):
    n = len(x)
    y = np.zeros(n)
    for i in range(1, n - 1):
        y[i] = x[i - 1] - 2.0 * x[i] + x[i + 1]
    s = 0.0
    for k in range(x.shape[0]):
        s = s + y[k] * x[k]
    return s


def periodic(u):
    n = u.shape[0]
    out = np.zeros_like(u)
    for i in range(n):
        ip = (i + 1) % n
        im = (i - 1) % n
        out[i] = u[ip] - 2.0 * u[i] + u[im]
    return np.sum(out * u)


def repeated_constant_index(p, x):
    s = 0.0
    for i in range(len(x)):
        s = s + p[0] * x[i] + p[0] * p[1]
    return s


def test_indices_proven_in_bounds_need_no_check():
    x = np.linspace(0.1, 1.0, 6)
    for f in (stencil, periodic):
        assert "index_error" not in cr.show(cr.jit(f), x)
        assert "index_error" not in cr.show(cr.grad(f), x)
        check_all(f, (x,))
    src = cr.show(cr.jit(repeated_constant_index), np.ones(20), x)
    assert src.count("index_error") == 2  # p[0] and p[1], once per iteration each
    check_all(repeated_constant_index, (np.linspace(0.5, 2.0, 20), x))
    # a small argument is compiled for its size: constant indices into it are decided then
    src = cr.show(cr.jit(repeated_constant_index), np.ones(2), x)
    assert "index_error" not in src
    check_all(repeated_constant_index, (np.array([0.5, 2.0]), x))


def constant_index_past_a_small_argument(p, x):
    return p[2] * np.sum(x)


def range_into_a_known_length(x, m):
    y = np.zeros(3)
    z = np.zeros_like(y)
    for i in range(3):
        y[i] = x[i] * x[i]
        z[i] = 2.0 * y[i]
    s = np.sum(z * y) + y[2] * z[-3]
    for i in range(m):
        s = s + y[i]  # m is a run-time value: checked
    return s


def range_one_past_a_known_length(x):
    y = np.zeros(3)
    for i in range(4):
        y[i] = x[i]
    return np.sum(y)


def wrap_into_another_axis(u, m):
    s = 0.0
    for i in range(m):  # i and (i + 1) % m are never negative: only i < n is tested
        s = s + u[i % u.shape[0], (i + 1) % m] * u[0, i]
    return s


@pytest.mark.parametrize("backend", ["numpy", pytest.param("numba", marks=pytest.mark.slow)])
def test_nonnegative_indices_still_checked_against_the_length(backend):
    u = np.linspace(0.5, 1.5, 6).reshape(2, 3)
    check_all(wrap_into_another_axis, (u, 3), backend=backend)
    with pytest.raises(IndexError):
        wrap_into_another_axis(u, 4)  # plain Python
    for run in (cr.jit(wrap_into_another_axis, backend=backend),
                cr.grad(wrap_into_another_axis, backend=backend)):
        with pytest.raises(IndexError, match="out of bounds"):
            run(u, 4)


@pytest.mark.parametrize("backend", ["numpy", pytest.param("numba", marks=pytest.mark.slow)])
def test_constant_indices_into_known_lengths(backend):
    x = np.linspace(0.5, 1.5, 12)
    src = cr.show(cr.jit(range_into_a_known_length, backend=backend), x, 3)
    assert src.count("index_error") == 2  # x[i] (x's length is unknown) and y[i] in range(m)
    check_all(range_into_a_known_length, (x, 3), backend=backend)
    for f, args in ((range_into_a_known_length, (x, 4)), (range_one_past_a_known_length, (x,)),
                    (constant_index_past_a_small_argument, (np.ones(2), x))):
        with pytest.raises(IndexError):
            f(*args)  # plain Python
        for run in (cr.jit(f, backend=backend), cr.grad(f, backend=backend)):
            with pytest.raises(IndexError, match="out of bounds"):
                run(*args)


def test_index_not_proven_when_range_does_not_fit():
    def shifted(x):
        s = 0.0
        for i in range(1, len(x)):
            s = s + x[i + 1]
        return s

    assert "index_error" in cr.show(cr.jit(shifted), np.ones(4))
    with pytest.raises(IndexError, match="out of bounds"):
        cr.jit(shifted)(np.ones(4))


def test_bounds_checks_can_be_turned_off(monkeypatch):
    from chainrule.cache import disk

    x = np.ones(4)
    key_on = disk._parts(cr.jit(read_at), (x, 1), False, None)
    monkeypatch.setenv("CHAINRULE_BOUNDS_CHECK", "0")
    assert "index_error" not in cr.show(cr.jit(read_at), x, 1)
    assert disk._parts(cr.jit(read_at), (x, 1), False, None) != key_on
    np.testing.assert_allclose(cr.jit(read_at)(x, 1), 2.0)


def test_stencil_numba():
    check_all(stencil, (np.linspace(0.1, 1.0, 6),), backend="numba")
    check_all(periodic, (np.linspace(0.1, 1.0, 6),), backend="numba")


def gather(x, idx):
    return np.sum(x[idx] ** 2)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_integer_array_index_out_of_bounds_raises(backend):
    x = np.arange(1.0, 5.0)
    for idx in (np.array([0, 4]), np.array([-5, 1])):
        with pytest.raises(IndexError):
            gather(x, idx)
        for run in (cr.jit(gather, backend=backend), cr.grad(gather, backend=backend)):
            with pytest.raises(IndexError, match=f"{__file__}:{_line_of(gather, 'x[idx]')}"):
                run(x, idx)
    check_all(gather, (x, np.array([0, -1, 2, 2])), backend=backend)


# -- a helper's parameter bound to the caller's temporary keeps its value ------------------------
def halve_and_add(a):
    s = a
    for _ in range(2):
        s = s * 0.5 + a
    return s


def skip_below(a, b):
    if a > b:
        return a - b
    return a * b


def early_return_calling_helpers(x):
    s = 0.0
    for _ in range(4):
        s = halve_and_add(s + x)
        if s > 3.0:
            return halve_and_add(s) * skip_below(s, 1.0)
        s = halve_and_add(s)
    return s


def helper_of_temporary(x):
    return halve_and_add(x * 3.0) + skip_below(x * 2.0, 0.5)


def chained_assignment(x):
    a = b = x * 2.0
    a = a * x
    return a + b


@pytest.mark.parametrize("f", [early_return_calling_helpers, helper_of_temporary,
                               chained_assignment], ids=lambda f: f.__name__)
@pytest.mark.parametrize("x", [0.3, 0.7, 2.0])
def test_temporaries_bound_to_two_names(f, x):
    check_all(f, (x,))


def test_temporaries_bound_to_two_names_numba():
    check_all(early_return_calling_helpers, (0.7,), backend="numba")
    check_all(chained_assignment, (0.7,), backend="numba")


# -- aliases on different branches never meet ------------------------------------------------
def alias_on_one_branch_write_on_other(x, c):
    a = x * 1.0
    if c > 0.0:
        b = a
    else:
        b = a * 2.0
        a[0] = 5.0
    return np.sum(b * b) + np.sum(a)


def rebind_on_one_branch_write_on_other(x, c):
    a = x * 1.0
    b = x * 3.0
    if c > 0.0:
        b = a
    else:
        a[0] = 5.0
    return np.sum(b * b) + np.sum(a * x)


@pytest.mark.parametrize("f", [alias_on_one_branch_write_on_other,
                               rebind_on_one_branch_write_on_other], ids=lambda f: f.__name__)
@pytest.mark.parametrize("c", [1.0, -1.0])
def test_alias_and_write_on_different_branches(f, c):
    check_all(f, (np.array([0.5, 1.5, 2.0]), c))


def test_alias_and_write_on_different_branches_numba():
    check_all(alias_on_one_branch_write_on_other, (np.array([0.5, 1.5, 2.0]), -1.0),
              backend="numba")


def alias_before_branch_write_inside(x, c):
    a = x * 1.0
    b = a.reshape(2, 1)
    if c > 0.0:
        a[0] = 5.0
    return np.sum(b * b)


def alias_and_write_in_different_trips(x):
    a = x * 1.0
    b = x * 2.0
    for i in range(3):
        if i == 0:
            b = a
        else:
            a[0] = 5.0 * a[1]
    return np.sum(b * b)


@pytest.mark.parametrize("f, args", [
    (alias_before_branch_write_inside, (np.array([0.5, 1.5]), 1.0)),
    (alias_and_write_in_different_trips, (np.array([0.5, 1.5]),)),
], ids=["before_branch", "different_trips"])
def test_alias_hazards_on_one_path_still_rejected(f, args):
    with pytest.raises(cr.errors.UnsupportedMutationError):
        cr.grad(f)(*args)
