"""Landmarks found by a detector on every frame of a dataset, in place of its annotations.

Table 5's right half trains and tests S2D on the landmarks a detector finds rather
than on SynthTalk's exact ones. :func:`detect_dataset` runs a detector over the
frames of each split once and stores the result beside nothing else:

    <out>/<split>/<video>.npy   float32 (frames, 74, 2), pixels, no NaN
    <out>/detections.json       what made them, and how many frames had no face

A frame where the detector finds no face takes the landmarks of the nearest frame
of the same video that has them (a tracker would hold its last result the same way);
a video with no face in any frame takes the mean detected shape of the dataset.
Both are counted in ``detections.json``. :class:`s2d.data.loaders.PairDataset` and
the evaluation protocols read these files when given ``landmarks=<out>``.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from s2d import landmarks as lm
from s2d.data import format as fmt
from s2d.io import atomic_path, write_json

SPLITS = fmt.SPLITS
Detector = Callable[[torch.Tensor], "np.ndarray | torch.Tensor"]


def detect_dataset(detector: Detector, root: str | Path, out: str | Path, *, identity: str,
                   splits: tuple[str, ...] = SPLITS, batch_size: int = 64, progress: bool = True) -> Path:
    """Run ``detector`` on every frame of ``root``'s ``splits`` into ``out`` (skipped when ``out`` is complete).

    ``identity`` names the detector and its weights (it is stored, and a folder made by
    another identity is an error rather than silently reused).
    """
    root, out = Path(root), Path(out)
    manifest = out / "detections.json"
    if manifest.is_file():
        made = json.loads(manifest.read_text())
        if made.get("identity") != identity:
            raise fmt.DatasetError(f"{out} holds the landmarks of {made.get('identity')!r}, not of {identity!r}")
        return out
    videos = [(split, video) for split in splits for video in fmt.video_ids(root, split)]
    jobs = [(root, split, video, batch_size) for split, video in videos]
    bar = dict(desc=f"landmarks ({identity.split(':')[0]})", unit="video", total=len(jobs), disable=not progress)
    processes = min(len(jobs), os.cpu_count() or 1) if getattr(detector, "single_threaded", False) else 1
    if processes > 1 and "fork" in multiprocessing.get_all_start_methods():
        # a one-core detector (dlib) on every core: the forked workers inherit it, so only the videos' names
        # and their landmarks cross between processes
        _forked_detector[:] = [detector]
        try:
            with multiprocessing.get_context("fork").Pool(processes, initializer=torch.set_num_threads,
                                                          initargs=(1,)) as pool:
                results = list(tqdm(pool.imap(_detect_job, jobs), **bar))
        finally:
            _forked_detector.clear()
    else:
        results = [_detect_video(detector, *job) for job in tqdm(jobs, **bar)]
    found = dict(zip(videos, results))
    valid = [points[~np.isnan(points).any(axis=(1, 2))] for points in found.values()]
    valid = [v for v in valid if len(v)]
    if not valid:
        raise fmt.DatasetError(f"{identity} found no face in any frame of {root}")
    mean_shape = np.concatenate(valid).mean(axis=0)
    counts = {split: {"videos": 0, "frames": 0, "frames_without_face": 0, "videos_without_face": 0}
              for split in splits}
    for (split, video), points in found.items():
        missing = np.isnan(points).any(axis=(1, 2))
        counts[split]["videos"] += 1
        counts[split]["frames"] += len(points)
        counts[split]["frames_without_face"] += int(missing.sum())
        counts[split]["videos_without_face"] += int(missing.all())
        filled = fill_missing(points, mean_shape)
        path = out / split / f"{video}.npy"
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, filled)
    write_json(manifest, {"identity": identity, "data": str(root), "splits": counts,
                          "fingerprint": _fingerprint(out, splits)})
    return out


_forked_detector: list[Detector] = []  # the detector a forked worker of detect_dataset inherits


def _detect_job(job: tuple) -> np.ndarray:
    return _detect_video(_forked_detector[0], *job)


def _detect_video(detector: Detector, root: Path, split: str, video: str, batch_size: int) -> np.ndarray:
    """The detector's landmarks on every frame of one video, ``(frames, 74, 2)`` float32 (NaN: no face)."""
    from s2d.data.loaders import to_tensor

    frames = fmt.read_frames(root, split, video)
    chunks = [_as_array(detector(to_tensor(frames[i : i + batch_size]))) for i in range(0, len(frames), batch_size)]
    points = np.concatenate(chunks).astype(np.float32)
    if points.shape != (len(frames), lm.NUM_LANDMARKS, 2):
        raise ValueError(f"the detector returned landmarks of shape {points.shape} for {len(frames)} frames, "
                         f"expected ({len(frames)}, {lm.NUM_LANDMARKS}, 2)")
    return points


def fill_missing(points: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Frames with NaN landmarks take those of the nearest frame that has them (the earlier one on a tie);
    ``fallback`` when no frame has them."""
    missing = np.isnan(points).any(axis=(1, 2))
    if missing.all():
        return np.broadcast_to(fallback, points.shape).astype(np.float32)
    good = np.flatnonzero(~missing)
    nearest = good[np.abs(np.arange(len(points))[:, None] - good[None]).argmin(axis=1)]
    return points[nearest].astype(np.float32)


def read_landmarks(landmarks: str | Path, split: str, video: str) -> np.ndarray:
    """The stored detections of one video, ``(frames, 74, 2)``."""
    path = Path(landmarks) / split / f"{video}.npy"
    if not path.is_file():
        raise fmt.DatasetError(f"no detected landmarks for {split}/{video} in {landmarks} (detect_dataset writes them)")
    points = np.load(path, allow_pickle=False)
    if points.ndim != 3 or points.shape[1:] != (lm.NUM_LANDMARKS, 2) or np.isnan(points).any():
        raise fmt.DatasetError(f"{path}: expected finite landmarks of shape (frames, {lm.NUM_LANDMARKS}, 2), "
                               f"got {points.shape}")
    return points


def annotations(root: str | Path, split: str, video: str, landmarks: str | Path | None = None) -> dict[str, np.ndarray]:
    """A video's annotations, with ``landmarks`` replaced by the detections in ``landmarks`` when given."""
    ann = fmt.read_annotations(root, split, video)
    if landmarks is None:
        return ann
    found = read_landmarks(landmarks, split, video)
    if len(found) != len(ann["landmarks"]):
        raise fmt.DatasetError(f"{landmarks}: {split}/{video} has {len(found)} frames of landmarks, "
                               f"the video has {len(ann['landmarks'])}")
    return {**ann, "landmarks": found}


def fingerprint(landmarks: str | Path) -> str:
    """The hash stored when the detections were written (the cache key of models trained on them)."""
    manifest = Path(landmarks) / "detections.json"
    if not manifest.is_file():
        raise fmt.DatasetError(f"{landmarks} holds no detections.json: not written by detect_dataset")
    return json.loads(manifest.read_text())["fingerprint"]


def _fingerprint(out: Path, splits: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for split in splits:
        for path in sorted((out / split).glob("*.npy")):
            digest.update(f"{split}/{path.name}".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _as_array(points: np.ndarray | torch.Tensor) -> np.ndarray:
    return points.detach().cpu().numpy() if isinstance(points, torch.Tensor) else np.asarray(points)
