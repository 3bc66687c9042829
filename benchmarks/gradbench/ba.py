"""GradBench ``ba``: bundle-adjustment reprojection errors and their sparse Jacobian.

Every observation ``i`` sees camera ``obs[i, 0]`` (11 parameters: Rodrigues rotation, centre,
focal length, principal point, two radial distortion coefficients) and point ``obs[i, 1]``,
with weight ``w[i]``. The residuals are written once, vectorised over observations; each
observation's 2 x 15 Jacobian block (camera, point, weight) comes from 15 forward-mode passes
over all observations at once (tangent ``e_k`` in every row), as a sparse Jacobian is built by
a user who knows each block depends on one observation only.
"""

import numpy as np

import chainrule as cr

N_CAM = 11


def cross(a, b):
    return np.stack([a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1],
                     a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2],
                     a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]], axis=1)


def rotate(rot, pt):
    sqtheta = np.sum(rot * rot, axis=1)
    nonzero = sqtheta != 0.0
    theta = np.sqrt(np.where(nonzero, sqtheta, 1.0))
    w = rot / theta[:, None]
    tmp = np.sum(w * pt, axis=1) * (1.0 - np.cos(theta))
    turned = (pt * np.cos(theta)[:, None] + cross(w, pt) * np.sin(theta)[:, None]
              + w * tmp[:, None])
    return np.where(nonzero[:, None], turned, pt + cross(rot, pt))


def reproj_errors(v, feats):
    """Residuals (p, 2) of the per-observation parameter rows ``v`` (p, 15)."""
    xcam = rotate(v[:, 0:3], v[:, 11:14] - v[:, 3:6])
    px = xcam[:, 0] / xcam[:, 2]
    py = xcam[:, 1] / xcam[:, 2]
    rsq = px * px + py * py
    dist = 1.0 + v[:, 9] * rsq + v[:, 10] * rsq * rsq
    px = px * dist * v[:, 6] + v[:, 7]
    py = py * dist * v[:, 6] + v[:, 8]
    w = v[:, 14]
    return np.stack([w * (px - feats[:, 0]), w * (py - feats[:, 1])], axis=1)


def jacobian_blocks(v, feats):
    """(p, 2, 15): each observation's Jacobian block, one forward pass per parameter."""
    p = v.shape[0]
    blocks = np.zeros((p, 2, 15))
    for k in range(15):
        tangent = np.zeros((p, 15))
        tangent[:, k] = 1.0
        _, column = cr.jvp(reproj_errors, (v, feats), (tangent, np.zeros_like(feats)))
        blocks[:, :, k] = column
    return blocks


_errors = cr.jit(reproj_errors)
_blocks = cr.jit(jacobian_blocks)


def _problem(inp):
    n, m, p = int(inp["n"]), int(inp["m"]), int(inp["p"])
    cams = np.tile(np.asarray(inp["cam"], dtype=np.float64), (n, 1))
    x = np.tile(np.asarray(inp["x"], dtype=np.float64), (m, 1))
    w = np.full(p, float(inp["w"]))
    feats = np.tile(np.asarray(inp["feat"], dtype=np.float64), (p, 1))
    obs = np.stack([np.arange(p) % n, np.arange(p) % m], axis=1)
    v = np.concatenate([cams[obs[:, 0]], x[obs[:, 1]], w[:, None]], axis=1)
    return n, m, p, obs, v, feats


def _objective(inp):
    _, _, p, _, v, feats = _problem(inp)

    def run():
        return _errors(v, feats), 1.0 - v[:, 14] ** 2

    def post(out):
        err, w_err = out
        return {"reproj_error": {"elements": err[0].tolist(), "repeated": p},
                "w_err": {"element": float(w_err[0]), "repeated": p}}

    return run, post


def _jacobian(inp):
    n, m, p, obs, v, feats = _problem(inp)

    def run():
        return _blocks(v, feats), -2.0 * v[:, 14]

    def post(out):
        blocks, dw = out
        cam0, pt0 = int(obs[0, 0]), int(obs[0, 1])
        cols_obs0 = list(range(N_CAM * cam0, N_CAM * cam0 + N_CAM)) + [
            N_CAM * n + 3 * pt0 + i for i in range(3)] + [N_CAM * n + 3 * m]
        n_rows = 2 * (N_CAM + 4)
        rows = [15 * i for i in range(n_rows)] + [30 * p + p]
        return {"rows": rows, "cols": cols_obs0 * 2 + [N_CAM * n + 3 * m + p - 1],
                "vals": blocks[0, 0].tolist() + blocks[0, 1].tolist() + [float(dw[-1])]}

    return run, post


FUNCTIONS = {"objective": _objective, "jacobian": _jacobian}
