"""A 3D mean-face template of the 74 landmarks, and the expression deformations of SynthTalk.

Coordinates are in face units: the outer eye corners (36, 45) are 0.62 apart
(proportions of an average adult face: brows 0.2, nose base 0.3, mouth 0.5 and chin
0.78 below the eye line),
x points to the image's right, y downwards, z towards the camera; the origin is
between the eyes, at the depth of the eye corners. The same template gives
SynthTalk its geometry (projected with the head pose) and gives real faces their
head pose (solvePnP of detected points against it).

Besides the 74 landmarks, the render mesh has auxiliary points (forehead, hair
outline, cheeks, iris top/bottom) that are not landmarks; they only shape the
rendered head.
"""

from __future__ import annotations

import numpy as np

from s2d import landmarks as lm

IRIS_RADIUS = 0.045  # in face units; a human iris is about 0.18 of the eye width


def _arc(x0: float, x1: float, y_ends: float, y_mid: float, n: int) -> np.ndarray:
    """n points along a parabola from (x0, y_ends) through (mid, y_mid) to (x1, y_ends)."""
    x = np.linspace(x0, x1, n)
    t = np.linspace(-1.0, 1.0, n)
    y = y_mid + (y_ends - y_mid) * t**2
    return np.stack([x, y], axis=1)


def _face_depth(xy: np.ndarray) -> np.ndarray:
    """Depth of the face surface at frontal positions: an ellipsoid, flattened near the front."""
    x, y = xy[:, 0] / 0.55, (xy[:, 1] - 0.15) / 0.9
    return 0.62 * np.sqrt(np.clip(1.0 - x**2 - 0.35 * y**2, 0.0, None)) - 0.58


def _landmarks_3d() -> np.ndarray:
    pts = np.zeros((lm.NUM_LANDMARKS, 3))
    # jaw: the lower half of an ellipse from the left ear to the right ear through the chin
    t = np.linspace(0.0, np.pi, 17)
    pts[0:17, 0] = -0.48 * np.cos(t)
    pts[0:17, 1] = -0.06 + 0.84 * np.sin(t)
    # brows
    pts[17:22, :2] = _arc(-0.42, -0.08, -0.17, -0.23, 5)
    pts[22:27, :2] = _arc(0.08, 0.42, -0.17, -0.23, 5)
    # nose bridge and base
    pts[27:31, 0] = 0.0
    pts[27:31, 1] = np.linspace(-0.06, 0.22, 4)
    pts[31:36, :2] = [[-0.1, 0.29], [-0.05, 0.305], [0.0, 0.315], [0.05, 0.305], [0.1, 0.29]]
    # eyes: corner, two upper lid points, corner, two lower lid points
    for first, cx in ((36, -0.2), (42, 0.2)):
        pts[first:first + 6, :2] = np.array(
            [[-0.11, 0.0], [-0.04, -0.04], [0.04, -0.04], [0.11, 0.0], [0.04, 0.035], [-0.04, 0.035]]
        ) + [cx, 0.0]
    # lips: outer then inner contour, from the image-left corner clockwise
    pts[48:60, :2] = [
        [-0.18, 0.5], [-0.12, 0.45], [-0.05, 0.425], [0.0, 0.435], [0.05, 0.425], [0.12, 0.45],
        [0.18, 0.5], [0.12, 0.55], [0.05, 0.58], [0.0, 0.585], [-0.05, 0.58], [-0.12, 0.55],
    ]
    pts[60:68, :2] = [
        [-0.15, 0.5], [-0.05, 0.496], [0.0, 0.498], [0.05, 0.496],
        [0.15, 0.5], [0.05, 0.5], [0.0, 0.502], [-0.05, 0.5],
    ]
    # pupils at the eye centres, iris edges one iris radius to either side
    for pupil, (edge_a, edge_b), cx in ((lm.LEFT_PUPIL, lm.LEFT_IRIS_EDGE, -0.2), (lm.RIGHT_PUPIL, lm.RIGHT_IRIS_EDGE, 0.2)):
        pts[pupil, :2] = [cx, -0.003]
        pts[edge_a, :2] = [cx - IRIS_RADIUS, -0.003]
        pts[edge_b, :2] = [cx + IRIS_RADIUS, -0.003]
    pts[:, 2] = _face_depth(pts[:, :2])
    pts[27:31, 2] += np.array([0.02, 0.07, 0.13, 0.2])  # the nose stands out of the face
    pts[31:36, 2] += np.array([0.05, 0.08, 0.11, 0.08, 0.05])
    pts[48:68, 2] += 0.03  # lips
    return pts


LANDMARKS_3D = _landmarks_3d()


