"""Checking derivatives computed by chainrule against finite differences.

:func:`check_grads` evaluates a function with forward mode (``cr.jvp``) and reverse mode
(``cr.vjp``) along random directions and compares both with central finite differences taken in
float64, then checks that the two modes agree with each other (``<ct, J v> == <J^T ct, v>``).
With ``order=2`` the same checks are repeated on first derivatives of the function (the
directional derivative ``x -> jvp(f, x, v)[1]`` and, for scalar outputs, ``grad(f)``), so second
derivatives are verified too. A failure raises :class:`GradCheckError` describing the worst
mismatch.

:func:`numerical_grad` is a plain central-difference gradient (or Jacobian) meant as an oracle in
tests. Both helpers call the user function directly with NumPy for the finite differences.

Arguments may be pytrees (tuples, lists and dicts, dict keys visited in sorted order) whose leaves
are float/int/bool scalars or NumPy arrays. Only float leaves are perturbed; an integer or bool
leaf is held fixed and is given a zero tangent of its own type (``0``, ``False`` or
``np.zeros_like(leaf)``) where an API call needs one.
"""

from __future__ import annotations

import numpy as np

from . import pytree

cr = None  # the chainrule API module, bound by _api() on first use (keeps this import cheap)


def _api():
    global cr
    if cr is None:
        import chainrule

        cr = chainrule
    return cr


class GradCheckError(AssertionError):
    """A derivative computed by chainrule disagrees with finite differences or the other mode."""


# -------- pytree helpers


def _children(tree):
    """(key, child) pairs of a pytree node (dicts in sorted key order), or None for a leaf."""
    if isinstance(tree, dict):
        return [(k, tree[k]) for k in sorted(tree)]
    if pytree.node_kind(tree) is None:
        return None
    return pytree.items(tree)


def _leaves(tree):
    kids = _children(tree)
    if kids is None:
        return [tree]
    return [leaf for _, c in kids for leaf in _leaves(c)]


def _rebuild(like, leaves):
    """A pytree shaped like ``like`` holding ``leaves`` (in :func:`_leaves` order)."""
    it = iter(leaves)

    def go(t):
        kids = _children(t)
        if kids is None:
            return next(it)
        if isinstance(t, dict):
            vals = {k: go(c) for k, c in kids}
            return {k: vals[k] for k in t}
        return pytree.with_children(t, [go(c) for _, c in kids])

    return go(like)


def _leaves_like(tree, like, what):
    """Leaves of ``tree`` at the leaf positions of ``like`` (None where ``tree`` has nothing)."""
    kids = _children(like)
    if kids is None:
        return [tree]
    if tree is not None:
        mine = _children(tree)
        if isinstance(like, (tuple, list)):
            same = isinstance(tree, (tuple, list)) and len(tree) == len(like)
        else:
            same = (isinstance(tree, dict) if isinstance(like, dict) else
                    type(tree) is type(like)) and [k for k, _ in mine or []] == \
                [k for k, _ in kids]
        if mine is None or not same:
            raise GradCheckError(f"check_grads: {what} {tree!r} does not match the structure "
                                 f"{like!r}")
        sub = [c for _, c in mine]
    else:
        sub = [None] * len(kids)
    return [x for t, (_, c) in zip(sub, kids) for x in _leaves_like(t, c, what)]


def _is_float(x) -> bool:
    if isinstance(x, (bool, np.bool_)):
        return False
    if isinstance(x, float):
        return True
    return isinstance(x, (np.ndarray, np.generic)) and np.issubdtype(x.dtype, np.floating)


def _zero_like(x):
    return np.zeros_like(x) if isinstance(x, np.ndarray) else type(x)(0)


def _is_pyfloat(x) -> bool:
    return isinstance(x, float) and not isinstance(x, np.generic)


def _to64(x):
    """A float64 copy of a float leaf (a Python float stays a Python float)."""
    if _is_pyfloat(x):
        return x
    return x.astype(np.float64) if isinstance(x, np.ndarray) else np.float64(x)


