"""GradBench ``gmm``: the log posterior of a Gaussian mixture with a Wishart prior on the
precision matrices, and its gradient with respect to ``alpha``, ``mu``, ``q`` and ``l``.

Each precision factor ``Q_k`` is lower triangular with ``exp(q_k)`` on its diagonal and ``l_k``
below it, filled column by column; the constants that depend only on sizes (the log of the
multivariate gamma function) are computed outside the differentiated code.
"""

import math

import numpy as np

import chainrule as cr

from . import prepared


def logsumexp(v):
    mx = np.max(v)
    return np.log(np.sum(np.exp(v - mx))) + mx


def q_times(qdiag, ltri, v, d):
    out = qdiag * v
    idx = 0
    for i in range(d):
        for j in range(i + 1, d):
            out[j] = out[j] + ltri[idx] * v[i]
            idx = idx + 1
    return out


def gmm_objective(alpha, mu, q, ltri, x, gamma, m, const):
    n, d = x.shape
    k = alpha.shape[0]
    qdiags = np.exp(q)
    sum_qs = np.sum(q, axis=1)
    main_term = np.zeros(k)
    slse = 0.0
    for ix in range(n):
        for ik in range(k):
            qx = q_times(qdiags[ik], ltri[ik], x[ix] - mu[ik], d)
            main_term[ik] = alpha[ik] + sum_qs[ik] - 0.5 * np.sum(qx * qx)
        slse = slse + logsumexp(main_term)
    err = -n * d * 0.5 * math.log(2 * math.pi) + slse - n * logsumexp(alpha)
    frob = np.sum(qdiags * qdiags) + np.sum(ltri * ltri)
    prior = -(0.5 * gamma * gamma * frob - m * np.sum(sum_qs)) + k * const
    return err + prior


def wishart_constant(d: int, m: int, gamma: float) -> float:
    n = d + m + 1
    log_gamma_d = 0.25 * d * (d - 1) * math.log(math.pi) + sum(
        math.lgamma(0.5 * n + 0.5 * (1 - j)) for j in range(1, d + 1))
    return n * d * (math.log(gamma) - 0.5 * math.log(2)) - log_gamma_d


_objective = cr.jit(gmm_objective)
_jacobian = cr.grad(gmm_objective, argnums=(0, 1, 2, 3))


def _args(inp):
    d, k = int(inp["d"]), int(inp["k"])
    arr = lambda key, shape: np.asarray(inp[key], dtype=np.float64).reshape(shape)
    gamma, m = float(inp["gamma"]), int(inp["m"])
    return (arr("alpha", (k,)), arr("mu", (k, d)), arr("q", (k, d)),
            arr("l", (k, d * (d - 1) // 2)), arr("x", (int(inp["n"]), d)), gamma, float(m),
            wishart_constant(d, m, gamma))


def _post_jacobian(g):
    alpha, mu, q, ltri = g
    return {"alpha": alpha.tolist(), "mu": mu.tolist(), "q": q.tolist(), "l": ltri.tolist()}


FUNCTIONS = {
    "objective": prepared(_objective, _args, float),
    "jacobian": prepared(_jacobian, _args, _post_jacobian),
}
