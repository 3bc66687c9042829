"""A physics-informed neural network (PINN) for the heat equation, trained with chainrule.

    u_t = u_xx  on  x in [0, 1], t in [0, T_END];  u(x, 0) = sin(pi x),  u(0, t) = u(1, t) = 0
    exact solution: u(x, t) = exp(-pi^2 t) sin(pi x)

The network is a tanh MLP 2 -> 32 -> 32 -> 1 written in plain NumPy and applied to all points
at once (``X @ W1 + b1``, one row per point). The loss takes the PDE residual's derivatives with
chainrule *inside* the loss, and the loss itself is differentiated w.r.t. the weights:

* ``jet(f, (X,), ([E, 0.0],))`` with ``E`` = ones in the x column is one Taylor pass along x for
  every point at once (rows do not interact): its terms are u_x and u_xx at each point;
* ``jet(f, (X,), ([T],))`` (first order, along t) gives u_t at each point.

Training is plain Adam written in NumPy. Run ``python -m chainrule.examples.pinn_heat`` (options:
``--steps``, ``--backend``, ``--png``); it prints the loss and the error against the exact
solution, and writes a PNG of prediction vs exact when matplotlib is installed.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import chainrule as cr

T_END = 0.5
WIDTH = 32


def init_params(seed: int = 0, width: int = WIDTH) -> tuple:
    """Glorot-style random weights ``(W1, b1, W2, b2, w3, b3)``."""
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(2, width)) / np.sqrt(2.0), np.zeros(width),
            rng.normal(size=(width, width)) / np.sqrt(width), np.zeros(width),
            rng.normal(size=width) / np.sqrt(width), 0.0)


def net(params, X):
    """u at the points ``X`` (one row ``(x, t)`` per point): a tanh MLP applied row-wise."""
    W1, b1, W2, b2, w3, b3 = params
    h = np.tanh(X @ W1 + b1)
    h = np.tanh(h @ W2 + b2)
    return h @ w3 + b3


def directions(n):
    """(E, T): the unit directions along x and along t for each of ``n`` points."""
    E = np.zeros((n, 2))
    E[:, 0] = 1.0
    T = np.zeros((n, 2))
    T[:, 1] = 1.0
    return E, T


def residual(params, X):
    """u_t - u_xx at every row of ``X``, by two Taylor passes over the whole batch."""
    E, T = directions(X.shape[0])
    _, (u_x, u_xx) = cr.jet(lambda Z: net(params, Z), (X,), ([E, 0.0],))
    _, (u_t,) = cr.jet(lambda Z: net(params, Z), (X,), ([T],))
    return u_t - u_xx


def loss(params, X, X_init, u_init, X_bound):
    """Mean squared PDE residual at the collocation points ``X`` plus the mean squared misfit
    of the initial condition and of the (zero) boundary values."""
    r = residual(params, X)
    return np.mean(r ** 2) + np.mean((net(params, X_init) - u_init) ** 2) + \
        np.mean(net(params, X_bound) ** 2)


def exact(x, t):
    return np.exp(-np.pi ** 2 * t) * np.sin(np.pi * x)


def problem(n_collocation: int = 256, n_edge: int = 64, seed: int = 1) -> tuple:
    """``(X, X_init, u_init, X_bound)``: random collocation points in the domain, a grid on
    the initial line, and grids on both boundaries."""
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.uniform(0.0, 1.0, n_collocation),
                         rng.uniform(0.0, T_END, n_collocation)])
    x0 = np.linspace(0.0, 1.0, n_edge)
    X_init = np.column_stack([x0, np.zeros(n_edge)])
    tb = np.linspace(0.0, T_END, n_edge // 2)
    X_bound = np.column_stack([np.r_[np.zeros(n_edge // 2), np.ones(n_edge // 2)],
                               np.r_[tb, tb]])
    return X, X_init, np.sin(np.pi * x0), X_bound


def adam(grad_fn, params: tuple, data: tuple, steps: int, lr: float = 5e-3,
         decay: float = 0.5, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
         log=None) -> tuple:
    """Plain Adam on the tuple of weights, the step size decaying exponentially from ``lr`` to
    ``lr * decay``; ``grad_fn(params, *data) -> (loss, grads)``. Returns the trained weights
    and the loss history."""
    params = tuple(np.asarray(p, dtype=np.float64) for p in params)
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    history = []
    for step in range(1, steps + 1):
        value, grads = grad_fn(params, *data)
        history.append(float(value))
        new = []
        for i, (p, g) in enumerate(zip(params, grads)):
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g * g
            m_hat = m[i] / (1 - beta1 ** step)
            v_hat = v[i] / (1 - beta2 ** step)
            rate = lr * decay ** ((step - 1) / max(steps - 1, 1))
            new.append(p - rate * m_hat / (np.sqrt(v_hat) + eps))
        params = tuple(np.asarray(p, dtype=np.float64) for p in new)
        if log is not None and (step % 100 == 0 or step == 1):
            log(step, float(value))
    return params, history


def evaluation_grid(n: int = 41) -> tuple:
    xs, ts = np.meshgrid(np.linspace(0.0, 1.0, n), np.linspace(0.0, T_END, n))
    return xs, ts, np.column_stack([xs.ravel(), ts.ravel()])


def errors(params) -> tuple[float, float]:
    """(max absolute error, relative L2 error) of the network against the exact solution on a
    41 x 41 grid of the domain."""
    xs, ts, grid = evaluation_grid()
    pred = net(params, grid)
    ref = exact(grid[:, 0], grid[:, 1])
    return float(np.max(np.abs(pred - ref))), float(np.linalg.norm(pred - ref) /
                                                    np.linalg.norm(ref))


def train(steps: int = 1500, backend: str | None = None, seed: int = 0, lr: float = 5e-3,
          log=None) -> tuple:
    """Train from ``init_params(seed)``; returns (weights, loss history)."""
    grad_fn = cr.value_and_grad(loss, backend=backend)
    return adam(grad_fn, init_params(seed), problem(), steps, lr=lr, log=log)


def plot(params, path: str) -> bool:
    """Prediction, exact solution and error as a PNG; False when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    xs, ts, grid = evaluation_grid(101)
    pred = net(params, grid).reshape(xs.shape)
    ref = exact(xs, ts)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, data, title in zip(axes, (pred, ref, pred - ref),
                               ("PINN u(x, t)", "exact exp(-pi^2 t) sin(pi x)", "error")):
        im = ax.pcolormesh(xs, ts, data, shading="auto", cmap="viridis")
        ax.set_title(title)
        ax.set_xlabel("x")
        ax.set_ylabel("t")
        fig.colorbar(im, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--backend", default="auto",
                   help="auto (default: Numba; the first steps run on NumPy while it compiles), "
                        "numba (wait for it) or numpy")
    p.add_argument("--png", default="pinn_heat.png", help="where to write the plot")
    opts = p.parse_args(argv)
    print(f"PINN for u_t = u_xx: tanh MLP 2-{WIDTH}-{WIDTH}-1, 256 collocation points, "
          f"Adam, {opts.steps} steps, backend {opts.backend}")
    t0 = time.perf_counter()
    params, history = train(opts.steps, opts.backend, lr=opts.lr,
                            log=lambda s, v: print(f"  step {s:5d}  loss {v:.3e}"))
    elapsed = time.perf_counter() - t0
    max_err, rel_l2 = errors(params)
    print(f"final loss {history[-1]:.3e}; error vs exact on a 41x41 grid: max {max_err:.3e}, "
          f"relative L2 {rel_l2:.3e}; {elapsed:.1f} s")
    if plot(params, opts.png):
        print(f"wrote {opts.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
