"""The 74 facial landmarks s2d uses, their order, and the regions of the local branches.

The paper's detector finds 74 landmarks: the 68 of iBUG-300W plus the pupils
(Sec. 3.3). s2d fixes their order as follows (0-based indices).

============  ==========================================================
indices       points
============  ==========================================================
0-16          jaw line, from the image's left to its right
17-21         brow on the image's left (the subject's right brow)
22-26         brow on the image's right (the subject's left brow)
27-30         nose bridge, top to tip
31-35         nose base, image left to right
36-41         eye on the image's left (subject's right eye): outer corner,
              two upper-lid points, inner corner, two lower-lid points
42-47         eye on the image's right (subject's left eye): inner corner,
              two upper-lid points, outer corner, two lower-lid points
48-59         outer lip contour, clockwise from the image-left mouth corner
60-67         inner lip contour, clockwise from the image-left mouth corner
68            pupil centre of the image-left eye
69            pupil centre of the image-right eye
70, 71        iris edge of the image-left eye: its image-left, image-right point
72, 73        iris edge of the image-right eye: its image-left, image-right point
============  ==========================================================

Points 0-67 are exactly iBUG-300W's 68 in their standard order. Throughout
s2d, "left" and "right" mean the sides of the image as the viewer sees it,
never the subject's own left and right.

Landmark arrays have shape ``(..., 74, 2)`` holding ``(x, y)`` pixel
coordinates, x to the right and y downwards, in the frame they belong to.
"""

from __future__ import annotations

import numpy as np

NUM_LANDMARKS = 74
NUM_IBUG = 68

JAW = tuple(range(0, 17))
LEFT_BROW = tuple(range(17, 22))
RIGHT_BROW = tuple(range(22, 27))
NOSE_BRIDGE = tuple(range(27, 31))
NOSE_BASE = tuple(range(31, 36))
LEFT_EYE = tuple(range(36, 42))
RIGHT_EYE = tuple(range(42, 48))
OUTER_LIPS = tuple(range(48, 60))
INNER_LIPS = tuple(range(60, 68))
LEFT_PUPIL = 68
RIGHT_PUPIL = 69
PUPILS = (LEFT_PUPIL, RIGHT_PUPIL)
LEFT_IRIS_EDGE = (70, 71)
RIGHT_IRIS_EDGE = (72, 73)

# Regions of the three local branches of the dense motion generator (Sec. 3.2, Eq. (3)):
# M_L1 sees the left eye and brow, M_L2 the right eye and brow, M_L3 the mouth.
LEFT_EYE_BROW = LEFT_BROW + LEFT_EYE + (LEFT_PUPIL,) + LEFT_IRIS_EDGE
RIGHT_EYE_BROW = RIGHT_BROW + RIGHT_EYE + (RIGHT_PUPIL,) + RIGHT_IRIS_EDGE
MOUTH = OUTER_LIPS + INNER_LIPS
REGIONS: dict[str, tuple[int, ...]] = {
    "left_eye_brow": LEFT_EYE_BROW,
    "right_eye_brow": RIGHT_EYE_BROW,
    "mouth": MOUTH,
}


def _flip_permutation() -> np.ndarray:
    """Index map of a horizontal flip: after flipping the image, point i is old point perm[i]."""
    pairs = [(i, 16 - i) for i in range(8)]  # jaw
    pairs += list(zip(LEFT_BROW, reversed(RIGHT_BROW)))
    pairs += [(31, 35), (32, 34)]  # nose base
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]  # eyes
    pairs += [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58)]  # outer lips
    pairs += [(60, 64), (61, 63), (65, 67)]  # inner lips
    pairs += [(LEFT_PUPIL, RIGHT_PUPIL), (70, 73), (71, 72)]  # pupils, iris edges
    perm = np.arange(NUM_LANDMARKS)
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return perm


FLIP_PERMUTATION = _flip_permutation()


def flip_horizontal(landmarks: np.ndarray, width: float) -> np.ndarray:
    """Landmarks of the horizontally flipped image: mirror x and swap left/right indices.

    Pixel centres are at integer coordinates, so x maps to ``width - 1 - x``.
    """
    flipped = landmarks[..., FLIP_PERMUTATION, :].copy()
    flipped[..., 0] = (width - 1) - flipped[..., 0]
    return flipped


def region_center(landmarks: np.ndarray, region: str) -> np.ndarray:
    """Centre of a region's landmarks (the crop centre of its local branch), shape ``(..., 2)``."""
    return landmarks[..., list(REGIONS[region]), :].mean(axis=-2)


def eye_aperture(landmarks: np.ndarray) -> np.ndarray:
    """Mean lid opening of both eyes divided by eye width, shape ``(..., 2)`` (left, right eye)."""
    out = []
    for corner_a, upper_a, upper_b, corner_b, lower_b, lower_a in (LEFT_EYE, RIGHT_EYE):
        opening = (
            np.linalg.norm(landmarks[..., upper_a, :] - landmarks[..., lower_a, :], axis=-1)
            + np.linalg.norm(landmarks[..., upper_b, :] - landmarks[..., lower_b, :], axis=-1)
        ) / 2
        width = np.linalg.norm(landmarks[..., corner_a, :] - landmarks[..., corner_b, :], axis=-1)
        out.append(opening / np.maximum(width, 1e-6))
    return np.stack(out, axis=-1)


def mouth_aperture(landmarks: np.ndarray) -> np.ndarray:
    """Inner-lip opening (point 62 to 66) divided by mouth width (48 to 54), shape ``(...)``."""
    opening = np.linalg.norm(landmarks[..., 62, :] - landmarks[..., 66, :], axis=-1)
    width = np.linalg.norm(landmarks[..., 48, :] - landmarks[..., 54, :], axis=-1)
    return opening / np.maximum(width, 1e-6)


def interocular_distance(landmarks: np.ndarray) -> np.ndarray:
    """Distance between the outer eye corners (36, 45): the normaliser of NME."""
    return np.linalg.norm(landmarks[..., 36, :] - landmarks[..., 45, :], axis=-1)
