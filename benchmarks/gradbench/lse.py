"""GradBench ``lse``: log-sum-exp with the max shift, and its gradient."""

import numpy as np

import chainrule as cr

from . import prepared


def logsumexp(x):
    a = np.max(x)
    return a + np.log(np.sum(np.exp(x - a)))


_primal = cr.jit(logsumexp)
_gradient = cr.grad(logsumexp)


def _x(inp):
    return (np.asarray(inp["x"], dtype=np.float64),)


FUNCTIONS = {
    "primal": prepared(_primal, _x, float),
    "gradient": prepared(_gradient, _x, lambda g: g.tolist()),
}
