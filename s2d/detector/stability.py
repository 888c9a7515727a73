"""How steady and how accurate a landmark detector is on the videos of an s2d dataset (Sec. 4.3.2, Table 5).

:func:`detector_stability` runs a detector (anything that maps frames ``(B, 3, H, W)``
in [0, 1] to ``(B, 74, 2)`` pixels, NaN rows where it finds no face: the baselines of
:mod:`s2d.detector.baselines` and the trained detectors) over every video of a split,
streaming the frames in batches, and returns one row per video:

- ``frames``, ``failed_frames``: the video's frames, and those where no face was found.
- ``sms``: temporal smoothness, Eq. (9) (:func:`s2d.metrics.sms`), of the detected
  trajectory (:func:`trajectory_sms`), in pixels of the dataset's frames; lower is
  steadier. Over the 68 iBUG points: Table 5 compares 68-point detectors, and dlib's
  and FAN4's pupils are estimates from the eye contours, not detections. It depends on
  the frame size (SynthTalk's cpu profile: 64 px; the paper's VoxCeleb: 256 px) and
  on the motion itself: ``sms_truth`` is the same measure of the annotated landmarks,
  what a perfect detector would score (on SynthTalk the exact motion; on prepared real
  videos the landmarks of the detector that prepared them).
- ``nme_68``, ``nme_pupils``: normalised mean error against the annotations (:func:`nme`):
  the mean point-to-point error over the 68 iBUG points, resp. the two pupils (68, 69),
  divided by the annotated outer-eye-corner distance (iBUG points 36, 45), as on
  300W. Only annotated points marked ``visible`` count (SynthTalk hides points the
  head turns away from the camera and the pupils of closed eyes); frames without a
  detection do not count. NaN where the dataset has no annotations, or no visible point.

Prepared real videos (``s2d data prepare``) have no hand labels: their annotations are
the landmarks of the detector that prepared them (MediaPipe by default), so there NME is
the distance to that detector, which the table's ``attrs["notes"]`` say; a dlib-prepared
dataset marks its estimated pupils not visible, so ``nme_pupils`` is NaN there.
:func:`stability_mean` gives the mean over the videos. :func:`video_landmarks` runs a detector
over a video file or a folder of frames (what ``s2d landmarks`` does).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from s2d import landmarks as lm
from s2d import metrics
from s2d.data import format as fmt
from s2d.data.loaders import to_tensor
from s2d.detector.baselines import rescale_points, resize_image

IBUG_POINTS = tuple(range(lm.NUM_IBUG))
COLUMNS = ("video", "frames", "failed_frames", "sms", "sms_truth", "nme_68", "nme_pupils")
MEAN_COLUMNS = ("sms", "sms_truth", "nme_68", "nme_pupils")

DetectorFn = Callable[[torch.Tensor], "np.ndarray | torch.Tensor"]


def failed(landmarks: np.ndarray) -> np.ndarray:
    """Which frames of ``(T, N, 2)`` landmarks have no face (any NaN), shape ``(T,)``."""
    return np.isnan(landmarks).any(axis=(-2, -1))


def trajectory_sms(landmarks: np.ndarray, points: tuple[int, ...] = IBUG_POINTS) -> float:
    """SMS, Eq. (9), of a trajectory ``(T, 74, 2)`` with NaN rows for frames without a face.

    Eq. (9) needs three consecutive frames, so it is taken over each run of at least
    three consecutive frames with a face and the runs are averaged weighted by their
    interior frames: the mean over every triple of consecutive detected frames. Without
    failures this is :func:`s2d.metrics.sms` of ``landmarks[:, points]``. NaN when no
    three consecutive frames have a face.
    """
    points_only = np.asarray(landmarks, dtype=np.float64)[:, list(points)]
    good = ~failed(points_only)
    total, weight = 0.0, 0
    start = None
    for t, ok in enumerate([*good, False]):
        if ok and start is None:
            start = t
        elif not ok and start is not None:
            if t - start >= 3:
                total += metrics.sms(points_only[start:t]) * (t - start - 2)
                weight += t - start - 2
            start = None
    return total / weight if weight else float("nan")


def nme(predicted: np.ndarray, truth: np.ndarray, points: tuple[int, ...] = IBUG_POINTS,
        visible: np.ndarray | None = None) -> np.ndarray:
    """Normalised mean error per frame: landmarks ``(..., 74, 2)``, visibility ``(..., 74)`` -> ``(...)``.

    The mean Euclidean error over ``points`` (those ``visible``, when given), divided
    by the outer-eye-corner distance of ``truth`` (:func:`s2d.landmarks.interocular_distance`).
    NaN for frames without a prediction or without a counted point.
    """
    p, t = np.asarray(predicted, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if p.shape != t.shape or p.shape[-2:] != (lm.NUM_LANDMARKS, 2):
        raise ValueError(f"expected predicted and true landmarks (..., {lm.NUM_LANDMARKS}, 2), "
                         f"got {p.shape} and {t.shape}")
    error = np.linalg.norm(p[..., list(points), :] - t[..., list(points), :], axis=-1)
    counted = np.ones(error.shape, bool) if visible is None else np.asarray(visible, bool)[..., list(points)]
    with np.errstate(invalid="ignore", divide="ignore"):  # no counted point: 0 / 0 = NaN
        mean = np.where(counted, error, 0.0).sum(axis=-1) / counted.sum(axis=-1)
    return mean / np.maximum(lm.interocular_distance(t), 1e-6)


def detect_frames(detector: DetectorFn, frames: np.ndarray) -> np.ndarray:
    """Landmarks ``(B, 74, 2)`` float32 of RGB uint8 frames ``(B, H, W, 3)``, in one call of ``detector``."""
    with torch.inference_mode():
        found = detector(to_tensor(frames))
    found = found.detach().cpu().numpy() if isinstance(found, torch.Tensor) else np.asarray(found)
    if found.shape != (len(frames), lm.NUM_LANDMARKS, 2):
        raise ValueError(f"the detector returned shape {found.shape} for {len(frames)} frames, "
                         f"expected ({len(frames)}, {lm.NUM_LANDMARKS}, 2)")
    return found.astype(np.float32)


def video_landmarks(detector: DetectorFn, path: str | Path, size: int | None = None, batch_size: int = 32,
                    progress: bool = True, desc: str = "landmarks") -> np.ndarray:
    """Landmarks ``(T, 74, 2)`` float32 of every frame of a video file or a folder of frames, NaN rows without a face.

    Frames are read as ``s2d data prepare`` reads them (:func:`s2d.data.prepare.iter_frames`)
    and go to ``detector`` ``batch_size`` at a time; with ``size`` each is first resized so that its
    shorter side is ``size`` px (aspect ratio kept), the landmarks mapped back.
    They are in pixels of the frames as stored. Raises :class:`s2d.data.format.DatasetError`
    naming the file for unreadable input or no frames. ``progress``: a tqdm bar on terminals.
    """
    from s2d.data.prepare import Source, iter_frames

    path = Path(path)
    frames, found = iter_frames(Source(path.stem, path)), []
    with tqdm(desc=desc, unit="frame", disable=None if progress else True) as bar:
        while batch := list(itertools.islice(frames, batch_size)):
            height, width = batch[0].shape[:2]
            scale = size / min(height, width) if size else 1.0
            shape = (round(width * scale), round(height * scale))
            points = detect_frames(detector, np.stack([resize_image(f, shape) if size else f for f in batch]))
            found.append(rescale_points(points, shape, (width, height)) if size else points)
            bar.update(len(batch))
    if not found:
        raise fmt.DatasetError(f"{path} holds no frames")
    return np.concatenate(found)


def _video_row(detector: DetectorFn, root: Path, split: str, video: str, batch_size: int) -> dict:
    count = len(fmt.frame_paths(root, split, video))
    if not count:
        raise fmt.DatasetError(f"{root / split / video} holds no frames")
    found = np.concatenate([
        detect_frames(detector, fmt.read_frames(root, split, video, list(range(start, min(start + batch_size, count)))))
        for start in range(0, count, batch_size)
    ])
    row = {"video": video, "frames": count, "failed_frames": int(failed(found).sum()), "sms": trajectory_sms(found)}
    if not (root / "annotations" / split / f"{video}.npz").is_file():
        return row | {"sms_truth": float("nan"), "nme_68": float("nan"), "nme_pupils": float("nan")}
    ann = fmt.read_annotations(root, split, video)
    truth, visible = ann["landmarks"], ann["visible"]
    row["sms_truth"] = trajectory_sms(truth)
    for name, points in (("nme_68", IBUG_POINTS), ("nme_pupils", lm.PUPILS)):
        per_frame = nme(found, truth, points, visible)
        row[name] = float(np.nanmean(per_frame)) if np.isfinite(per_frame).any() else float("nan")
    return row


def _notes(root: Path) -> dict[str, str]:
    meta = fmt.read_meta(root)
    if meta.get("source") == "synthtalk":
        return {}
    reference = f"the landmarks of {meta.get('detector', 'the detector')} that prepared {root}"
    return {name: f"against {reference}, not hand labels" for name in ("nme_68", "nme_pupils", "sms_truth")}


def detector_stability(detector: DetectorFn, root: str | Path, split: str = "test", max_videos: int | None = None,
                       progress: bool = True, batch_size: int = 32) -> pd.DataFrame:
    """One row per video of ``root``/``split`` (the first ``max_videos``): see the module docstring.

    Columns ``video, frames, failed_frames, sms, sms_truth, nme_68, nme_pupils``;
    ``attrs["notes"]`` holds {column: caveat} (NME on real data is against the preparing detector).
    """
    root = Path(root)
    notes = _notes(root)
    videos = fmt.video_ids(root, split)[:max_videos]
    if not videos:
        raise fmt.DatasetError(f"{root / split} holds no videos")
    rows = [_video_row(detector, root, split, video, batch_size)
            for video in tqdm(videos, desc="detector stability", unit="video", disable=not progress)]
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    table.attrs["notes"] = notes
    return table


def stability_mean(table: pd.DataFrame) -> pd.Series:
    """The mean over videos of SMS and NME (NaN rows skipped), with the totals of videos, frames and failures."""
    mean = table[list(MEAN_COLUMNS)].astype(float).mean()
    mean["videos"] = len(table)
    mean["frames"] = int(table["frames"].sum())
    mean["failed_frames"] = int(table["failed_frames"].sum())
    mean.name = "mean"
    mean.attrs["notes"] = dict(table.attrs.get("notes", {}))
    return mean
