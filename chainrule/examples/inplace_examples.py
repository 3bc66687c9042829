"""Example programs that mutate arrays, written the way scientific Python is usually written.

Every function here runs as ordinary Python; chainrule differentiates them as written.

- :func:`lorenz_rhs` fills ``du`` in place (an ODE right-hand side ``rhs(du, u, p)``);
  :func:`lorenz_final` integrates the Lorenz system with classical RK4, reusing four stage
  buffers and a scratch buffer across all steps and updating the state with ``u += ...``.
- :func:`brusselator_rhs` is the 2-D Brusselator reaction-diffusion system on an N x N periodic
  grid, written with explicit loops that write ``du[i, j, 0]`` and ``du[i, j, 1]``;
  :func:`brusselator_final` takes explicit Euler steps with it.

``lorenz_loss`` and ``brusselator_loss`` reduce the final state to a scalar, so
``chainrule.grad(lorenz_loss, argnums=(0, 1))(u0, p)`` is the gradient with respect to the
initial state and the parameters.
"""

from __future__ import annotations

import numpy as np

# ---------------------------------------------------------------------------------------------
# Lorenz system, RK4 with an in-place right-hand side
# ---------------------------------------------------------------------------------------------

LORENZ_U0 = np.array([1.0, 1.0, 1.0])
LORENZ_P = np.array([10.0, 28.0, 8.0 / 3.0])  # sigma, rho, beta
LORENZ_DT = 0.01
LORENZ_STEPS = 100


def lorenz_rhs(du, u, p):
    """The Lorenz vector field at ``u``, written into ``du``."""
    sigma, rho, beta = p[0], p[1], p[2]
    du[0] = sigma * (u[1] - u[0])
    du[1] = u[0] * (rho - u[2]) - u[1]
    du[2] = u[0] * u[1] - beta * u[2]


def rk4_step(rhs, u, p, dt, k1, k2, k3, k4, tmp):
    """One classical Runge-Kutta step, updating ``u`` in place; ``k1``..``k4`` and ``tmp`` are
    caller-owned scratch buffers."""
    rhs(k1, u, p)
    np.copyto(tmp, u)
    tmp += 0.5 * dt * k1
    rhs(k2, tmp, p)
    np.copyto(tmp, u)
    tmp += 0.5 * dt * k2
    rhs(k3, tmp, p)
    tmp[:] = u + dt * k3
    rhs(k4, tmp, p)
    u += dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def lorenz_final(u0, p, dt=LORENZ_DT, steps=LORENZ_STEPS):
    """The Lorenz state after ``steps`` RK4 steps of size ``dt`` from ``u0``."""
    u = u0.copy()
    k1 = np.zeros(3)
    k2 = np.zeros(3)
    k3 = np.zeros(3)
    k4 = np.zeros(3)
    tmp = np.empty(3)
    for _ in range(steps):
        rk4_step(lorenz_rhs, u, p, dt, k1, k2, k3, k4, tmp)
    return u


def lorenz_loss(u0, p):
    """A scalar of the final state: ``|u(T)|^2 / 100``."""
    u = lorenz_final(u0, p)
    return np.sum(u * u) / 100.0


# ---------------------------------------------------------------------------------------------
# 2-D Brusselator, explicit loops over a periodic grid
# ---------------------------------------------------------------------------------------------

BRUSSELATOR_N = 6
BRUSSELATOR_P = np.array([3.4, 1.0, 0.02])  # A, B, diffusion coefficient alpha
BRUSSELATOR_DT = 0.005
BRUSSELATOR_STEPS = 3


def brusselator_init(n=BRUSSELATOR_N):
    """The usual initial state on an ``n x n`` grid of the unit square: ``u[i, j, 0]`` and
    ``u[i, j, 1]`` are the two species."""
    xs = np.linspace(0.0, 1.0, n)
    u = np.zeros((n, n, 2))
    for i in range(n):
        for j in range(n):
            x, y = xs[i], xs[j]
            u[i, j, 0] = 22.0 * (y * (1.0 - y)) ** 1.5
            u[i, j, 1] = 27.0 * (x * (1.0 - x)) ** 1.5
    return u


def brusselator_rhs(du, u, p):
    """Right-hand side of the Brusselator on a periodic grid (spacing 1/(n-1)), into ``du``."""
    a, b, alpha = p[0], p[1], p[2]
    n = u.shape[0]
    dx = 1.0 / (n - 1)
    c = alpha / (dx * dx)
    for i in range(n):
        ip1 = (i + 1) % n
        im1 = (i - 1) % n
        for j in range(n):
            jp1 = (j + 1) % n
            jm1 = (j - 1) % n
            x = u[i, j, 0]
            y = u[i, j, 1]
            lap_x = u[im1, j, 0] + u[ip1, j, 0] + u[i, jp1, 0] + u[i, jm1, 0] - 4.0 * x
            lap_y = u[im1, j, 1] + u[ip1, j, 1] + u[i, jp1, 1] + u[i, jm1, 1] - 4.0 * y
            du[i, j, 0] = c * lap_x + b + x * x * y - (a + 1.0) * x
            du[i, j, 1] = c * lap_y + a * x - x * x * y


def brusselator_final(u0, p, dt=BRUSSELATOR_DT, steps=BRUSSELATOR_STEPS):
    """``steps`` explicit Euler steps from ``u0``; ``du`` is one buffer reused by every step."""
    u = u0.copy()
    du = np.zeros_like(u)
    for _ in range(steps):
        brusselator_rhs(du, u, p)
        u += dt * du
    return u


def brusselator_loss(u0, p):
    """Mean of the first species squared at the final time."""
    u = brusselator_final(u0, p)
    return np.mean(u[:, :, 0] ** 2)


__all__ = [
    "brusselator_final",
    "brusselator_init",
    "brusselator_loss",
    "brusselator_rhs",
    "lorenz_final",
    "lorenz_loss",
    "lorenz_rhs",
    "rk4_step",
]