def _like_dtype(value, leaf):
    """``value`` converted to the type/dtype of ``leaf``."""
    if isinstance(leaf, np.ndarray):
        return np.asarray(value, dtype=leaf.dtype).reshape(leaf.shape)
    value = np.asarray(value, dtype=np.float64).reshape(())
    return float(value) if _is_pyfloat(leaf) else leaf.dtype.type(value)


# -------- finite differences


def _float_outputs(out):
    return [np.asarray(x, dtype=np.float64) for x in _leaves(out) if _is_float(x)]


def _fd_directional(fun, args, dirs, eps):
    """Fourth-order central difference of ``fun`` at ``args`` along ``dirs`` (float64 leaves)."""
    leaves = _leaves(args)

    def at(t):
        moved = [x if d is None else _keep_pyfloat(_to64(x) + t * d, x)
                 for x, d in zip(leaves, dirs)]
        return _float_outputs(fun(*_rebuild(args, moved)))

    p1, m1, p2, m2 = at(eps), at(-eps), at(2 * eps), at(-2 * eps)
    return [(8.0 * (a - b) - (c - d)) / (12.0 * eps) for a, b, c, d in zip(p1, m1, p2, m2)]


def _keep_pyfloat(moved, leaf):
    return float(moved) if _is_pyfloat(leaf) else moved


def numerical_grad(f, args, argnum=0, eps=1e-6):
    """Central-difference derivative of ``f(*args)`` with respect to ``args[argnum]``.

    ``args[argnum]`` may be a float scalar, a float array or a pytree of those; the result has the
    same structure with float64 leaves. If ``f`` returns a scalar this is the gradient; if it
    returns an array of shape S, each leaf of shape L gets the Jacobian of shape S + L. Float32
    arguments are promoted to float64 before ``f`` is evaluated. ``argnum`` may be a tuple, in
    which case a tuple of results is returned.
    """
    args = tuple(args)
    if isinstance(argnum, tuple):
        return tuple(numerical_grad(f, args, a, eps) for a in argnum)
    target = args[argnum]
    leaves = _leaves(target)
    if not all(_is_float(x) for x in leaves):
        raise TypeError(f"numerical_grad: argument {argnum} has non-float leaves")
    base = [_to64(x) for x in leaves]

    def call(new_leaves):
        new_args = list(args)
        new_args[argnum] = _rebuild(target, new_leaves)
        new_args = [_rebuild(a, [_to64(x) if _is_float(x) else x for x in _leaves(a)])
                    for a in new_args]
        out = f(*new_args)
        if isinstance(out, (tuple, list, dict)):
            raise TypeError("numerical_grad: f must return a scalar or a single array")
        return np.asarray(out, dtype=np.float64)

    out_shape = call(base).shape
    result = []
    for i, x in enumerate(base):
        jac = np.zeros(out_shape + np.shape(x))
        for idx in np.ndindex(*np.shape(x)):
            step = np.zeros(np.shape(x))
            step[idx] = eps
            vals = []
            for sign in (1.0, -1.0):
                trial = list(base)
                trial[i] = _keep_pyfloat(x + sign * step, x)
                vals.append(call(trial))
            jac[(Ellipsis, *idx)] = (vals[0] - vals[1]) / (2.0 * eps)
        result.append(float(jac) if jac.ndim == 0 else jac)
    return _rebuild(target, result)


# -------- checks


def _compare(what, got, want, rtol, atol, context):
    """Raise GradCheckError unless every leaf of ``got`` is close to the matching ``want``."""
    worst = None
    scale = max([0.0] + [float(np.max(np.abs(np.asarray(x, dtype=np.float64)), initial=0.0))
                         for x in [*want, *got]])
    allowed = atol + rtol * scale
    for k, (g, w) in enumerate(zip(got, want)):
        g = np.asarray(g, dtype=np.float64)
        if g.shape != w.shape:
            raise GradCheckError(f"check_grads: {what}: leaf {k} has shape {g.shape}, "
                                 f"expected {w.shape}\n  {context}")
        diff = np.abs(g - w)
        diff = np.where(np.isfinite(g) & ~np.isnan(diff), diff, np.inf)
        if diff.size and (worst is None or np.max(diff) > worst[0]):
            idx = np.unravel_index(int(np.argmax(diff)), diff.shape)
            worst = (float(diff[idx]), k, idx, float(g[idx]), float(w[idx]))
    if worst is not None and not worst[0] <= allowed:
        err, k, idx, g, w = worst
        raise GradCheckError(
            f"check_grads: {what} mismatch\n"
            f"  worst element: leaf {k}, index {tuple(int(i) for i in idx)}\n"
            f"  computed: {g!r}\n  expected: {w!r}\n"
            f"  |difference| = {err:.3e} > allowed {allowed:.3e} "
            f"(atol {atol:g} + rtol {rtol:g} * scale {scale:.3e})\n  {context}")


