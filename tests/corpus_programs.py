"""Corpus of plain NumPy programs that chainrule must differentiate, with example arguments.

Every program is an ordinary module-level Python function; nothing here imports chainrule. Each
``add(...)`` call below the function registers it in :data:`CASES` with arguments chosen away
from branch switches, kinks and changes of loop trip counts, so that central finite differences
are a valid oracle. ``argnums`` lists the differentiable (float) positional arguments; the other
arguments are ints or are held fixed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Case:
    name: str
    fn: object
    args: tuple
    argnums: tuple = (0,)
    order2: bool = False
    rtol: float = 1e-6
    atol: float = 1e-8
    slow: bool = False
    tags: tuple = field(default=())


CASES: list[Case] = []


def add(fn, *args, name=None, argnums=(0,), order2=False, rtol=1e-6, atol=1e-8, slow=False,
        tags=()):
    CASES.append(Case(name or fn.__name__, fn, args, tuple(argnums), order2, rtol, atol, slow,
                      tuple(tags)))


def vec(*xs):
    return np.array(xs, dtype=np.float64)


# Module-level constants used by the programs (read-only inside them).
IDX = np.array([0, 2, 2, 4])
COEFFS = np.array([0.5, -1.0, 0.25, 2.0])
MIX = np.array([[1.0, 0.5, -0.25], [0.0, 2.0, 1.0]])
SCALE = 1.75

# ======== scalars, math module


def poly_rational(x):
    return 3.0 * x**3 - 2.0 * x**2 + x - 5.0 / (1.0 + x * x)


add(poly_rational, 1.3, order2=True, tags=("scalar",))


def math_module(x, y):
    a = math.sin(x) * math.exp(0.5 * y) + math.cos(x * y)
    b = math.log(1.0 + x * x) + math.sqrt(y * y + 1.0) + math.atan2(y, x)
    c = math.tanh(x - y) + math.pow(x, 2.5) + math.log1p(y * y) + math.expm1(0.1 * x)
    return a * b + c + math.tan(0.3 * x) + math.fabs(y) + math.pi * x


add(math_module, 0.7, -1.1, argnums=(0, 1), order2=True, tags=("scalar", "math"))


def conditional_expression(x, y):
    z = x * y if x > y else x + y * y
    w = math.exp(x) if z < 0.0 else math.log(z)
    return z * w + (x - y if abs(x) > 0.5 else y)


add(conditional_expression, 1.4, 0.6, argnums=(0, 1), tags=("branch",))
add(conditional_expression, 0.2, 1.1, argnums=(0, 1), name="conditional_expression_else",
    tags=("branch",))
add(conditional_expression, 0.6, -2.0, argnums=(0, 1), name="conditional_expression_negz",
    tags=("branch",))


def chained_comparisons(x):
    if 0.0 < x < 1.0:
        return x * x
    elif 1.0 <= x < 2.0 <= 2.0 * x:
        return 2.0 * x - 1.0 + (x - 1.0) ** 3
    else:
        return math.sin(x)


add(chained_comparisons, 0.6, tags=("branch",))
add(chained_comparisons, 1.5, name="chained_comparisons_mid", tags=("branch",))
add(chained_comparisons, 2.7, name="chained_comparisons_else", tags=("branch",))


def boolean_ops(x, y):
    s = 0.0
    if (x > 0.0 and y > 0.0) or x < -5.0:
        s = s + x * y
    if not (x > y):
        s = s + y**2
    if x > 3.0 or (y < 1.0 and not x < 0.0):
        s = s - math.cos(x)
    return s


add(boolean_ops, 0.8, 1.5, argnums=(0, 1), tags=("branch",))
add(boolean_ops, 0.5, 0.25, argnums=(0, 1), name="boolean_ops_other", tags=("branch",))


def augmented_assignment(x):
    s = x
    s += 1.0
    s *= x
    s -= 0.5
    s /= 2.0
    s **= 2
    t = np.array([x, 2.0 * x])
    t += s
    t *= 3.0
    return s + np.sum(t)


add(augmented_assignment, 0.9, tags=("scalar",))


def int_power_argument(x, n):
    y = x**n + 2.0 * n * x
    k = n // 2
    return y / (1.0 + k * x * x) + (n % 3) * x


add(int_power_argument, 1.2, 5, tags=("int",))


# ======== branches


def piecewise_scalar(x):
    if x < -1.0:
        y = -x - 0.5
    elif x < 1.0:
        y = 0.5 * x * x
    elif x < 3.0:
        y = x - 0.5 + 0.1 * (x - 1.0) ** 3
    else:
        y = math.log(x)
    return y * math.exp(-0.1 * x)


add(piecewise_scalar, 0.4, order2=True, tags=("branch",))
add(piecewise_scalar, 2.2, name="piecewise_scalar_third", tags=("branch",))
add(piecewise_scalar, -2.0, name="piecewise_scalar_first", tags=("branch",))


def branch_on_reduction(v):
    if np.sum(v) > 0.0:
        w = v * v
    else:
        w = np.sin(v)
    if np.max(v) > 2.0:
        return np.sum(w) * 2.0
    return np.sum(w) + np.prod(v)


add(branch_on_reduction, vec(0.5, -0.3, 1.2), tags=("branch",))
add(branch_on_reduction, vec(-0.5, -0.3, 0.2), name="branch_on_reduction_neg", tags=("branch",))


def nested_branches(x, y):
    if x > 0.0:
        if y > x:
            r = y - x
        else:
            r = x * y
    else:
        if y > 0.0:
            r = y * y
        else:
            r = -x - y
    return r * x + y


add(nested_branches, 0.5, 1.3, argnums=(0, 1), tags=("branch",))
add(nested_branches, -0.7, -0.2, argnums=(0, 1), name="nested_branches_neg", tags=("branch",))


def elementwise_branch_loop(v):
    s = 0.0
    for i in range(len(v)):
        if v[i] > 0.0:
            s = s + v[i] ** 2
        elif v[i] > -1.0:
            s = s - math.sin(v[i])
        else:
            s = s + 3.0 * v[i]
    return s


add(elementwise_branch_loop, vec(0.5, -0.4, -2.0, 1.5), tags=("branch", "loop"))


# ======== while loops


def newton_sqrt(a):
    x = a
    while abs(x * x - a) > 1e-12:
        x = 0.5 * (x + a / x)
    return x


add(newton_sqrt, 2.5, order2=True, tags=("while",))


def newton_root(a, tol=1e-13):
    x = 1.0
    while True:
        g = x ** 3 + a * x - 2.0
        if abs(g) < tol:
            return x
        x = x - g / (3.0 * x ** 2 + a)


def f(a, w):
    x = newton_root(a)
    s = 0.0
    for i in range(len(w)):
        if w[i] > 0.0:
            s = s + np.sin(w[i] * x)
        else:
            continue
    return s * a


add(f, 1.5, vec(0.3, -0.2, 0.9), name="flagship_newton", argnums=(0, 1), order2=True,
    tags=("while", "flagship"))


def bisect_then_newton(a):
    lo = 0.0
    hi = 3.0
    while hi - lo > 1e-3:
        mid = 0.5 * (lo + hi)
        if mid**3 + mid - a > 0.0:
            hi = mid
        else:
            lo = mid
    x = 0.5 * (lo + hi)
    for _ in range(4):
        x = x - (x**3 + x - a) / (3.0 * x * x + 1.0)
    return x * x


add(bisect_then_newton, 4.2, tags=("while",))


def bisect_scaled(a):
    # Root of x**3 = 2 a**3 on [0, 2a]; every iterate is a times a fixed dyadic number.
    lo = 0.0
    hi = 2.0 * a
    while hi - lo > 1e-9:
        mid = 0.5 * (lo + hi)
        if mid * mid * mid > 2.0 * a * a * a:
            hi = mid
        else:
            lo = mid
    return lo + hi


add(bisect_scaled, 1.3, tags=("while",))


def while_true_break(x):
    y = x
    n = 0
    while True:
        y = 0.5 * y + 0.1 * math.sin(y)
        n += 1
        if abs(y) < 0.05:
            break
    return y * n + x


add(while_true_break, 2.3, tags=("while",))


def while_data_trip_count(x):
    s = x
    n = 0
    while s < 10.0:
        s = s * 1.5 + 0.1
        n += 1
    return s / n


add(while_data_trip_count, 0.7, tags=("while",))


def fixed_point_cos(a):
    x = 0.0
    x_old = 1.0
    while abs(x - x_old) > 1e-14:
        x_old = x
        x = math.cos(a * x)
    return x


add(fixed_point_cos, 0.8, tags=("while",))


def while_continue_break(v):
    i = 0
    s = 0.0
    while i < len(v):
        i += 1
        if v[i - 1] < 0.0:
            continue
        s = s + v[i - 1] * s + v[i - 1]
        if s > 5.0:
            break
    return s


add(while_continue_break, vec(0.5, -1.0, 1.2, 2.0, 3.0, 0.1), tags=("while",))


def while_multiple_returns(x):
    k = 0
    while k < 100:
        x = x * 1.3
        if x > 50.0:
            return x - 50.0
        if x < -3.0:
            return -x * k
        k += 1
    return x


add(while_multiple_returns, 1.7, tags=("while", "return"))
add(while_multiple_returns, -0.9, name="while_multiple_returns_neg", tags=("while", "return"))


def inner_gradient_descent(a):
    x = 0.0
    g = 1.0
    while abs(g) > 1e-12:
        g = 2.0 * (x - a) + 0.4 * x**3
        x = x - 0.2 * g
    return x * x + a


add(inner_gradient_descent, 1.1, tags=("while",))


# ======== for loops


def for_break(v):
    s = 0.0
    for i in range(len(v)):
        s = s + v[i] ** 2
        if s > 1.0:
            break
    return s * v[0]


add(for_break, vec(0.4, 0.5, 0.9, 0.3), tags=("loop",))


def for_continue(v):
    s = 0.0
    for x in v:
        if x < 0.0:
            continue
        s = s + math.exp(-x) * x
    return s


add(for_continue, vec(0.5, -1.0, 2.0, -0.1, 0.7), tags=("loop",))


def early_return_in_loop(v):
    acc = 0.0
    for x in v:
        if x > 2.0:
            return acc + x * x
        acc = acc + x
    return acc * 2.0


add(early_return_in_loop, vec(0.5, 1.0, 2.5, 3.0), tags=("loop", "return"))
add(early_return_in_loop, vec(0.5, 1.0, 1.5), name="early_return_in_loop_fallthrough",
    tags=("loop", "return"))


def nested_loops(a):
    n, m = a.shape
    s = 0.0
    for i in range(n):
        for j in range(m):
            s = s + a[i, j] * math.sin(i + 0.5 * j + a[i, j])
    return s


add(nested_loops, np.array([[0.1, 0.2, 0.3], [0.4, -0.5, 0.6]]), tags=("loop",))


def nested_loop_break(a):
    s = 0.0
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            if a[i, j] < 0.0:
                break
            s = s + a[i, j] ** 2
        s = s * 1.1
    return s


add(nested_loop_break, np.array([[0.3, -0.2, 0.5], [0.4, 0.8, -0.1], [0.2, 0.3, 0.4]]),
    tags=("loop",))


def triangular_loops(v):
    s = 0.0
    for i in range(len(v)):
        for j in range(i):
            s = s + v[i] * v[j] / (1.0 + i + j)
    return s


add(triangular_loops, vec(0.3, -0.7, 1.1, 0.5), tags=("loop",))


def enumerate_zip(v, w):
    s = 0.0
    for i, x in enumerate(v):
        s = s + (i + 1) * x * x
    for a, b in zip(v, w):
        s = s + a * math.cos(b)
    for i, (a, b) in enumerate(zip(v, w)):
        s = s + i * a * b
    return s


add(enumerate_zip, vec(0.2, 0.5, -0.3), vec(1.0, -0.4, 0.6), argnums=(0, 1), tags=("loop",))


def iterate_rows_and_tuples(a):
    s = 0.0
    for row in a:
        s = s + np.dot(row, row)
    for c in (1.0, 2.0, 3.0):
        s = s + c * np.sum(a) ** 2 / 10.0
    for m in (a[0], a[1]):
        s = s + np.sum(np.cos(m))
    return s


add(iterate_rows_and_tuples, np.array([[0.5, -0.3], [0.2, 0.9], [1.0, 0.1]]), tags=("loop",))


# ======== functions


def _softplus(t):
    return np.log1p(np.exp(t))


def _sq(t):
    return t * t


def _scaled_norm(v, scale=1.0):
    return scale * np.sqrt(np.sum(_sq(v)))


def helper_functions(x, y):
    return np.sum(_softplus(x * y)) + _sq(np.sum(x)) + _scaled_norm(y, scale=2.0) + _scaled_norm(x)


add(helper_functions, vec(0.3, -0.8, 1.2), vec(0.5, 0.1, -0.6), argnums=(0, 1), tags=("call",))


def nested_def_closure(x, a):
    def inner(t):
        return a * t * t + math.sin(t)

    def outer(t):
        return inner(t) * inner(2.0 * t)

    return outer(x) + inner(a)


add(nested_def_closure, 0.7, 1.3, argnums=(0, 1), tags=("call", "closure"))


def _make_scaler(c):
    def scale(t):
        return c * t

    return scale


def returned_closure(x, a):
    g = _make_scaler(a)
    h = _make_scaler(2.0)
    return g(x) ** 2 + h(x * a)


add(returned_closure, 0.6, 1.4, argnums=(0, 1), tags=("call", "closure"))


def lambdas(x, a):
    sq = lambda t: t * t + a
    mix = lambda p, q: p * np.sin(q)
    return sq(x) + sq(np.sin(x)) + mix(a, x)


add(lambdas, 0.9, 0.4, argnums=(0, 1), tags=("call", "lambda"))


def _twice(g, x):
    return g(g(x))


def higher_order_helper(x):
    return _twice(lambda t: np.sin(t) + t * t, x) + _twice(_softplus, 0.5 * x)


add(higher_order_helper, 0.6, tags=("call", "lambda"))


def _rk4(rhs, u0, p, dt, n):
    u = u0
    for _ in range(n):
        k1 = rhs(u, p)
        k2 = rhs(u + 0.5 * dt * k1, p)
        k3 = rhs(u + 0.5 * dt * k2, p)
        k4 = rhs(u + dt * k3, p)
        u = u + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return u


def _lotka_volterra(u, p):
    x, y = u
    return np.array([p[0] * x - p[1] * x * y, p[2] * x * y - p[3] * y])


def rk4_lotka_volterra(p, u0):
    u = _rk4(_lotka_volterra, u0, p, 0.05, 20)
    return np.sum(u**2)


add(rk4_lotka_volterra, vec(1.1, 0.4, 0.3, 0.9), vec(1.0, 0.5), argnums=(0, 1), order2=True,
    tags=("call", "fnarg"))


def rk4_lambda_rhs(k, u0, n):
    u = _rk4(lambda u, p: -p * u + np.sin(u), u0, k, 0.1, n)
    return np.sum(u * u)


add(rk4_lambda_rhs, 0.7, vec(1.0, -0.5, 2.0), 10, argnums=(0, 1), tags=("call", "fnarg", "int"))


def rk4_nested_rhs(omega, u0):
    damping = 0.1

    def oscillator(u, p):
        return np.array([u[1], -p * p * u[0] - damping * u[1]])

    u = _rk4(oscillator, u0, omega, 0.05, 15)
    return u[0] + 0.5 * u[1]


add(rk4_nested_rhs, 1.3, vec(1.0, 0.0), argnums=(0, 1), tags=("call", "fnarg", "closure"))


def _power_rec(x, n):
    if n == 0:
        return 1.0
    return x * _power_rec(x, n - 1)


def _tree_rec(x, depth):
    if depth == 0:
        return x
    return math.sin(_tree_rec(x, depth - 1)) + 0.5 * _tree_rec(0.5 * x, depth - 1)


def static_recursion(x):
    return _power_rec(x, 5) + _tree_rec(x, 3)


add(static_recursion, 0.8, tags=("call", "recursion"))


# ======== pytrees


def tuple_argument(p, x):
    a, b = p
    return a * np.sum(np.sin(b * x)) + b**2


add(tuple_argument, (0.7, 1.3), vec(0.1, 0.4, -0.2), argnums=(0, 1), tags=("pytree",))


def dict_argument(params, x):
    h = np.tanh(params["w"] @ x + params["b"])
    return np.sum(h**2) + params["scale"] * np.sum(x)


add(dict_argument, {"w": MIX.copy(), "b": vec(0.1, -0.2), "scale": 0.5}, vec(0.3, -0.6, 0.9),
    argnums=(0, 1), order2=True, tags=("pytree",))


def list_argument(ws):
    s = 0.0
    for w in ws:
        s = s + np.sum(w * w) * np.sum(w)
    return s + ws[0][1] * ws[1][0]


add(list_argument, [vec(0.2, -0.4), vec(0.5, 0.1, 0.9), vec(1.2)], tags=("pytree",))


def mlp_loss(params, x, y):
    h = x
    for w, b in params:
        h = np.tanh(h @ w + b)
    return np.mean((h - y) ** 2)


_RNG = np.random.default_rng(1234)
add(mlp_loss, [(0.5 * _RNG.standard_normal((3, 4)), 0.1 * _RNG.standard_normal(4)),
               (0.5 * _RNG.standard_normal((4, 2)), 0.1 * _RNG.standard_normal(2))],
    _RNG.standard_normal((5, 3)), _RNG.standard_normal((5, 2)), argnums=(0, 1), order2=True,
    tags=("pytree", "linalg"))


def tuple_result(x):
    return np.sum(x**2), np.prod(x), x * 2.0


add(tuple_result, vec(0.5, 1.5, -0.8), order2=True, tags=("pytree", "nonscalar"))


def dict_result(x, y):
    return {"energy": 0.5 * np.sum(x**2) + x[0] * y, "grad": x * y, "parts": [np.sin(y), x[1:]]}


add(dict_result, vec(0.4, -1.1, 0.6), 0.8, argnums=(0, 1), tags=("pytree", "nonscalar"))


def array_result(x):
    return np.array([x[0] * x[1], np.sin(x[2]), x[0] + x[1] ** 2]) * SCALE


add(array_result, vec(0.5, -0.4, 1.2), tags=("nonscalar",))


# ======== broadcasting, reductions


def broadcast_outer(x, y):
    m = x[:, None] * y[None, :] + x[:, np.newaxis]
    return np.sum(np.sin(m)) + np.sum(m * COEFFS[:3])


add(broadcast_outer, vec(0.3, -0.5), vec(0.2, 0.7, 1.1), argnums=(0, 1), tags=("broadcast",))


def reductions_axis(a):
    col = a.sum(axis=0)
    row_mean = np.mean(a, axis=1, keepdims=True)
    centered = a - row_mean
    mx = np.max(a, axis=1)
    mn = a.min(axis=0)
    pr = np.prod(a + 2.0, axis=1, keepdims=True)
    return np.sum(col**2) + np.sum(centered**3) + np.sum(mx * mn[:2]) + np.sum(pr) + a.mean()


add(reductions_axis, np.array([[0.5, 1.2, -0.3], [0.9, -0.4, 2.0]]), order2=True,
    tags=("reduce",))


def logsumexp_softmax(x):
    m = np.max(x)
    e = np.exp(x - m)
    p = e / np.sum(e)
    return m + np.log(np.sum(e)) + np.sum(p * x)


add(logsumexp_softmax, vec(0.3, 1.7, -0.5, 0.9), order2=True, tags=("reduce",))


def cumsum_program(x):
    c = np.cumsum(x)
    c2 = np.cumsum(np.outer(x, x), axis=1)
    return np.sum(c * c) + np.sum(c2[:, -1] * x)


add(cumsum_program, vec(0.5, -0.2, 0.8, 0.1), tags=("reduce",))


def argmax_argmin_select(x):
    i = np.argmax(x)
    j = np.argmin(x)
    return x[i] ** 2 - x[j] * np.sum(x)


add(argmax_argmin_select, vec(0.5, 2.0, -1.0, 0.3), tags=("reduce", "index"))


def keepdims_normalize(a):
    norms = np.sqrt(np.sum(a**2, axis=1, keepdims=True))
    u = a / norms
    return np.sum(u[:, 0]) + np.sum(np.max(u, axis=0, keepdims=True) ** 2)


add(keepdims_normalize, np.array([[0.5, 1.2, -0.3], [0.9, -0.4, 2.0]]), tags=("reduce",))


# ======== linear algebra


def solve_quadratic(a, b):
    x = np.linalg.solve(a, b)
    return x @ x + np.dot(b, x)


_A3 = np.array([[4.0, 1.0, 0.5], [0.3, 3.0, -0.7], [0.2, 0.4, 2.5]])
add(solve_quadratic, _A3.copy(), vec(1.0, -2.0, 0.5), argnums=(0, 1), order2=True,
    tags=("linalg",))


def inv_det(a):
    return np.linalg.det(a) + np.sum(np.linalg.inv(a)) + np.log(np.abs(np.linalg.det(a @ a.T)))


add(inv_det, _A3.copy(), tags=("linalg",))


def norms(x, m):
    return np.linalg.norm(x) + np.linalg.norm(m) ** 2 + np.linalg.norm(m @ x)


add(norms, vec(0.3, -1.2, 0.8), MIX.copy(), argnums=(0, 1), tags=("linalg",))


def matmul_chain(a, b, x):
    y = a @ b @ x
    z = np.matmul(a.T, y) + np.inner(x, x) * (x @ np.transpose(b))
    return np.dot(z, z) + np.sum(np.outer(y, x))


add(matmul_chain, MIX.copy(), MIX.T.copy() * 0.5, vec(0.4, -0.3), argnums=(0, 1, 2),
    tags=("linalg",))


def cross_products(u, v):
    w = np.cross(u, v)
    return np.sum(w**2) + np.dot(np.cross(w, u), v)


add(cross_products, vec(0.3, -0.5, 1.1), vec(0.9, 0.2, -0.4), argnums=(0, 1), tags=("linalg",))


def least_squares(a, y):
    coef = np.linalg.solve(a.T @ a + 0.1 * np.eye(a.shape[1]), a.T @ y)
    r = a @ coef - y
    return np.sum(r**2) + 0.1 * np.sum(coef**2)


add(least_squares, _RNG.standard_normal((6, 3)), _RNG.standard_normal(6), argnums=(0, 1),
    tags=("linalg",))


# ======== elementwise math


def trig_suite(x):
    a = np.sin(x) + np.cos(x) + np.tan(0.5 * x)
    b = np.arcsin(0.5 * x) + np.arccos(0.4 * x) + np.arctan(x) + np.arctan2(x, 1.5 - x)
    c = np.sinh(x) + np.cosh(0.5 * x) + np.tanh(2.0 * x)
    return np.sum(a * b + c)


add(trig_suite, vec(0.3, -0.7, 1.1), order2=True, tags=("elementwise",))


def exp_log_suite(x):
    a = np.exp(x) + np.expm1(0.3 * x) + np.log(x) + np.log1p(x) + np.log2(x) + np.log10(x)
    b = np.sqrt(x) + np.cbrt(x) + np.square(x) + np.power(x, 1.7) + np.power(2.0, x) + x**x
    return np.sum(a * b)


add(exp_log_suite, vec(0.4, 1.3, 2.2), tags=("elementwise",))


def piecewise_elementwise(x):
    a = np.abs(x) * np.sign(x) + np.abs(x) ** 1.5
    b = x * np.floor(x) + np.ceil(x) * x**2 + np.round(x) * np.sin(x)
    c = np.maximum(x, 0.2) + np.minimum(x * x, 1.0) + np.clip(x, -0.5, 0.5)
    return np.sum(a + b + c) + np.sum(np.maximum(x, COEFFS[:3]))


add(piecewise_elementwise, vec(0.3, -1.3, 1.7), tags=("elementwise",))


def where_program(x):
    y = np.where(x > 0.0, x**2, -0.5 * x)
    z = np.where(np.abs(x) < 1.0, np.sin(x), 0.0)
    return np.sum(y * z) + np.sum(np.where(x > 1.0, x, 1.0))


add(where_program, vec(0.5, -0.3, 1.7, -1.4), tags=("elementwise", "index"))


def huber_loss(r, delta):
    a = np.abs(r)
    return np.sum(np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta)))


add(huber_loss, vec(0.3, -2.0, 1.5, 0.05), 1.0, argnums=(0, 1), tags=("elementwise",))


# ======== shape and creation


def reshape_ravel(x):
    m = x.reshape(2, 3)
    n = np.reshape(x, (3, 2))
    return np.sum(m @ n) + np.sum(np.ravel(m.T) * x) + np.sum(m.reshape(-1)[::2])


add(reshape_ravel, vec(0.1, 0.5, -0.3, 0.8, 1.2, -0.6), tags=("shape",))


def concat_stack(x, y):
    c = np.concatenate([x, y, x * y])
    s = np.stack([x, y], axis=1)
    t = np.stack((x, y))
    cs = np.column_stack((x, y * y))
    w = np.array([1.0, 2.0])
    return np.sum(c**2) + np.sum(s[:, 0] * s[:, 1]) + np.sum(t[1] ** 3) + np.sum(cs @ w)


add(concat_stack, vec(0.2, -0.5, 0.9), vec(1.0, 0.3, -0.4), argnums=(0, 1), tags=("shape",))


def creation_functions(x):
    n = x.shape[0]
    z = np.zeros(n) + x
    o = np.ones_like(x) * 2.0 - x
    f3 = np.full(n, 0.5) * x
    e = np.eye(n) @ x
    r = np.arange(n) * x
    ls = np.linspace(0.0, 1.0, n) * x
    zl = np.zeros_like(x)
    zl = zl + x**2
    on = np.ones((n, 2)) * x[:, None]
    return np.sum(z * o + f3 * e + r + ls + zl) + np.sum(on)


add(creation_functions, vec(0.3, -0.5, 1.1), tags=("shape",))


def squeeze_expand(x):
    y = x[None, :, None]
    s = np.squeeze(y, axis=2)
    t = np.squeeze(y, axis=0)
    return np.sum(s**2) + np.sum(t[:, 0] * x) + np.sum(y.squeeze(axis=0)[:, 0])


add(squeeze_expand, vec(0.2, 0.7, -0.4), tags=("shape",))


def shape_attributes(a):
    s = 0.0
    for i in range(a.shape[0]):
        for j in range(len(a[0])):
            s = s + a[i, j] * (i + 1) / a.size
    return s * a.ndim + np.sum(np.copy(a) ** 2)


add(shape_attributes, np.array([[0.5, -0.2], [0.3, 0.9], [1.1, -0.7]]), tags=("shape",))


def array_from_scalars(a, b):
    v = np.array([a, 2.0 * b, a * b])
    m = np.array([[a, b], [-b, a + 1.0]])
    return v @ v + np.linalg.det(m) + np.sum(m @ v[:2])


add(array_from_scalars, 0.6, -1.2, argnums=(0, 1), order2=True, tags=("shape",))


def unpack_array(v, m):
    x, y, z = v
    r0, r1 = m
    a, b = r1[:2]
    return x * y + z**2 + np.sum(r0 * r1) + a * b


add(unpack_array, vec(0.5, -0.9, 1.3), np.array([[0.2, 0.4, 0.6], [1.0, -0.3, 0.8]]),
    argnums=(0, 1), tags=("shape", "unpack"))


# ======== indexing


def int_and_negative_index(x, m):
    return x[0] * x[-1] + x[-2] ** 2 + m[1, 2] * m[-1, 0] + m[0][1]


add(int_and_negative_index, vec(0.3, 1.2, -0.5, 0.8), MIX.copy(), argnums=(0, 1),
    tags=("index",))


def slices_with_steps(x):
    a = x[1:4]
    b = x[::2]
    c = x[::-1]
    d = x[1:-1:2]
    e = x[-3:]
    return np.sum(a * c[:3]) + np.sum(b**2) + np.sum(d) * x[0] + np.sum(e * b)


add(slices_with_steps, vec(0.1, 0.5, -0.3, 0.8, 1.2, -0.6), tags=("index",))


def multidim_index(a):
    col = a[:, 0]
    sub = a[1:, ::2]
    last = a[-1]
    blk = a[:2, 1:3]
    return np.sum(col**2) + np.sum(sub * sub) + np.sum(last * a[0]) + np.sum(blk.T @ blk)


add(multidim_index, np.arange(12.0).reshape(3, 4) * 0.1 - 0.4, tags=("index",))


def newaxis_index(x):
    p = x[:, None] - x[np.newaxis, :]
    return np.sum(p**2 * x[None, :]) + np.sum(x[:, np.newaxis] @ x[None, :])


add(newaxis_index, vec(0.5, -0.2, 1.3), tags=("index", "broadcast"))


def gather_index(x, w):
    g = x[IDX]
    h = x[np.array([1, 3])]
    k = w[IDX[:2], 1]
    return np.sum(g**2 * COEFFS) + np.sum(h) * x[0] + np.sum(k * g[:2])


add(gather_index, vec(0.3, -0.5, 0.8, 1.1, -1.4), np.arange(15.0).reshape(5, 3) * 0.1,
    argnums=(0, 1), tags=("index",))


# ======== writes into local arrays


def write_loop(x):
    n = len(x)
    y = np.zeros(n)
    for i in range(n):
        if i == 0:
            y[i] = x[0] ** 2
        else:
            y[i] = y[i - 1] * 0.5 + np.sin(x[i])
    return np.sum(y * y)


add(write_loop, vec(0.4, -0.7, 1.2, 0.5), order2=True, tags=("write", "loop"))


def stencil_slices(u):
    lap = np.zeros_like(u)
    lap[1:-1] = u[2:] - 2.0 * u[1:-1] + u[:-2]
    lap[0] = u[1] - u[0]
    lap[-1] = u[-2] - u[-1]
    return np.sum(lap**2) + np.sum(u * lap)


add(stencil_slices, vec(0.3, 0.9, -0.2, 0.5, 1.4, 0.1), order2=True, tags=("write",))


def empty_like_write(x):
    y = np.empty_like(x)
    for i in range(x.shape[0]):
        y[i] = x[i] * x[(i + 1) % x.shape[0]]
    z = np.empty(3)
    z[0] = y[0]
    z[1] = y[1] + y[2]
    z[2] = np.sum(y)
    return np.sum(np.exp(z))


add(empty_like_write, vec(0.3, -0.2, 0.7, 0.5), tags=("write",))


def copy_then_write(x):
    y = x.copy()
    y[0] = y[0] * 3.0
    y[2] = np.sin(y[1])
    y[1:3] *= 2.0
    return y @ x + np.sum(x)


add(copy_then_write, vec(0.5, -0.9, 1.1, 0.4), tags=("write",))


def matrix_write(x):
    m = np.zeros((3, 3))
    m[0, :] = x
    for i in range(1, 3):
        for j in range(3):
            m[i, j] = x[j] ** (i + 1) + (1.0 if i == j else 0.0)
    m[:, 2] = m[:, 2] * 0.5
    return np.linalg.det(m) + np.sum(m[1])


add(matrix_write, vec(1.2, -0.5, 0.7), tags=("write", "linalg"))


def heat_explicit(u0, kappa, n_steps):
    u = u0.copy()
    for _ in range(n_steps):
        un = u.copy()
        un[1:-1] = u[1:-1] + kappa * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        u = un
    return np.sum(u**2) + u[3]


add(heat_explicit, np.sin(np.linspace(0.0, 3.0, 8)), 0.2, 12, argnums=(0, 1),
    tags=("write", "int"))


# ======== comprehensions


def generator_expressions(x):
    a = sum(x[i] ** 2 for i in range(3))
    b = sum([np.sin(x[i]) * i for i in range(4)])
    v = np.array([x[i] * x[i + 1] for i in range(3)])
    return a + b + np.sum(v**2)


add(generator_expressions, vec(0.5, -0.3, 0.8, 1.2), tags=("comprehension",))


# ======== int loop bounds


def power_iteration(a, n):
    v = np.ones(a.shape[0])
    for _ in range(n):
        w = a @ v
        v = w / np.linalg.norm(w)
    return v @ a @ v


_SPD = np.array([[3.0, 0.5, 0.2], [0.5, 2.0, 0.3], [0.2, 0.3, 1.0]])
add(power_iteration, _SPD.copy(), 15, tags=("int", "linalg"))


def taylor_exp(x, n):
    term = 1.0
    s = 1.0
    for k in range(1, n):
        term = term * x / k
        s = s + term
    return s


add(taylor_exp, 0.7, 8, tags=("int",))


# ======== float32


def f32_mlp(x, w):
    h = np.tanh(x @ w)
    return np.sum(h * h) + np.mean(np.exp(-x))


add(f32_mlp, np.array([[0.5, -0.3], [0.2, 0.8]], dtype=np.float32),
    np.array([[0.3, -0.7, 0.1], [0.9, 0.4, -0.2]], dtype=np.float32), argnums=(0, 1),
    rtol=2e-3, atol=2e-3, tags=("float32",))


def f32_reduce_index(x):
    y = np.zeros_like(x)
    y[1:] = x[:-1] * x[1:]
    return np.sum(y) + np.max(x) * x[0] + np.sum(np.sqrt(x[::2]))


add(f32_reduce_index, np.array([0.5, 1.3, 0.7, 2.1], dtype=np.float32), rtol=2e-3, atol=2e-3,
    tags=("float32",))


def f32_while(v):
    a = v[0]
    x = a
    while abs(x * x - a) > 1e-5:
        x = 0.5 * (x + a / x)
    return x * np.sum(v * v)


add(f32_while, np.array([2.5, 0.5, -1.5], dtype=np.float32), rtol=2e-3, atol=2e-3,
    tags=("float32", "while"))
