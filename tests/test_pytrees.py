"""Parameters in objects (dataclasses, NamedTuples, plain objects, bound methods), keyword
arguments to transformed functions, Jacobians over several arguments and pytrees, and
``print``/``assert`` in compiled code. Values are checked by finite differences."""

from __future__ import annotations

import collections
import dataclasses
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pytest

import chainrule as cr
from chainrule import pytree
from chainrule.errors import NonDifferentiableError, UnsupportedSyntaxError
from chainrule.testing import numerical_grad

RNG = np.random.default_rng(0)
W0 = RNG.standard_normal((2, 3))
X0 = np.array([0.3, -0.7, 0.5])


# -- finite differences over pytrees -------------------------------------------------------
def _float_leaf(v) -> bool:
    return isinstance(v, float) or (isinstance(v, np.ndarray) and v.dtype.kind == "f")


def fd_grad(f, tree, eps=1e-6):
    """Central differences of scalar ``f`` w.r.t. every float leaf of ``tree``."""
    leaves = [v for _, v in pytree.leaves(tree, _float_leaf)]
    grads = []
    for i, leaf in enumerate(leaves):
        arr = np.array(leaf, dtype=float)
        g = np.zeros_like(arr)
        for k in np.ndindex(arr.shape):
            vals = []
            for s in (1, -1):
                a = arr.copy()
                a[k] += s * eps
                new = list(leaves)
                new[i] = a if isinstance(leaf, np.ndarray) else float(a)
                vals.append(f(pytree.replace_leaves(tree, _float_leaf, new)))
            g[k] = (vals[0] - vals[1]) / (2 * eps)
        grads.append(g if isinstance(leaf, np.ndarray) else float(g))
    return pytree.replace_leaves(tree, _float_leaf, grads)


def assert_tree_close(a, b, rtol=1e-5, atol=1e-7):
    assert type(a) is type(b), (type(a), type(b))
    la = [v for _, v in pytree.leaves(a, _float_leaf)]
    lb = [v for _, v in pytree.leaves(b, _float_leaf)]
    assert len(la) == len(lb) and la
    for x, y in zip(la, lb):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


# -- parameter containers ------------------------------------------------------------------
@dataclass
class Params:
    W: np.ndarray
    b: float


@dataclass(frozen=True)
class FrozenParams:
    W: np.ndarray
    b: float


class NTParams(NamedTuple):
    W: np.ndarray
    b: float


class Model:
    scale = 2.0  # a class constant

    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.name = "model"  # a static attribute

    def predict(self, x):
        return np.tanh(self.W @ x + self.b)

    @property
    def W2(self):
        return self.W * self.W

    @staticmethod
    def square(v):
        return v * v

    def loss(self, x):
        return self.scale * np.sum(self.square(self.predict(x))) + 0.1 * np.sum(self.W2)


def loss_attr(p, x):
    return np.sum(np.tanh(p.W @ x + p.b) ** 2)


def loss_unpack(p, x):
    W, b = p
    return np.sum(np.tanh(W @ x + b) ** 2) + p[1] * p.b


@pytest.mark.parametrize("cls", [Params, FrozenParams, NTParams])
def test_grad_of_container_argument_has_its_type(cls):
    p = cls(W0.copy(), 0.3)
    g = cr.grad(loss_attr)(p, X0)
    assert_tree_close(g, fd_grad(lambda q: loss_attr(q, X0), p))


def test_namedtuple_unpacking_and_indexing():
    p = NTParams(W0.copy(), 0.3)
    assert np.isclose(cr.jit(loss_unpack)(p, X0), loss_unpack(p, X0))
    assert_tree_close(cr.grad(loss_unpack)(p, X0), fd_grad(lambda q: loss_unpack(q, X0), p))


