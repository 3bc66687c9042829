"""Small programs whose printed IR and generated source are pinned by golden files."""

import numpy as np


def newton_root(a, tol=1e-13):
    x = 1.0
    while True:
        g = x**3 + a * x - 2.0
        if abs(g) < tol:
            return x
        x = x - g / (3.0 * x**2 + a)


def poly_loop(x, w):
    s = 0.0
    for i in range(len(w)):
        if w[i] > 0.0:
            s = s + np.sin(w[i] * x)
    return s * x


def write_stencil(u):
    v = np.zeros_like(u)
    v[1:-1] = u[2:] - 2.0 * u[1:-1] + u[:-2]
    return np.sum(v * v)
