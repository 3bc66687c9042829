"""GradBench ``det``: the determinant by expansion by minors, recursively, removing rows and
columns through linked index lists (``r``, ``c``) that are edited in place and restored.

The recursion depth is the matrix size, so each size gets its own compiled function: the size
is a closure constant, and chainrule unfolds recursion whose depth is known at compile time.
"""

from functools import cache

import numpy as np

import chainrule as cr


def det_of_minor(a, n, m, r, c):
    r0 = r[n]
    cj = c[n]
    if m == 1:
        return a[r0 * n + cj]
    det_m = 0.0
    sign = 1.0
    r[n] = r[r0]
    cj1 = n
    for _ in range(m):
        m0j = a[r0 * n + cj]
        c[cj1] = c[cj]
        det_s = det_of_minor(a, n, m - 1, r, c)
        c[cj1] = cj
        det_m = det_m + sign * m0j * det_s
        cj1 = cj
        cj = c[cj]
        sign = -sign
    r[n] = r0
    return det_m


@cache
def _functions(ell: int):
    def det(a):
        r = np.arange(1, ell + 2)
        c = np.arange(1, ell + 2)
        r[ell] = 0
        c[ell] = 0
        return det_of_minor(a, ell, ell, r, c)

    return cr.jit(det), cr.grad(det)


def _args(inp):
    return np.asarray(inp["A"], dtype=np.float64), int(inp["ell"])


def _primal(inp):
    a, ell = _args(inp)
    f = _functions(ell)[0]
    return (lambda: f(a)), float


def _gradient(inp):
    a, ell = _args(inp)
    g = _functions(ell)[1]
    return (lambda: g(a)), lambda d: d.tolist()


FUNCTIONS = {"primal": _primal, "gradient": _gradient}
