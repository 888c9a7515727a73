"""The geometry of a prepared face video: its crop, its landmarks' visibility and its face parsing.

- :func:`crop_box`: one square crop for the whole video, as first-order-model's VoxCeleb
  preprocessing does: the union of the per-frame boxes of the 68 iBUG points, made square
  around its centre raised by :data:`CENTRE_RAISE` of its side (the landmarks stop at the
  brows; the crop should hold the forehead too), enlarged ``scale`` times
  (:data:`CROP_SCALE`, 1.8: the whole head with some hair and neck). At the frame's borders
  it is shifted inside, and shrunk to the frame when larger, so no pixel is invented.
  :func:`crop_frame` cuts and resizes a frame to it (area averaging when shrinking),
  :func:`to_crop` maps landmarks into it exactly (pixel centres at integer coordinates).
- :func:`visibility`: a point is hidden when its normal on an ellipsoid head through the
  template, turned by the pose, faces away from the camera; pupils and iris edges are hidden
  when outside their eye's outline or when the eye is closed (lid opening under
  :data:`CLOSED_EYE` of the eye's width); points the detector only estimates (dlib's pupils)
  are never visible.
- :func:`parsing_map`: face parsing rasterised from the landmarks. No face-parsing network
  can be had offline, so it is approximate: skin is the convex hull of the jaw and of the jaw
  mirrored across the line through its ends (a forehead up to an assumed hairline), brows are
  bands below the brow points, sclera the eye outlines, iris a disc through the iris edge
  points clipped to the eye, nose the hull of the nose points, lips the outer lip outline and
  mouth interior the inner one. Hair is never labelled.
- :func:`interpolate_missing`: landmarks of frames without a face, interpolated in time.
"""

from __future__ import annotations

import cv2
import numpy as np

from s2d import landmarks as lm
from s2d.data import format as fmt
from s2d.data.extractors import face_box
from s2d.data.render import fill_polygon
from s2d.data.template import LANDMARKS_3D, rotation_matrix

CROP_SCALE = 1.8
CENTRE_RAISE = 0.1
CLOSED_EYE = 0.1
FOREHEAD = 0.85  # forehead height over chin depth, both from the line through the jaw's ends
BROW_THICKNESS = 0.08  # of the interocular distance
FACING = 0.05  # a normal must point this much towards the camera
# An ellipsoid head around the template (face units): turning 30 degrees hides the far
# side's three jaw points by the ear; 60 degrees half the far cheek, the far brow's end
# and the far eye's outer corner.
HEAD_CENTRE = (0.0, 0.1, -0.5)
HEAD_RADII = (0.5, 0.75, 0.5)
_LABEL = {name: i for i, name in enumerate(fmt.PARSING_LABELS)}


def _template_normals() -> np.ndarray:
    """Outward unit normals of the ellipsoid head at the template's 74 landmarks."""
    n = (LANDMARKS_3D - np.array(HEAD_CENTRE)) / np.array(HEAD_RADII) ** 2
    return n / np.linalg.norm(n, axis=1, keepdims=True)
_NORMALS = _template_normals()


def interpolate_missing(landmarks: np.ndarray) -> np.ndarray:
    """Landmarks of frames without a face, interpolated in time from the nearest frames with one."""
    detected = ~np.isnan(landmarks).any(axis=(1, 2))
    t = np.arange(len(landmarks))
    flat = landmarks.reshape(len(landmarks), -1).copy()
    for k in range(flat.shape[1]):
        flat[:, k] = np.interp(t, t[detected], flat[detected, k])
    return flat.reshape(landmarks.shape)


def crop_box(landmarks: np.ndarray, height: int, width: int, scale: float = CROP_SCALE) -> tuple[int, int, int]:
    """The clip's square crop ``(x0, y0, side)`` in pixels around all frames' faces."""
    boxes = face_box(landmarks)
    x0, y0 = boxes[:, :2].min(axis=0)
    x1, y1 = boxes[:, 2:].max(axis=0)
    box_side = max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 - CENTRE_RAISE * box_side
    side = int(min(round(scale * box_side), height, width))
    left = int(np.clip(round(cx - side / 2), 0, width - side))
    top = int(np.clip(round(cy - side / 2), 0, height - side))
    return left, top, side


def crop_frame(frame: np.ndarray, box: tuple[int, int, int], size: int) -> np.ndarray:
    x0, y0, side = box
    crop = frame[y0:y0 + side, x0:x0 + side]
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(crop, (size, size), interpolation=interpolation)


