"""Hand-fused Numba primals and adjoints of two array workloads, the reference for how fast
array code can be differentiated when every broadcast, reduction and stencil is one loop.

* GMM negative log-likelihood (:func:`benchmarks.workloads.gmm_nll`): one pass over the samples;
  for sample ``i`` the component scores ``t_j`` are computed in a loop over ``d`` without the
  ``(n, k, d)`` temporary, the responsibilities ``r_j = softmax(t)_j`` give the adjoint of every
  score (``-r_j``), and the score's partial derivatives (``z e^{-s}`` for the means,
  ``z^2 - 1`` for the log-scales, 1 for the log-weights) are accumulated in place.
* Reaction-diffusion with slices (:func:`benchmarks.workloads.heat_loss`): the forward sweep
  stores every state; the reverse sweep applies the transposed Jacobian of one explicit step
  (the 5-point Laplacian is symmetric) and accumulates ``d/dkappa``.
"""

from __future__ import annotations

import math

import numba
import numpy as np

njit = numba.njit(nogil=True, fastmath=False)


@njit
def _log_weights(logits):
    m = logits.max()
    s = 0.0
    for j in range(logits.shape[0]):
        s += math.exp(logits[j] - m)
    return logits - (m + math.log(s))


@njit
def _scores(x, i, means, inv, const, t):
    """Component scores of sample ``i`` into ``t``; returns their maximum."""
    best = -np.inf
    for j in range(means.shape[0]):
        q = 0.0
        for c in range(means.shape[1]):
            z = (x[i, c] - means[j, c]) * inv[j, c]
            q += z * z
        t[j] = const[j] - 0.5 * q
        best = max(best, t[j])
    return best


@njit
def gmm_primal(means, log_sigmas, logits, x):
    k, d = means.shape
    log_w = _log_weights(logits)
    inv = np.exp(-log_sigmas)
    const = log_w - log_sigmas.sum(axis=1)
    t = np.empty(k)
    total = 0.0
    for i in range(x.shape[0]):
        best = _scores(x, i, means, inv, const, t)
        s = 0.0
        for j in range(k):
            s += math.exp(t[j] - best)
        total += best + math.log(s)
    return -total


@njit
def gmm_grad(means, log_sigmas, logits, x):
    k, d = means.shape
    log_w = _log_weights(logits)
    inv = np.exp(-log_sigmas)
    const = log_w - log_sigmas.sum(axis=1)
    t = np.empty(k)
    g_means = np.zeros((k, d))
    g_ls = np.zeros((k, d))
    g_logw = np.zeros(k)
    for i in range(x.shape[0]):
        best = _scores(x, i, means, inv, const, t)
        s = 0.0
        for j in range(k):
            t[j] = math.exp(t[j] - best)
            s += t[j]
        for j in range(k):
            bt = -t[j] / s  # adjoint of the score: minus the responsibility
            g_logw[j] += bt
            for c in range(d):
                z = (x[i, c] - means[j, c]) * inv[j, c]
                g_means[j, c] += bt * z * inv[j, c]
                g_ls[j, c] += bt * (z * z - 1.0)
    w = np.exp(log_w)
    g_logits = g_logw - w * g_logw.sum()
    return g_means, g_ls, g_logits


@njit
def _heat_step(u, out, kappa, dt):
    n, m = u.shape
    out[:, :] = u
    for i in range(1, n - 1):
        for j in range(1, m - 1):
            c = u[i, j]
            lap = u[i + 1, j] + u[i - 1, j] + u[i, j + 1] + u[i, j - 1] - 4.0 * c
            out[i, j] = c + dt * kappa * lap - dt * c ** 3


@njit
def heat_primal(u0, kappa, n_steps, dt):
    u = u0.copy()
    nxt = np.empty_like(u)
    for _ in range(n_steps):
        _heat_step(u, nxt, kappa, dt)
        u, nxt = nxt, u
    return (u * u).sum()


@njit
def heat_grad(u0, kappa, n_steps, dt):
    n, m = u0.shape
    states = np.empty((n_steps + 1, n, m))
    states[0] = u0
    for s in range(n_steps):
        _heat_step(states[s], states[s + 1], kappa, dt)
    b = 2.0 * states[n_steps]
    bu = np.empty_like(b)
    g_kappa = 0.0
    for s in range(n_steps - 1, -1, -1):
        u = states[s]
        bu[:, :] = b
        for i in range(1, n - 1):
            for j in range(1, m - 1):
                g = b[i, j]
                c = u[i, j]
                lap = u[i + 1, j] + u[i - 1, j] + u[i, j + 1] + u[i, j - 1] - 4.0 * c
                g_kappa += g * dt * lap
                bu[i, j] += g * (-4.0 * dt * kappa - 3.0 * dt * c * c)  # b[i, j] is in already
                gk = g * dt * kappa
                bu[i + 1, j] += gk
                bu[i - 1, j] += gk
                bu[i, j + 1] += gk
                bu[i, j - 1] += gk
        b, bu = bu, b
    return b, g_kappa


def _arrays(args):
    return tuple(np.ascontiguousarray(a, dtype=np.float64) for a in args)


def _heat_args(args):
    u0, kappa, n, dt = args
    return (np.ascontiguousarray(u0, dtype=np.float64), float(kappa), int(n), float(dt))


#: name -> (primal, grad, how to adapt the workload's arguments), merged into
#: :data:`benchmarks.hand_adjoints.HAND`.
ARRAY_HAND = {
    "gmm_bcast": (gmm_primal, gmm_grad, _arrays),
    "heat": (heat_primal, heat_grad, _heat_args),
}