def test_plain_object_gradient_is_a_copy_with_gradient_attributes():
    m = Model(W0.copy(), 0.3)
    g = cr.grad(Model.loss)(m, X0)
    assert type(g) is Model and g is not m and g.name == "model"
    assert_tree_close(g, fd_grad(lambda q: q.loss(X0), m))
    assert np.isclose(cr.jit(Model.loss)(m, X0), m.loss(X0))


def test_bound_method_reads_its_object_at_every_call():
    m = Model(W0.copy(), 0.3)
    f = cr.grad(m.loss)
    np.testing.assert_allclose(f(X0), fd_grad(m.loss, X0), rtol=1e-5)
    m.W = 2.0 * W0  # a new value: the next call must see it
    np.testing.assert_allclose(f(X0), fd_grad(m.loss, X0), rtol=1e-5)
    assert np.isclose(cr.jit(m.loss)(X0), m.loss(X0))
    value, g = cr.value_and_grad(m.loss)(X0)
    assert np.isclose(value, m.loss(X0))


def test_bound_method_under_jvp_vjp_and_nested_transforms():
    m = Model(W0.copy(), 0.3)
    t = np.array([1.0, 0.5, -0.2])
    out, tan = cr.jvp(m.loss, (X0,), (t,))
    assert np.isclose(out, m.loss(X0))
    assert np.isclose(tan, fd_grad(m.loss, X0) @ t, rtol=1e-5)
    out, back = cr.vjp(m.loss, X0)
    np.testing.assert_allclose(back(1.0)[0], fd_grad(m.loss, X0), rtol=1e-5)
    h = cr.jacfwd(cr.grad(m.loss))(X0)
    fd_h = np.array([fd_grad(lambda x, i=i: cr.grad(m.loss)(x)[i], X0) for i in range(3)])
    np.testing.assert_allclose(h, fd_h, rtol=1e-4, atol=1e-6)


@dataclass(slots=True)
class Slotted:
    W: np.ndarray
    c: float

    @classmethod
    def make(cls, W):
        return cls(W, 2.0)

    def total(self):
        return np.sum(self.W) * self.c


PairNT = collections.namedtuple("PairNT", "a b")


def slotted_loss(s, p):
    t = Slotted.make(s.W * p.a)
    return t.total() * s.c + p.b


def test_slots_dataclass_classmethod_and_collections_namedtuple():
    s, p = Slotted(np.array([1.0, 2.0, 3.0]), 1.5), PairNT(2.0, 3.0)
    assert np.isclose(cr.jit(slotted_loss)(s, p), slotted_loss(s, p))
    gs, gp = cr.grad(slotted_loss, argnums=(0, 1))(s, p)
    assert type(gs) is Slotted and type(gp) is PairNT
    assert_tree_close(gs, fd_grad(lambda q: slotted_loss(q, p), s))
    assert_tree_close(gp, fd_grad(lambda q: slotted_loss(s, q), p))


# -- objects built and used inside compiled code -------------------------------------------
@dataclass
class Layer:
    W: np.ndarray
    b: np.ndarray
    scale: float = 1.0

    def __post_init__(self):
        self.b2 = self.b * 2.0

    def __call__(self, x):
        return self.scale * np.tanh(self.W @ x + self.b2)


def build_and_call(W, x):
    layer = Layer(W, np.ones(2))
    return np.sum(layer(x) ** 2)


def update_loop(p, x, lr):
    for _ in range(3):
        g = cr.grad(loss_attr)(p, x)
        p = dataclasses.replace(p, W=p.W - lr * g.W)
    return loss_attr(p, x)


def step_namedtuple(p, x):
    q = p._replace(b=p.b * 2.0)
    if x[0] > 0:
        q = NTParams(q.W * 0.5, q.b)
    return np.sum(q.W @ x) + q.b


