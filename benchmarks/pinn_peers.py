"""The PINN loss gradient of :mod:`chainrule.examples.pinn_heat` written for JAX and PyTorch.

    python -m benchmarks.pinn_peers jax|torch [MIN_TOTAL_S]

Prints one JSON object: per formulation, the best time per gradient, the first call (tracing
and compilation for JAX) and the gradient (flattened, for the caller to check). Formulations:

* JAX ``vmap``: ``u_t = grad(u, 2)`` and ``u_xx = grad(grad(u, 1), 1)`` of a per-point network,
  vmapped over the points, ``jit(grad(loss))``;
* JAX ``jvp``: the batched network, ``u_xx`` as ``jvp`` of ``jvp`` along the x direction;
* JAX ``jet``: the batched network, ``jax.experimental.jet`` as in chainrule's example;
* PyTorch: the batched network, nested ``torch.autograd.grad`` with ``create_graph=True`` (rows
  do not interact, so the gradient of ``u.sum()`` w.r.t. the points holds u_x per point).
"""

from __future__ import annotations

import json
import sys
import time

from .timing import best_time, single_threaded

single_threaded()

import numpy as np  # noqa: E402


def problem() -> tuple:
    from chainrule.examples import pinn_heat

    return pinn_heat.init_params(0), pinn_heat.problem()


def jax_formulations(params, data) -> dict:
    import jax
    import jax.numpy as jnp
    from jax.experimental import jet

    jax.config.update("jax_enable_x64", True)

    def net(p, X):
        W1, b1, W2, b2, w3, b3 = p
        h = jnp.tanh(X @ W1 + b1)
        h = jnp.tanh(h @ W2 + b2)
        return h @ w3 + b3

    def rest(p, r, X_init, u_init, X_bound):
        return jnp.mean(r ** 2) + jnp.mean((net(p, X_init) - u_init) ** 2) + \
            jnp.mean(net(p, X_bound) ** 2)

    def u_point(p, x, t):
        return net(p, jnp.stack([x, t])[None, :])[0]

    def loss_vmap(p, X, *edges):
        u_t = jax.vmap(jax.grad(u_point, 2), (None, 0, 0))(p, X[:, 0], X[:, 1])
        u_xx = jax.vmap(jax.grad(jax.grad(u_point, 1), 1), (None, 0, 0))(p, X[:, 0], X[:, 1])
        return rest(p, u_t - u_xx, *edges)

    def directions(X):
        return (jnp.zeros_like(X).at[:, 0].set(1.0), jnp.zeros_like(X).at[:, 1].set(1.0))

    def loss_jvp(p, X, *edges):
        E, T = directions(X)

        def u_x(Z):
            return jax.jvp(lambda W: net(p, W), (Z,), (E,))[1]

        u_xx = jax.jvp(u_x, (X,), (E,))[1]
        u_t = jax.jvp(lambda Z: net(p, Z), (X,), (T,))[1]
        return rest(p, u_t - u_xx, *edges)

    def loss_jet(p, X, *edges):
        E, T = directions(X)
        _, (_, u_xx) = jet.jet(lambda Z: net(p, Z), (X,), ((E, jnp.zeros_like(X)),))
        _, (u_t,) = jet.jet(lambda Z: net(p, Z), (X,), ((T,),))
        return rest(p, u_t - u_xx, *edges)

    out = {}
    for name, loss in (("vmap", loss_vmap), ("jvp", loss_jvp), ("jet", loss_jet)):
        g = jax.jit(jax.grad(loss))

        def call(g=g):
            return jax.block_until_ready(g(params, *data))

        out[f"JAX {name}"] = (call, lambda r: r)
    return out


def torch_formulations(params, data) -> dict:
    import torch

    torch.set_num_threads(1)
    p = [torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in params]
    X, X_init, u_init, X_bound = (torch.tensor(a) for a in data)

    def net(X):
        W1, b1, W2, b2, w3, b3 = p
        h = torch.tanh(X @ W1 + b1)
        h = torch.tanh(h @ W2 + b2)
        return h @ w3 + b3

    def grad_of_loss():
        Xg = X.clone().requires_grad_(True)
        u = net(Xg)
        du = torch.autograd.grad(u.sum(), Xg, create_graph=True)[0]
        u_x, u_t = du[:, 0], du[:, 1]
        u_xx = torch.autograd.grad(u_x.sum(), Xg, create_graph=True)[0][:, 0]
        r = u_t - u_xx
        loss = torch.mean(r ** 2) + torch.mean((net(X_init) - u_init) ** 2) + \
            torch.mean(net(X_bound) ** 2)
        return torch.autograd.grad(loss, p)

    return {"PyTorch nested autograd.grad": (grad_of_loss, lambda r: [t.detach().numpy()
                                                                        for t in r])}


def flat(g) -> list:
    return [float(v) for leaf in g for v in np.ravel(np.asarray(leaf))]


def main(argv: list[str]) -> int:
    tool = argv[0]
    min_total = float(argv[1]) if len(argv) > 1 else 0.3
    params, data = problem()
    build = {"jax": jax_formulations, "torch": torch_formulations}[tool]
    results = {}
    for name, (call, to_numpy) in build(params, data).items():
        t = time.perf_counter()
        g = call()
        first = time.perf_counter() - t
        best, _, _ = best_time(call, min_total=min_total)
        results[name] = {"per_call_s": best, "first_call_s": first, "grad": flat(to_numpy(g))}
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
