"""The array workloads (GMM with broadcasting, batched MLP, LSTM, slice stencil) rewritten for
JAX (``jit`` of ``grad``), PyTorch (eager) and HIPS autograd; :mod:`benchmarks.peers` dispatches
here for them. The rewrites are the smallest each tool needs: JAX and autograd cannot assign into
arrays, so the stencil's slice write becomes ``.at[...].set`` (JAX) or a border mask plus
``pad`` (autograd); PyTorch writes into a fresh clone each step (writing into the tensor the
previous step's backward still needs is an error at backward time). The time loop of the stencil
is a ``lax.fori_loop`` under JAX; the LSTM's 20 steps are unrolled while tracing, as JAX users
write them.
"""

from __future__ import annotations

ARRAY_WORKLOADS = ("gmm_bcast", "mlp_batch", "lstm", "heat")
ARGNUMS = {"gmm_bcast": (0, 1, 2), "mlp_batch": (0,), "lstm": (0, 1, 2), "heat": (0, 1)}


def _functions(np, where_set, amax=None):
    """The four workloads over the array module ``np``; ``where_set(u, inner)`` returns ``u``
    with its interior replaced by ``inner``; ``amax(a, axis, keepdims)`` defaults to ``np.max``."""
    amax = amax or (lambda a, axis, keepdims: np.max(a, axis=axis, keepdims=keepdims))

    def logsumexp(a, axis):
        m = amax(a, axis, True)
        return np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m

    def gmm_nll(means, log_sigmas, logits, x):
        log_w = logits - logsumexp(logits, 0)
        z = (x[:, None, :] - means[None, :, :]) * np.exp(-log_sigmas)[None, :, :]
        terms = (log_w[None, :] - np.sum(log_sigmas, axis=1)[None, :]
                 - 0.5 * np.sum(z * z, axis=2))
        return -np.sum(logsumexp(terms, 1))

    def mlp_train_loss(params, x, y):
        w1, b1, w2, b2, w3, b3 = params
        h1 = np.tanh(x @ w1 + b1)
        h2 = np.tanh(h1 @ w2 + b2)
        pred = h2 @ w3 + b3
        reg = 1e-4 * (np.sum(w1 * w1) + np.sum(w2 * w2) + np.sum(w3 * w3))
        return np.mean((pred - y) ** 2) + reg

    def sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z))

    def lstm_loss(wx, wh, b, xs, h0, c0):
        h, c = h0, c0
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

    def heat_step(u, kappa, dt):
        lap = u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2] - 4.0 * u[1:-1, 1:-1]
        return where_set(u, u[1:-1, 1:-1] + dt * kappa * lap - dt * u[1:-1, 1:-1] ** 3)

    return {"gmm_bcast": gmm_nll, "mlp_batch": mlp_train_loss, "lstm": lstm_loss,
            "heat_step": heat_step}


def jax_build(name: str, args: tuple):
    import jax
    import jax.numpy as jnp
    from jax import lax

    jax.config.update("jax_enable_x64", True)
    fns = _functions(jnp, lambda u, inner: u.at[1:-1, 1:-1].set(inner))
    dev = lambda t: jax.tree_util.tree_map(
        lambda v: jnp.asarray(v) if hasattr(v, "shape") else v, t)
    if name == "heat":
        def heat_loss(u0, kappa, n_steps, dt):
            u = lax.fori_loop(0, n_steps, lambda _, u: fns["heat_step"](u, kappa, dt), u0)
            return jnp.sum(u * u)

        u0, kappa, n, dt = args
        primal = jax.jit(heat_loss, static_argnums=(2,))
        g = jax.jit(jax.grad(heat_loss, argnums=(0, 1)), static_argnums=(2,))
        call_args = (dev(u0), float(kappa), int(n), float(dt))
    else:
        fn = fns[name]
        primal = jax.jit(fn)
        argnums = ARGNUMS[name]
        g1 = jax.jit(jax.grad(fn, argnums=argnums))
        g = (lambda *a: (g1(*a),)) if len(argnums) == 1 else g1
        call_args = dev(args)

    def run_grad(*a):
        return jax.block_until_ready(g(*a))

    def run_primal(*a):
        return jax.block_until_ready(primal(*a))

    return run_primal, run_grad, call_args, "", jax.__version__


def torch_build(name: str, args: tuple):
    import torch

    def where_set(u, inner):
        u = u.clone()
        u[1:-1, 1:-1] = inner
        return u

    fns = _functions(torch, where_set,
                     lambda a, axis, keepdims: torch.amax(a, dim=axis, keepdim=keepdims))
    f64 = torch.float64

    def leaf(v, req=True):
        return torch.tensor(v, dtype=f64, requires_grad=req)

    if name == "heat":
        def heat_loss(u0, kappa, n_steps, dt):
            u = u0
            for _ in range(n_steps):
                u = fns["heat_step"](u, kappa, dt)
            return torch.sum(u * u)

        u0, kappa, n, dt = args
        fn, diff, rest = heat_loss, [leaf(u0), leaf(float(kappa))], (int(n), float(dt))
    elif name == "mlp_batch":
        params, x, y = args
        fn, diff = fns[name], [tuple(leaf(w) for w in params)]
        rest = (leaf(x, False), leaf(y, False))
    else:
        k = len(ARGNUMS[name])
        fn = fns[name]
        diff = [leaf(a) for a in args[:k]]
        rest = tuple(leaf(a, False) for a in args[k:])
    return fn, diff, rest


def autograd_build(name: str):
    import autograd.numpy as anp

    def where_set(u, inner):
        mask = anp.ones(u.shape)
        mask[1:-1, 1:-1] = 0.0
        return u * mask + anp.pad(inner, 1, mode="constant")

    fns = _functions(anp, where_set)
    if name == "heat":
        def heat_loss(u0, kappa, n_steps, dt):
            u = u0
            for _ in range(n_steps):
                u = fns["heat_step"](u, kappa, dt)
            return anp.sum(u * u)

        return heat_loss, ARGNUMS[name]
    return fns[name], ARGNUMS[name]
