"""Lists of run-time length (comprehensions over run-time ranges, appends in loops and
branches, run-time indices, ``list(...)``) and iteration over dicts, compiled with Numba.

Every primal value is compared with the same function run by Python; every gradient with
central finite differences of the Python function, and forward mode (``jacfwd``) with reverse
mode (``grad``)."""

from __future__ import annotations

import os

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import ChainruleError

NB = os.environ.get("CHAINRULE_TEST_LISTS_BACKEND", "numba")
slow = pytest.mark.slow  # each Numba compilation takes seconds
RNG = np.random.default_rng(7)


def fd_grad(f, x, *rest, eps=1e-6):
    x = np.asarray(x, dtype=float)
    g = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[k] += eps
        xm[k] -= eps
        g[k] = (f(xp, *rest) - f(xm, *rest)) / (2 * eps)
    return g


def check(f, x, *rest, rtol=1e-6, atol=1e-7, backend=NB):
    """jit value == Python value; grad == finite differences; jacfwd == grad."""
    want = f(x.copy(), *rest)
    got = cr.jit(f, backend=backend)(x.copy(), *rest)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    g = cr.grad(f, backend=backend)(x.copy(), *rest)
    np.testing.assert_allclose(g, fd_grad(f, x, *rest), rtol=rtol, atol=atol)
    jf = cr.jacfwd(f, backend=backend)(x.copy(), *rest)
    np.testing.assert_allclose(jf, g, rtol=1e-10, atol=1e-12)
    return g


X = RNG.standard_normal(7)
M = RNG.standard_normal((6, 3))


# -- comprehensions of run-time length ---------------------------------------------------------
def comp_sum(x, n):
    xs = [x[i] ** 2 * x[i + 1] for i in range(n)]
    return sum(xs) + len(xs) * x[0]


def comp_array(x, n):
    ys = np.array([np.sin(x[i]) for i in range(1, n)])
    return np.sum(ys * ys) + ys[-1]


def comp_over_array(m):
    rows = [r * np.cos(r) for r in m]
    return np.sum(np.stack(rows) ** 2)


def comp_filtered(x, n):
    return sum([x[i] * x[i] for i in range(n) if x[i] > 0.0])


def comp_nested(x, n):
    grid = np.array([[x[i] * x[j] for j in range(n)] for i in range(n)])
    return np.sum(np.tanh(grid)) + grid[n - 1, 0]


def generator_sum(x, n):
    return sum(np.exp(x[i]) for i in range(n))


@slow
@pytest.mark.parametrize("f", [comp_sum, comp_array, comp_filtered, comp_nested, generator_sum])
@pytest.mark.parametrize("n", [0, 1, 5])
def test_comprehension_of_runtime_length(f, n):
    if f in (comp_array, comp_nested) and n < 2:
        n = 2  # ys[-1] needs an item
    check(f, X, n)


@slow
def test_comprehension_over_array_rows():
    check(comp_over_array, M)


# -- appends in loops and branches -------------------------------------------------------------
def append_loop(x, n):
    xs = []
    for i in range(n):
        xs.append(x[i % 7] * (i + 1.0))
    total = 0.0
    for v in xs:
        total = total + v * v
    return total + np.sum(np.array(xs)) + xs[len(xs) - 1]


def append_arrays(m, n):
    rows = []
    for i in range(n):
        rows.append(np.tanh(m[i % 6] * (1.0 + i)))
    s = np.stack(rows)
    return np.sum(s ** 3) + np.sum(sum(rows)) + rows[0][1] * len(rows)


def append_while(x, tol):
    xs = []
    v = x[0]
    while abs(v) > tol:
        v = v * 0.5
        xs.append(v * x[1])
    return np.sum(np.array(xs) ** 2) if len(xs) > 0 else x[1]


def append_in_branch(x, n):
    pos = []
    neg = []
    for i in range(n):
        if x[i] > 0.0:
            pos.append(x[i])
        else:
            neg.append(x[i] * x[i])
    return sum(pos) * 2.0 + sum(neg) + len(pos)