def _aux_points() -> np.ndarray:
    """Render-mesh points that are not landmarks: forehead, hair outline, cheeks."""
    t = np.linspace(0.0, np.pi, 11)[1:-1]
    forehead = np.stack([-0.48 * np.cos(t), -0.06 - 0.58 * np.sin(t)], axis=1)
    t = np.linspace(-0.45, np.pi + 0.45, 15)
    hair = np.stack([-0.66 * np.cos(t), -0.06 - 0.78 * np.sin(t)], axis=1)
    cheeks = np.array([[-0.33, 0.22], [0.33, 0.22], [-0.3, 0.02], [0.3, 0.02], [-0.24, 0.42], [0.24, 0.42]])
    xy = np.concatenate([forehead, hair, cheeks])
    z = _face_depth(xy)
    z[len(forehead):len(forehead) + len(hair)] = -0.4  # hair outline: behind the face, around the skull
    return np.concatenate([xy, z[:, None]], axis=1)


AUX_3D = _aux_points()
# The render mesh: landmarks 0-67 and the auxiliary points. Pupils and irises are
# drawn separately (they move inside the eye), so they are not mesh vertices.
MESH_3D = np.concatenate([LANDMARKS_3D[: lm.NUM_IBUG], AUX_3D])
NUM_FOREHEAD = 9
HAIR_OUTLINE = tuple(range(lm.NUM_IBUG + NUM_FOREHEAD, lm.NUM_IBUG + NUM_FOREHEAD + 15))


def mesh_triangles() -> np.ndarray:
    """Delaunay triangles (N, 3) over the frontal mesh, oriented counter-clockwise on screen."""
    from scipy.spatial import Delaunay

    tri = Delaunay(MESH_3D[:, :2]).simplices.copy()
    a, b, c = (MESH_3D[tri[:, i], :2] for i in range(3))
    cross = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    tri[cross < 0] = tri[cross < 0][:, [0, 2, 1]]
    return tri


MESH_TRIANGLES = mesh_triangles()

# Which mesh/landmark points each expression moves. Points are indices into the
# 74 landmarks; the mesh shares indices 0-67 with them.
_UPPER_LIDS = {37: 41, 38: 40, 43: 47, 44: 46}  # upper lid point -> the lower lid point below it
_LOWER_LIP = (55, 56, 57, 58, 59, 65, 66, 67)
_JAW_DROP = {4: 0.25, 5: 0.5, 6: 0.75, 7: 0.9, 8: 1.0, 9: 0.9, 10: 0.75, 11: 0.5, 12: 0.25}
_MOUTH_CORNERS = {48: -1, 60: -1, 54: 1, 64: 1}
_NEAR_CORNERS = {49: -0.4, 59: -0.4, 53: 0.4, 55: 0.4}
_PUPIL_GROUPS = ((lm.LEFT_PUPIL, *lm.LEFT_IRIS_EDGE), (lm.RIGHT_PUPIL, *lm.RIGHT_IRIS_EDGE))

GAZE_RANGE = (0.05, 0.02)  # the largest pupil offset in x and y, face units
EYEBALL_RADIUS = 0.12
LID_FOLLOW = 0.6  # the lids follow vertical gaze by this fraction of the pupil's motion


def deform(points: np.ndarray, gaze: np.ndarray, blink: float, mouth_open: float, smile: float,
           brow_raise: float) -> np.ndarray:
    """Apply one frame's expression to (74 + aux, 3) neutral points; returns a new array.

    ``gaze`` (x, y) in the unit disc moves pupils and irises inside the eyes, independently
    of the head, and the lids follow its vertical part as real lids do; ``blink`` 0 (open) .. 1 (closed) lowers the upper lids onto the lower
    ones; ``mouth_open`` drops the lower lip and the jaw; ``smile`` pulls the mouth
    corners out and up; ``brow_raise`` lifts the brows.
    """
    out = points.copy()
    gaze = np.asarray(gaze, float) / max(1.0, float(np.hypot(*gaze)))
    lid_shift = LID_FOLLOW * GAZE_RANGE[1] * gaze[1]
    for upper, lower in _UPPER_LIDS.items():
        out[[upper, lower], 1] += lid_shift
        out[upper, 1] += blink * 0.92 * (points[lower, 1] - points[upper, 1])
    for lower in (40, 41, 46, 47):
        out[lower, 1] -= blink * 0.006
    out[list(_LOWER_LIP), 1] += 0.14 * mouth_open
    for idx, weight in _JAW_DROP.items():
        out[idx, 1] += 0.11 * mouth_open * weight
    for idx, side in {**_MOUTH_CORNERS, **_NEAR_CORNERS}.items():
        out[idx, 0] += 0.035 * smile * side
        out[idx, 1] -= 0.03 * smile * abs(side)
    out[17:27, 1] -= 0.06 * brow_raise
    shift = np.array(GAZE_RANGE) * gaze
    for group in _PUPIL_GROUPS:  # the pupil turns on the eyeball: it sinks as it moves off-centre
        out[list(group), :2] += shift
        out[list(group), 2] -= float(shift @ shift) / (2 * EYEBALL_RADIUS)
    return out


def rotation_matrix(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Head rotation in degrees: yaw about the vertical axis, then pitch, then roll.

    With x to the image's right, y down and z towards the camera: yaw > 0 turns the
    face to the image's right (the nose tip moves right), pitch > 0 tilts it up (the
    nose tip moves up), roll > 0 rotates it clockwise in the image.
    """
    y, p, r = np.deg2rad([yaw, pitch, roll])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry
