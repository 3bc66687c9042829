"""The workloads rewritten for other AD tools: JAX (``jit`` of ``grad``), PyTorch (eager,
``torch.autograd.grad``) and HIPS autograd. Each tool is imported only when asked for.

The rewrites are the smallest change each tool needs, kept here and not in the library:

* in-place writes (``lorenz_rhs(du, u, p)``, ``u += ...``) become functions returning new
  arrays; the Brusselator's explicit ``i, j`` loops become ``roll`` stencils (JAX would unroll a
  Python loop while tracing; the eager tools would pay per element); the GMM's loops over
  samples and components are vectorized;
* JAX: time loops become ``lax.fori_loop`` (a static trip count, so reverse mode works);
  Newton's data-dependent loop must become ``lax.while_loop``, which JAX can differentiate only
  in forward mode, so its "gradient" is ``jax.jvp`` with tangent 1;
* PyTorch and autograd run the Python loops as written (they record every operation); for
  Lorenz with many steps they are timed at ``EAGER_LORENZ_STEPS`` steps and the times are
  extrapolated linearly to the requested number of steps (reported as such).

Run one measurement in a fresh process (what the harness does)::

    python -m benchmarks.peers TOOL WORKLOAD SIZE [MIN_TOTAL_S [first-only]]

It prints one JSON object: gradient and primal times, the first call, the time from process
start to the first gradient, and the gradient itself (for the harness to check). With
``first-only`` it stops after the first gradient: the harness runs JAX that way a second time,
with the persistent compilation cache the first run filled, for JAX's warm-start time.
"""

from __future__ import annotations

import json
import os
import sys
import time

T_PROCESS = time.time()  # close to interpreter start: nothing heavy is imported above

from .array_peers import (  # noqa: E402
    ARRAY_WORKLOADS,
    autograd_build,
    jax_build,
    torch_build,
)
from .timing import single_threaded  # noqa: E402

single_threaded()

TOOLS = ("jax", "torch", "autograd")
LABELS = {"jax": "JAX (jit)", "torch": "PyTorch (eager)", "autograd": "autograd"}
EAGER_LORENZ_STEPS = 500


