"""The GradBench tool (benchmarks/gradbench): its protocol loop, and each eval's derivatives
against central finite differences of the same plain functions on tiny inputs."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

from benchmarks.gradbench import __main__ as tool
from benchmarks.gradbench import ba, det, gmm, kmeans, llsq, lse, lstm, ode


def fd(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = h
        g.flat[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def answer(module, function, inp):
    run, post = module.FUNCTIONS[function](inp)
    return post(run())


def test_protocol_loop(monkeypatch, capsys):
    messages = [{"id": 0, "kind": "start"}, {"id": 1, "kind": "define", "module": "hello"},
                {"id": 2, "kind": "evaluate", "module": "hello", "function": "double",
                 "input": 3.0},
                {"id": 3, "kind": "define", "module": "nope"}]
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(json.dumps(m) + "\n" for m in messages)))
    tool.main()
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert out[0] == {"id": 0, "tool": "chainrule"}
    assert out[1]["success"] is True
    assert out[2]["output"] == 6.0 and out[2]["timings"][0]["name"] == "evaluate"
    assert out[3]["success"] is False


def test_lse_llsq_ode():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(5)
    g = answer(lse, "gradient", {"x": x.tolist()})
    np.testing.assert_allclose(g, fd(lse.logsumexp, x), rtol=1e-6, atol=1e-8)
    g = answer(llsq, "gradient", {"x": x.tolist(), "n": 7})
    np.testing.assert_allclose(g, fd(lambda z: llsq.llsq(z, 7), x), rtol=1e-6, atol=1e-8)
    assert answer(llsq, "primal", {"x": x.tolist(), "n": 7}) == pytest.approx(llsq.llsq(x, 7))
    g = answer(ode, "gradient", {"x": x.tolist(), "s": 3})
    np.testing.assert_allclose(g, fd(lambda z: ode.ode_last(z, 3), x), rtol=1e-6, atol=1e-8)


def test_det_by_minors():
    a = np.random.default_rng(1).random(16)
    assert answer(det, "primal", {"A": a.tolist(), "ell": 4}) == pytest.approx(
        np.linalg.det(a.reshape(4, 4)), rel=1e-12)
    g = answer(det, "gradient", {"A": a.tolist(), "ell": 4})
    np.testing.assert_allclose(g, fd(lambda z: np.linalg.det(z.reshape(4, 4)), a), atol=1e-8)


def test_kmeans_direction():
    rng = np.random.default_rng(2)
    points = rng.standard_normal((12, 2))
    centroids = points[:3] + 0.01
    d = np.array(answer(kmeans, "dir", {"points": points.tolist(),
                                        "centroids": centroids.tolist()}))
    jac = fd(lambda c: kmeans.kmeans_cost(c, points), centroids)
    counts = np.bincount(np.argmin(((points[:, None] - centroids[None]) ** 2).sum(2), 1),
                         minlength=3)
    np.testing.assert_allclose(d, jac / (2.0 * counts[:, None]), rtol=1e-6, atol=1e-8)


def test_gmm_gradient():
    rng = np.random.default_rng(3)
    d, k, n = 2, 3, 5
    inp = {"d": d, "k": k, "n": n, "alpha": rng.standard_normal(k).tolist(),
           "mu": rng.standard_normal((k, d)).tolist(), "q": rng.standard_normal((k, d)).tolist(),
           "l": rng.standard_normal((k, 1)).tolist(), "x": rng.standard_normal((n, d)).tolist(),
           "gamma": 1.0, "m": 0}
    args = gmm._args(inp)
    g = answer(gmm, "jacobian", inp)
    for i, key in enumerate(("alpha", "mu", "q", "l")):
        def f(z, i=i):
            a = list(args)
            a[i] = z
            return gmm.gmm_objective(*a)
        np.testing.assert_allclose(np.array(g[key]), fd(f, args[i]), rtol=1e-5, atol=1e-7)
    assert math.isfinite(answer(gmm, "objective", inp))


def test_lstm_gradient():
    rng = np.random.default_rng(4)
    inp = {"main_params": rng.random((4, 12)).tolist(), "extra_params": rng.random((3, 3)).tolist(),
           "state": rng.random((4, 3)).tolist(), "sequence": rng.integers(0, 2, (5, 3)).tolist()}
    main, extra, state, seq = lstm._args(inp)
    g = np.array(answer(lstm, "jacobian", inp))
    ref = np.concatenate([fd(lambda z: lstm.lstm_objective(z, extra, state, seq), main).ravel(),
                          fd(lambda z: lstm.lstm_objective(main, z, state, seq), extra).ravel()])
    np.testing.assert_allclose(g, ref, rtol=1e-5, atol=1e-8)


def test_ba_jacobian_block():
    inp = {"n": 2, "m": 3, "p": 4, "cam": [0.1, -0.2, 0.3, 1.0, 2.0, -5.0, 400.0, 1.0, 2.0,
                                           0.01, 0.001],
           "x": [0.5, -0.4, 3.0], "w": 0.9, "feat": [10.0, 20.0]}
    _, _, _, _, v, feats = ba._problem(inp)
    out = answer(ba, "jacobian", inp)
    ref = fd(lambda z: ba.reproj_errors(z[None, :], feats[:1])[0, 0], v[0].copy())
    np.testing.assert_allclose(out["vals"][:15], ref, rtol=1e-6, atol=1e-6)
    assert out["vals"][-1] == pytest.approx(-1.8)
    assert out["rows"][-1] == 30 * 4 + 4


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["ff", "fr", "rf", "rr"])
def test_saddle_nested_modes(variant):
    from benchmarks.gradbench import saddle

    out = answer(saddle, variant, {"start": [1.0, 1.0]})
    np.testing.assert_allclose(out, [8.246324826140356e-06] * 4, rtol=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["ff", "rr"])
def test_particle_nested_modes(variant):
    from benchmarks.gradbench import particle

    assert answer(particle, variant, {"w": 0.0}) == pytest.approx(0.2071918746486116, rel=1e-9)


def _hand(rng, complicated):
    n_bones, n_verts, n_pts = 22, 8, 4
    rel = np.tile(np.eye(4), (n_bones, 1, 1)) + 0.1 * rng.standard_normal((n_bones, 4, 4))
    model = {"bone_names": [f"b{i}" for i in range(n_bones)],
             "parents": [-1] + [max(0, i - 2) for i in range(1, n_bones)],
             "base_relatives": rel.tolist(),
             "inverse_base_absolutes": np.tile(np.eye(4), (n_bones, 1, 1)).tolist(),
             "base_positions": np.c_[rng.standard_normal((n_verts, 3)), np.ones(n_verts)].tolist(),
             "weights": rng.random((n_verts, n_bones)).tolist(),
             "triangles": [[0, 1, 2], [2, 3, 4], [5, 6, 7]], "is_mirrored": True}
    corr = [0, 2, 1, 2] if complicated else [0, 3, 5, 7]
    return {"theta": (0.3 * rng.standard_normal(26)).tolist(),
            "us": rng.random((n_pts, 2)).tolist() if complicated else [],
            "data": {"model": model, "correspondences": corr,
                     "points": rng.standard_normal((n_pts, 3)).tolist()}}


@pytest.mark.parametrize("complicated", [False, True])
def test_hand_tracking_jacobian(complicated):
    from benchmarks.gradbench import ht

    inp = _hand(np.random.default_rng(5), complicated)
    args = ht._args(inp)
    f = ht.residuals_complicated if complicated else ht.residuals_simple
    jac = np.array(answer(ht, "jacobian", inp))
    np.testing.assert_allclose(answer(ht, "objective", inp), f(*args), rtol=1e-12)
    cols = [fd(lambda t, k=k: f(t, *args[1:])[k], args[0]) for k in range(jac.shape[0])]
    np.testing.assert_allclose(jac[:, -26:], np.array(cols), rtol=1e-5, atol=1e-7)
    if complicated:
        us = args[1]
        for k in range(jac.shape[0]):
            g = fd(lambda u, k=k: f(args[0], u, *args[2:])[k], us)
            np.testing.assert_allclose(jac[k, :2], g[k // 3], rtol=1e-5, atol=1e-7)
