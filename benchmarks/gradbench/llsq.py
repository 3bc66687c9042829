"""GradBench ``llsq``: a linear least-squares objective over sign data, and its gradient."""

import numpy as np

import chainrule as cr

from . import prepared


def llsq(x, n):
    total = 0.0
    for i in range(n):
        t = -1.0 + i * 2.0 / (n - 1)
        r = np.sign(t)
        mul = 1.0
        for j in range(x.shape[0]):
            r = r - x[j] * mul
            mul = mul * t
        total = total + r * r
    return total / 2.0


_primal = cr.jit(llsq)
_gradient = cr.grad(llsq)


def _args(inp):
    return np.asarray(inp["x"], dtype=np.float64), int(inp["n"])


FUNCTIONS = {
    "primal": prepared(_primal, _args, float),
    "gradient": prepared(_gradient, _args, lambda g: g.tolist()),
}
