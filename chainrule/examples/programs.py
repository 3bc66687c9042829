"""Example programs, written as plain NumPy code with no chainrule-specific constructs.

Every function here runs as ordinary Python. The demo (``chainrule demo``) differentiates them
with chainrule and checks the results against central finite differences.

- :func:`newton_root`: a Newton solve with a data-dependent ``while`` loop and an early return;
  its derivative with respect to ``a`` is the sensitivity of the root.
- :func:`pendulum_loss`: an explicit RK4 integration of a damped pendulum, written as a ``for``
  loop over time steps that calls a helper returning a new array.
- :func:`mlp_loss`: the mean squared error of a two-layer tanh network on a small fixed dataset,
  with the weights passed as a tuple of arrays.
"""

from __future__ import annotations

import numpy as np

# ---------------------------------------------------------------------------------------------
# (a) Newton solve: root of x**3 + a*x - 2 = 0
# ---------------------------------------------------------------------------------------------


def newton_root(a, tol=1e-13):
    """The real root of ``x**3 + a*x - 2`` for ``a > 0``, by Newton's method from ``x = 1``."""
    x = 1.0
    while True:
        g = x**3 + a * x - 2.0
        if abs(g) < tol:
            return x
        x = x - g / (3.0 * x**2 + a)


def newton_root_sensitivity(a):
    """d(root)/da by the implicit function theorem: ``-x / (3 x**2 + a)`` at the root ``x``."""
    x = newton_root(a)
    return -x / (3.0 * x**2 + a)


# ---------------------------------------------------------------------------------------------
# (b) RK4 integration of a damped pendulum
# ---------------------------------------------------------------------------------------------

DT = 0.05
N_STEPS = 200


def rhs(u, p):
    """Damped pendulum: u = (angle, angular velocity), p = (damping, gravity / length)."""
    theta = u[0]
    omega = u[1]
    return np.array([omega, -p[0] * omega - p[1] * np.sin(theta)])


def integrate(u0, p):
    """The state after ``N_STEPS`` explicit RK4 steps of size ``DT`` from ``u0``."""
    u = u0.copy()
    for _ in range(N_STEPS):
        k1 = rhs(u, p)
        k2 = rhs(u + 0.5 * DT * k1, p)
        k3 = rhs(u + 0.5 * DT * k2, p)
        k4 = rhs(u + DT * k3, p)
        u = u + (DT / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return u


def pendulum_loss(u0, p):
    """Sum of squares of the final state."""
    u = integrate(u0, p)
    return np.sum(u**2)


# ---------------------------------------------------------------------------------------------
# (c) Two-layer tanh MLP, mean squared error on a fixed dataset
# ---------------------------------------------------------------------------------------------

N_IN = 2
N_HIDDEN = 8
N_SAMPLES = 32

_rng = np.random.default_rng(0)
X_TRAIN = _rng.uniform(-1.0, 1.0, size=(N_SAMPLES, N_IN))
Y_TRAIN = (np.sin(np.pi * X_TRAIN[:, 0]) * X_TRAIN[:, 1]).reshape(N_SAMPLES, 1)
del _rng


def mlp_init(seed=1):
    """Initial weights ``(W1, b1, W2, b2)`` drawn with a seeded generator."""
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0.0, 1.0 / np.sqrt(N_IN), size=(N_IN, N_HIDDEN))
    b1 = rng.normal(0.0, 0.1, size=N_HIDDEN)
    w2 = rng.normal(0.0, 1.0 / np.sqrt(N_HIDDEN), size=(N_HIDDEN, 1))
    b2 = rng.normal(0.0, 0.1, size=1)
    return (w1, b1, w2, b2)


def mlp_loss(params):
    """Mean squared error of ``tanh(X W1 + b1) W2 + b2`` against ``Y_TRAIN``."""
    w1, b1, w2, b2 = params
    h = np.tanh(X_TRAIN @ w1 + b1)
    pred = h @ w2 + b2
    return np.mean((pred - Y_TRAIN) ** 2)
