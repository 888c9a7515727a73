"""The on-disk layout shared by SynthTalk and prepared real videos.

::

    root/
      meta.json                         what built it: source, variant, profile, seed, resolution, ...
      train/<video_id>/0000000.png ...  RGB frames at the dataset's resolution
      test/<video_id>/0000000.png ...   (first-order-model's preprocessed VoxCeleb layout)
      annotations/<split>/<video_id>.npz
      parsing/<split>/<video_id>/0000000.png    face-parsing label maps (uint8, PARSING_LABELS)

Frame folders hold frames only, so first-order-model's loaders read ``root``
unchanged. Each annotations file holds, for the T frames of its video:

- ``landmarks``  float32 (T, 74, 2): (x, y) pixels in the stored frames (order in s2d.landmarks)
- ``visible``    bool (T, 74): the landmark is not hidden by the face itself
- ``pose``       float32 (T, 3): yaw, pitch, roll in degrees (yaw > 0: the face turns to the image's right)
- ``identity``   str: who is in the video (train/test splits never share one in synth-vox)
- real videos only: ``detected`` bool (T,): a face was found in the frame (frames without one
  get landmarks interpolated from their neighbours, all marked not visible)
- SynthTalk only, float32 (T,) or (T, 2): ``gaze`` (x, y in [-1, 1]), ``blink`` (0 open .. 1 closed),
  ``mouth_open``, ``smile``, ``brow_raise`` (each 0 .. 1)

A dataset is written into a temporary folder beside ``root`` and renamed into
place when complete, so an interrupted build leaves nothing half-written.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from PIL import Image

SPLITS = ("train", "test")
PARSING_LABELS = ("background", "skin", "hair", "brows", "sclera", "iris", "nose", "lips", "mouth_interior")
BACKGROUND, HAIR = PARSING_LABELS.index("background"), PARSING_LABELS.index("hair")  # their labels
FRAME_PATTERN = "{:07d}.png"


class DatasetError(ValueError):
    """A dataset folder or input that cannot be used; the message names the file."""


@contextlib.contextmanager
def building(root: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder to build a dataset in; it replaces ``root`` only on success."""
    root = Path(root)
    if root.exists() and not overwrite:
        raise DatasetError(f"{root} already exists (pass overwrite=True / --overwrite to replace it)")
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", suffix=".building", dir=root.parent))
    try:
        yield tmp
        if root.exists():
            shutil.rmtree(root)
        tmp.rename(root)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_video(
    root: Path,
    split: str,
    video_id: str,
    frames: np.ndarray,
    annotations: dict[str, Any],
    parsing: np.ndarray | None = None,
) -> None:
    """Write one video: frames (T, H, W, 3) uint8, its annotations, and optional parsing (T, H, W) uint8."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}")
    folder = root / split / video_id
    folder.mkdir(parents=True)
    for t, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / FRAME_PATTERN.format(t), compress_level=6)
    if parsing is not None:
        pfolder = root / "parsing" / split / video_id
        pfolder.mkdir(parents=True)
        for t, labels in enumerate(parsing):
            Image.fromarray(labels.astype(np.uint8)).save(pfolder / FRAME_PATTERN.format(t), compress_level=6)
    afolder = root / "annotations" / split
    afolder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(afolder / f"{video_id}.npz", **annotations)


def write_meta(root: Path, meta: dict[str, Any]) -> None:
    (root / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def read_meta(root: str | Path) -> dict[str, Any]:
    path = Path(root) / "meta.json"
    if not path.is_file():
        raise DatasetError(f"{root} is not an s2d dataset: {path} is missing (build one with `s2d data synth`)")
    return json.loads(path.read_text())


def video_ids(root: str | Path, split: str) -> list[str]:
    folder = Path(root) / split
    if not folder.is_dir():
        raise DatasetError(f"{folder} is missing: not an s2d dataset split")
    return sorted(p.name for p in folder.iterdir() if p.is_dir())


def frame_paths(root: str | Path, split: str, video_id: str) -> list[Path]:
    return sorted((Path(root) / split / video_id).glob("*.png"))


def read_frames(root: str | Path, split: str, video_id: str, indices: list[int] | None = None) -> np.ndarray:
    """Frames of one video as uint8 (T, H, W, 3); ``indices`` picks some of them."""
    paths = frame_paths(root, split, video_id)
    if not paths:
        raise DatasetError(f"{Path(root) / split / video_id} holds no frames")
    chosen = paths if indices is None else [paths[i] for i in indices]
    return np.stack([np.asarray(Image.open(p).convert("RGB")) for p in chosen])


def read_parsing(root: str | Path, split: str, video_id: str, indices: list[int] | None = None) -> np.ndarray | None:
    """Parsing label maps (T, H, W) uint8, or None when the dataset has none."""
    folder = Path(root) / "parsing" / split / video_id
    if not folder.is_dir():
        return None
    paths = sorted(folder.glob("*.png"))
    chosen = paths if indices is None else [paths[i] for i in indices]
    return np.stack([np.asarray(Image.open(p)) for p in chosen])


def read_annotations(root: str | Path, split: str, video_id: str) -> dict[str, np.ndarray]:
    path = Path(root) / "annotations" / split / f"{video_id}.npz"
    if not path.is_file():
        raise DatasetError(f"annotations missing: {path}")
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}
