"""GradBench ``ht``: hand tracking. A skinned hand model is posed by ``theta`` (global rotation
and translation, then finger joint angles), and the residuals are the data points minus their
corresponding mesh vertices (simple) or minus points inside their triangles at barycentric
coordinates ``us`` (complicated). The Jacobian with respect to ``theta`` is ``jacfwd`` (26
columns); the ``us`` part is block diagonal (each residual depends on its own two ``us``), so
its two columns come from two forward passes with every ``u0`` (then every ``u1``) perturbed.

Model layout as the reference reads it: ``base_relatives[b]`` and ``inverse_base_absolutes[b]``
are 4 x 4 row-major, ``base_positions`` is (4, n_vertices), ``weights`` (n_bones, n_vertices),
``points`` (3, n_points).
"""

import numpy as np

import chainrule as cr

from . import prepared


def angle_axis_to_rotation(v):
    norm = np.sqrt(np.sum(v * v))
    if norm < 0.0001:
        return np.eye(3)
    x = v[0] / norm
    y = v[1] / norm
    z = v[2] / norm
    s = np.sin(norm)
    c = np.cos(norm)
    return np.array([[x * x + (1.0 - x * x) * c, x * y * (1.0 - c) - z * s,
                      x * z * (1.0 - c) + y * s],
                     [x * y * (1.0 - c) + z * s, y * y + (1.0 - y * y) * c,
                      y * z * (1.0 - c) - x * s],
                     [x * z * (1.0 - c) - y * s, z * y * (1.0 - c) + x * s,
                      z * z + (1.0 - z * z) * c]])


def euler_to_rotation(tx, tz, ty):
    rx = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(tx), -np.sin(tx)],
                   [0.0, np.sin(tx), np.cos(tx)]])
    ry = np.array([[np.cos(ty), 0.0, np.sin(ty)], [0.0, 1.0, 0.0],
                   [-np.sin(ty), 0.0, np.cos(ty)]])
    rz = np.array([[np.cos(tz), -np.sin(tz), 0.0], [np.sin(tz), np.cos(tz), 0.0],
                   [0.0, 0.0, 1.0]])
    return rz @ ry @ rx


def pose_parameters(theta, n_bones):
    """(3, n_bones + 3): global rotation, scale (ones), translation, then one column per bone."""
    pose = np.zeros((3, n_bones + 3))
    pose[:, 0] = theta[0:3]
    pose[:, 1] = 1.0
    pose[:, 2] = theta[3:6]
    i_theta = 6
    i_pose = 5
    for _ in range(5):  # fingers: three joints each, the first with two angles
        pose[0, i_pose] = theta[i_theta]
        pose[1, i_pose] = theta[i_theta + 1]
        pose[0, i_pose + 1] = theta[i_theta + 2]
        pose[0, i_pose + 2] = theta[i_theta + 3]
        i_theta = i_theta + 4
        i_pose = i_pose + 4
    return pose


def skinned_positions(theta, parents, base_relatives, inverse_base_absolutes,
                      base_positions, weights, mirrored):
    n_bones = parents.shape[0]
    pose = pose_parameters(theta, n_bones)
    absolutes = np.zeros((n_bones, 4, 4))
    positions = np.zeros((3, base_positions.shape[1]))
    for b in range(n_bones):
        tr = np.eye(4)
        tr[0:3, 0:3] = euler_to_rotation(pose[0, b + 3], pose[1, b + 3], pose[2, b + 3])
        relative = base_relatives[b] @ tr
        if parents[b] == -1:
            absolutes[b] = relative
        else:
            absolutes[b] = absolutes[parents[b]] @ relative
        moved = (absolutes[b] @ inverse_base_absolutes[b]) @ base_positions
        positions = positions + moved[0:3] * weights[b]
    if mirrored:
        positions[0] = -positions[0]
    rot = angle_axis_to_rotation(pose[:, 0]) * pose[:, 1]
    return rot @ positions + pose[:, 2:3]


def residuals_simple(theta, model, points, corr):
    positions = skinned_positions(theta, *model)
    return (points - positions[:, corr]).T.ravel()


def residuals_complicated(theta, us, model, points, corr, triangles):
    positions = skinned_positions(theta, *model)
    verts = triangles[corr]
    u0 = us[:, 0]
    u1 = us[:, 1]
    hand = (u0 * positions[:, verts[:, 0]] + u1 * positions[:, verts[:, 1]]
            + (1.0 - u0 - u1) * positions[:, verts[:, 2]])
    return (points - hand).T.ravel()


def jacobian_simple(theta, model, points, corr):
    return cr.jacfwd(lambda t: residuals_simple(t, model, points, corr))(theta)


def jacobian_complicated(theta, us, model, points, corr, triangles):
    j_theta = cr.jacfwd(
        lambda t: residuals_complicated(t, us, model, points, corr, triangles))(theta)
    f_us = lambda u: residuals_complicated(theta, u, model, points, corr, triangles)
    e0 = np.zeros_like(us)
    e0[:, 0] = 1.0
    e1 = np.zeros_like(us)
    e1[:, 1] = 1.0
    d0 = cr.jvp(f_us, (us,), (e0,))[1]
    d1 = cr.jvp(f_us, (us,), (e1,))[1]
    return np.concatenate((d0[:, None], d1[:, None], j_theta), axis=1)


_objective = {False: cr.jit(residuals_simple), True: cr.jit(residuals_complicated)}
_jacobian = {False: cr.jit(jacobian_simple), True: cr.jit(jacobian_complicated)}


def _args(inp):
    m = inp["data"]["model"]
    arr = lambda v: np.asarray(v, dtype=np.float64)
    model = (np.asarray(m["parents"], dtype=np.int64), arr(m["base_relatives"]),
             arr(m["inverse_base_absolutes"]), arr(m["base_positions"]).T, arr(m["weights"]).T,
             bool(m["is_mirrored"]))
    points = arr(inp["data"]["points"]).T
    corr = np.asarray(inp["data"]["correspondences"], dtype=np.int64)
    theta = arr(inp["theta"])
    if len(inp["us"]) == 0:
        return theta, model, points, corr
    return (theta, arr(inp["us"]).reshape(-1, 2), model, points, corr,
            np.asarray(m["triangles"], dtype=np.int64))


def _objective_of(*args):
    return _objective[len(args) == 6](*args)


def _jacobian_of(*args):
    return _jacobian[len(args) == 6](*args)


FUNCTIONS = {
    "objective": prepared(_objective_of, _args, lambda r: r.tolist()),
    "jacobian": prepared(_jacobian_of, _args, lambda j: j.tolist()),
}