def to_crop(points: np.ndarray, box: tuple[int, int, int], size: int) -> np.ndarray:
    """Map pixel coordinates of the frame into the resized crop (pixel centres at integers)."""
    x0, y0, side = box
    return ((points - np.array([x0, y0]) + 0.5) * (size / side) - 0.5).astype(np.float32)


def visibility(landmarks: np.ndarray, pose: np.ndarray, detected: np.ndarray,
               estimated: tuple[int, ...] = ()) -> np.ndarray:
    """(T, 74) bool: not turned away from the camera, pupils inside open eyes, and really detected."""
    visible = np.zeros(landmarks.shape[:2], bool)
    for t, (points, angles) in enumerate(zip(landmarks, pose)):
        visible[t] = (_NORMALS @ rotation_matrix(*angles).T)[:, 2] > FACING
        apertures = lm.eye_aperture(points)
        for eye, group, aperture in zip((lm.LEFT_EYE, lm.RIGHT_EYE),
                                        ((lm.LEFT_PUPIL, *lm.LEFT_IRIS_EDGE), (lm.RIGHT_PUPIL, *lm.RIGHT_IRIS_EDGE)),
                                        apertures):
            outline = points[list(eye)].astype(np.float32)
            for idx in group:
                inside = cv2.pointPolygonTest(outline, (float(points[idx, 0]), float(points[idx, 1])), False) >= 0
                visible[t, idx] &= inside and aperture >= CLOSED_EYE
    visible[:, list(estimated)] = False
    visible[~detected] = False
    return visible


def _fill(labels: np.ndarray, polygon: np.ndarray, label: str) -> None:
    """Fill a polygon with one parsing label, at sub-pixel precision."""
    fill_polygon(labels, polygon, _LABEL[label])


def parsing_map(points: np.ndarray, size: int) -> np.ndarray:
    """Approximate (size, size) uint8 face parsing from one frame's 74 landmarks (PARSING_LABELS)."""
    labels = np.zeros((size, size), np.uint8)
    jaw = points[list(lm.JAW)]
    origin, direction = jaw[0], jaw[-1] - jaw[0]
    direction = direction / max(float(np.linalg.norm(direction)), 1e-6)
    rel = jaw - origin
    along = rel @ direction
    forehead = origin + along[:, None] * direction - FOREHEAD * (rel - along[:, None] * direction)
    brows = points[list(lm.LEFT_BROW + lm.RIGHT_BROW)]
    skin = cv2.convexHull(np.concatenate([jaw, forehead, brows]).astype(np.float32))[:, 0]
    _fill(labels, skin, "skin")
    _fill(labels, cv2.convexHull(points[27:36].astype(np.float32))[:, 0], "nose")
    thickness = BROW_THICKNESS * float(lm.interocular_distance(points))
    for brow, eye in ((lm.LEFT_BROW, lm.LEFT_EYE), (lm.RIGHT_BROW, lm.RIGHT_EYE)):
        top = points[list(brow)]
        down = points[list(eye)].mean(axis=0) - top.mean(axis=0)
        down = down / max(float(np.linalg.norm(down)), 1e-6)
        _fill(labels, np.concatenate([top, top[::-1] + thickness * down]), "brows")
    for eye, pupil, edges in ((lm.LEFT_EYE, lm.LEFT_PUPIL, lm.LEFT_IRIS_EDGE),
                              (lm.RIGHT_EYE, lm.RIGHT_PUPIL, lm.RIGHT_IRIS_EDGE)):
        eye_mask = np.zeros_like(labels)
        _fill(eye_mask, points[list(eye)], "sclera")
        labels[eye_mask > 0] = _LABEL["sclera"]
        iris = np.zeros_like(labels)
        radius = float(np.linalg.norm(points[edges[0]] - points[edges[1]])) / 2
        centre = np.round(points[pupil] * 16).astype(int)
        cv2.circle(iris, (int(centre[0]), int(centre[1])), int(round(radius * 16)), 1, -1, cv2.LINE_8, shift=4)
        labels[(iris > 0) & (eye_mask > 0)] = _LABEL["iris"]
    _fill(labels, points[list(lm.OUTER_LIPS)], "lips")
    _fill(labels, points[list(lm.INNER_LIPS)], "mouth_interior")
    return labels