def test_objects_built_in_compiled_code():
    assert np.isclose(cr.jit(build_and_call)(W0, X0), build_and_call(W0, X0))
    np.testing.assert_allclose(cr.grad(build_and_call)(W0, X0),
                               fd_grad(lambda w: build_and_call(w, X0), W0), rtol=1e-5)
    p = Params(W0.copy(), 0.3)
    assert np.isclose(cr.jit(update_loop)(p, X0, 0.1), update_loop(p, X0, 0.1))
    q = NTParams(W0.copy(), 0.3)
    for x in (X0, -X0):
        assert np.isclose(cr.jit(step_namedtuple)(q, x), step_namedtuple(q, x))
        assert_tree_close(cr.grad(step_namedtuple)(q, x),
                          fd_grad(lambda r, x=x: step_namedtuple(r, x), q))


def make_results(x):
    return Params(x * 2.0, 1.0), NTParams(x, float(x[0]))


def test_objects_as_results_and_from_the_disk_cache():
    out = cr.jit(make_results)(X0)
    ref = make_results(X0)
    assert type(out[0]) is Params and type(out[1]) is NTParams
    np.testing.assert_allclose(out[0].W, ref[0].W)
    assert out[1].b == ref[1].b
    again = cr.jit(make_results)(X0)  # a new Transformed: served from the disk cache
    assert type(again[0]) is Params and np.allclose(again[0].W, ref[0].W)
    g = cr.grad(loss_attr)(Params(W0.copy(), 0.3), X0)
    g2 = cr.grad(loss_attr)(Params(W0.copy(), 0.3), X0)
    assert type(g2) is Params and np.allclose(g.W, g2.W)


def write_argument_attribute(p, x):
    p.W = p.W * 2.0
    return np.sum(p.W @ x)


class Counter:
    def __init__(self, v):
        self.v = v

    def bump(self, x):
        if x > 0:
            self.v = self.v + x
        return self.v


def write_in_branch(x):
    c = Counter(0.0)
    return c.bump(x)


def test_attribute_writes_that_python_semantics_forbid_are_errors():
    with pytest.raises(UnsupportedSyntaxError, match="did not create"):
        cr.jit(write_argument_attribute)(Params(W0.copy(), 0.3), X0)
    with pytest.raises(UnsupportedSyntaxError, match="run-time branch"):
        cr.jit(write_in_branch)(1.0)


def test_check_grads_accepts_objects():
    from chainrule.testing import GradCheckError, check_grads

    check_grads(loss_attr, (Params(W0.copy(), 0.3), X0), order=1)
    check_grads(Model.loss, (Model(W0.copy(), 0.3), X0), order=1, modes=("rev",))
    with pytest.raises(GradCheckError, match="does not match"):
        from chainrule.testing import _leaves_like

        _leaves_like(NTParams(W0, 0.3), Params(W0, 0.3), "tangent")


def test_integer_field_of_a_differentiated_object_is_an_error():
    with pytest.raises(NonDifferentiableError, match="at `b`"):
        cr.grad(loss_attr)(Params(W0.copy(), 3), X0)


# -- keyword arguments ---------------------------------------------------------------------
def scaled(x, y, scale=1.0, *, power=2):
    return scale * np.sum(x ** power * y)


def test_keyword_arguments_are_bound_and_not_differentiated():
    y = np.array([1.0, 2.0, 3.0])
    g = cr.grad(scaled)(X0, y, scale=3.0)
    np.testing.assert_allclose(g, 3.0 * 2 * X0 * y)
    np.testing.assert_allclose(cr.grad(scaled)(X0, y), 2 * X0 * y)
    np.testing.assert_allclose(cr.grad(scaled)(X0, y, power=3, scale=0.5), 1.5 * X0 ** 2 * y)
    gx, gy = cr.grad(scaled, argnums=(0, 1))(X0, y, scale=2.0)
    np.testing.assert_allclose(gy, 2.0 * X0 ** 2)
    assert np.isclose(cr.jit(scaled)(X0, y=y, scale=2.0), scaled(X0, y, scale=2.0))
    with pytest.raises(NonDifferentiableError, match="keyword"):
        cr.grad(scaled, argnums=1)(X0, y=y)