def append_grows_past_doubling(x, n):
    xs = [x[0]]  # a compile-time list with one item, appended to at run time
    for i in range(n):
        xs.append(xs[i] * 0.9 + x[(i + 1) % 7])
    return xs[-1] + sum(xs) / len(xs)


@slow
@pytest.mark.parametrize("n", [1, 3, 40])
def test_append_in_loop(n):
    check(append_loop, X, n)
    check(append_in_branch, X, min(n, 7))
    check(append_grows_past_doubling, X, n)


@slow
def test_append_arrays_of_one_shape():
    check(append_arrays, M, 11)


@slow
def test_append_in_while_loop():
    x = np.array([3.0, 0.7, 0.1])
    check(append_while, x, 0.01)


@slow
def test_mixed_item_shapes_raise_at_run_time():
    def ragged(x, n):
        xs = []
        for i in range(n):
            xs.append(x[: i + 1])
        return np.sum(np.stack(xs))

    with pytest.raises(AssertionError, match="same shape"):
        cr.jit(ragged, backend=NB)(X, 3)


# -- items, list(...), run-time indices ----------------------------------------------------------
def set_items(x, n):
    xs = [0.0 * x[0] for _ in range(n)]
    for i in range(n):
        xs[i] = x[i] * x[n - 1 - i]
        xs[i] += x[i]
    for i in range(1, n):
        xs[i] = xs[i] + xs[i - 1]
    return np.dot(np.array(xs), x[:n])


def list_constructors(x, n):
    idx = list(range(n))
    rows = list(x[:n])
    copy = list(rows)
    copy.append(x[0] * 10.0)
    return sum([x[k] * rows[k] for k in idx]) + sum(copy) + len(copy)


def static_list_runtime_index(x, n):
    ws = [x[0], x[1] * 2.0, np.sin(x[2])]
    acc = 0.0
    for i in range(n):
        acc = acc + ws[i % 3] * x[i]
    return acc


def index_from_argument(x, k):
    xs = [np.exp(x[i]) for i in range(len(x))]
    return xs[k] * xs[-k - 1]


def slices_of_lists(x, n):
    xs = [x[i] * x[i] for i in range(n)]
    head = xs[1:n - 1]
    return sum(head) + len(head) + np.sum(np.array(xs[::2]))


@slow
@pytest.mark.parametrize("f, extra", [(set_items, 5), (list_constructors, 4),
                                      (static_list_runtime_index, 7), (index_from_argument, 2),
                                      (slices_of_lists, 6)])
def test_items_and_constructors(f, extra):
    check(f, X, extra)


def extend_and_pop(x, n):
    xs = []
    for i in range(n):
        xs.append(x[i % 3] * (i + 1))
    xs.extend([x[0], x[1] * 2.0])
    xs.extend(np.sin(x[:3]))
    last = xs.pop()
    s = 0.0
    while len(xs) > 2:
        s = s + xs.pop() * last
    return s + sum(xs)


def extend_rows_and_pop(x, n):
    v = x[:3]
    rows = [v * 1.0]
    for i in range(n):
        rows.append(np.cos(v) * i)
    rows.extend(np.outer(v, v))
    a = rows.pop()
    b = rows.pop()
    return np.sum(np.array(rows) ** 2) + np.sum(a * b)


def static_extend_and_pop(x, n):
    ys = [x[0], x[1]]
    ys.extend((x[2], x[0] * x[1]))
    z = ys.pop(1)
    return ys[0] * z + ys[-1] + ys.pop() * n


def pop_past_the_start(x, n):
    xs = [x[0]]
    for _ in range(n):
        xs.pop()
    return x[0]


@pytest.mark.parametrize("f, extra", [(extend_and_pop, 4),
                                      pytest.param(extend_and_pop, 0, marks=slow),
                                      pytest.param(extend_rows_and_pop, 3, marks=slow),
                                      pytest.param(static_extend_and_pop, 2, marks=slow)])
