"""Hand-written Numba primals and reverse-mode adjoints of the benchmark workloads.

These are the reference a compiled gradient is measured against: what a person who knows the
adjoint method would write by hand, in Numba, for the loops in :mod:`benchmarks.workloads`.
Each ``*_primal`` computes the same value as the workload; each ``*_grad`` returns the same
gradient as ``chainrule.grad(workload, argnums=...)``.

* Lorenz RK4: the forward sweep stores the trajectory ``u_k`` (one 3-vector per step); the
  reverse sweep recomputes the four RK4 stages of step ``k`` from ``u_k`` and propagates the
  adjoint backwards through them, stage by stage, with the transposed Jacobians of the Lorenz
  right-hand side written out. Gradient with respect to ``u0`` and ``p``.
* Brusselator: the forward sweep stores every state (``(n_steps + 1, n, n, 2)``); the reverse
  sweep applies the transposed Jacobian of one Euler step. The periodic 5-point Laplacian is
  symmetric, so its transpose is applied as the same stencil. Gradient with respect to ``u0``
  and ``params = (a, b, alpha)``.
* Newton: the implicit-function theorem: run Newton to convergence, then
  ``dx/da = -(dg/da) / (dg/dx) = -x / (3 x^2 + a)``.
"""

from __future__ import annotations

import numba
import numpy as np

from .array_hand import ARRAY_HAND

njit = numba.njit(nogil=True, fastmath=False)


# -- Lorenz RK4 ----------------------------------------------------------------------------------
@njit
def _lorenz_f(u0, u1, u2, s, r, b):
    return s * (u1 - u0), u0 * (r - u2) - u1, u0 * u1 - b * u2


@njit
def _lorenz_step(u0, u1, u2, s, r, b, dt):
    a0, a1, a2 = _lorenz_f(u0, u1, u2, s, r, b)
    h = 0.5 * dt
    b0, b1, b2 = _lorenz_f(u0 + h * a0, u1 + h * a1, u2 + h * a2, s, r, b)
    c0, c1, c2 = _lorenz_f(u0 + h * b0, u1 + h * b1, u2 + h * b2, s, r, b)
    d0, d1, d2 = _lorenz_f(u0 + dt * c0, u1 + dt * c1, u2 + dt * c2, s, r, b)
    w = dt / 6.0
    return (u0 + w * (a0 + 2.0 * b0 + 2.0 * c0 + d0),
            u1 + w * (a1 + 2.0 * b1 + 2.0 * c1 + d1),
            u2 + w * (a2 + 2.0 * b2 + 2.0 * c2 + d2))


@njit
def lorenz_primal(u0, p, n_steps, dt):
    """``workloads.lorenz_loss`` by hand: RK4 on the Lorenz system, loss ``|u_N|^2``."""
    x, y, z = u0[0], u0[1], u0[2]
    s, r, b = p[0], p[1], p[2]
    for _ in range(n_steps):
        x, y, z = _lorenz_step(x, y, z, s, r, b, dt)
    return x * x + y * y + z * z


@njit
def _lorenz_fT(u0, u1, u2, s, r, b, v0, v1, v2):
    """(J_u^T v, J_p^T v) of the Lorenz right-hand side at ``u`` (all scalars)."""
    gu0 = -s * v0 + (r - u2) * v1 + u1 * v2
    gu1 = s * v0 - v1 + u0 * v2
    gu2 = -u0 * v1 - b * v2
    gs = (u1 - u0) * v0
    gr = u0 * v1
    gb = -u2 * v2
    return gu0, gu1, gu2, gs, gr, gb


