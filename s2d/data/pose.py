"""Head pose (yaw, pitch, roll in degrees) of real faces, from their 2D landmarks.

The pose is the rotation that best maps the 3D template
(:data:`s2d.data.template.LANDMARKS_3D`, its 68 iBUG points) onto the detected 68
points through a pinhole camera: ``cv2.solvePnP`` (EPnP, refined by
Levenberg-Marquardt) with the focal length equal to the image width and the
principal point at the image centre.

Angles follow :func:`rotation_matrix`, the convention SynthTalk renders with and
format.py stores (``R = Rz(roll) @ Rx(pitch) @ Ry(yaw)`` acting on template
points, x to the image's right, y down, z towards the camera):

- yaw > 0: the face turns to the image's right (its nose tip moves right);
- pitch > 0: the face looks up (its nose tip moves up);
- roll > 0: the face rotates clockwise in the image.

A template is not the person's own face and the jaw points follow the visible
outline, so expect errors of a few degrees on real faces. The template has average
adult proportions (brows 0.2, mouth 0.5 and chin 0.78 face units from the eye line);
measured on two real talking-head clips (MediaPipe landmarks), near-frontal faces
came out at median pitch +2.6 and +11.6 degrees, yaw and roll within a few degrees.
(SynthTalk, rendered from this template, stores its true poses and needs no estimate.)
"""

from __future__ import annotations

import cv2
import numpy as np

from s2d import landmarks as lm
from s2d.data.template import LANDMARKS_3D, rotation_matrix

__all__ = ["rotation_matrix", "angles_from_matrix", "camera_matrix", "estimate_pose"]

# The template is left-handed (z towards the camera); OpenCV's camera looks along +z.
_FLIP_Z = np.diag([1.0, 1.0, -1.0])
_MODEL = np.ascontiguousarray((LANDMARKS_3D[: lm.NUM_IBUG] @ _FLIP_Z).astype(np.float64))


def angles_from_matrix(rot: np.ndarray) -> np.ndarray:
    """Yaw, pitch, roll in degrees of a rotation built by :func:`rotation_matrix` (its inverse)."""
    pitch = np.arcsin(np.clip(rot[2, 1], -1.0, 1.0))
    yaw = np.arctan2(-rot[2, 0], rot[2, 2])
    roll = np.arctan2(-rot[0, 1], rot[1, 1])
    return np.rad2deg([yaw, pitch, roll])


def camera_matrix(height: int, width: int) -> np.ndarray:
    """Pinhole intrinsics: focal length = image width, principal point at the centre pixel."""
    f = float(width)
    return np.array([[f, 0.0, (width - 1) / 2], [0.0, f, (height - 1) / 2], [0.0, 0.0, 1.0]])


def estimate_pose(landmarks: np.ndarray, height: int, width: int) -> np.ndarray:
    """Yaw, pitch, roll (degrees, float32) of landmarks ``(..., 74 or 68, 2)`` in a height x width image."""
    pts = np.asarray(landmarks, dtype=np.float64)
    flat = pts.reshape(-1, *pts.shape[-2:])[:, : lm.NUM_IBUG]
    cam = camera_matrix(height, width)
    out = np.zeros((len(flat), 3))
    for i, image_points in enumerate(flat):
        image_points = np.ascontiguousarray(image_points)
        ok, rvec, tvec = cv2.solvePnP(_MODEL, image_points, cam, None, flags=cv2.SOLVEPNP_EPNP)
        if not ok:
            raise ValueError("solvePnP failed: the landmarks are degenerate")
        rvec, tvec = cv2.solvePnPRefineLM(_MODEL, image_points, cam, None, rvec, tvec)
        rot_cv = cv2.Rodrigues(rvec)[0]
        out[i] = angles_from_matrix(_FLIP_Z @ rot_cv @ _FLIP_Z)
    return out.reshape(*pts.shape[:-2], 3).astype(np.float32)
