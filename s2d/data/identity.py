"""SynthTalk identities: face shape, skin, hair, eyes, brows, lips, and their textures.

An identity is drawn from a seeded generator. Its textures live in a canonical
frontal space (the template's x, y mapped to TEXTURE_SIZE pixels) and are
warped piecewise-affinely onto the posed face by the renderer, so the skin
texture moves with the face.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from s2d import landmarks as lm
from s2d.data.format import PARSING_LABELS
from s2d.data.template import AUX_3D, LANDMARKS_3D, NUM_FOREHEAD

TEXTURE_SIZE = 512
_TEXTURE_EXTENT = (-0.75, 0.95)  # face units covered by the canonical texture, both axes
LABEL = {name: i for i, name in enumerate(PARSING_LABELS)}

SKIN_TONES = np.array(
    [[236, 200, 172], [224, 180, 150], [205, 155, 120], [176, 125, 90], [141, 95, 65], [100, 66, 45]], float
)
HAIR_COLOURS = np.array(
    [[30, 22, 18], [60, 40, 25], [110, 75, 40], [170, 130, 80], [215, 190, 140], [120, 40, 20], [150, 150, 150]],
    float,
)
IRIS_COLOURS = np.array([[70, 45, 25], [110, 75, 40], [60, 100, 140], [80, 120, 80], [120, 120, 130]], float)


@dataclass
class Identity:
    """Everything that makes one synthetic person look like themselves."""

    name: str
    points: np.ndarray  # (74 + aux, 3) neutral 3D landmarks then auxiliary mesh points
    texture: np.ndarray  # (S, S, 3) uint8 canonical skin/hair/brow/lip texture
    labels: np.ndarray  # (S, S) uint8 canonical parsing labels
    iris_colour: np.ndarray  # (3,) float
    sclera_colour: np.ndarray
    mouth_colour: np.ndarray
    teeth_colour: np.ndarray
    skin_colour: np.ndarray


def to_texture(xy: np.ndarray) -> np.ndarray:
    """Face-unit (x, y) to canonical texture pixel coordinates."""
    lo, hi = _TEXTURE_EXTENT
    return (xy - lo) / (hi - lo) * TEXTURE_SIZE - 0.5


def _smooth_noise(rng: np.random.Generator, size: int, sigma: float, channels: int = 1) -> np.ndarray:
    noise = rng.standard_normal((size, size, channels)).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), sigma)
    noise = noise.reshape(size, size, channels)
    return noise / (noise.std() + 1e-6)


def _shape(rng: np.random.Generator) -> np.ndarray:
    """Neutral 3D points of a new face: the template with per-identity proportions."""
    lmk = LANDMARKS_3D.copy()
    width, length = rng.uniform(0.9, 1.1), rng.uniform(0.92, 1.1)
    lmk[:, 0] *= width
    lmk[:, 1] *= length
    lmk[0:17, 0] *= rng.uniform(0.92, 1.06)  # jaw width
    spacing = rng.uniform(-0.02, 0.02)  # eye spacing
    for group, side in ((list(lm.LEFT_EYE) + [68, 70, 71], -1), (list(lm.RIGHT_EYE) + [69, 72, 73], 1)):
        lmk[group, 0] += side * spacing
    lmk[27:36, 1] += np.linspace(0, 1, 9) * rng.uniform(-0.03, 0.03)  # nose length
    lmk[31:36, 0] *= rng.uniform(0.85, 1.2)  # nose width
    lmk[27:36, 2] *= rng.uniform(0.85, 1.2)
    lmk[48:68, 0] *= rng.uniform(0.85, 1.15)  # mouth width
    lip = rng.uniform(0.8, 1.3)  # lip thickness
    lmk[49:54, 1] = lmk[62, 1] + (lmk[49:54, 1] - lmk[62, 1]) * lip
    lmk[55:60, 1] = lmk[66, 1] + (lmk[55:60, 1] - lmk[66, 1]) * lip
    lmk[17:27, 1] += rng.uniform(-0.03, 0.02)  # brow height
    aux = AUX_3D.copy()
    aux[:, 0] *= width
    aux[:, 1] *= length
    return np.concatenate([lmk, aux])


def _polygon(img: np.ndarray, xy: np.ndarray, value) -> None:
    pts = np.round(to_texture(xy) * 16).astype(np.int32)
    cv2.fillPoly(img, [pts], value, lineType=cv2.LINE_AA if img.ndim == 3 else cv2.LINE_8, shift=4)


def _textures(rng: np.random.Generator, skin: np.ndarray, hair: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Canonical colour texture and label map. Regions are laid out on the neutral template."""
    size = TEXTURE_SIZE
    pts = LANDMARKS_3D[:, :2]
    colour = np.empty((size, size, 3), np.float32)
    colour[:] = skin
    # skin: low-frequency tone variation, pores, freckles or moles, cheek blush
    colour *= 1 + 0.06 * _smooth_noise(rng, size, 24)
    colour *= 1 + rng.uniform(0.02, 0.05) * _smooth_noise(rng, size, 1.2)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    for _ in range(rng.integers(3, 40)):
        cx, cy = to_texture(rng.uniform([-0.4, -0.45], [0.4, 0.5]))
        r = rng.uniform(1.5, 4.0)
        colour *= 1 - rng.uniform(0.1, 0.35) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r**2))[..., None]
    for cheek in (np.array([-0.28, 0.22]), np.array([0.28, 0.22])):
        cx, cy = to_texture(cheek)
        blush = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * 40.0**2))[..., None]
        colour += rng.uniform(0, 25) * blush * np.array([1.0, -0.3, -0.3], np.float32)
    # shading: darker towards the face outline and on the sides of the nose
    fx, fy = (xx / size) * 1.7 - 0.75, (yy / size) * 1.7 - 0.75
    colour *= (1 - 0.22 * np.clip(np.sqrt((fx / 0.5) ** 2 + ((fy - 0.15) / 0.9) ** 2) - 0.55, 0, 1))[..., None]
    for side in (-1, 1):
        cx, cy = to_texture(np.array([0.06 * side, 0.12]))
        colour *= 1 - 0.12 * np.exp(-((xx - cx) ** 2 / (2 * 10.0**2) + (yy - cy) ** 2 / (2 * 40.0**2)))[..., None]
    labels = np.full((size, size), LABEL["skin"], np.uint8)
    # nose region (label only: the nose keeps the skin texture)
    nose = np.concatenate([pts[[27]] + [-0.05, 0], pts[[31]] + [-0.03, -0.02], pts[31:36], pts[[35]] + [0.03, -0.02],
                           pts[[27]] + [0.05, 0]])
    _polygon(labels, nose, LABEL["nose"])
    # hair: everything outside the forehead arc and above a per-identity hairline
    forehead = AUX_3D[:NUM_FOREHEAD, :2]
    outline = np.concatenate([pts[0:17], forehead[::-1]])
    face_mask = np.zeros((size, size), np.uint8)
    _polygon(face_mask, outline, 1)
    hairline = rng.uniform(-0.52, -0.32)
    bald = rng.random() < 0.1
    fringe = fy < hairline + 0.04 * np.cos(fx * 6 + rng.uniform(0, 6))
    head = (face_mask == 0) & (fy < 0.4)  # the skull around the face, up to the hair outline
    strands = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), sigmaX=1.0, sigmaY=6.0)
    if bald:  # a bare head: skin, a little darker than the face
        colour[head] *= 0.9
    else:
        hair_mask = head | (fringe & (fy < 0.4))
        hair_tex = hair * (1 + 0.25 * strands / (strands.std() + 1e-6))[..., None]
        colour[hair_mask] = hair_tex[hair_mask]
        labels[hair_mask] = LABEL["hair"]
    # brows: thick strokes along the brow landmarks
    thickness = rng.uniform(0.018, 0.035)
    brow_colour = hair * rng.uniform(0.5, 0.9)
    for brow in (pts[17:22], pts[22:27]):
        upper = brow + [0, -thickness]
        lower = brow[::-1] + [0, thickness * 0.6]
        poly = np.concatenate([upper, lower])
        _polygon(colour, poly, brow_colour.tolist())
        _polygon(labels, poly, LABEL["brows"])
    # lips
    lip_colour = skin * np.array([0.95, 0.62, 0.62]) * rng.uniform(0.8, 1.0)
    _polygon(colour, pts[48:60], lip_colour.tolist())
    _polygon(labels, pts[48:60], LABEL["lips"])
    # eye openings (the renderer paints sclera and iris there, under the lids)
    for eye in (pts[36:42], pts[42:48]):
        _polygon(labels, eye, LABEL["sclera"])
    texture = np.clip(colour, 0, 255).astype(np.uint8)
    return texture, labels


