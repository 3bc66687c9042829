"""The IR verifier (chainrule/ir/verify.py): each check rejects a hand-built bad function and
accepts its corrected form; the pipeline's stages run it when CHAINRULE_VERIFY is set."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import IRVerificationError
from chainrule.ir.builder import Builder, Names, const
from chainrule.ir.nodes import Assign, Effect, ForRange, Function, If, Var, While
from chainrule.ir.types import BOOL, F64, I64, Type
from chainrule.ir.verify import verified, verify

X = Var("x", F64)
C = Var("c", BOOL)
Y = Var("y", F64)
N = Var("n", I64)
TAPE = Var("tape", Type("float64", 0, tape=True))


def fn(body, results, params=(X, C, N)):
    return Function("g", list(params), body, list(results))


def sin(out, arg):
    return Assign(out, "sin", (arg,))


def test_read_of_a_variable_set_on_one_branch_only():
    bad = fn([If(C, [sin(Y, X)], [])], [Y])
    with pytest.raises(IRVerificationError, match=r"after mypass.*`y`"):
        verify(bad, "mypass")
    verify(fn([If(C, [sin(Y, X)], [sin(Y, X)])], [Y]), "mypass")
    verify(fn([sin(Y, X), If(C, [sin(Y, Y)], [])], [Y]), "mypass")


def test_loop_bodies_may_run_zero_times():
    i = Var("i", I64)
    with pytest.raises(IRVerificationError, match="`y`"):
        verify(fn([ForRange(i, const(0), N, const(1), [sin(Y, X)])], [Y]), "p")
    with pytest.raises(IRVerificationError, match="`i`"):
        verify(fn([ForRange(i, const(0), N, const(1), []),
                   Assign(Var("j", I64), "id", (i,))], [Var("j", I64)]), "p")
    with pytest.raises(IRVerificationError, match="`y`"):
        verify(fn([While([Assign(Var("go", BOOL), "lt", (X, const(1.0)))], Var("go", BOOL),
                         [sin(Y, X)])], [Y]), "p")
    # the condition block of a while runs at least once
    verify(fn([While([sin(Y, X), Assign(Var("go", BOOL), "lt", (Y, const(1.0)))],
                     Var("go", BOOL), [])], [Y]), "p")


def test_dead_assignments_are_not_checked():
    z = Var("z", F64)
    verify(fn([If(C, [sin(Y, X)], []), Assign(z, "id", (Y,))], [X]), "p")
    with pytest.raises(IRVerificationError, match="`y`"):
        verify(fn([If(C, [sin(Y, X)], []), Assign(z, "id", (Y,))], [z]), "p")


def test_replayed_branch_may_read_what_the_forward_branch_defined():
    popped = Var("c2", BOOL)
    btape = Var("tb", Type("bool", 0, tape=True))
    z = Var("z", F64)
    body = [Assign(btape, "tape_new", (), (("dtype", "bool"), ("ndim", 0))),
            If(C, [sin(Y, X)], []), Effect("tape_push", (btape, C)),
            Assign(popped, "tape_pop", (btape,)),
            If(popped, [Assign(z, "cos", (Y,))], [Assign(z, "id", (X,))])]
    verify(fn(body, [z]), "p")
    other = Var("c3", BOOL)  # another condition: no relation to the branch that defined y
    body[-1] = If(other, [Assign(z, "cos", (Y,))], [Assign(z, "id", (X,))])
    with pytest.raises(IRVerificationError, match="`y`"):
        verify(fn(body, [z], params=(X, C, N, other)), "p")


def test_kinds_and_type_rules():
    arr = Var("y", Type("float64", 1))
    with pytest.raises(IRVerificationError, match="`y`"):
        verify(fn([sin(Y, X), Assign(arr, "cos", (X,))], [X]), "p")
    with pytest.raises(IRVerificationError, match="gives f64 but the target is f64\\[:\\]"):
        verify(fn([Assign(arr, "sin", (X,))], [arr]), "p")
    with pytest.raises(IRVerificationError, match="scalar"):
        verify(fn([If(Var("v", Type("bool", 1)), [], [])], [X],
                  params=(X, Var("v", Type("bool", 1)))), "p")


def _tape_fn(stmts):
    new = Assign(TAPE, "tape_new", (), (("dtype", "float64"), ("ndim", 0)))
    return fn([new, *stmts], [X])


def test_tape_pops_that_find_the_tape_empty():
    push = Effect("tape_push", (TAPE, X))
    pop = Assign(Var("p", F64), "tape_pop", (TAPE,))
    verify(_tape_fn([push, pop]), "p")
    with pytest.raises(IRVerificationError, match=r"empty.*`tape`"):
        verify(_tape_fn([push, pop, Assign(Var("q", F64), "tape_pop", (TAPE,))]), "p")
    with pytest.raises(IRVerificationError, match="empty"):
        verify(_tape_fn([If(C, [], [push]), pop, Assign(Var("q", F64), "tape_pop", (TAPE,))]),
               "p")
    i, k = Var("i", I64), Var("k", I64)
    # pushes in one loop, pops in a later one: not provable either way, accepted
    verify(_tape_fn([ForRange(i, const(0), N, const(1), [push]),
                     ForRange(k, const(0), N, const(1), [pop])]), "p")
    with pytest.raises(IRVerificationError, match="tape_pop on a non-tape"):
        verify(fn([Assign(Var("p", F64), "tape_pop", (X,))], [X]), "p")


def test_decorator_names_the_pass_and_follows_the_environment(monkeypatch):
    @verified("broken_pass")
    def broken(f):
        return Function(f.name, f.params, [], [Y])

    good = fn([sin(Y, X)], [Y])
    monkeypatch.setenv("CHAINRULE_VERIFY", "1")
    with pytest.raises(IRVerificationError, match="after broken_pass"):
        broken(good)
    monkeypatch.setenv("CHAINRULE_VERIFY", "0")
    assert broken(good).results == [Y]


def _program(x, a):
    s = 0.0
    for i in range(3):
        if a[i] > 0.0:
            s = s + np.sin(a[i] * x)
        else:
            a[i] = a[i] * x
    k = 0
    while k < 2 and s < 5.0:
        s = s + x * k
        k += 1
    return s + np.sum(a)


def test_pipeline_output_is_verified_and_correct():
    a = np.array([0.3, -0.4, 0.8])
    g = cr.grad(_program, argnums=(0, 1))(0.7, a.copy())
    h = 1e-6
    fd = (_program(0.7 + h, a.copy()) - _program(0.7 - h, a.copy())) / (2 * h)
    assert abs(g[0] - fd) < 1e-6
    b = Builder(Names())
    assert b.prims is not None  # the verifier looks the primitive table up through the builder


def test_second_if_on_the_same_condition_reads_what_the_first_defined():
    z, d = Var("z", F64), Var("d", BOOL)
    second = [If(C, [sin(Y, X)], []), Assign(z, "id", (X,)), If(C, [sin(z, Y)], [])]
    verify(fn(second, [z]), "p")  # the same condition: y is defined where it is read
    reassigned = [If(C, [sin(Y, X)], []), Assign(C, "lt", (X, const(1.0))),
                  Assign(z, "id", (X,)), If(C, [sin(z, Y)], [])]
    with pytest.raises(IRVerificationError, match="`y`"):
        verify(fn(reassigned, [z]), "p")
    other = [If(C, [sin(Y, X)], []), Assign(z, "id", (X,)), If(d, [sin(z, Y)], [])]
    with pytest.raises(IRVerificationError, match="`y`"):
        verify(fn(other, [z], params=(X, C, N, d)), "p")


def test_nested_ifs_on_the_same_conditions_are_correlated_too():
    # if c: (if d: y = ...)   ...   if c: (if d: read y)   -- reverse mode's recompute, then
    # the adjoint of a trip's nested branches
    z, d = Var("z", F64), Var("d", BOOL)
    first = If(C, [Assign(d, "lt", (X, const(0.5))), If(d, [sin(Y, X)], [])], [])
    second = If(C, [If(d, [sin(z, Y)], [Assign(z, "id", (X,))])], [Assign(z, "id", (X,))])
    verify(fn([first, second], [z]), "p")
    # d assigned again in between: nothing is known about it any more
    again = Assign(d, "lt", (X, const(0.25)))
    second_again = If(C, [again, If(d, [sin(z, Y)], [Assign(z, "id", (X,))])],
                      [Assign(z, "id", (X,))])
    with pytest.raises(IRVerificationError, match="`y`"):
        verify(fn([first, second_again], [z]), "p")
    # the inner fact holds only under the outer condition
    outside = If(d, [sin(z, Y)], [Assign(z, "id", (X,))])
    with pytest.raises(IRVerificationError, match=r"`[yd]`"):
        verify(fn([first, outside], [z]), "p")
    inner_only = If(C, [If(d, [sin(Y, X)], [])], [])
    with pytest.raises(IRVerificationError, match="`y`"):
        verify(fn([inner_only, outside], [z], params=(X, C, N, d)), "p")
    verify(fn([inner_only, If(C, [outside], [Assign(z, "id", (X,))])], [z],
              params=(X, C, N, d)), "p")
