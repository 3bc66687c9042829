"""GradBench ``kmeans``: the k-means cost and the Newton direction ``J / diag(H)``.

The cost's Hessian with respect to the centroids is diagonal, so its diagonal is one
Hessian-vector product with a vector of ones: forward mode over the reverse-mode gradient.
"""

import numpy as np

import chainrule as cr

from . import prepared


def kmeans_cost(centroids, points):
    total = 0.0
    for i in range(points.shape[0]):
        closest = np.inf
        for j in range(centroids.shape[0]):
            d = np.sum((points[i] - centroids[j]) ** 2)
            closest = min(closest, d)
        total = total + closest
    return total


_cost = cr.jit(kmeans_cost)
_grad = cr.grad(kmeans_cost)


def direction(centroids, points):
    ones = np.ones_like(centroids)
    jac, hess_diag = cr.jvp(lambda c: _grad(c, points), (centroids,), (ones,))
    return jac / hess_diag


_dir = cr.jit(direction)


def _args(inp):
    return (np.asarray(inp["centroids"], dtype=np.float64),
            np.asarray(inp["points"], dtype=np.float64))


FUNCTIONS = {
    "cost": prepared(_cost, _args, float),
    "dir": prepared(_dir, _args, lambda d: d.tolist()),
}