def test_extend_and_pop(f, extra):
    check(f, X, extra)


@slow
def test_pop_from_an_empty_list_raises_index_error():
    assert cr.jit(pop_past_the_start, backend=NB)(X, 1) == X[0]
    with pytest.raises(IndexError, match="pop from an empty list"):
        cr.jit(pop_past_the_start, backend=NB)(X, 2)


@slow
def test_index_out_of_range_raises():
    with pytest.raises(IndexError):
        cr.jit(index_from_argument, backend=NB)(X, 9)


@slow
def test_returned_list_is_an_array():
    def f(x, n):
        return [x[i] * 2.0 for i in range(n)]

    out = cr.jit(f, backend=NB)(X, 3)
    np.testing.assert_allclose(out, 2.0 * X[:3])
    np.testing.assert_allclose(cr.jacfwd(f, backend=NB)(X, 3), 2.0 * np.eye(7)[:3])


@slow
def test_second_order_through_lists():
    def f(x, n):
        xs = []
        for i in range(n):
            xs.append(x[i] ** 3)
        return sum(xs) * x[0]

    h = cr.hessian(f, backend=NB)(X, 4)

    def g(x):
        return cr.grad(f, backend=NB)(x, 4)

    np.testing.assert_allclose(h, np.array([fd_grad(lambda y, k=k: g(y)[k], X) for k in range(7)]),
                               rtol=1e-5, atol=1e-6)


# -- dicts -------------------------------------------------------------------------------------
def dict_keys_loop(params, x):
    s = 0.0
    for k in params:
        s = s + np.sum(params[k] * x[: params[k].shape[0]])
    for name, v in params.items():
        if name in ("a", "c"):
            s = s + np.sum(v ** 2)
    scaled = {k: 2.0 * v for k, v in params.items()}
    return s + np.sum(scaled["b"]) + len(params) * ("b" in params)


@slow
def test_dict_iteration():
    params = {"a": RNG.standard_normal(3), "b": RNG.standard_normal(2),
              "c": RNG.standard_normal(4)}
    want = dict_keys_loop(params, X)
    np.testing.assert_allclose(cr.jit(dict_keys_loop, backend=NB)(params, X), want)
    g = cr.grad(dict_keys_loop, backend=NB)(params, X)
    for k in params:
        def fk(v, k=k):
            return dict_keys_loop({**params, k: v}, X)
        np.testing.assert_allclose(g[k], fd_grad(fk, params[k]), rtol=1e-6, atol=1e-8)


# -- a GradBench-style GMM objective written with lists and a parameter dict -----------------------
def logsumexp(v):
    m = np.max(v)
    return m + np.log(np.sum(np.exp(v - m)))


def gmm_objective(params, x, gamma, m):
    alphas, means, icf = params["alphas"], params["means"], params["icf"]
    n, d = x.shape
    k = alphas.shape[0]
    qs = [np.exp(icf[j, :d]) for j in range(k)]
    sum_qs = np.array([np.sum(icf[j, :d]) for j in range(k)])
    ls = []
    for j in range(k):
        lower = np.zeros((d, d))
        pos = d
        for c in range(d):
            for r in range(c + 1, d):
                lower[r, c] = icf[j, pos]
                pos += 1
        ls.append(np.diag(qs[j]) + lower)
    slse = 0.0
    for i in range(n):
        main = [alphas[j] + sum_qs[j] - 0.5 * np.sum((ls[j] @ (x[i] - means[j])) ** 2)
                for j in range(k)]
        slse = slse + logsumexp(np.array(main))
    frob = sum([np.sum(q ** 2) for q in qs]) + sum(np.sum(icf[j, d:] ** 2) for j in range(k))
    prior = 0.5 * frob - m * np.sum(sum_qs)
    return slse - n * logsumexp(alphas) + prior + 0.0 * gamma


