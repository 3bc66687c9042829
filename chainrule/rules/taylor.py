"""Taylor-mode rules: how each primitive maps truncated Taylor series of its arguments to the
series of its result (Griewank & Walther, "Evaluating Derivatives", ch. 13).

A series of order K is held as *normalised* coefficients: ``x(t) = x0 + x1 t + ... + xK t^K``
(``xk`` is the k-th derivative along the curve divided by k!). Rule signature::

    taylor(b, args, series, out, **params) -> list of K atoms (None: a zero coefficient) | None

``series[i]`` is None for an argument that carries no derivatives, else the list
``[x1, ..., xK]`` (entries may be None: statically zero). ``out`` is the primal result (the
series' coefficient 0). Every rule costs O(K^2) primitive applications at most.

Families of rules:

* :func:`coefficientwise` -- linear and piecewise-linear primitives (sums, reshapes, indexing,
  ``where``, ``abs``, ``maximum``...): coefficient k is the JVP rule applied to coefficient k.
* :func:`bilinear` -- ``mul``, ``matmul``, ``dot``...: the Cauchy product of the two series.
* recurrences for ``exp log sin cos tan tanh sqrt pow div ...`` built from a few series
  helpers (products, quotients, powers, and the "integration" ``y' = g(x) x'``).

:func:`attach` gives a family's primitives their rules (called at the end of each family
module).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ..errors import MissingRuleError
from ..ir.nodes import Const
from .common import add_maybe as sadd

# -- atoms that may be None (a zero coefficient) ----------------------------------------------


def _is_const(x, value: float) -> bool:
    return isinstance(x, Const) and isinstance(x.value, (int, float)) and x.value == value


def smul(b, x, y):
    """``x * y`` with None as zero and 1.0 as one."""
    if x is None or y is None:
        return None
    if _is_const(x, 1.0) and x.weak:
        return y
    if _is_const(y, 1.0) and y.weak:
        return x
    return b.mul(x, y)


def sscale(b, x, c: float):
    """``x * c`` for a Python number ``c``."""
    if x is None or c == 0:
        return None
    if c == 1:
        return x
    if c == -1:
        return b.neg(x)
    return b.mul(x, float(c))


def ssub(b, x, y):
    if y is None:
        return x
    if x is None:
        return b.neg(y)
    return b.sub(x, y)


def ssum(b, terms):
    total = None
    for t in terms:
        total = sadd(b, total, t)
    return total


def full(x0, coeffs, K: int) -> list:
    """``[x0, x1, ..., xK]`` from a primal and its coefficients (None: all zero)."""
    return [x0] + (list(coeffs) if coeffs is not None else [None] * K)


def order_of(series) -> int:
    for s in series:
        if s is not None:
            return len(s)
    raise ValueError("a Taylor rule needs at least one argument with a series")


# -- series helpers (lists indexed by order; entry 0 is the value) ----------------------------


def cauchy(b, x, y, k: int, lo: int = 0, op=None):
    """``sum_{j=lo}^{k-lo} x_j y_{k-j}`` (``op(b, a, c)`` instead of the product if given)."""
    op = op or smul
    return ssum(b, [op(b, x[j], y[k - j]) for j in range(lo, k - lo + 1)
                    if x[j] is not None and y[k - j] is not None])


def square_series(b, x, m: int) -> list:
    """The series of ``x * x`` to order ``m`` (using the symmetry of the Cauchy product)."""
    out = [b.square(x[0])] if x[0] is not None else [None]
    for n in range(1, m + 1):
        pairs = ssum(b, [smul(b, x[j], x[n - j]) for j in range((n + 1) // 2)
                         if x[j] is not None and x[n - j] is not None])
        total = sscale(b, pairs, 2.0)
        if n % 2 == 0 and x[n // 2] is not None:
            total = sadd(b, total, b.square(x[n // 2]))
        out.append(total)
    return out


def tilde(b, x) -> list:
    """``[None, 1 x1, 2 x2, ..., K xK]`` (the coefficients of ``t x'(t)``)."""
    return [None] + [sscale(b, x[j], j) for j in range(1, len(x))]


def integrate(b, xt, g, k: int):
    """Coefficient k of y where ``y' = g x'``: ``(1/k) sum_{j=1}^k j x_j g_{k-j}`` (``xt`` from
    :func:`tilde`)."""
    total = ssum(b, [smul(b, xt[j], g[k - j]) for j in range(1, k + 1)
                     if xt[j] is not None and g[k - j] is not None])
    return sscale(b, total, 1.0 / k)


def quotient(b, num, den, q0, m: int, inv=None) -> list:
    """The series of ``num / den`` to order m, given its value ``q0`` (``inv``: ``1 / den[0]``
    when the caller computes it its own way)."""
    inv = b.reciprocal(den[0]) if inv is None else inv
    q = [q0]
    for k in range(1, m + 1):
        rest = ssum(b, [smul(b, den[j], q[k - j]) for j in range(1, k + 1)
                        if den[j] is not None and q[k - j] is not None])
        q.append(smul(b, ssub(b, num[k], rest), inv))
    return q


def power(b, x, r, y0, m: int) -> list:
    """The series of ``x ** r`` (``r`` a Python number or an atom) to order m, from
    ``x y' = r y x'``: ``y_k = (1/(k x0)) sum_{j=0}^{k-1} (r (k-j) - j) x_{k-j} y_j``."""
    inv = b.reciprocal(x[0])
    y = [y0]
    for k in range(1, m + 1):
        terms = []
        for j in range(k):
            if x[k - j] is None or y[j] is None:
                continue
            if isinstance(r, (int, float)):
                c = r * (k - j) - j
                terms.append(sscale(b, smul(b, x[k - j], y[j]), c))
            else:
                c = b.sub(b.mul(r, float(k - j)), float(j))
                terms.append(smul(b, c, smul(b, x[k - j], y[j])))
        y.append(smul(b, sscale(b, ssum(b, terms), 1.0 / k), inv))
    return y


def exp_series(b, x, y0, m: int) -> list:
    """The series of ``exp(x)`` (its value ``y0`` given) to order m."""
    xt = tilde(b, x)
    y = [y0]
    for k in range(1, m + 1):
        y.append(integrate(b, xt, y, k))
    return y


def log_series(b, x, y0, m: int, x0=None) -> list:
    """The series of ``log(x)`` to order m (``x0`` replaces the value of x, as for log1p)."""
    inv = b.reciprocal(x[0] if x0 is None else x0)
    y = [y0]
    yt = [None]
    for k in range(1, m + 1):
        rest = ssum(b, [smul(b, yt[j], x[k - j]) for j in range(1, k)
                        if yt[j] is not None and x[k - j] is not None])
        y.append(smul(b, ssub(b, x[k], sscale(b, rest, 1.0 / k)), inv))
        yt.append(sscale(b, y[k], k))
    return y


def sqrt_series(b, x, y0, m: int, zero_at_zero: bool = False) -> list:
    """The series of ``sqrt(x)`` (value ``y0``) to order m. ``zero_at_zero``: all coefficients
    are 0 where ``y0 == 0`` (the convention of norm and hypot at the origin, whose derivatives
    are taken as 0 there, and so are theirs)."""
    if zero_at_zero:
        zero = b.eq(y0, 0.0)
        inv = b.where(zero, 0.0, b.reciprocal(b.mul(b.where(zero, 1.0, y0), 2.0)))
    else:
        inv = b.reciprocal(b.mul(y0, 2.0))
    y = [y0]
    for k in range(1, m + 1):
        pairs = ssum(b, [smul(b, y[j], y[k - j]) for j in range(1, (k + 1) // 2)
                         if y[j] is not None and y[k - j] is not None])
        inner = sscale(b, pairs, 2.0)
        if k % 2 == 0 and y[k // 2] is not None:
            inner = sadd(b, inner, b.square(y[k // 2]))
        y.append(smul(b, ssub(b, x[k], inner), inv))
    return y


def sin_cos_series(b, x, s0, c0, m: int, hyperbolic: bool = False) -> tuple[list, list]:
    xt = tilde(b, x)
    s, c = [s0], [c0]
    for k in range(1, m + 1):
        s.append(integrate(b, xt, c, k))
        ck = integrate(b, xt, s, k)
        c.append(ck if hyperbolic else sscale(b, ck, -1.0))
    return s, c


def tan_series(b, x, y0, m: int, sign: float) -> list:
    """``tan`` (sign +1: y' = (1 + y^2) x') or ``tanh`` (sign -1: y' = (1 - y^2) x')."""
    xt = tilde(b, x)
    y = [y0]
    w = [b.add(1.0, sscale(b, b.square(y0), sign))]
    for k in range(1, m + 1):
        y.append(integrate(b, xt, w, k))
        if k < m:
            w.append(sscale(b, square_series(b, y, k)[k], sign))
    return y


def affine(b, s, c0: float, scale: float) -> list:
    """The series of ``c0 + scale * s``."""
    first = sscale(b, s[0], scale)
    return [b.add(first, c0) if c0 else first] + [sscale(b, t, scale) for t in s[1:]]


def of_derivative(b, x, g, m: int, y0) -> list:
    """The series of y with ``y' = g x'`` (g's series to order m - 1), value ``y0``."""
    xt = tilde(b, x)
    g = list(g) + [None] * (m + 1 - len(g))
    return [y0] + [integrate(b, xt, g, k) for k in range(1, m + 1)]


# -- rule builders -----------------------------------------------------------------------------


def unary_rule(series_fn: Callable) -> Callable:
    """A rule from ``series_fn(b, x, out, K) -> [y0, y1, ..., yK]`` over one argument."""

    def rule(b, args, series, out, **params):
        K = order_of(series)
        return series_fn(b, full(args[0], series[0], K), out, K, **params)[1:]

    return rule


def binary_rule(series_fn: Callable) -> Callable:
    def rule(b, args, series, out, **params):
        K = order_of(series)
        x, y = (full(a, s, K) for a, s in zip(args, series))
        return series_fn(b, x, y, out, K, **params)[1:]

    return rule


def coefficientwise(jvp: Callable) -> Callable:
    """The rule of a linear (or piecewise-linear) primitive: its JVP per coefficient."""

    def rule(b, args, series, out, **params):
        K = order_of(series)
        res = []
        for k in range(K):
            tans = [None if s is None else s[k] for s in series]
            if all(t is None for t in tans):
                res.append(None)
                continue
            b.arg_active = tuple(t is not None for t in tans)
            res.append(jvp(b, list(args), tans, out, **params))
        return res

    return rule


def bilinear(name: str, jvp: Callable) -> Callable:
    """The rule of a bilinear primitive ``f(x, y)``: coefficient k is
    ``sum_{j=0}^k f(x_j, y_{k-j})`` (the two end terms through the JVP rule)."""

    def rule(b, args, series, out, **params):
        K = order_of(series)
        x, y = (full(a, s, K) for a, s in zip(args, series))
        res = []
        for k in range(1, K + 1):
            tans = [x[k], y[k]]
            b.arg_active = tuple(t is not None for t in tans)
            ends = jvp(b, list(args), tans, out, **params) if any(
                t is not None for t in tans) else None
            if name == "mul":
                middle = ssum(b, [smul(b, x[j], y[k - j]) for j in range(1, k)
                                  if x[j] is not None and y[k - j] is not None])
            else:
                middle = ssum(b, [b.emit(name, x[j], y[k - j], **params) for j in range(1, k)
                                  if x[j] is not None and y[k - j] is not None])
            res.append(sadd(b, ends, middle))
        return res

    return rule


def first_order_only(jvp: Callable, name: str, hint: str) -> Callable:
    """For primitives without a higher-order recurrence: order 1 is the JVP, higher orders
    raise a typed error."""

    def rule(b, args, series, out, **params):
        if order_of(series) > 1:
            raise MissingRuleError(f"primitive `{name}` has no Taylor rule beyond order 1",
                                   b.loc, hint=hint)
        return coefficientwise(jvp)(b, args, series, out, **params)

    return rule


def attach(prims: list, rules: dict[str, Callable] | None = None,
           coefficientwise_: tuple = (), bilinear_: tuple = ()) -> None:
    """Give the primitives of one family their Taylor rules (each name must exist)."""
    table = {p.name: p for p in prims}
    for name in coefficientwise_:
        table[name].taylor = coefficientwise(table[name].jvp)
    for name in bilinear_:
        table[name].taylor = bilinear(name, table[name].jvp)
    for name, rule in (rules or {}).items():
        table[name].taylor = rule


LN2, LN10 = math.log(2.0), math.log(10.0)