@njit
def lorenz_grad(u0, p, n_steps, dt):
    """Gradient of ``lorenz_loss`` w.r.t. ``(u0, p)``: store the trajectory, sweep back."""
    s, r, b = p[0], p[1], p[2]
    traj = np.empty((n_steps + 1, 3))
    x, y, z = u0[0], u0[1], u0[2]
    traj[0, 0], traj[0, 1], traj[0, 2] = x, y, z
    for k in range(n_steps):
        x, y, z = _lorenz_step(x, y, z, s, r, b, dt)
        traj[k + 1, 0], traj[k + 1, 1], traj[k + 1, 2] = x, y, z

    # d loss / d u_N
    g0, g1, g2 = 2.0 * x, 2.0 * y, 2.0 * z
    gs = 0.0
    gr = 0.0
    gb = 0.0
    h = 0.5 * dt
    w = dt / 6.0
    for k in range(n_steps - 1, -1, -1):
        x, y, z = traj[k, 0], traj[k, 1], traj[k, 2]
        # recompute the stages of step k
        a0, a1, a2 = _lorenz_f(x, y, z, s, r, b)
        y20, y21, y22 = x + h * a0, y + h * a1, z + h * a2
        b0, b1, b2 = _lorenz_f(y20, y21, y22, s, r, b)
        y30, y31, y32 = x + h * b0, y + h * b1, z + h * b2
        c0, c1, c2 = _lorenz_f(y30, y31, y32, s, r, b)
        y40, y41, y42 = x + dt * c0, y + dt * c1, z + dt * c2
        # u_{k+1} = u_k + w (k1 + 2 k2 + 2 k3 + k4)
        bk10, bk11, bk12 = w * g0, w * g1, w * g2
        bk20, bk21, bk22 = 2.0 * bk10, 2.0 * bk11, 2.0 * bk12
        bk30, bk31, bk32 = bk20, bk21, bk22
        bk40, bk41, bk42 = bk10, bk11, bk12
        # k4 = f(u + dt k3)
        e0, e1, e2, ps, pr, pb = _lorenz_fT(y40, y41, y42, s, r, b, bk40, bk41, bk42)
        gs += ps
        gr += pr
        gb += pb
        g0 += e0
        g1 += e1
        g2 += e2
        bk30 += dt * e0
        bk31 += dt * e1
        bk32 += dt * e2
        # k3 = f(u + h k2)
        e0, e1, e2, ps, pr, pb = _lorenz_fT(y30, y31, y32, s, r, b, bk30, bk31, bk32)
        gs += ps
        gr += pr
        gb += pb
        g0 += e0
        g1 += e1
        g2 += e2
        bk20 += h * e0
        bk21 += h * e1
        bk22 += h * e2
        # k2 = f(u + h k1)
        e0, e1, e2, ps, pr, pb = _lorenz_fT(y20, y21, y22, s, r, b, bk20, bk21, bk22)
        gs += ps
        gr += pr
        gb += pb
        g0 += e0
        g1 += e1
        g2 += e2
        bk10 += h * e0
        bk11 += h * e1
        bk12 += h * e2
        # k1 = f(u)
        e0, e1, e2, ps, pr, pb = _lorenz_fT(x, y, z, s, r, b, bk10, bk11, bk12)
        gs += ps
        gr += pr
        gb += pb
        g0 += e0
        g1 += e1
        g2 += e2
    gu = np.empty(3)
    gu[0], gu[1], gu[2] = g0, g1, g2
    gp = np.empty(3)
    gp[0], gp[1], gp[2] = gs, gr, gb
    return gu, gp


# -- 2-D Brusselator, forward Euler -------------------------------------------------------------
@njit
def _brusselator_step(u, out, a, b, alpha, dt):
    """``out = u + dt * rhs(u)`` (periodic 5-point Laplacian)."""
    n = u.shape[0]
    for i in range(n):
        ip = (i + 1) % n
        im = (i - 1) % n
        for j in range(n):
            jp = (j + 1) % n
            jm = (j - 1) % n
            x = u[i, j, 0]
            y = u[i, j, 1]
            lap_x = u[ip, j, 0] + u[im, j, 0] + u[i, jp, 0] + u[i, jm, 0] - 4.0 * x
            lap_y = u[ip, j, 1] + u[im, j, 1] + u[i, jp, 1] + u[i, jm, 1] - 4.0 * y
            out[i, j, 0] = x + dt * (alpha * lap_x + b + x * x * y - (a + 1.0) * x)
            out[i, j, 1] = y + dt * (alpha * lap_y + a * x - x * x * y)


@njit
def brusselator_primal(u0, params, n_steps, dt):
    """``workloads.brusselator_loss`` by hand (two buffers, swapped every step)."""
    a, b, alpha = params[0], params[1], params[2]
    u = u0.copy()
    v = np.empty_like(u0)
    for _ in range(n_steps):
        _brusselator_step(u, v, a, b, alpha, dt)
        u, v = v, u
    return np.sum(u * u)


