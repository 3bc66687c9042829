"""What each benchmark differentiates: the workload function, ``argnums``, the arguments at each
size, and tiny arguments for correctness checks. Shared by the harness, the peers and the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import workloads as W


@dataclass(frozen=True)
class Workload:
    name: str
    fn: Callable
    argnums: tuple[int, ...]
    title: str
    sizes: dict  # "full" / "quick" -> size string for workloads.inputs

    def args(self, size: str = "full") -> tuple:
        return W.inputs(self.name, self.sizes.get(size, "default"))

    def label(self, size: str = "full") -> str:
        if self.name == "lorenz":
            return f"{self.title}, N={int(self.args(size)[2]):,}"
        return self.title


WORKLOADS: dict[str, Workload] = {
    "lorenz": Workload("lorenz", W.lorenz_loss, (0, 1), "Lorenz RK4",
                       {"full": "10000", "quick": "1000"}),
    "lorenz1k": Workload("lorenz", W.lorenz_loss, (0, 1), "Lorenz RK4",
                         {"full": "1000", "quick": "1000"}),
    "brusselator": Workload("brusselator", W.brusselator_loss, (0, 1),
                            "Brusselator 32x32, 300 steps", {}),
    "newton": Workload("newton", W.newton_root, (0,), "Newton (while loop)", {}),
    "mlp": Workload("mlp", W.mlp_loss, (0,), "MLP loss 8-16-1, 64 samples", {}),
    "gmm": Workload("gmm", W.gmm_loglik, (0, 1, 2), "GMM log-lik, K=3, 200x2", {}),
    "gmm_bcast": Workload("gmm_bcast", W.gmm_nll, (0, 1, 2),
                          "GMM NLL, broadcasting, n=1000 k=25 d=10", {}),
    "mlp_batch": Workload("mlp_batch", W.mlp_train_loss, (0,),
                          "MLP train loss 16-64-64-1, batch 256", {}),
    "lstm": Workload("lstm", W.lstm_loss, (0, 1, 2), "LSTM, 20 steps, batch 16, 8->32", {}),
    "heat": Workload("heat", W.heat_loss, (0, 1), "Reaction-diffusion 64x64 slices, 100 steps",
                     {}),
}

#: the order of a full run
ORDER = ("lorenz1k", "lorenz", "brusselator", "newton", "mlp", "gmm", "gmm_bcast", "mlp_batch",
         "lstm", "heat")


def small_args(name: str) -> tuple:
    """Tiny arguments of the same kinds, for finite-difference checks of the plain Python code."""
    rng = np.random.default_rng(1)
    if name == "lorenz":
        return (np.array([1.0, 1.0, 1.0]), np.array([10.0, 28.0, 8.0 / 3.0]), 60, 0.005)
    if name == "brusselator":
        n = 5
        u0 = np.empty((n, n, 2))
        u0[:, :, 0] = 1.0 + 0.3 * rng.random((n, n))
        u0[:, :, 1] = 3.0 + 0.3 * rng.random((n, n))
        return (u0, np.array([3.4, 1.0, 0.1]), 7, 1e-2)
    if name == "newton":
        return (1.5,)
    if name == "mlp":
        x = rng.standard_normal((6, 3))
        y = rng.standard_normal((6, 1))
        params = (rng.standard_normal((3, 4)) * 0.5, rng.standard_normal(4) * 0.1,
                  rng.standard_normal((4, 1)) * 0.5, rng.standard_normal(1) * 0.1)
        return (params, x, y)
    if name == "gmm":
        return (rng.standard_normal((3, 2)), rng.standard_normal((3, 2)) * 0.1,
                rng.standard_normal(3), rng.standard_normal((12, 2)))
    if name == "gmm_bcast":
        return (rng.standard_normal((3, 2)), 0.1 * rng.standard_normal((3, 2)),
                rng.standard_normal(3), rng.standard_normal((7, 2)))
    if name == "mlp_batch":
        params = (0.5 * rng.standard_normal((3, 4)), 0.1 * rng.standard_normal(4),
                  0.5 * rng.standard_normal((4, 4)), 0.1 * rng.standard_normal(4),
                  0.5 * rng.standard_normal((4, 1)), 0.1 * rng.standard_normal(1))
        return (params, rng.standard_normal((5, 3)), rng.standard_normal((5, 1)))
    if name == "lstm":
        return (0.3 * rng.standard_normal((2, 12)), 0.3 * rng.standard_normal((3, 12)),
                0.1 * rng.standard_normal(12), rng.standard_normal((4, 2, 2)),
                0.1 * rng.standard_normal((2, 3)), 0.1 * rng.standard_normal((2, 3)))
    if name == "heat":
        return (rng.random((6, 5)), 0.2, 4, 0.1)
    raise KeyError(name)


# -- pytrees of floats/arrays (tuples of arrays, as the workloads use) --------------------------
def leaves(tree: Any) -> list[np.ndarray]:
    """The float leaves of ``tree`` as float64 arrays (scalars become 0-d arrays)."""
    if isinstance(tree, (tuple, list)):
        return [x for t in tree for x in leaves(t)]
    return [np.asarray(tree, dtype=np.float64)]


def flat(tree: Any) -> np.ndarray:
    ls = leaves(tree)
    return np.concatenate([x.ravel() for x in ls]) if ls else np.zeros(0)


def unflat(template: Any, vec: np.ndarray) -> tuple[Any, int]:
    """A tree shaped like ``template`` filled from ``vec``; returns (tree, how many used)."""
    if isinstance(template, (tuple, list)):
        out, used = [], 0
        for t in template:
            v, k = unflat(t, vec[used:])
            out.append(v)
            used += k
        return type(template)(out), used
    a = np.asarray(template, dtype=np.float64)
    if a.ndim == 0:
        return float(vec[0]), 1
    return vec[: a.size].reshape(a.shape).copy(), a.size


def directional_fd(fn: Callable, args: tuple, argnums: tuple[int, ...], grad: Any,
                   n_dirs: int = 3, seed: int = 0) -> float:
    """Largest relative mismatch between ``<grad, v>`` and a central difference of ``fn`` along
    random directions ``v`` in the differentiated arguments (step scaled to the arguments)."""
    rng = np.random.default_rng(seed)
    grads = tuple(grad)  # one entry per argnum
    worst = 0.0
    for _ in range(n_dirs):
        dirs = [rng.standard_normal(flat(args[k]).size) for k in argnums]
        exact = sum(float(flat(g) @ d) for g, d in zip(grads, dirs))
        scale = max(1e-3, max(float(np.max(np.abs(flat(args[k])))) for k in argnums))
        h = 1e-6 * scale

        def shifted(sign: float, dirs: list = dirs, h: float = h) -> tuple:
            new = list(args)
            for k, d in zip(argnums, dirs):
                new[k] = unflat(args[k], flat(args[k]) + sign * h * d)[0]
            return tuple(new)

        approx = (fn(*shifted(1.0)) - fn(*shifted(-1.0))) / (2 * h)
        err = abs(approx - exact) / max(1.0, abs(exact), abs(approx))
        worst = max(worst, err)
    return worst


def grad_mismatch(a: Any, b: Any) -> float:
    """Relative difference between two gradients (as flat vectors)."""
    fa, fb = flat(a), flat(b)
    if fa.shape != fb.shape:
        return float("inf")
    return float(np.max(np.abs(fa - fb)) / max(1e-300, np.max(np.abs(fb)), 1e-12))
