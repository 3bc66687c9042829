"""GradBench ``saddle``: min over x of max over y of ``(x0^2 + x1^2) - (y0^2 + y1^2)`` by
nested gradient descent; the four variants choose forward (``f``) or reverse (``r``) mode for
the outer and the inner gradient. The outer gradient differentiates through the inner solver's
data-dependent ``while`` loop.
"""

import numpy as np

import chainrule as cr

from .solver import argmax, argmin, maximum


def grad_r(f, x):
    return cr.grad(f)(x)


def grad_f(f, x):
    d0 = cr.jvp(f, (x,), (np.array([1.0, 0.0]),))[1]
    d1 = cr.jvp(f, (x,), (np.array([0.0, 1.0]),))[1]
    return np.array([d0, d1])


def cost(p1, p2):
    return (p1[0] ** 2 + p1[1] ** 2) - (p2[0] ** 2 + p2[1] ** 2)


def saddle(start, outer, inner):
    r1 = argmin(lambda p1: maximum(lambda p2: cost(p1, p2), inner, start), outer, start)
    r2 = argmax(lambda p2: cost(r1, p2), outer, start)
    return np.concatenate((r1, r2))


def _variant(outer, inner):
    def variant(start):
        return saddle(start, outer, inner)

    compiled = cr.jit(variant)

    def prepare(inp):
        start = np.asarray(inp["start"], dtype=np.float64)
        return (lambda: compiled(start)), lambda out: out.tolist()

    return prepare


MODES = {"f": grad_f, "r": grad_r}
FUNCTIONS = {a + b: _variant(MODES[a], MODES[b]) for a in "fr" for b in "fr"}