@njit
def brusselator_grad(u0, params, n_steps, dt):
    """Gradient of ``brusselator_loss`` w.r.t. ``(u0, params)``: store every state, sweep back."""
    a, b, alpha = params[0], params[1], params[2]
    n = u0.shape[0]
    states = np.empty((n_steps + 1,) + u0.shape)
    states[0] = u0
    for k in range(n_steps):
        _brusselator_step(states[k], states[k + 1], a, b, alpha, dt)

    g = 2.0 * states[n_steps]  # d loss / d u_N
    gn = np.empty_like(g)
    ga = 0.0
    gb = 0.0
    galpha = 0.0
    for k in range(n_steps - 1, -1, -1):
        u = states[k]
        # u_{k+1} = u_k + dt * rhs(u_k):  g_k = g + dt * J^T g
        for i in range(n):
            ip = (i + 1) % n
            im = (i - 1) % n
            for j in range(n):
                jp = (j + 1) % n
                jm = (j - 1) % n
                x = u[i, j, 0]
                y = u[i, j, 1]
                vx = dt * g[i, j, 0]
                vy = dt * g[i, j, 1]
                # the Laplacian is symmetric: its transpose is the same stencil on g
                lgx = g[ip, j, 0] + g[im, j, 0] + g[i, jp, 0] + g[i, jm, 0] - 4.0 * g[i, j, 0]
                lgy = g[ip, j, 1] + g[im, j, 1] + g[i, jp, 1] + g[i, jm, 1] - 4.0 * g[i, j, 1]
                xy2 = 2.0 * x * y
                xx = x * x
                gn[i, j, 0] = (g[i, j, 0] + dt * alpha * lgx
                               + vx * (xy2 - (a + 1.0)) + vy * (a - xy2))
                gn[i, j, 1] = g[i, j, 1] + dt * alpha * lgy + (vx - vy) * xx
                lap_x = u[ip, j, 0] + u[im, j, 0] + u[i, jp, 0] + u[i, jm, 0] - 4.0 * x
                lap_y = u[ip, j, 1] + u[im, j, 1] + u[i, jp, 1] + u[i, jm, 1] - 4.0 * y
                ga += (vy - vx) * x
                gb += vx
                galpha += vx * lap_x + vy * lap_y
        g, gn = gn, g
    gp = np.empty(3)
    gp[0], gp[1], gp[2] = ga, gb, galpha
    return g, gp


# -- scalar Newton solve -------------------------------------------------------------------------
@njit
def newton_primal(a):
    """``workloads.newton_root`` by hand: the real root of ``x^3 + a x - 2``."""
    x = 1.0
    while True:
        g = x**3 + a * x - 2.0
        if abs(g) < 1e-13:
            return x
        x = x - g / (3.0 * x**2 + a)


@njit
def newton_grad(a):
    """d root / d a by the implicit-function theorem (Newton, then one division)."""
    x = 1.0
    while True:
        g = x**3 + a * x - 2.0
        if abs(g) < 1e-13:
            break
        x = x - g / (3.0 * x**2 + a)
    return -x / (3.0 * x**2 + a)


# -- registry used by the harness ----------------------------------------------------------------
def _lorenz_args(args):
    u0, p, n, dt = args
    return (np.ascontiguousarray(u0, dtype=np.float64), np.ascontiguousarray(p, np.float64),
            int(n), float(dt))


def _brusselator_args(args):
    u0, params, n, dt = args
    return (np.ascontiguousarray(u0, dtype=np.float64),
            np.ascontiguousarray(params, np.float64), int(n), float(dt))


#: name -> (primal, grad, how to adapt the workload's arguments). ``grad`` returns the gradient
#: in the structure ``chainrule.grad(f, argnums=ARGNUMS[name])`` returns.
HAND = {
    "lorenz": (lorenz_primal, lorenz_grad, _lorenz_args),
    "brusselator": (brusselator_primal, brusselator_grad, _brusselator_args),
    "newton": (newton_primal, newton_grad, lambda args: (float(args[0]),)),
    **ARRAY_HAND,
}
