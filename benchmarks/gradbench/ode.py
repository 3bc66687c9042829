"""GradBench ``ode``: RK4 on a linear chain ODE, written with in-place updates; the gradient is
that of the solution's last component with respect to all of ``x``."""

import numpy as np

import chainrule as cr

from . import prepared


def ode_rhs(x, y, z):
    z[0] = x[0]
    for i in range(1, x.shape[0]):
        z[i] = x[i] * y[i - 1]


def ode_solve(x, s):
    n = x.shape[0]
    h = 2.0 / s
    y = np.zeros(n)
    k1 = np.zeros(n)
    k2 = np.zeros(n)
    k3 = np.zeros(n)
    k4 = np.zeros(n)
    for _ in range(s):
        ode_rhs(x, y, k1)
        ode_rhs(x, y + h * k1 / 2.0, k2)
        ode_rhs(x, y + h * k2 / 2.0, k3)
        ode_rhs(x, y + h * k3, k4)
        y += h * (k1 + 2.0 * k2 + 2.0 * k3 + k4) / 6.0
    return y


def ode_last(x, s):
    y = ode_solve(x, s)
    return y[x.shape[0] - 1]


_primal = cr.jit(ode_solve)
_gradient = cr.grad(ode_last)


def _args(inp):
    return np.asarray(inp["x"], dtype=np.float64), int(inp["s"])


FUNCTIONS = {
    "primal": prepared(_primal, _args, lambda y: y.tolist()),
    "gradient": prepared(_gradient, _args, lambda g: g.tolist()),
}