@slow
def test_gmm_with_lists_and_dict():
    n, d, k = 6, 3, 4
    params = {"alphas": RNG.standard_normal(k), "means": RNG.standard_normal((k, d)),
              "icf": RNG.standard_normal((k, d + d * (d - 1) // 2))}
    x = RNG.standard_normal((n, d))
    want = gmm_objective(params, x, 1.0, 0)
    np.testing.assert_allclose(cr.jit(gmm_objective, backend=NB)(params, x, 1.0, 0), want,
                               rtol=1e-12)
    g = cr.grad(gmm_objective, backend=NB)(params, x, 1.0, 0)
    for key in params:
        def fk(v, key=key):
            return gmm_objective({**params, key: v}, x, 1.0, 0)
        np.testing.assert_allclose(g[key], fd_grad(fk, params[key]), rtol=1e-5, atol=1e-7)


# -- the same programs on the NumPy backend (fast: runs by default) --------------------------------
CASES = [(comp_sum, X, 5), (comp_array, X, 4), (comp_filtered, X, 6), (comp_nested, X, 3),
         (generator_sum, X, 0), (comp_over_array, M), (append_loop, X, 9),
         (append_arrays, M, 5), (append_in_branch, X, 7), (append_grows_past_doubling, X, 20),
         (set_items, X, 5), (list_constructors, X, 4), (static_list_runtime_index, X, 7),
         (index_from_argument, X, 2), (slices_of_lists, X, 6)]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0].__name__)
def test_values_and_gradients_numpy_backend(case):
    f, x, *rest = case
    check(f, x, *rest, backend="numpy")


def test_gmm_numpy_backend():
    n, d, k = 5, 2, 3
    params = {"alphas": RNG.standard_normal(k), "means": RNG.standard_normal((k, d)),
              "icf": RNG.standard_normal((k, d + d * (d - 1) // 2))}
    x = RNG.standard_normal((n, d))
    g = cr.grad(gmm_objective, backend="numpy")(params, x, 1.0, 0)
    for key in params:
        def fk(v, key=key):
            return gmm_objective({**params, key: v}, x, 1.0, 0)
        np.testing.assert_allclose(g[key], fd_grad(fk, params[key]), rtol=1e-5, atol=1e-7)


# -- what still raises -------------------------------------------------------------------------
def test_list_arithmetic_raises_with_location():
    def f(x, n):
        xs = [x[i] for i in range(n)]
        return xs + xs

    with pytest.raises(ChainruleError, match=r"test_runtime_lists\.py:\d+"):
        cr.jit(f, backend=NB)(X, 3)


def test_helper_appending_in_loop_raises():
    def add(xs, v):
        xs.append(v)

    def f(x, n):
        xs = []
        for i in range(n):
            add(xs, x[i])
        return sum(xs)

    with pytest.raises(ChainruleError, match="append"):
        cr.jit(f, backend=NB)(X, 3)


def test_second_name_of_appended_list_raises():
    def f(x, n):
        xs = []
        ys = xs
        for i in range(n):
            xs.append(x[i])
        return sum(ys)

    with pytest.raises(ChainruleError, match="also has the name"):
        cr.jit(f, backend=NB)(X, 3)


def test_write_into_array_after_appending_it_raises():
    def running(x, n):
        acc = np.zeros(3)
        hist = []
        for _ in range(n):
            acc += x[:3]
            hist.append(acc)  # Python's list holds `acc` itself: every item would be the last
        return np.sum(np.array(hist))

    with pytest.raises(ChainruleError, match="written in place after it was put into a list"):
        cr.jit(running, backend=NB)(X, 3)


def test_other_list_methods_raise():
    def f(x, n):
        xs = [x[i] for i in range(n)]
        xs.insert(0, x[0])
        return sum(xs)

    with pytest.raises(ChainruleError, match="insert"):
        cr.jit(f, backend=NB)(X, 3)

    def g(x, n):
        xs = [x[i] for i in range(n)]
        return xs.pop(1)  # (an index into a list of run-time length)

    with pytest.raises(ChainruleError, match="pop"):
        cr.jit(g, backend=NB)(X, 3)