def available(tool: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(tool) is not None


# -- JAX ------------------------------------------------------------------------------------------
def _jax(name: str, args: tuple):
    if name in ARRAY_WORKLOADS:
        return jax_build(name, args)
    import jax
    import jax.numpy as jnp
    from jax import lax

    jax.config.update("jax_enable_x64", True)

    def lorenz_rhs(u, p):
        return jnp.stack([p[0] * (u[1] - u[0]), u[0] * (p[1] - u[2]) - u[1],
                          u[0] * u[1] - p[2] * u[2]])

    def lorenz_loss(u0, p, n_steps, dt):
        def step(_, u):
            k1 = lorenz_rhs(u, p)
            k2 = lorenz_rhs(u + 0.5 * dt * k1, p)
            k3 = lorenz_rhs(u + 0.5 * dt * k2, p)
            k4 = lorenz_rhs(u + dt * k3, p)
            return u + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)

        u = lax.fori_loop(0, n_steps, step, u0)
        return jnp.sum(u * u)

    def lap(v):
        return (jnp.roll(v, -1, 0) + jnp.roll(v, 1, 0) + jnp.roll(v, -1, 1)
                + jnp.roll(v, 1, 1) - 4.0 * v)

    def brusselator_loss(u0, params, n_steps, dt):
        a, b, alpha = params[0], params[1], params[2]

        def step(_, u):
            x, y = u[:, :, 0], u[:, :, 1]
            dx = alpha * lap(x) + b + x * x * y - (a + 1.0) * x
            dy = alpha * lap(y) + a * x - x * x * y
            return u + dt * jnp.stack([dx, dy], axis=-1)

        u = lax.fori_loop(0, n_steps, step, u0)
        return jnp.sum(u * u)

    def newton_root(a):
        def cond(x):
            return jnp.abs(x**3 + a * x - 2.0) >= 1e-13

        def body(x):
            return x - (x**3 + a * x - 2.0) / (3.0 * x**2 + a)

        return lax.while_loop(cond, body, jnp.ones_like(a))

    def mlp_loss(params, x, y):
        w1, b1, w2, b2 = params
        h = jnp.tanh(x @ w1 + b1)
        return jnp.mean((h @ w2 + b2 - y) ** 2)

    def gmm_loglik(means, log_sigmas, logits, x):
        w_max = jnp.max(logits)
        log_w = logits - (w_max + jnp.log(jnp.sum(jnp.exp(logits - w_max))))
        z = (x[:, None, :] - means[None, :, :]) / jnp.exp(log_sigmas)[None, :, :]
        terms = log_w[None, :] - jnp.sum(log_sigmas, axis=1)[None, :] - 0.5 * jnp.sum(z * z, 2)
        best = jnp.max(terms, axis=1, keepdims=True)
        return jnp.sum(best[:, 0] + jnp.log(jnp.sum(jnp.exp(terms - best), axis=1)))

    dev = lambda t: jax.tree_util.tree_map(
        lambda v: jnp.asarray(v) if hasattr(v, "shape") else v, t)
    note = ""
    if name == "lorenz":
        u0, p, n, dt = args
        primal = jax.jit(lorenz_loss, static_argnums=(2,))
        g = jax.jit(jax.grad(lorenz_loss, argnums=(0, 1)), static_argnums=(2,))
        call_args = (dev(u0), dev(p), int(n), float(dt))
    elif name == "brusselator":
        u0, params, n, dt = args
        primal = jax.jit(brusselator_loss, static_argnums=(2,))
        g = jax.jit(jax.grad(brusselator_loss, argnums=(0, 1)), static_argnums=(2,))
        call_args = (dev(u0), dev(params), int(n), float(dt))
    elif name == "newton":
        primal = jax.jit(newton_root)
        g1 = jax.jit(lambda a: jax.jvp(newton_root, (a,), (jnp.ones_like(a),))[1])
        g = lambda a: (g1(a),)
        call_args = (float(args[0]),)
        note = "forward mode (jvp): reverse mode through lax.while_loop is not supported"
    elif name == "mlp":
        primal = jax.jit(mlp_loss)
        g1 = jax.jit(jax.grad(mlp_loss))
        g = lambda *a: (g1(*a),)
        call_args = dev(args)
    elif name == "gmm":
        primal = jax.jit(gmm_loglik)
        g = jax.jit(jax.grad(gmm_loglik, argnums=(0, 1, 2)))
        call_args = dev(args)
    else:
        raise KeyError(name)

    def run_grad(*a):
        return jax.block_until_ready(g(*a))

    def run_primal(*a):
        return jax.block_until_ready(primal(*a))

    return run_primal, run_grad, call_args, note, jax.__version__