def sample_identity(rng: np.random.Generator, name: str) -> Identity:
    skin = SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.92, 1.08)
    hair = HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))] * rng.uniform(0.85, 1.15)
    points = _shape(rng)
    texture, labels = _textures(rng, skin, hair)
    return Identity(
        name=name,
        points=points,
        texture=texture,
        labels=labels,
        iris_colour=IRIS_COLOURS[rng.integers(len(IRIS_COLOURS))] * rng.uniform(0.8, 1.2),
        sclera_colour=np.array([235, 232, 225]) * rng.uniform(0.85, 1.0),
        mouth_colour=np.array([90, 30, 35]) * rng.uniform(0.7, 1.2),
        teeth_colour=np.array([230, 225, 210]) * rng.uniform(0.85, 1.0),
        skin_colour=skin,
    )


def background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A static textured background: a colour gradient, soft blobs, a few shapes, grain."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    c0, c1 = rng.uniform(30, 230, 3), rng.uniform(30, 230, 3)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.clip(0.5 + (xx - 0.5) * np.cos(angle) + (yy - 0.5) * np.sin(angle), 0, 1)[..., None]
    img = c0 * (1 - ramp) + c1 * ramp
    img += 25 * _smooth_noise(rng, size, size / 12, 3)
    for _ in range(rng.integers(2, 7)):
        colour = rng.uniform(20, 235, 3).tolist()
        x0, y0 = rng.integers(0, size, 2)
        w, h = rng.integers(size // 10, size // 2, 2)
        if rng.random() < 0.5:
            cv2.rectangle(img, (int(x0), int(y0)), (int(x0 + w), int(y0 + h)), colour, -1, cv2.LINE_AA)
        else:
            cv2.ellipse(img, (int(x0), int(y0)), (int(w // 2), int(h // 2)), float(rng.uniform(0, 180)), 0, 360,
                        colour, -1, cv2.LINE_AA)
    img = cv2.GaussianBlur(img.astype(np.float32), (0, 0), size / 256)
    img *= 1 + 0.04 * _smooth_noise(rng, size, 1.0, 3)
    return np.clip(img, 0, 255).astype(np.uint8)