def _random_like(leaves, rng, normalize):
    """Random float leaves shaped and typed like ``leaves`` (zeros for non-float leaves)."""
    raw = [rng.standard_normal(np.shape(x)) if _is_float(x) else None for x in leaves]
    norm = np.sqrt(sum(float(np.sum(r * r)) for r in raw if r is not None)) if normalize else 1.0
    raw = [None if r is None else r / max(norm, 1e-300) for r in raw]
    typed = [_zero_like(x) if r is None else _like_dtype(r, x) for x, r in zip(leaves, raw)]
    as64 = [None if r is None else np.asarray(_to64(t), dtype=np.float64)
            for r, t in zip(raw, typed)]
    return typed, as64


def _dot(a, b, absolute=False):
    prods = (np.asarray(x, dtype=np.float64) * y for x, y in zip(a, b)
             if x is not None and y is not None)
    return sum(float(np.sum(np.abs(p) if absolute else p)) for p in prods)


def _check_once(fun, args, modes, eps, rtol, atol, rng, what):
    api = _api()
    leaves = _leaves(args)
    if not any(_is_float(x) for x in leaves):
        raise ValueError("check_grads: the arguments have no float leaves to differentiate")
    context = f"checking {what} (eps={eps:g}, rtol={rtol:g}, atol={atol:g})"
    out = fun(*args)
    out_leaves = _leaves(out)
    out_float = [_is_float(x) for x in out_leaves]
    want_out = _float_outputs(out)
    v_typed, v64 = _random_like(leaves, rng, normalize=True)
    fd = _fd_directional(fun, args, v64, eps)

    tangent_out = None
    if "fwd" in modes:
        p_out, t_out = api.jvp(fun, args, _rebuild(args, v_typed))
        got = [x for x, ok in zip(_leaves_like(p_out, out, "jvp primal output"), out_float) if ok]
        _compare("primal output of jvp", got, want_out, rtol, atol, context)
        t_leaves = _leaves_like(t_out, out, "jvp tangent output")
        tangent_out = [x for x, ok in zip(t_leaves, out_float) if ok]
        _compare("jvp (forward mode) vs finite differences", tangent_out, fd, rtol, atol, context)
    if "rev" in modes:
        p_out, vjp_fn = api.vjp(fun, *args)
        got = [x for x, ok in zip(_leaves_like(p_out, out, "vjp primal output"), out_float) if ok]
        _compare("primal output of vjp", got, want_out, rtol, atol, context)
        ct_typed, ct64 = _random_like(out_leaves, rng, normalize=False)
        cts = vjp_fn(_rebuild(out, ct_typed))
        if not isinstance(cts, tuple):
            raise GradCheckError(f"check_grads: vjp_fn returned {type(cts).__name__}, "
                                 f"expected a tuple\n  {context}")
        ct_leaves = _leaves_like(cts, args, "vjp cotangents")
        for x, c in zip(leaves, ct_leaves):
            if _is_float(x) and (c is None or np.shape(c) != np.shape(x)):
                raise GradCheckError(f"check_grads: a cotangent has shape {np.shape(c)}, "
                                     f"expected {np.shape(x)}\n  {context}")
        lhs = _dot([c if _is_float(x) else None for x, c in zip(leaves, ct_leaves)], v64)
        ct_f = [c for c, ok in zip(ct64, out_float) if ok]
        rhs = _dot(ct_f, fd)
        scale = max(_dot(ct_f, fd, True), _dot(ct_leaves, v64, True))
        _compare("<J^T ct, v> (reverse mode) vs <ct, finite-difference J v>",
                 [np.float64(lhs)], [np.float64(rhs)], rtol, atol + rtol * scale, context)
        if tangent_out is not None:
            fwd = _dot(tangent_out, ct_f)
            _compare("forward/reverse consistency <ct, J v> vs <J^T ct, v>",
                     [np.float64(fwd)], [np.float64(lhs)], rtol, atol + rtol * scale, context)
    return out