# -- PyTorch (eager) --------------------------------------------------------------------------
def _torch(name: str, args: tuple):
    import torch

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    f64 = torch.float64

    def lorenz_rhs(u, p):
        return torch.stack([p[0] * (u[1] - u[0]), u[0] * (p[1] - u[2]) - u[1],
                            u[0] * u[1] - p[2] * u[2]])

    def lorenz_loss(u0, p, n_steps, dt):
        u = u0
        for _ in range(n_steps):
            k1 = lorenz_rhs(u, p)
            k2 = lorenz_rhs(u + 0.5 * dt * k1, p)
            k3 = lorenz_rhs(u + 0.5 * dt * k2, p)
            k4 = lorenz_rhs(u + dt * k3, p)
            u = u + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        return torch.sum(u * u)

    def lap(v):
        return (torch.roll(v, -1, 0) + torch.roll(v, 1, 0) + torch.roll(v, -1, 1)
                + torch.roll(v, 1, 1) - 4.0 * v)

    def brusselator_loss(u0, params, n_steps, dt):
        a, b, alpha = params[0], params[1], params[2]
        u = u0
        for _ in range(n_steps):
            x, y = u[:, :, 0], u[:, :, 1]
            dx = alpha * lap(x) + b + x * x * y - (a + 1.0) * x
            dy = alpha * lap(y) + a * x - x * x * y
            u = u + dt * torch.stack([dx, dy], dim=-1)
        return torch.sum(u * u)

    def newton_root(a):
        x = torch.ones((), dtype=f64)
        while True:
            g = x**3 + a * x - 2.0
            if abs(g) < 1e-13:
                return x
            x = x - g / (3.0 * x**2 + a)

    def mlp_loss(params, x, y):
        w1, b1, w2, b2 = params
        h = torch.tanh(x @ w1 + b1)
        return torch.mean((h @ w2 + b2 - y) ** 2)

    def gmm_loglik(means, log_sigmas, logits, x):
        w_max = torch.max(logits)
        log_w = logits - (w_max + torch.log(torch.sum(torch.exp(logits - w_max))))
        z = (x[:, None, :] - means[None, :, :]) / torch.exp(log_sigmas)[None, :, :]
        terms = log_w[None, :] - torch.sum(log_sigmas, 1)[None, :] - 0.5 * torch.sum(z * z, 2)
        best = torch.max(terms, dim=1, keepdim=True).values
        return torch.sum(best[:, 0] + torch.log(torch.sum(torch.exp(terms - best), 1)))

    def leaf(v, req=True):
        return torch.tensor(v, dtype=f64, requires_grad=req)

    if name == "lorenz":
        u0, p, n, dt = args
        fn, diff, rest = lorenz_loss, [leaf(u0), leaf(p)], (int(n), float(dt))
    elif name == "brusselator":
        u0, params, n, dt = args
        fn, diff, rest = brusselator_loss, [leaf(u0), leaf(params)], (int(n), float(dt))
    elif name == "newton":
        fn, diff, rest = newton_root, [leaf(float(args[0]))], ()
    elif name == "mlp":
        params, x, y = args
        diff = [tuple(leaf(w) for w in params)]
        fn, rest = mlp_loss, (leaf(x, False), leaf(y, False))
    elif name == "gmm":
        fn, diff, rest = gmm_loglik, [leaf(a) for a in args[:3]], (leaf(args[3], False),)
    elif name in ARRAY_WORKLOADS:
        fn, diff, rest = torch_build(name, args)
    else:
        raise KeyError(name)

    flat_inputs = [t for d in diff for t in (d if isinstance(d, tuple) else (d,))]
    nograd = [tuple(t.detach() for t in d) if isinstance(d, tuple) else d.detach()
              for d in diff]

    def run_grad(*_):
        return torch.autograd.grad(fn(*diff, *rest), flat_inputs)

    def run_primal(*_):
        with torch.no_grad():
            return fn(*nograd, *rest)

    def shape(gs):  # back into the structure chainrule returns
        gs = [g.numpy() for g in gs]
        return (tuple(gs),) if name in ("mlp", "mlp_batch") else tuple(gs)

    return run_primal, run_grad, (), "", torch.__version__, shape


# -- HIPS autograd --------------------------------------------------------------------------------
def _autograd(name: str, args: tuple):
    import autograd
    import autograd.numpy as anp

    def lorenz_rhs(u, p):
        return anp.array([p[0] * (u[1] - u[0]), u[0] * (p[1] - u[2]) - u[1],
                          u[0] * u[1] - p[2] * u[2]])

    def lorenz_loss(u0, p, n_steps, dt):
        u = u0
        for _ in range(n_steps):
            k1 = lorenz_rhs(u, p)
            k2 = lorenz_rhs(u + 0.5 * dt * k1, p)
            k3 = lorenz_rhs(u + 0.5 * dt * k2, p)
            k4 = lorenz_rhs(u + dt * k3, p)
            u = u + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        return anp.sum(u * u)

    def lap(v):
        return (anp.roll(v, -1, 0) + anp.roll(v, 1, 0) + anp.roll(v, -1, 1)
                + anp.roll(v, 1, 1) - 4.0 * v)

    def brusselator_loss(u0, params, n_steps, dt):
        a, b, alpha = params[0], params[1], params[2]
        u = u0
        for _ in range(n_steps):
            x, y = u[:, :, 0], u[:, :, 1]
            dx = alpha * lap(x) + b + x * x * y - (a + 1.0) * x
            dy = alpha * lap(y) + a * x - x * x * y
            u = u + dt * anp.stack([dx, dy], axis=-1)
        return anp.sum(u * u)

    def newton_root(a):
        x = 1.0
        while True:
            g = x**3 + a * x - 2.0
            if abs(g) < 1e-13:
                return x
            x = x - g / (3.0 * x**2 + a)

    def mlp_loss(params, x, y):
        w1, b1, w2, b2 = params
        h = anp.tanh(anp.dot(x, w1) + b1)
        return anp.mean((anp.dot(h, w2) + b2 - y) ** 2)

    def gmm_loglik(means, log_sigmas, logits, x):
        w_max = anp.max(logits)
        log_w = logits - (w_max + anp.log(anp.sum(anp.exp(logits - w_max))))
        z = (x[:, None, :] - means[None, :, :]) / anp.exp(log_sigmas)[None, :, :]
        terms = log_w[None, :] - anp.sum(log_sigmas, 1)[None, :] - 0.5 * anp.sum(z * z, 2)
        best = anp.max(terms, axis=1, keepdims=True)
        return anp.sum(best[:, 0] + anp.log(anp.sum(anp.exp(terms - best), 1)))

    fns = {"lorenz": (lorenz_loss, (0, 1)), "brusselator": (brusselator_loss, (0, 1)),
           "newton": (newton_root, (0,)), "mlp": (mlp_loss, (0,)),
           "gmm": (gmm_loglik, (0, 1, 2))}
    fn, argnums = fns[name] if name in fns else autograd_build(name)
    g = autograd.grad(fn, argnum=list(argnums)) if len(argnums) > 1 else autograd.grad(fn)
    if len(argnums) == 1:
        return fn, (lambda *a: (g(*a),)), tuple(args), "", _version("autograd")
    return fn, (lambda *a: tuple(g(*a))), tuple(args), "", _version("autograd")


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


