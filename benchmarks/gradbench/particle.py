"""GradBench ``particle``: choose the control ``w`` so that a charged particle, integrated by
Euler steps under the force ``-grad_x p(x; w)`` until it crosses y = 0, lands at the origin.
The outer gradient descent differentiates (forward or reverse mode) through the integration's
data-dependent ``while`` loop, which itself takes the gradient of the potential (forward or
reverse mode) with respect to the position, a closure over the outer parameter ``w``.
"""

import numpy as np

import chainrule as cr

from .solver import argmin


def potential(x, w):
    return (1.0 / np.sqrt((x[0] - 10.0) ** 2 + (x[1] - (10.0 - w)) ** 2)
            + 1.0 / np.sqrt((x[0] - 10.0) ** 2 + x[1] ** 2))


def force_r(x, w):
    return -cr.grad(lambda z: potential(z, w))(x)


def force_f(x, w):
    p = lambda z: potential(z, w)
    return -np.array([cr.jvp(p, (x,), (np.array([1.0, 0.0]),))[1],
                      cr.jvp(p, (x,), (np.array([0.0, 1.0]),))[1]])


def naive_euler(w, force):
    x = np.array([0.0, 8.0])
    xdot = np.array([0.75, 0.0])
    dt = 0.1
    while True:
        xddot = force(x, w)
        x_new = x + dt * xdot
        if x_new[1] > 0.0:
            x = x_new
            xdot = xdot + dt * xddot
        else:
            break
    dt_f = -x[1] / xdot[1]
    x_f = x + dt_f * xdot
    return x_f[0] ** 2


def grad_r(f, w):
    return cr.grad(f)(w)


def grad_f(f, w):
    return cr.jvp(f, (w,), (np.ones_like(w),))[1]


def particle(w0, outer, force):
    w = argmin(lambda v: naive_euler(v[0], force), outer, np.array([w0]))
    return w[0]


def _variant(outer, force):
    def variant(w0):
        return particle(w0, outer, force)

    compiled = cr.jit(variant)

    def prepare(inp):
        w0 = float(inp["w"])
        return (lambda: compiled(w0)), float

    return prepare


OUTER = {"f": grad_f, "r": grad_r}
FORCE = {"f": force_f, "r": force_r}
FUNCTIONS = {a + b: _variant(OUTER[a], FORCE[b]) for a in "fr" for b in "fr"}