def _directional(f, tangents):
    """``primals -> jvp(f, primals, tangents)[1]``, taking the primals as one tuple argument.

    chainrule compiles this wrapper like user code (it inlines functions of chainrule.testing).
    """

    def directional_derivative(primals):
        return cr.jvp(f, primals, tangents)[1]

    return directional_derivative


def check_grads(f, args, order=2, modes=("fwd", "rev"), eps=None, rtol=None, atol=None, seed=0):
    """Check chainrule's derivatives of ``f`` at ``args`` up to ``order`` against finite
    differences.

    ``modes`` selects forward (``"fwd"``, via ``cr.jvp``) and/or reverse (``"rev"``, via
    ``cr.vjp``) mode. ``eps`` is the finite-difference step (default ``1e-5``, fourth-order
    central stencil in float64). ``rtol``/``atol`` default to 1e-5/1e-7, or 1e-3/1e-3 when any
    argument is float32. Second-order checks of float32 functions are done on float64 copies of
    the arguments. Raises :class:`GradCheckError` on the first failing comparison.
    """
    _api()
    args, modes = tuple(args), tuple(modes)
    if not modes or any(m not in ("fwd", "rev") for m in modes):
        raise ValueError(f"check_grads: modes must be a subset of ('fwd', 'rev'), got {modes}")
    if order < 1:
        raise ValueError("check_grads: order must be at least 1")
    low = any(_is_float(x) and getattr(x, "dtype", np.float64) != np.float64
              for x in _leaves(args))
    eps = 1e-5 if eps is None else eps
    rtol = (1e-3 if low else 1e-5) if rtol is None else rtol
    atol = (1e-3 if low else 1e-7) if atol is None else atol
    name = getattr(f, "__name__", "f")
    _check_upto(f, args, order, modes, eps, rtol, atol, seed, name, low)


def _check_upto(f, args, order, modes, eps, rtol, atol, seed, what, low=False):
    rng = np.random.default_rng(seed)
    out = _check_once(f, args, modes, eps, rtol, atol, rng, what)
    if order == 1:
        return
    if low:  # derivatives of derivatives are checked in float64
        args = _rebuild(args, [_to64(x) if _is_float(x) else x for x in _leaves(args)])
    tangents, _ = _random_like(_leaves(args), rng, normalize=True)
    deriv = _directional(f, _rebuild(args, tangents))
    _check_upto(deriv, (args,), order - 1, modes, eps, rtol, atol, seed + 1,
                f"x -> jvp({what}, x, v)[1]")
    if isinstance(out, (tuple, list, dict)) or np.ndim(out) != 0 or not _is_float(out):
        return
    argnums = tuple(i for i, a in enumerate(args)
                    if _leaves(a) and all(_is_float(x) for x in _leaves(a)))
    if argnums:
        _check_upto(cr.grad(f, argnums=argnums), args, order - 1, modes, eps, rtol, atol,
                    seed + 2, f"grad({what}, argnums={argnums})")


def tape_stats(transformed, *args) -> dict:
    """Run a transformed function once and report its tapes: ``pushes`` (values recorded),
    ``max_elements`` (most scalars held at once, array elements counted one by one, summed over
    tapes) and ``tapes`` (how many tapes were created)."""
    from .api import _compiled_for
    from .backend.codegen import generate
    from .backend.loader import load_source
    from .runtime import CountingTape

    exe = transformed.executable(tuple(args))
    compiled = _compiled_for(transformed, tuple(args))
    src, consts = generate(compiled.fn, tape_factory="_rt.CountingTape")
    fn = load_source(compiled.fn.name, src, consts)
    CountingTape.registry = []
    fn(*exe.leaves(tuple(args)))
    tapes = CountingTape.registry
    CountingTape.registry = []
    return {
        "pushes": sum(t.pushes for t in tapes),
        "max_elements": sum(t.max_elements for t in tapes),
        "tapes": len(tapes),
    }
