"""Differentiate the example programs and check every gradient against finite differences.

Run with ``chainrule demo`` or ``python -m chainrule.examples.demo``. The exit status is 0 when
every gradient agrees with central finite differences to within ``TOLERANCE`` (relative), and 1
otherwise.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import chainrule as cr
from chainrule import testing
from chainrule.errors import ChainruleError
from chainrule.examples import inplace_examples, pinn_heat, programs

TOLERANCE = 1e-5


@dataclass
class Example:
    title: str
    f: Callable
    args: tuple
    argnums: tuple[int, ...]
    labels: tuple[str, ...]  # one per argnum; for a tuple argument, one per leaf
    references: dict[str, Callable] = field(default_factory=dict)  # name -> fn(*args) -> grad
    backend: str | None = None  # None: chainrule's default (Numba)


def examples() -> list[Example]:
    a = 1.5
    u0 = np.array([1.0, 0.0])
    p = np.array([0.3, 9.81])
    return [
        Example(
            title="Newton solve (while loop, early return): d root/d a at a = 1.5",
            f=programs.newton_root,
            args=(a,),
            argnums=(0,),
            labels=("d/da",),
            references={"implicit fn. thm.": programs.newton_root_sensitivity},
        ),
        Example(
            title=f"RK4 damped pendulum ({programs.N_STEPS} steps): |u(T)|^2 w.r.t. u0 and p",
            f=programs.pendulum_loss,
            args=(u0, p),
            argnums=(0, 1),
            labels=("d/du0", "d/dp"),
        ),
        Example(
            title=f"2-layer tanh MLP ({programs.N_SAMPLES} samples): MSE w.r.t. (W1, b1, W2, b2)",
            f=programs.mlp_loss,
            args=(programs.mlp_init(),),
            argnums=(0,),
            labels=("d/dW1", "d/db1", "d/dW2", "d/db2"),
        ),
        Example(
            title=f"Lorenz RK4, in-place rhs(du, u, p) and u += ... "
            f"({inplace_examples.LORENZ_STEPS} steps): |u(T)|^2/100 w.r.t. u0 and p",
            f=inplace_examples.lorenz_loss,
            args=(inplace_examples.LORENZ_U0, inplace_examples.LORENZ_P),
            argnums=(0, 1),
            labels=("d/du0", "d/dp"),
        ),
        Example(
            # (width 12: the same compiled code as the full-size training below; 1-D arrays
            # of up to 8 elements would be compiled for their size)
            title="PINN loss for u_t = u_xx (u_t, u_xx by jet inside the loss; tanh MLP "
            "2-12-12-1, 32 points): d loss/d weights",
            f=pinn_heat.loss,
            args=(pinn_heat.init_params(0, width=12), *pinn_heat.problem(32, 16)),
            argnums=(0,),
            labels=("d/dW1", "d/db1", "d/dW2", "d/db2", "d/dw3", "d/db3"),
        ),
    ]


def finite_difference_grad(f, args, argnum):
    """Central differences of ``f`` w.r.t. ``args[argnum]``, shaped like that argument.

    A tuple or list argument is handled one leaf at a time, each leaf through
    :func:`chainrule.testing.numerical_grad`; the result has the argument's structure.
    """
    x = args[argnum]
    if not isinstance(x, (tuple, list)):
        return testing.numerical_grad(f, tuple(args), argnum=argnum)
    grads = []
    for j in range(len(x)):

        def f_leaf(leaf, j=j):
            new_x = list(x)
            new_x[j] = leaf
            new_args = list(args)
            new_args[argnum] = type(x)(new_x)
            return f(*new_args)

        grads.append(testing.numerical_grad(f_leaf, (x[j],), argnum=0))
    return type(x)(grads)


def leaves(tree) -> list[np.ndarray]:
    """The arrays of a gradient, flattened out of nested tuples and lists, in order."""
    if isinstance(tree, (tuple, list)):
        return [leaf for item in tree for leaf in leaves(item)]
    return [np.asarray(tree, dtype=np.float64)]


def rel_diff(a, b) -> float:
    """``max|a - b| / max(max|a|, max|b|)`` for one array (0.0 when both are zero)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.size != b.size:
        return float("inf")
    b = b.reshape(a.shape)
    scale = max(np.max(np.abs(a), initial=0.0), np.max(np.abs(b), initial=0.0))
    err = np.max(np.abs(a - b), initial=0.0)
    return 0.0 if err == 0.0 else float(err / scale)


def fmt(x) -> str:
    x = np.asarray(x)
    if x.ndim == 0:
        return f"{float(x): .10g}"
    with np.printoptions(precision=5, threshold=8, edgeitems=3, suppress=False, sign=" "):
        body = np.array2string(x.ravel(), max_line_width=1000, separator=", ")
    shape = "x".join(str(n) for n in x.shape)
    return f"{body}  ({shape})" if x.ndim > 1 or x.size > 8 else body


def run_example(index: int, ex: Example) -> bool:
    print(f"{index}. {ex.title}")
    argnums = ex.argnums[0] if len(ex.argnums) == 1 else ex.argnums
    try:
        value, grad = cr.value_and_grad(ex.f, argnums=argnums, backend=ex.backend)(*ex.args)
    except ChainruleError as err:
        print(f"   error: {err}\n")
        return False
    plain_value = ex.f(*ex.args)
    ad_leaves = leaves(grad)
    fd_leaves = leaves(tuple(finite_difference_grad(ex.f, ex.args, i) for i in ex.argnums))

    print(f"   {'value':<10}{fmt(value)}")
    for label, g in zip(ex.labels, ad_leaves):
        print(f"   {label:<10}{fmt(g)}")

    if len(ad_leaves) != len(fd_leaves):
        checks = [("finite differences", float("inf"))]
    else:
        fd = max((rel_diff(g, d) for g, d in zip(ad_leaves, fd_leaves)), default=0.0)
        checks = [("finite differences", fd)]
    for name, reference in ex.references.items():
        checks.append((name, rel_diff(ad_leaves[0], reference(*ex.args))))
    checks.append(("value vs. plain Python", rel_diff(value, plain_value)))

    ok = all(err <= TOLERANCE for _, err in checks)
    summary = ", ".join(f"{name} {err:.1e}" for name, err in checks)
    print(f"   {'rel. diff':<10}{summary}   {'ok' if ok else 'MISMATCH'}")
    print()
    return ok


def main() -> int:
    print("chainrule demo: gradients of plain NumPy programs, checked against finite differences\n")
    results = [run_example(i, ex) for i, ex in enumerate(examples(), start=1)]

    steps = 100
    print(f"PINN training (chainrule.examples.pinn_heat, full size, {steps} Adam steps; "
          "`python -m chainrule.examples.pinn_heat` trains it to the end)")
    _, history = pinn_heat.train(steps=steps)
    print(f"   loss {history[0]:.3e} -> {history[-1]:.3e}\n")
    results.append(history[-1] < history[0])

    a = 1.5
    print("Generated derivative source: chainrule.show(chainrule.grad(newton_root), 1.5)")
    print("-" * 100)
    try:
        print(cr.show(cr.grad(programs.newton_root), a).rstrip())
    except ChainruleError as err:
        print(f"error: {err}")
        results.append(False)
    print("-" * 100)

    failed = results.count(False)
    if failed:
        print(f"FAILED: {failed} check(s) (relative tolerance {TOLERANCE:g})")
        return 1
    print(f"all {len(results)} examples agree (relative tolerance {TOLERANCE:g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