def _to_numpy(tree):
    import numpy as np

    if isinstance(tree, (tuple, list)):
        return tuple(_to_numpy(t) for t in tree)
    return np.asarray(tree, dtype=np.float64)


# -- one measurement ------------------------------------------------------------------------------
def measure(tool: str, name: str, size: str, min_total: float = 0.2,
            first_only: bool = False) -> dict:
    from . import workloads as W
    from .spec import flat, leaves
    from .timing import best_time

    args = W.inputs(name, size)
    scale = 1.0
    measured_size = size
    if tool in ("torch", "autograd") and name == "lorenz" and int(args[2]) > EAGER_LORENZ_STEPS:
        scale = int(args[2]) / EAGER_LORENZ_STEPS
        measured_size = str(EAGER_LORENZ_STEPS)
        args = W.inputs(name, measured_size)

    t_import = time.perf_counter()
    built = {"jax": _jax, "torch": _torch, "autograd": _autograd}[tool](name, args)
    run_primal, run_grad, call_args, note, version = built[:5]
    shape = built[5] if len(built) > 5 else _to_numpy
    t = time.perf_counter()
    grad = run_grad(*call_args)
    first = time.perf_counter() - t
    t_first_grad = time.time()
    setup = t - t_import
    if first_only:  # a new process after one that filled JAX's compilation cache
        return {"tool": tool, "workload": name, "first_call_s": first,
                "import_and_build_s": setup, "first_grad_epoch": t_first_grad}

    g_time, number, batches = best_time(run_grad, call_args, min_total=min_total)
    run_primal(*call_args)
    p_time, _, _ = best_time(run_primal, call_args, min_total=min_total)
    grad = shape(grad)
    out = {
        "tool": tool, "workload": name, "size": size, "measured_size": measured_size,
        "extrapolated": scale != 1.0, "version": version, "note": note,
        "grad_s": g_time * scale, "primal_s": p_time * scale,
        "first_call_s": first, "import_and_build_s": setup,
        "process_to_first_grad_s": t_first_grad - T_PROCESS, "first_grad_epoch": t_first_grad,
        "grad_calls_per_batch": number, "grad_batches": batches,
        "grad": [x.tolist() for x in leaves(grad)], "grad_flat_len": int(flat(grad).size),
    }
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 3:
        print("usage: python -m benchmarks.peers {jax,torch,autograd} WORKLOAD SIZE "
              "[MIN_TOTAL_S [first-only]]", file=sys.stderr)
        return 2
    tool, name, size = argv[:3]
    min_total = float(argv[3]) if len(argv) > 3 else 0.2
    first_only = len(argv) > 4 and argv[4] == "first-only"
    if not available(tool):
        print(json.dumps({"tool": tool, "workload": name, "error": "not installed"}))
        return 0
    try:
        res = measure(tool, name, size, min_total, first_only)
    except Exception as exc:
        res = {"tool": tool, "workload": name, "error": f"{type(exc).__name__}: {exc}"[:300]}
    res["python"] = sys.executable
    res["threads_env"] = os.environ.get("OMP_NUM_THREADS")
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
