"""Scalarisation of small arrays (passes/scalarize.py) and shape specialisation
(passes/specialize.py): values of jit, grad and jvp against plain Python and finite differences
on both backends, that scalarisation really happened where it should, and that arrays the pass
cannot rewrite exactly stay arrays."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.passes import specialize
from chainrule.testing import check_grads, numerical_grad

BACKENDS = ["numpy", "numba"]
U0 = np.array([1.0, 2.0, 3.0])
P = np.array([10.0, 28.0, 8.0 / 3.0])


def close(a, b, rtol=1e-7, atol=1e-9):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def code(fn, *args) -> str:
    """The generated source without its comments (which quote the user's lines)."""
    src = cr.show(fn, *args)
    return "\n".join(ln for ln in src.splitlines() if not ln.strip().startswith("#"))


def fd_jvp(f, args, argnum, t):
    jac = numerical_grad(f, args, argnum)
    return float(np.sum(np.asarray(jac) * t))


# -- programs ------------------------------------------------------------------------------------
def rhs(du, u, p):
    du[0] = p[0] * (u[1] - u[0])
    du[1] = u[0] * (p[1] - u[2]) - u[1]
    du[2] = u[0] * u[1] - p[2] * u[2]


def lorenz_rk4(u0, p, n, dt):
    u = u0.copy()
    k1 = np.zeros(3)
    k2 = np.zeros(3)
    k3 = np.zeros(3)
    k4 = np.empty(3)
    for _ in range(n):
        rhs(k1, u, p)
        rhs(k2, u + 0.5 * dt * k1, p)
        rhs(k3, u + 0.5 * dt * k2, p)
        rhs(k4, u + dt * k3, p)
        u += dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return u[0] ** 2 + u[1] ** 2 + u[2] ** 2


def literal_writes(a, b):
    v = np.zeros(4)
    v[0] = a
    v[1] += a * b
    v[-1] = np.sin(b)
    v[1:3] += np.array([b, a])
    w = np.array((a, b, a * b, 1.0))
    w[::2] = v[:2] * 2.0
    s = np.sum(v * w) + np.dot(v, w) + w[3]
    return s * np.exp(-v[2])


def returns_small_array(a, b):
    v = np.empty(3)
    v[:] = a
    v[2] = b
    for _ in range(3):
        v = v * np.cos(v) + b
    return v


def looped_state(x, n):
    s = np.array([x, 2.0 * x])
    for _ in range(n):
        s = np.array([s[0] + 0.1 * s[1], s[1] - 0.1 * np.sin(s[0])])
    return s[0] * s[1]


# -- values and derivatives ----------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_lorenz_rk4_with_in_place_rhs(backend):
    args = (U0, P, 40, 0.01)
    close(cr.jit(lorenz_rk4, backend=backend)(*args), lorenz_rk4(*args), rtol=1e-13)
    gu, gp = cr.grad(lorenz_rk4, argnums=(0, 1), backend=backend)(*args)
    close(gu, numerical_grad(lorenz_rk4, args, 0), rtol=1e-6)
    close(gp, numerical_grad(lorenz_rk4, args, 1), rtol=1e-6)
    t = np.array([0.3, -0.2, 0.5])
    _, dy = cr.jvp(lambda u: lorenz_rk4(u, P, 40, 0.01), (U0,), (t,), backend=backend)
    close(dy, fd_jvp(lorenz_rk4, args, 0, t), rtol=1e-6)


def test_lorenz_rk4_becomes_scalar_code():
    src = code(cr.jit(lorenz_rk4), U0, P, 5, 0.01)
    assert "u_0" in src and "k1_2" in src and "u0_0 = u0[0]" in src
    assert "np.zeros" not in src and "np.copy" not in src
    loop = src[src.index("for "):]
    assert "_rt.assign" not in loop and "np.array" not in loop
    grad_src = code(cr.grad(lorenz_rk4, argnums=(0, 1)), U0, P, 5, 0.01)
    assert "np.zeros" not in grad_src[grad_src.index("for "):]


@pytest.mark.parametrize("backend", BACKENDS)
def test_literal_sizes_in_place_writes_and_slices(backend):
    args = (0.7, -1.3)
    close(cr.jit(literal_writes, backend=backend)(*args), literal_writes(*args), rtol=1e-13)
    ga, gb = cr.grad(literal_writes, argnums=(0, 1), backend=backend)(*args)
    close([ga, gb], numerical_grad(literal_writes, args, (0, 1)), rtol=1e-6)
    _, d = cr.jvp(literal_writes, args, (1.0, 0.5), backend=backend)
    num = numerical_grad(literal_writes, args, (0, 1))
    close(d, num[0] + 0.5 * num[1], rtol=1e-6)
    src = code(cr.jit(literal_writes), *args)
    assert "np.zeros" not in src and "v_2" in src and "w_0" in src


def test_literal_sizes_second_order():
    check_grads(literal_writes, (0.7, -1.3), order=2)
    check_grads(looped_state, (0.4, 7), order=2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_returned_small_array_is_rebuilt(backend):
    got = cr.jit(returns_small_array, backend=backend)(0.3, 0.8)
    assert isinstance(got, np.ndarray) and got.shape == (3,)
    close(got, returns_small_array(0.3, 0.8), rtol=1e-13)
    if backend == "numpy":  # (keeps the default run short: one Numba Jacobian suffices)
        jac = cr.jacfwd(returns_small_array)(0.3, 0.8)
        close(jac, numerical_grad(returns_small_array, (0.3, 0.8), 0), rtol=1e-6)
    jac = cr.jacrev(returns_small_array, argnums=1, backend=backend)(0.3, 0.8)
    close(jac, numerical_grad(returns_small_array, (0.3, 0.8), 1), rtol=1e-6)
    src = code(cr.jit(returns_small_array), 0.3, 0.8)
    assert "np.empty" not in src and src.count("np.array") == 1  # rebuilt once, at the end


@pytest.mark.parametrize("backend", BACKENDS)
def test_loop_carried_small_array(backend):
    close(cr.jit(looped_state, backend=backend)(0.4, 9), looped_state(0.4, 9), rtol=1e-13)
    close(cr.grad(looped_state, backend=backend)(0.4, 9),
          numerical_grad(looped_state, (0.4, 9)), rtol=1e-6)


# -- what stays an array -------------------------------------------------------------------------
def aliased_then_written(a, flag):
    u = np.array([a, 2.0 * a, 3.0])
    if flag > 0:
        v = u * 2.0
    else:
        v = u  # an alias: the write below changes u too
    v[1] = 5.0
    return np.sum(u) + np.dot(u, v)


def runtime_index_write(a, k):
    v = np.zeros(3)
    v[k] = a  # which element is known only at run time
    v[0] += a * a
    return np.sum(v * np.array([1.0, 2.0, 3.0]))


def unknown_primitive(a):
    v = np.array([a, a * a, 1.0])
    c = np.cumsum(v)
    return c[2] * v[0]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("flag", [1, -1])
def test_alias_written_through_stays_exact(backend, flag):
    close(cr.jit(aliased_then_written, backend=backend)(0.6, flag),
          aliased_then_written(0.6, flag), rtol=1e-13)
    src = code(cr.jit(aliased_then_written), 0.6, flag)
    assert "u_0" not in src  # kept as an array


@pytest.mark.parametrize("backend", BACKENDS)
def test_runtime_index_and_unknown_primitive_stay_arrays(backend):
    for k in (0, 1, 2, -1):
        close(cr.jit(runtime_index_write, backend=backend)(0.9, k), runtime_index_write(0.9, k))
        close(cr.grad(runtime_index_write, backend=backend)(0.9, k),
              numerical_grad(runtime_index_write, (0.9, k)), rtol=1e-6)
    close(cr.jit(unknown_primitive, backend=backend)(0.9), unknown_primitive(0.9))
    close(cr.grad(unknown_primitive, backend=backend)(0.9),
          numerical_grad(unknown_primitive, (0.9,)), rtol=1e-6)
    assert "v_0" not in code(cr.jit(runtime_index_write), 0.9, 1)


def test_division_by_zero_element_keeps_numpy_semantics():
    def f(a):
        v = np.zeros(2)
        v[1] = a
        w = 1.0 / v
        return w[1] + (w[0] > 1e300)

    with np.errstate(divide="ignore"):
        close(cr.jit(f)(2.0), f(2.0))
        close(cr.jit(f, backend="numba")(2.0), f(2.0))


# -- shape specialisation ------------------------------------------------------------------------
def reads_by_constant_index(x, y):
    return x[0] * y[1] - x[-1] * np.sum(y)


def straight_vector_code(x):
    return np.sum(x * x) * 0.5


@pytest.mark.parametrize("backend", BACKENDS)
def test_specialised_per_small_size(backend):
    g = cr.grad(reads_by_constant_index, argnums=(0, 1), backend=backend)
    for n in (2, 5, 12):
        x, y = np.linspace(0.1, 0.9, n), np.linspace(-1.0, 1.0, n)
        assert cr.jit(reads_by_constant_index, backend=backend)(x, y) == pytest.approx(
            reads_by_constant_index(x, y), rel=1e-14)
        gx, gy = g(x, y)
        close(gx, numerical_grad(reads_by_constant_index, (x, y), 0), rtol=1e-6)
        close(gy, numerical_grad(reads_by_constant_index, (x, y), 1), rtol=1e-6)
    assert len(g._cache) == 3  # one compilation per small size, one for the large size


def test_specialisation_only_where_it_helps():
    x3, x4 = np.ones(3), np.ones(4)
    assert "x_0 = x[0]" in code(cr.jit(reads_by_constant_index), x3, x3)
    assert "x_0 = x[0]" not in code(cr.jit(reads_by_constant_index), np.ones(12), np.ones(12))
    j = cr.jit(straight_vector_code)
    close(j(x3), 1.5)
    close(j(x4), 2.0)
    assert len(j._cache) == 1  # no constant index, no loop: one compilation for every size
    assert specialize.known_sizes_of(straight_vector_code, (x3,)) == ()
    assert specialize.known_sizes_of(reads_by_constant_index, (x3, x3)) == ((0, 3), (1, 3))


def test_specialised_code_is_found_in_the_disk_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAINRULE_CACHE_DIR", str(tmp_path))

    def h(x, y):
        return x[0] * y[1] - x[-1] * np.sum(y)

    x, y = np.array([0.5, 1.5]), np.array([2.0, -1.0])
    assert cr.cache.explain(cr.grad(h), x, y).startswith("miss")
    first = cr.grad(h)(x, y)
    specialize._DECISIONS.clear()  # as in a new process
    assert cr.cache.explain(cr.grad(h), x, y) == "hit"
    close(cr.grad(h)(x, y), first, rtol=0)
    assert cr.cache.explain(cr.grad(h), np.ones(3), np.ones(3)).startswith("miss")
    close(cr.grad(h)(np.ones(3), np.ones(3)), [1.0, 0.0, -3.0], rtol=1e-14)


def creation_forms(a, b):
    v = np.full(3, a)
    w = np.zeros_like(v) + np.ones(3) * b
    z = np.array((a, b, 2.0)) * len(v) + v.shape[0]
    z[-2] -= w[0] * v[2]
    return np.dot(z, w) + z[-1] * np.sum(v - w)


@pytest.mark.parametrize("backend", BACKENDS)
def test_other_creation_forms(backend):
    args = (0.4, -0.9)
    close(cr.jit(creation_forms, backend=backend)(*args), creation_forms(*args), rtol=1e-13)
    close(cr.grad(creation_forms, argnums=(0, 1), backend=backend)(*args),
          numerical_grad(creation_forms, args, (0, 1)), rtol=1e-6)
    src = code(cr.jit(creation_forms), *args)
    assert "np.full" not in src and "np.zeros_like" not in src and "z_2" in src


def dtype_mixes(a, k):
    v = np.zeros(3)
    v[0] = k  # an int written into a float array
    v[1] = True
    m = v > 0.5  # a bool array
    q = np.array([a > 0.0, a > 1.0])
    n = q + q  # bool arithmetic (stays an array: True + True is True)
    f = np.zeros(2, dtype=np.float32)
    f[0] = a
    f[1] = a / 3.0
    return np.sum(np.where(m, v, a)) + n[1] * 10.0 + float(f[1] * f[0]) + np.sum(v * k)


@pytest.mark.parametrize("backend", BACKENDS)
def test_writes_of_other_dtypes_and_bool_arrays(backend):
    args = (0.3, 2)
    close(cr.jit(dtype_mixes, backend=backend)(*args), dtype_mixes(*args), rtol=1e-15)
    # d/da: one element of the where is a; f[1] * f[0] is a * a / 3 (in float32)
    close(cr.grad(dtype_mixes, backend=backend)(*args), 1.0 + 2.0 * 0.3 / 3.0, rtol=1e-6)
    src = code(cr.jit(dtype_mixes), *args)
    assert "v_2" in src and "m_0" in src
    assert "q_0" not in src and "f_0" not in src  # (float32 elements stay in an array)


def returns_its_argument(x, n):
    s = 0.0
    for _ in range(n):
        s = s + x[0] * x[1]
    return s, x


def test_argument_returned_is_the_callers_array():
    x = np.array([1.5, 2.0])
    s, y = cr.jit(returns_its_argument)(x, 3)
    assert y is x and s == pytest.approx(9.0, rel=1e-15)
    assert "x_0 = x[0]" not in code(cr.jit(returns_its_argument), x, 3)


SPECIALISED_PROGRAM = '''
import json, sys
import numpy as np
import chainrule as cr
import chainrule.driver as driver

def f(u, n):
    s = 0.0
    for _ in range(n):
        s = s + u[0] * u[-1]
    return s

calls = []
real = driver.compile_function
def spy(*a, **k):
    calls.append(1)
    return real(*a, **k)
driver.compile_function = spy
size = int(sys.argv[1])
u = np.linspace(1.0, 2.0, size)
g = cr.grad(f)
why = cr.cache.explain(g, u, 3)
out = g(u, 3)
print(json.dumps({"explain": why, "grad": list(out), "compiled": len(calls),
                  "scalar": "u_0" in cr.show(g, u, 3)}))
'''


def test_specialised_entries_across_processes(tmp_path):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "prog.py"
    script.write_text(SPECIALISED_PROGRAM)
    env = dict(os.environ, CHAINRULE_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=str(Path(__file__).resolve().parent.parent))

    def run(size):
        res = subprocess.run([sys.executable, str(script), str(size)], env=env,
                             capture_output=True, text=True, timeout=300, check=True)
        return json.loads(res.stdout.strip().splitlines()[-1])

    first, again, other = run(3), run(3), run(4)
    assert first["explain"].startswith("miss") and first["compiled"] == 1 and first["scalar"]
    assert again["explain"] == "hit" and again["compiled"] == 0
    assert other["explain"].startswith("miss") and other["compiled"] == 1
    close(first["grad"], [3.0 * 2.0, 0.0, 3.0 * 1.0])
    close(again["grad"], first["grad"], rtol=0)
    close(other["grad"], [3.0 * 2.0, 0.0, 0.0, 3.0 * 1.0])
