"""The rule table under Numba: every function the rule checks build (primal, JVP, VJP, forward
over reverse, and the transforms' versions of them) compiles with Numba, without falling back,
and gives the NumPy backend's values (which the rule checks compare with finite differences).

Numba compiles take 0.3-2 s per function, so the default run checks a representative set of
rows at one case in primal, JVP and VJP, many rows per compiled function
(tests/numba_harness.py); ``pytest -m slow`` checks every row at one case, every case of every
row in every mode, the nondiff rows, and the table run through the real transforms.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import rule_harness
import test_rules_transforms
from numba_harness import Recorder, run_batched
from test_rules_table import INTERNAL, NONDIFF, TABLE

ROWS = TABLE + INTERNAL


def _richest_case(row):
    """The row with only its case of most dimensions (broadcasting, if any), first order."""

    def cases(rng):
        return [max(row.cases(rng), key=lambda args: sum(np.ndim(a) for a in args))]

    return dataclasses.replace(row, cases=cases, second=False)


def _chunks(rows, size):
    return [rows[k:k + size] for k in range(0, len(rows), size)]


def _check_under_numba(monkeypatch, rows, check) -> None:
    rec = Recorder()
    monkeypatch.setattr(rule_harness, "compile_fn", rec.compile_fn)
    monkeypatch.setattr(test_rules_transforms, "compile_fn", rec.compile_fn)
    for row in rows:
        rec.label = row.id
        check(row)
    problems = run_batched(rec.calls, "numba_rules")
    assert not problems, "\n".join(problems)


# The default run: rows whose Numba code once needed care (scalar operands, keepdims, flips,
# n-d scatter-adds, linear algebra), at their richest case, in one compiled function.
DEFAULT_ROWS = ("expand_dims(axis=0)", "clip", "cumsum(axis=-1)", "flip(axis=1)", "norm", "solve",
                "det", "getitem(spec=('a',))", "getitem(spec=('m',))", "sum(axis=-1,keepdims=True)",
                "maximum", "dot", "unbroadcast", "polygamma(n=1)", "erf")
BY_ID = {r.id: r for r in ROWS}


def test_representative_rules_first_order_under_numba(monkeypatch) -> None:
    rows = [_richest_case(BY_ID[i]) for i in DEFAULT_ROWS]
    _check_under_numba(monkeypatch, rows, rule_harness.check_row)


@pytest.mark.slow
@pytest.mark.parametrize("rows", _chunks([_richest_case(r) for r in ROWS], 12),
                         ids=lambda rows: f"{rows[0].id}..{rows[-1].id}")
def test_rules_first_order_under_numba(monkeypatch, rows) -> None:
    _check_under_numba(monkeypatch, rows, rule_harness.check_row)


@pytest.mark.slow
@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_rule_every_mode_under_numba(monkeypatch, row) -> None:
    _check_under_numba(monkeypatch, [row], rule_harness.check_row)


def _through_transforms(row) -> None:
    rng = np.random.default_rng(1)
    for args in row.cases(rng):
        test_rules_transforms._check(row, tuple(args), rng)


@pytest.mark.slow
@pytest.mark.parametrize("row", TABLE, ids=lambda r: r.id)
def test_rule_through_transforms_under_numba(monkeypatch, row) -> None:
    _check_under_numba(monkeypatch, [row], _through_transforms)


@pytest.mark.slow
def test_nondiff_primitives_under_numba(monkeypatch) -> None:
    rec = Recorder()
    monkeypatch.setattr(rule_harness, "compile_fn", rec.compile_fn)
    for name, make, params in NONDIFF:
        rec.label = name
        rng = np.random.default_rng(1)
        rule_harness.check_nondiff(name, make(rng), params, rng)
    problems = run_batched(rec.calls, "numba_nondiff")
    assert not problems, "\n".join(problems)