def keyword_inside(x):
    return cr.grad(scaled)(x, x, scale=2.0)


def test_keyword_arguments_to_a_transform_inside_compiled_code():
    np.testing.assert_allclose(cr.jit(keyword_inside)(X0), 2.0 * 2 * X0 * X0)


# -- Numba ---------------------------------------------------------------------------------
def test_numba_backend_objects_methods_and_keywords():
    p = Params(W0.copy(), 0.3)
    g = cr.grad(loss_attr, backend="numba")(p, X0)
    assert_tree_close(g, fd_grad(lambda q: loss_attr(q, X0), p))
    m = Model(W0.copy(), 0.3)
    np.testing.assert_allclose(cr.grad(m.loss, backend="numba")(X0), fd_grad(m.loss, X0),
                               rtol=1e-5)
    y = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(cr.grad(scaled, backend="numba")(X0, y, scale=3.0),
                               3.0 * 2 * X0 * y)


# -- Jacobians and Hessians over several arguments and pytrees -------------------------------
def fd_jac(f, x, eps=1e-6):
    """Jacobian of array-valued ``f`` at array ``x``: shape f(x).shape + x.shape."""
    cols = []
    for k in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[k] += eps
        xm[k] -= eps
        cols.append((np.asarray(f(xp)) - np.asarray(f(xm))) / (2 * eps))
    out = np.stack(cols, axis=-1)
    return out.reshape(np.shape(f(x)) + x.shape)


def two_args(x, y):
    return {"a": np.sin(x) * y[0], "b": np.sum(x * x) * y}


XS = np.array([0.3, -0.4])
YS = np.array([1.5, 2.0, 0.5])


