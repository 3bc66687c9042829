"""Benchmark workloads written as plain NumPy code, as a scientist would write them."""

from __future__ import annotations

import numpy as np


# -- Lorenz system, RK4 with an in-place right-hand side ---------------------------------------
def lorenz_rhs(du, u, p):
    sigma, rho, beta = p[0], p[1], p[2]
    du[0] = sigma * (u[1] - u[0])
    du[1] = u[0] * (rho - u[2]) - u[1]
    du[2] = u[0] * u[1] - beta * u[2]


def lorenz_loss(u0, p, n_steps, dt):
    u = u0.copy()
    k1 = np.zeros(3)
    k2 = np.zeros(3)
    k3 = np.zeros(3)
    k4 = np.zeros(3)
    for _ in range(n_steps):
        lorenz_rhs(k1, u, p)
        lorenz_rhs(k2, u + 0.5 * dt * k1, p)
        lorenz_rhs(k3, u + 0.5 * dt * k2, p)
        lorenz_rhs(k4, u + dt * k3, p)
        u += dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return u[0] ** 2 + u[1] ** 2 + u[2] ** 2


# -- 2-D Brusselator, explicit loops, forward Euler --------------------------------------------
def brusselator_rhs(du, u, a, b, alpha):
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
            du[i, j, 0] = alpha * lap_x + b + x * x * y - (a + 1.0) * x
            du[i, j, 1] = alpha * lap_y + a * x - x * x * y


def brusselator_loss(u0, params, n_steps, dt):
    u = u0.copy()
    du = np.zeros_like(u0)
    for _ in range(n_steps):
        brusselator_rhs(du, u, params[0], params[1], params[2])
        u += dt * du
    return np.sum(u * u)


# -- scalar Newton solve with a data-dependent trip count ---------------------------------------
def newton_root(a):
    x = 1.0
    while True:
        g = x**3 + a * x - 2.0
        if abs(g) < 1e-13:
            return x
        x = x - g / (3.0 * x**2 + a)


# -- small MLP ------------------------------------------------------------------------------------
def mlp_loss(params, x, y):
    w1, b1, w2, b2 = params
    h = np.tanh(x @ w1 + b1)
    pred = h @ w2 + b2
    return np.mean((pred - y) ** 2)


# -- GMM log-likelihood ---------------------------------------------------------------------------
def gmm_loglik(means, log_sigmas, logits, x):
    k = means.shape[0]
    n = x.shape[0]
    w_max = np.max(logits)
    log_w = logits - (w_max + np.log(np.sum(np.exp(logits - w_max))))
    total = 0.0
    for i in range(n):
        best = -1e300
        terms = np.zeros(k)
        for j in range(k):
            z = (x[i] - means[j]) / np.exp(log_sigmas[j])
            terms[j] = log_w[j] - np.sum(log_sigmas[j]) - 0.5 * np.sum(z * z)
            if terms[j] > best:
                best = terms[j]
        total = total + best + np.log(np.sum(np.exp(terms - best)))
    return total


# -- array workloads: broadcasting, axis reductions, slices, matrix products ---------------------
def logsumexp(a, axis):
    m = np.max(a, axis=axis, keepdims=True)
    return np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m


def gmm_nll(means, log_sigmas, logits, x):
    """Diagonal-covariance GMM negative log-likelihood with (n, k, d) broadcasting."""
    log_w = logits - logsumexp(logits, 0)
    z = (x[:, None, :] - means[None, :, :]) * np.exp(-log_sigmas)[None, :, :]
    terms = log_w[None, :] - np.sum(log_sigmas, axis=1)[None, :] - 0.5 * np.sum(z * z, axis=2)
    return -np.sum(logsumexp(terms, 1))


def mlp_train_loss(params, x, y):
    """Two hidden tanh layers, mean squared error over a batch, L2 penalty."""
    w1, b1, w2, b2, w3, b3 = params
    h1 = np.tanh(x @ w1 + b1)
    h2 = np.tanh(h1 @ w2 + b2)
    pred = h2 @ w3 + b3
    reg = 1e-4 * (np.sum(w1 * w1) + np.sum(w2 * w2) + np.sum(w3 * w3))
    return np.mean((pred - y) ** 2) + reg


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def lstm_loss(wx, wh, b, xs, h0, c0):
    """An LSTM cell run over a sequence of batches; gates sliced from one matrix product."""
    h = h0
    c = c0
    n_h = h0.shape[1]
    loss = 0.0
    for t in range(xs.shape[0]):
        z = xs[t] @ wx + h @ wh + b
        i = sigmoid(z[:, :n_h])
        f = sigmoid(z[:, n_h:2 * n_h])
        o = sigmoid(z[:, 2 * n_h:3 * n_h])
        g = np.tanh(z[:, 3 * n_h:])
        c = f * c + i * g
        h = o * np.tanh(c)
        loss = loss + np.sum(h * h)
    return loss


def heat_loss(u0, kappa, n_steps, dt):
    """2-D reaction-diffusion, explicit steps written with slices; the border stays fixed."""
    u = u0.copy()
    for _ in range(n_steps):
        lap = u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2] - 4.0 * u[1:-1, 1:-1]
        u[1:-1, 1:-1] = u[1:-1, 1:-1] + dt * kappa * lap - dt * u[1:-1, 1:-1] ** 3
    return np.sum(u * u)


def inputs(name: str, size: str = "default"):
    rng = np.random.default_rng(0)
    if name == "lorenz":
        n = 10_000 if size == "default" else int(size)
        return (np.array([1.0, 1.0, 1.0]), np.array([10.0, 28.0, 8.0 / 3.0]), n, 0.001)
    if name == "brusselator":
        n = 32
        u0 = np.empty((n, n, 2))
        xs = np.linspace(0, 1, n)
        u0[:, :, 0] = 22.0 * (xs[None, :] * (1 - xs[None, :])) ** 1.5 + 0 * xs[:, None]
        u0[:, :, 1] = 27.0 * (xs[:, None] * (1 - xs[:, None])) ** 1.5 + 0 * xs[None, :]
        return (u0, np.array([3.4, 1.0, 0.1]), 300, 1e-4)
    if name == "newton":
        return (1.5,)
    if name == "mlp":
        x = rng.standard_normal((64, 8))
        y = rng.standard_normal((64, 1))
        params = (rng.standard_normal((8, 16)) * 0.3, np.zeros(16),
                  rng.standard_normal((16, 1)) * 0.3, np.zeros(1))
        return (params, x, y)
    if name == "gmm":
        return (rng.standard_normal((3, 2)), rng.standard_normal((3, 2)) * 0.1,
                rng.standard_normal(3), rng.standard_normal((200, 2)))
    if name == "gmm_bcast":
        return (rng.standard_normal((25, 10)), 0.1 * rng.standard_normal((25, 10)),
                rng.standard_normal(25), rng.standard_normal((1000, 10)))
    if name == "mlp_batch":
        params = (0.3 * rng.standard_normal((16, 64)), np.zeros(64),
                  0.1 * rng.standard_normal((64, 64)), np.zeros(64),
                  0.1 * rng.standard_normal((64, 1)), np.zeros(1))
        return (params, rng.standard_normal((256, 16)), rng.standard_normal((256, 1)))
    if name == "lstm":
        return (0.1 * rng.standard_normal((8, 128)), 0.1 * rng.standard_normal((32, 128)),
                np.zeros(128), rng.standard_normal((20, 16, 8)), np.zeros((16, 32)),
                np.zeros((16, 32)))
    if name == "heat":
        return (rng.random((64, 64)), 0.2, 100, 0.1)
    raise KeyError(name)
