"""Loaders for training pairs and the evaluation protocols, over the on-disk layout of format.py.

Tensors follow PyTorch conventions: images float32 (3, H, W) in [0, 1], landmarks
float32 (74, 2) in pixels of the stored frames, parsing int64 (H, W), visibility
bool (74,).

- :class:`PairDataset`: same-identity training pairs, a random source and driving
  frame of one video, every video repeated ``repeats`` times per epoch
  (first-order-model's scheme), with its augmentation: horizontal flip (landmarks
  mirrored and their left/right indices swapped), time flip (source and driving
  exchanged) and colour jitter (the same for both frames).
- :func:`same_identity_plan` (Table 1: the first frame is the source, every frame
  drives it), :func:`faceforensics_plan` (Table 3: a random source frame, all
  the others drive) and :func:`cross_identity_pairs` (Table 2: frontal first frames,
  pose-matched pairs of different people).
- :class:`VideoFrames`: one video's frames, to stream through a model in batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from s2d import landmarks as lm
from s2d.data import format as fmt
from s2d.data.detections import annotations


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 (..., H, W, 3) -> float32 (..., 3, H, W) in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).movedim(-1, -3).float().div_(255)


@dataclass(frozen=True)
class Augment:
    """first-order-model's augmentation; each part can be switched off."""

    flip_prob: float = 0.5
    time_flip_prob: float = 0.5
    jitter: tuple[float, float, float, float] = (0.1, 0.1, 0.1, 0.1)  # brightness, contrast, saturation, hue


NO_AUGMENT = Augment(flip_prob=0.0, time_flip_prob=0.0, jitter=(0.0, 0.0, 0.0, 0.0))


class PairDataset(Dataset):
    """Random (source, driving) frame pairs of one video; deterministic given (seed, epoch, index)."""

    def __init__(self, root: str | Path, split: str = "train", repeats: int = 1, seed: int = 0,
                 augment: Augment = Augment(), landmarks: str | Path | None = None):
        """``landmarks``: a folder of detected landmarks (:mod:`s2d.data.detections`) used instead of the
        annotated ones."""
        self.root = Path(root)
        self.split = split
        self.videos = fmt.video_ids(self.root, split)
        if not self.videos:
            raise fmt.DatasetError(f"{self.root / split} holds no videos")
        self.annotations = {v: annotations(self.root, split, v, landmarks) for v in self.videos}
        self.repeats = repeats
        self.seed = seed
        self.epoch = 0
        self.augment = augment

    def set_epoch(self, epoch: int) -> None:
        """Draw new pairs: call once per epoch (the pairs depend on seed, epoch and index only)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.videos) * self.repeats

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.item(index, self.epoch)

    def item(self, index: int, epoch: int) -> dict[str, torch.Tensor]:
        """The pair drawn for ``index`` in ``epoch`` (what ``__getitem__`` returns after ``set_epoch(epoch)``)."""
        rng = np.random.default_rng([self.seed, epoch, index])
        video = self.videos[index % len(self.videos)]
        ann = self.annotations[video]
        pair = rng.choice(len(ann["landmarks"]), size=2, replace=False).tolist()
        if rng.random() < self.augment.time_flip_prob:
            pair.reverse()
        frames = fmt.read_frames(self.root, self.split, video, pair)
        parsing = fmt.read_parsing(self.root, self.split, video, pair)
        points = ann["landmarks"][pair].copy()
        visible = ann["visible"][pair].copy()
        if rng.random() < self.augment.flip_prob:
            width = frames.shape[2]
            frames = frames[:, :, ::-1]
            parsing = None if parsing is None else parsing[:, :, ::-1]
            points = lm.flip_horizontal(points, width)
            visible = visible[:, lm.FLIP_PERMUTATION]
        images = _colour_jitter(to_tensor(frames), rng, self.augment.jitter)
        item = {
            "source": images[0],
            "driving": images[1],
            "source_landmarks": torch.from_numpy(points[0]),
            "driving_landmarks": torch.from_numpy(points[1]),
            "source_visible": torch.from_numpy(visible[0]),
            "driving_visible": torch.from_numpy(visible[1]),
            "video_index": torch.tensor(index % len(self.videos)),
        }
        if parsing is not None:
            item["source_parsing"] = torch.from_numpy(parsing[0].astype(np.int64))
            item["driving_parsing"] = torch.from_numpy(parsing[1].astype(np.int64))
        return item


def _colour_jitter(images: torch.Tensor, rng: np.random.Generator,
                   strength: tuple[float, float, float, float]) -> torch.Tensor:
    """Apply one random brightness/contrast/saturation/hue change to every image of a stack."""
    from torchvision.transforms.v2 import functional as tf

    b, c, s, h = strength
    if not any(strength):
        return images
    images = tf.adjust_brightness(images, float(rng.uniform(1 - b, 1 + b)))
    images = tf.adjust_contrast(images, float(rng.uniform(1 - c, 1 + c)))
    images = tf.adjust_saturation(images, float(rng.uniform(1 - s, 1 + s)))
    return tf.adjust_hue(images, float(rng.uniform(-h, h))).clamp_(0, 1)


@dataclass(frozen=True)
class EvalVideo:
    """One evaluation item: drive ``source_index`` of ``source_video`` with frames of ``driving_video``."""

    source_video: str
    source_index: int
    driving_video: str
    driving_indices: tuple[int, ...]


def _num_frames(root: Path, split: str, video: str) -> int:
    return len(fmt.frame_paths(root, split, video))


def same_identity_plan(root: str | Path, split: str = "test") -> list[EvalVideo]:
    """Table 1 protocol: the first frame is the source, every frame of the video drives it."""
    root = Path(root)
    return [EvalVideo(v, 0, v, tuple(range(_num_frames(root, split, v)))) for v in fmt.video_ids(root, split)]


def faceforensics_plan(root: str | Path, split: str = "test", seed: int = 0) -> list[EvalVideo]:
    """Table 3 protocol: one random source frame per video, every other frame drives it."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    plans = []
    for v in fmt.video_ids(root, split):
        n = _num_frames(root, split, v)
        source = int(rng.integers(n))
        plans.append(EvalVideo(v, source, v, tuple(i for i in range(n) if i != source)))
    return plans