@pytest.mark.parametrize("jac", [cr.jacfwd, cr.jacrev])
def test_jacobian_of_pytree_output_over_two_arguments(jac):
    J = jac(two_args, argnums=(0, 1))(XS, YS)
    assert set(J) == {"a", "b"} and all(isinstance(J[k], tuple) and len(J[k]) == 2 for k in J)
    for key in ("a", "b"):
        np.testing.assert_allclose(
            J[key][0], fd_jac(lambda x, k=key: two_args(x, YS)[k], XS), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(
            J[key][1], fd_jac(lambda y, k=key: two_args(XS, y)[k], YS), rtol=1e-6, atol=1e-8)
    single = jac(two_args, argnums=1)(XS, YS)
    np.testing.assert_allclose(single["b"], J["b"][1])


def scalar_two(x, y):
    return np.sum(np.sin(x) ** 2 * y[:2]) + y[2] ** 3 * x[0]


def test_hessian_blocks_over_two_arguments():
    H = cr.hessian(scalar_two, argnums=(0, 1))(XS, YS)
    grads = cr.grad(scalar_two, argnums=(0, 1))
    for i in range(2):
        for j in range(2):
            arg = (XS, YS)[j]

            def gi(v, i=i, j=j):
                args = [XS, YS]
                args[j] = v
                return grads(*args)[i]

            np.testing.assert_allclose(H[i][j], fd_jac(gi, arg), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(H[0][1], H[1][0].T, rtol=1e-10)


def test_jacobian_with_respect_to_a_dataclass():
    p = Params(W0.copy(), 0.3)

    def out(q):
        return np.tanh(q.W @ X0 + q.b)

    Jf = cr.jacfwd(out)(p)
    Jr = cr.jacrev(out)(p)
    assert type(Jf) is Params and type(Jr) is Params
    np.testing.assert_allclose(Jf.W, Jr.W, rtol=1e-12)
    np.testing.assert_allclose(Jf.W, fd_jac(lambda w: out(Params(w, 0.3)), W0), rtol=1e-6)
    np.testing.assert_allclose(Jr.b, fd_jac(lambda b: out(Params(W0, float(b))),
                                            np.array(0.3)), rtol=1e-6)
    H = cr.hessian(lambda q: np.sum(out(q) ** 2))(p)
    assert type(H) is Params and type(H.W) is Params and H.W.W.shape == (2, 3, 2, 3)


@pytest.mark.slow  # Jacobians of pytrees under Numba: tests/test_batched_jacobians.py by default
def test_jacobian_numba_backend():
    J = cr.jacrev(two_args, argnums=(0, 1), backend="numba")(XS, YS)
    np.testing.assert_allclose(J["b"][1], fd_jac(lambda y: two_args(XS, y)["b"], YS),
                               rtol=1e-6)


# -- print and assert --------------------------------------------------------------------------
def noisy(x, n):
    y = np.sin(x)
    print("y", y[0], n)
    s = 0.0
    for i in range(n):
        s = s + np.sum(y) * i
        print(f"i={i}")
    assert s >= 0, "s must be nonnegative"
    assert n < 10
    return s


def test_print_runs_once_per_evaluation_with_primal_values(capfd):
    x = np.array([0.5, 1.0])
    assert np.isclose(cr.jit(noisy)(x, 2), noisy(x, 2))
    capfd.readouterr()
    assert np.isclose(cr.jit(noisy)(x, 2), np.sum(np.sin(x)))
    out = capfd.readouterr().out.split("\n")
    assert out[0].split() == ["y", repr(float(np.sin(0.5))), "2"]
    assert [ln.split() for ln in out[1:3]] == [["i=", "0"], ["i=", "1"]]
    g = cr.grad(noisy)(x, 2)
    np.testing.assert_allclose(g, np.cos(x))
    out = capfd.readouterr().out
    assert out.count("y ") == 1 and out.count("i=") == 2  # the forward sweep, once


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_assert_raises_at_run_time(backend, capfd):
    x = np.array([0.5, 1.0])
    np.testing.assert_allclose(cr.grad(noisy, backend=backend)(x, 2), np.cos(x))
    with pytest.raises(AssertionError, match="s must be nonnegative"):
        cr.grad(noisy, backend=backend)(-x, 2)
    with pytest.raises(AssertionError, match=r"assert n < 10 failed \(.*test_pytrees.py:\d+\)"):
        cr.jit(noisy, backend=backend)(x, 12)
    if backend == "numba":
        capfd.readouterr()
        cr.jit(noisy, backend=backend)(x, 1)
        assert capfd.readouterr().out.split()[:2] == ["y", "0.479425538604203"]


class Affine:
    def __init__(self, W):
        self.W = W

    def __call__(self, x):
        return np.sum(np.tanh(self.W @ x) ** 2)


def test_callable_object_reads_its_attributes_at_every_call():
    model = Affine(W0.copy())
    f = cr.grad(model)
    np.testing.assert_allclose(f(X0), fd_grad(model, X0), rtol=1e-5)
    model.W = 0.5 * W0
    np.testing.assert_allclose(f(X0), fd_grad(model, X0), rtol=1e-5)
    g = cr.grad(Affine.__call__)(model, X0)
    assert type(g) is Affine and np.allclose(g.W, fd_grad(lambda m: m(X0), model).W, rtol=1e-5)


def test_library_objects_are_leaves():
    import fractions

    assert pytree.node_kind(fractions.Fraction(1, 2)) is None
    assert pytree.node_kind(np.random.default_rng(0)) is None
    assert pytree.node_kind(Model(W0, 0.3)) == "object"
    assert pytree.node_kind(NTParams(W0, 0.3)) == "namedtuple"


def uses_class_global(x):
    return Layer(np.ones((2, 2)), x).b2 @ x


def test_code_that_builds_objects_is_cached_on_disk():
    from chainrule.cache import disk

    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(cr.grad(uses_class_global)(x), 4.0 * x)
    assert disk.explain(cr.grad(uses_class_global), x) == "hit"


class BaseNet:
    def __init__(self, W):
        self.W = W

    def act(self, z):
        return np.tanh(z)

    def forward(self, x):
        return self.act(self.W @ x)


class ChildNet(BaseNet):
    def __init__(self, W, b):
        super().__init__(W)
        self.b = b

    def act(self, z):
        return super().act(z + self.b) * 2.0

    def loss(self, x):
        return np.sum(self.forward(x) ** 2)


def build_child(W, b, x):
    return ChildNet(W, b).loss(x)


def test_inheritance_and_super():
    m = ChildNet(W0.copy(), 0.5)
    np.testing.assert_allclose(cr.grad(m.loss)(X0), fd_grad(m.loss, X0), rtol=1e-5)
    assert np.isclose(cr.jit(build_child)(W0, 0.5, X0), m.loss(X0))
    np.testing.assert_allclose(cr.grad(build_child)(W0, 0.5, X0),
                               fd_grad(lambda w: build_child(w, 0.5, X0), W0), rtol=1e-5)


def introspect(p, x):
    s = getattr(p, "b", 0.0) + getattr(p, "missing", 1.0)
    if isinstance(p, Params) and hasattr(p, "W") and not hasattr(p, "nope"):
        s = s + np.sum(p.W @ x)
    if isinstance(x, np.ndarray) and not isinstance(s, np.ndarray):
        s = s * 2.0
    return s


def test_isinstance_getattr_hasattr_at_compile_time():
    p = Params(W0.copy(), 0.3)
    assert np.isclose(cr.jit(introspect)(p, X0), introspect(p, X0))
    q = NTParams(W0.copy(), 0.3)
    assert np.isclose(cr.jit(introspect)(q, X0), introspect(q, X0))


class Decorated:
    def __init__(self, W):
        self.W = W

    @cr.jit
    def predict(self, x):
        return np.tanh(self.W @ x)

    @cr.grad
    def grad_wrt_self(self, x):
        return np.sum(self.predict(x) ** 2)

    def loss(self, x):
        return np.sum(self.predict(x) ** 2)


def test_transforms_decorating_methods():
    m = Decorated(W0.copy())
    np.testing.assert_allclose(m.predict(X0), np.tanh(W0 @ X0))
    g = m.grad_wrt_self(X0)  # argnums=0 is the object, as for the plain function
    assert type(g) is Decorated
    assert_tree_close(g, fd_grad(lambda q: q.loss(X0), m))
    np.testing.assert_allclose(cr.grad(m.loss)(X0), fd_grad(m.loss, X0), rtol=1e-5)


def test_transform_of_a_decorated_method_reads_the_object_at_every_call():
    m = Decorated(W0.copy())
    jac = cr.jacrev(m.predict)
    np.testing.assert_allclose(jac(X0), fd_jac(m.predict, X0), rtol=1e-6)
    m.W = 0.5 * W0
    np.testing.assert_allclose(jac(X0), fd_jac(m.predict, X0), rtol=1e-6)


def reduce_with(x, *, weights=None, mode="sum"):
    y = x * weights["w"] if weights is not None else x
    return np.sum(y ** 2) if mode == "sum" else np.max(y ** 2)


def test_keyword_values_are_read_at_every_call_and_strings_select_code():
    f = cr.grad(reduce_with)
    w1, w2 = {"w": np.array([1.0, 2.0, 3.0])}, {"w": np.array([0.5, 0.5, 0.5])}
    np.testing.assert_allclose(f(X0, weights=w1), 2 * X0 * w1["w"] ** 2)
    np.testing.assert_allclose(f(X0, weights=w2), 2 * X0 * w2["w"] ** 2)
    np.testing.assert_allclose(f(X0, weights=w2, mode="max"),
                               fd_grad(lambda x: reduce_with(x, weights=w2, mode="max"), X0),
                               rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(f(X0), 2 * X0)


LEVELS = (1, 2)


def options(x, mode="a"):
    s = x * 1.0
    if mode in ("a", "b") and 2 in LEVELS and mode != "c" and (mode, 2) == ("a", 2):
        s = s * 3.0
    return s


def test_options_compared_at_compile_time():
    for mode in ("a", "c"):
        assert cr.jit(options)(2.0, mode=mode) == options(2.0, mode=mode)


def sum_broadcast(x):
    return np.sum(x + np.ones((1, 4)), axis=1)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_forward_mode_broadcasts_the_tangent_of_an_operand_with_size_one_axes(backend):
    x = np.ones((3, 1))
    _, t = cr.jvp(sum_broadcast, (x,), (np.ones((3, 1)),), backend=backend)
    np.testing.assert_allclose(t, [4.0, 4.0, 4.0])
    np.testing.assert_allclose(cr.jacfwd(sum_broadcast, backend=backend)(x),
                               cr.jacrev(sum_broadcast, backend=backend)(x))


def test_result_builder_gives_what_rebuild_gives():
    from chainrule.backend.executable import result_builder
    from chainrule.ir.builder import const
    from chainrule.ir.compiled import is_atom, rebuild

    P = collections.namedtuple("P", "a b")
    c = const(0.0)
    for t in [(c, c), [c], (c, [c, (c,)], P(c, (c, None)), {"x": c, "y": [c]}),
              (None, c, "k"), P(c, c), ((), [c])]:
        res = tuple(float(i) for i in range(len(pytree.leaves(t, is_atom))))
        got, want = result_builder(t)(res), rebuild(t, list(res))
        assert got == want and type(got) is type(want)
        leaf = lambda v: pytree.node_kind(v) is None
        assert [type(v) for v in pytree.leaf_values(got, leaf)] == \
            [type(v) for v in pytree.leaf_values(want, leaf)]


def two_leaves(x, y):
    return np.sin(x) * y + y


def test_gradient_tuple_built_on_the_fast_path_numba():
    g = cr.grad(two_leaves, argnums=(0, 1), backend="numba")
    for x in (0.3, 1.1):  # the second call takes the fast path
        gx, gy = g(x, 2.0)
        assert g(x, 2.0).__class__ is tuple
        np.testing.assert_allclose([gx, gy], [np.cos(x) * 2.0, np.sin(x) + 1.0], rtol=1e-13)


def _nested_params_loss(p, x, n):
    (a, b), c = p
    return np.sum(np.tanh(a @ x + b) * c[0]) + n * c[1]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_calls_with_tuples_and_lists_of_arrays_take_the_fast_path(backend):
    """Repeated calls with plain tuples/lists of arrays pass their leaves flat (no pytree
    walk): the same values and structure as the first call, a new compile for a new shape."""
    rng = np.random.default_rng(3)
    p = ((rng.standard_normal((3, 4)), rng.standard_normal(3)), [2.0, 0.5])
    x = rng.standard_normal(4)
    g = cr.grad(_nested_params_loss, backend=backend)
    first, again = g(p, x, 3), g(p, x, 3)
    assert type(again[1]) is list and len(g._fast) == 1
    np.testing.assert_array_equal(first[0][0], again[0][0])
    p2 = ((2.0 * p[0][0], p[0][1]), [1.0, 0.25])
    fd = numerical_grad(_nested_params_loss, (p2, x, 2))
    got = g(p2, x, 2)
    np.testing.assert_allclose(got[0][0], fd[0][0], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(got[1], fd[1], rtol=1e-6, atol=1e-8)
    p3 = ((rng.standard_normal((2, 4)), rng.standard_normal(2)), [1.0, 0.25, 7.0])
    assert np.isclose(cr.jit(_nested_params_loss, backend=backend)(p3, x, 2),
                      _nested_params_loss(p3, x, 2))
    assert len(g(p3, x, 2)[1]) == 3
