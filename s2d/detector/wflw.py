"""WFLW (Wu et al. 2018) as labelled detector training data for the ``paper`` profile.

The paper trains its detector on WFLW, whose 98 points include the two pupils. WFLW
is not redistributable and needs a download, so the ``cpu`` and ``smoke`` profiles
learn from SynthTalk (and the MediaPipe-labelled real clips) instead; a user with
WFLW passes its folder as a labelled root (:func:`s2d.detector.train.train`), laid
out as distributed::

    <root>/WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_{train,test}.txt
    <root>/WFLW_images/<event folder>/<image>.jpg

Each annotation line: 98 (x, y) pairs, the face box (x_min, y_min, x_max, y_max), six
attribute flags, the image path. :data:`WFLW_TO_S2D` maps the 98 points onto s2d's 74:
the 68 iBUG points (every other contour point; the upper brow contours; the nose; four
of WFLW's eight points around each eye, at the iBUG positions; the mouth) and the two
pupils (WFLW 96, 97). WFLW has no iris-edge points, so 70-73 carry zero weight in the loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from s2d import landmarks as lm
from s2d.geometry import to_normalised

ANNOTATIONS = Path("WFLW_annotations/list_98pt_rect_attr_train_test")
IMAGES = Path("WFLW_images")
WFLW_POINTS = 98

_EYES = {36: 60, 37: 61, 38: 63, 39: 64, 40: 65, 41: 67, 42: 68, 43: 69, 44: 71, 45: 72, 46: 73, 47: 75}
WFLW_TO_S2D: dict[int, int] = {
    **{i: 2 * i for i in range(17)},  # jaw: every other of WFLW's 33 contour points
    **{17 + i: 33 + i for i in range(5)},  # image-left brow, upper contour
    **{22 + i: 42 + i for i in range(5)},  # image-right brow, upper contour
    **{27 + i: 51 + i for i in range(9)},  # nose bridge and base
    **_EYES,
    **{48 + i: 76 + i for i in range(20)},  # outer and inner lips
    lm.LEFT_PUPIL: 96,
    lm.RIGHT_PUPIL: 97,
}


def is_wflw(root: str | Path) -> bool:
    return (Path(root) / ANNOTATIONS).is_dir()


@dataclass(frozen=True)
class WFLWFace:
    image: Path
    landmarks: np.ndarray  # (74, 2) pixels of the image; rows without a WFLW point are NaN
    box: tuple[float, float, float, float]


def to_s2d(points98: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WFLW's ``(..., 98, 2)`` -> s2d's ``(..., 74, 2)`` (NaN where WFLW has no point) and weights ``(74,)``."""
    points98 = np.asarray(points98, dtype=np.float32)
    if points98.shape[-2:] != (WFLW_POINTS, 2):
        raise ValueError(f"WFLW landmarks have shape (..., {WFLW_POINTS}, 2), got {points98.shape}")
    out = np.full((*points98.shape[:-2], lm.NUM_LANDMARKS, 2), np.nan, np.float32)
    weights = np.zeros(lm.NUM_LANDMARKS, np.float32)
    for ours, theirs in WFLW_TO_S2D.items():
        out[..., ours, :] = points98[..., theirs, :]
        weights[ours] = 1.0
    return out, weights


def read_annotations(root: str | Path, split: str) -> list[WFLWFace]:
    """Every face of WFLW's ``split`` (``train`` or ``test``), its landmarks mapped to s2d's order."""
    if split not in ("train", "test"):
        raise ValueError(f"WFLW splits are 'train' and 'test', not {split!r}")
    path = Path(root) / ANNOTATIONS / f"list_98pt_rect_attr_{split}.txt"
    if not path.is_file():
        raise FileNotFoundError(f"not a WFLW folder: {path} is missing (see s2d.detector.wflw for the layout)")
    faces = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 * WFLW_POINTS + 4 + 6 + 1:
            raise ValueError(f"{path}:{number}: expected {2 * WFLW_POINTS + 11} fields, got {len(fields)}")
        values = np.asarray(fields[: 2 * WFLW_POINTS + 4], dtype=np.float32)
        points, _ = to_s2d(values[: 2 * WFLW_POINTS].reshape(WFLW_POINTS, 2))
        faces.append(WFLWFace(Path(root) / IMAGES / fields[-1], points, tuple(values[2 * WFLW_POINTS:].tolist())))
    return faces


class WFLWLabelled:
    """WFLW faces cropped square around their box and resized, as labelled detector batches."""

    def __init__(self, root: str | Path, split: str = "train", size: int = 256, margin: float = 1.25):
        self.faces = read_annotations(root, split)
        if not self.faces:
            raise ValueError(f"{root}: WFLW {split} has no faces")
        self.size, self.margin = size, margin
        self.weights = to_s2d(np.zeros((WFLW_POINTS, 2)))[1]

    def __len__(self) -> int:
        return len(self.faces)

    def crop(self, face: WFLWFace) -> tuple[np.ndarray, np.ndarray]:
        """The face's square crop ``(size, size, 3)`` uint8 and its landmarks in the crop's pixels."""
        x0, y0, x1, y1 = face.box
        side = self.margin * max(x1 - x0, y1 - y0)
        left, top = (x0 + x1 - side) / 2, (y0 + y1 - side) / 2
        with Image.open(face.image) as image:
            patch = image.convert("RGB").crop((round(left), round(top), round(left + side), round(top + side)))
            patch = patch.resize((self.size, self.size), Image.BILINEAR)
        scale = self.size / round(side)
        points = (face.landmarks - [round(left), round(top)] + 0.5) * scale - 0.5
        return np.asarray(patch), points.astype(np.float32)

    def batch(self, rng: np.random.Generator, size: int,
              flip_prob: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Random crops ``(B, 3, S, S)`` in [0, 1], normalised landmarks ``(B, 74, 2)`` (0 where WFLW has none)
        and their loss weights ``(B, 74)``."""
        frames, points = zip(*(self.crop(self.faces[i]) for i in rng.integers(len(self.faces), size=size)))
        frames, points = np.stack(frames), np.stack(points)
        flips = rng.random(size) < flip_prob
        frames[flips] = frames[flips][:, :, ::-1]
        points[flips] = lm.flip_horizontal(points[flips], self.size)
        weights = np.broadcast_to(self.weights, points.shape[:2]).copy()
        weights[flips] = weights[flips][:, lm.FLIP_PERMUTATION]
        normalised = np.nan_to_num(to_normalised(points, self.size, self.size))
        images = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255
        return images, torch.from_numpy(normalised), torch.from_numpy(weights)
