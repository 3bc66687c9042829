"""User-defined rules: custom_jvp, custom_vjp (also inside loops under reverse mode, and to
second order) and register_primitive, all checked against finite differences or by the rule
being visibly used."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.rules.common import float_type, template
from chainrule.rules.registry import Primitive
from chainrule.testing import check_grads, numerical_grad


@cr.custom_jvp
def softplus(x):
    return np.log1p(np.exp(x))


@softplus.defjvp
def softplus_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    return softplus(x), dx / (1.0 + np.exp(-x))


def loop_with_custom(x):
    s = 0.0
    for i in range(x.shape[0]):
        s = s + softplus(x[i]) * x[i]
    return s


X = np.array([0.3, -1.2, 2.0])


def test_custom_jvp_forward_reverse_and_second_order():
    np.testing.assert_allclose(cr.grad(loop_with_custom)(X), numerical_grad(loop_with_custom,
                                                                            (X,)), rtol=1e-7)
    check_grads(loop_with_custom, (X,), order=2)
    hess = cr.hessian(loop_with_custom)(X)
    fd = np.array([numerical_grad(lambda y, i=i: cr.grad(loop_with_custom)(y)[i], (X,))
                   for i in range(3)])
    np.testing.assert_allclose(hess, fd, rtol=1e-5, atol=1e-7)


@cr.custom_jvp
def noisy_identity(x):
    return x * 1.0


@noisy_identity.defjvp
def noisy_identity_jvp(primals, tangents):
    return noisy_identity(primals[0]), 2.0 * tangents[0]  # deliberately not the true derivative


def test_custom_jvp_rule_is_the_one_used_in_both_modes():
    f = lambda x: np.sum(noisy_identity(x) * x)
    x = np.array([1.0, 2.0])
    # d/dx sum(n(x) * x) with n'(x) := 2: 2x + x = 3x (the true derivative would be 2x)
    np.testing.assert_allclose(cr.grad(f)(x), 3.0 * x)
    np.testing.assert_allclose(cr.jvp(f, (x,), (np.ones(2),))[1], 3.0 * x.sum())


@cr.custom_vjp
def clipped_identity(x):
    return x * 1.0


def _clip_fwd(x):
    return x * 1.0, x


def _clip_bwd(res, g):
    return (np.clip(g, -1.0, 1.0),)


clipped_identity.defvjp(_clip_fwd, _clip_bwd)


def clip_in_loop(x, n):
    s = 0.0
    for _ in range(n):
        s = s + np.sum(clipped_identity(x) * 3.0)
    return s


def test_custom_vjp_inside_a_loop_under_reverse_mode():
    g = cr.grad(clip_in_loop)(np.array([0.5, -2.0]), 4)
    np.testing.assert_allclose(g, [4.0, 4.0])  # each of 4 trips contributes clip(3) = 1


def test_custom_vjp_has_no_forward_mode():
    with pytest.raises(cr.errors.MissingRuleError, match="reverse mode only"):
        cr.jvp(clip_in_loop, (np.array([0.5]), 2), (np.ones(1), 0))


def test_custom_function_without_rule_is_an_error():
    @cr.custom_jvp
    def lonely(x):
        return x * 2.0

    with pytest.raises(cr.errors.MissingRuleError, match="no rule"):
        cr.grad(lambda x: lonely(x))(1.0)


def cube_plus_one(x):
    return x ** 3 + 1.0


def _cube_jvp(b, args, tans, out, **_):
    return None if tans[0] is None else b.mul(tans[0], b.mul(3.0, b.mul(args[0], args[0])))


def _cube_vjp(b, args, out, g, **_):
    return [b.mul(g, b.mul(3.0, b.mul(args[0], args[0])))]


CUBE = cr.register_primitive(
    Primitive("user_cube_plus_one", float_type, template("({0} ** 3 + 1.0)"), _cube_jvp,
              _cube_vjp, doc="x**3 + 1, a user primitive"),
    function=cube_plus_one)


def uses_cube(x):
    return np.sum(cube_plus_one(x) * np.sin(x))


def test_registered_primitive_participates_in_every_transform():
    x = np.array([0.2, -0.7, 1.3])
    ir = cr.show_ir(cr.grad(uses_cube), x)
    assert "user_cube_plus_one" in ir
    check_grads(uses_cube, (x,), order=2)
    from chainrule.rules import PRIMS

    assert PRIMS["user_cube_plus_one"] is CUBE
    assert "user_cube_plus_one" not in PRIMS.coverage()["vjp"]
