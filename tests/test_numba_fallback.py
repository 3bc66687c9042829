"""The fallback from Numba to the NumPy backend: only for code Numba cannot compile, one
:class:`BackendFallbackWarning` per user function naming it and its file:line, and never for an
exception the compiled program raises while it runs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.backend.executable import BackendError
from chainrule.errors import BackendFallbackWarning
from chainrule.rules.common import float_type, template
from chainrule.rules.registry import Primitive


@pytest.fixture
def auto_backend(monkeypatch):
    """The user's default: Numba, falling back to NumPy."""
    monkeypatch.setenv("CHAINRULE_BACKEND", "auto")


def _python_only_jvp(b, args, tans, out, **_):
    return None if tans[0] is None else b.mul(tans[0], 2.0)


def _python_only_vjp(b, args, out, g, **_):
    return [b.mul(g, 2.0)]


def twice(x):
    return 2.0 * x


# A user primitive whose emitted NumPy code (a ufunc's ``dtype=`` option) Numba cannot compile.
cr.register_primitive(
    Primitive("user_twice_with_dtype", float_type,
              template("np.multiply({0}, 2.0, dtype=np.float64)"),
              _python_only_jvp, _python_only_vjp, doc="2 x, written with a ufunc option"),
    function=twice)


def not_for_numba(x):
    return np.sum(twice(x) * x)


def also_not_for_numba(x):
    return np.sum(twice(x))


def test_fallback_warns_once_per_function_naming_it(auto_backend) -> None:
    x = np.array([0.5, -1.0, 2.0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        g = cr.grad(not_for_numba)
        got = [g(x), g(x), g(2.0 * x), cr.grad(not_for_numba)(x), cr.jit(not_for_numba)(x)]
        other = cr.grad(also_not_for_numba)(x)
    np.testing.assert_allclose(got[0], 4.0 * x)  # d/dx sum(2 x * x)
    np.testing.assert_allclose(got[2], 8.0 * x)
    assert got[4] == pytest.approx(2.0 * np.sum(x * x))
    np.testing.assert_allclose(other, 2.0 * np.ones(3))
    fallbacks = [w for w in caught if issubclass(w.category, BackendFallbackWarning)]
    assert len(fallbacks) == 2, [str(w.message) for w in fallbacks]
    first = fallbacks[0]
    text = str(first.message)
    assert "\n" not in text and "grad(not_for_numba)" in text and "NumPy backend" in text
    assert first.filename == __file__
    assert first.lineno == not_for_numba.__code__.co_firstlineno
    assert f"{__file__}:{first.lineno}" in text
    assert "multiply" in text  # the reason names what Numba could not compile
    assert "also_not_for_numba" in str(fallbacks[1].message)
    assert g.executable((x,)).backend == "numpy"


def raising_fallback(x):
    return np.sum(twice(x) ** 2)


def test_fallback_warning_can_be_made_an_error(auto_backend) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", BackendFallbackWarning)
        with pytest.raises(BackendFallbackWarning, match="raising_fallback"):
            cr.grad(raising_fallback)(np.ones(2))


def test_explicit_numba_backend_raises_with_the_reason() -> None:
    with pytest.raises(BackendError, match=r"Numba cannot compile.*multiply"):
        cr.grad(not_for_numba, backend="numba")(np.ones(2))


def divide(x, n):
    return x / n


def sized(x, n):
    return np.sum(np.zeros(n) + x)


def test_run_time_errors_propagate_unchanged(auto_backend) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", BackendFallbackWarning)
        f = cr.jit(divide)
        assert f(3.0, 2) == 1.5
        with pytest.raises(ZeroDivisionError):
            f(3.0, 0)
        g = cr.value_and_grad(divide)
        with pytest.raises(ZeroDivisionError):
            g(3.0, 0)
        assert g(3.0, 2) == (1.5, 0.5)
        assert g.executable((3.0, 2)).backend == "numba"
        assert f.executable((3.0, 2)).backend == "numba"


def test_run_time_error_on_the_first_call_is_not_a_fallback(auto_backend) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", BackendFallbackWarning)
        f = cr.grad(sized)
        with pytest.raises(ValueError, match="negative"):
            f(1.5, -2)
        assert f.executable((1.5, 3)).backend == "numba"
        assert f(1.5, 3) == 3.0