def cross_identity_pairs(root: str | Path, split: str = "test", frontal_deg: float = 5.0,
                         pair_deg: float = 1.0) -> list[EvalVideo]:
    """Table 2 protocol: videos whose first frame is frontal (|yaw|, |pitch|, |roll| < frontal_deg),
    paired with videos of another identity whose first-frame pose is within pair_deg on every angle.
    Each unordered pair gives two items (each video drives the other)."""
    root = Path(root)
    frontal = []
    for v in fmt.video_ids(root, split):
        ann = fmt.read_annotations(root, split, v)
        pose = ann["pose"][0]
        if np.all(np.abs(pose) < frontal_deg):
            frontal.append((v, str(ann["identity"]), pose, len(ann["pose"])))
    pairs = []
    for (va, ia, pa, na), (vb, ib, pb, nb) in combinations(frontal, 2):
        if ia != ib and np.all(np.abs(pa - pb) <= pair_deg):
            pairs.append(EvalVideo(va, 0, vb, tuple(range(nb))))
            pairs.append(EvalVideo(vb, 0, va, tuple(range(na))))
    return pairs


class VideoFrames(Dataset):
    """Chosen frames of one video with their landmarks, for batched streaming through a model."""

    def __init__(self, root: str | Path, split: str, video: str, indices: tuple[int, ...] | None = None):
        self.root, self.split, self.video = Path(root), split, video
        self.annotations = fmt.read_annotations(self.root, split, video)
        self.indices = tuple(range(len(self.annotations["landmarks"]))) if indices is None else tuple(indices)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        t = self.indices[i]
        item = {
            "image": to_tensor(fmt.read_frames(self.root, self.split, self.video, [t])[0]),
            "landmarks": torch.from_numpy(self.annotations["landmarks"][t]),
            "visible": torch.from_numpy(self.annotations["visible"][t]),
            "index": torch.tensor(t),
        }
        parsing = fmt.read_parsing(self.root, self.split, self.video, [t])
        if parsing is not None:
            item["parsing"] = torch.from_numpy(parsing[0].astype(np.int64))
        return item
