"""Reenactment ground truth for SynthTalk: the source person performing the driving motion (beyond the paper).

The paper's cross-identity protocol (Table 2) has no pixel ground truth: nobody
filmed the source person making the driving person's moves. SynthTalk draws each
video's identity, background and motion from seeds, so it can render exactly
that: the source video's identity before the source video's background, moved
by the driving video's motion parameters, at the dataset's resolution.

- ``mode="absolute"``: the driving video's parameters as they are.
- ``mode="relative"``: the source's first-frame parameters plus the driving
  parameters' change since the driving's first frame, clipped to the ranges the
  motion sampler produces (the pixel counterpart of
  :func:`s2d.evaluate.relative_landmarks`).

Rendering a video with itself in absolute mode reproduces its stored frames
exactly. :func:`ground_truth` caches renders in the dataset folder, under
``reenactment/<split>/<mode>/<source>__<driving>.npz``; a dataset is rebuilt
into a fresh folder, so the cache never outlives the data it was rendered for.
"""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import numpy as np

from s2d.data import format as fmt
from s2d.data import synth
from s2d.data.motion import STYLES
from s2d.io import atomic_path

MODES = ("absolute", "relative")


def is_synthtalk(root: str | Path) -> bool:
    """Whether ``root`` is a SynthTalk dataset (whose videos can be re-rendered)."""
    return fmt.read_meta(root).get("source") == "synthtalk"


def render(root: str | Path, split: str, source: str, driving: str, mode: str) -> dict[str, np.ndarray]:
    """The source video's person and background moved by the driving video's motion in ``mode``.

    Relative motion starts from the source video's first frame (the source frame of
    the cross-identity protocol).

    Returns ``frames`` (T, H, W, 3) uint8 and ``landmarks`` (T, 74, 2) float32
    pixels, T the driving video's length, H = W the dataset's resolution.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    source_spec, driving_spec = _specs(root, split, source, driving)
    identity, backdrop, source_motion = synth.video_inputs(source_spec)
    _, _, motion = synth.video_inputs(driving_spec)
    if mode == "relative":
        motion = relative_motion(source_motion, motion, synth.VARIANTS[source_spec.variant][0])
    out = synth.render_frames(identity, backdrop, motion, source_spec.resolution)
    return {"frames": out["frames"], "landmarks": out["landmarks"]}


def relative_motion(source: dict[str, np.ndarray], driving: dict[str, np.ndarray],
                    style: str) -> dict[str, np.ndarray]:
    """``source[0] + driving[t] - driving[0]`` for every parameter, kept in the ranges of ``style``'s sampler.

    Pose, translation and scale are clipped to the style's amplitudes, blink and
    the expressions to [0, 1], gaze to the unit disc.
    """
    s = STYLES[style]
    limits = {"yaw": s.yaw, "pitch": s.pitch, "roll": s.roll, "tx": s.translation, "ty": s.translation}
    out = {}
    for name, values in driving.items():
        moved = source[name][0] + (values - values[0])
        if name in limits:
            moved = np.clip(moved, -limits[name], limits[name])
        elif name == "scale":
            moved = np.clip(moved, 1 - s.scale, 1 + s.scale)
        elif name == "gaze":
            moved = moved / np.maximum(1.0, np.linalg.norm(moved, axis=1, keepdims=True))
        else:  # blink, mouth_open, smile, brow_raise
            moved = np.clip(moved, 0.0, 1.0)
        out[name] = moved
    return out


def ground_truth(root: str | Path, split: str, source: str, driving: str, mode: str) -> dict[str, np.ndarray]:
    """:func:`render`, cached on disk in the dataset folder (rendered and written on first use)."""
    path = _cache_path(root, split, source, driving, mode)
    if not path.is_file():
        data = render(root, split, source, driving, mode)
        with atomic_path(path) as tmp:
            np.savez_compressed(tmp, **data)
        return data
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def prepare(root: str | Path, split: str, pairs: list[tuple[str, str]], mode: str,
            workers: int | None = None) -> None:
    """Render and cache the ground truth of (source, driving) ``pairs`` not cached yet, in ``workers`` processes."""
    todo = sorted({pair for pair in pairs if not _cache_path(root, split, *pair, mode).is_file()})
    jobs = [(str(root), split, source, driving, mode) for source, driving in todo]
    workers = min(len(jobs), workers or os.cpu_count() or 1)
    if workers > 1:
        ctx = multiprocessing.get_context("spawn" if os.name == "nt" else "fork")
        with ctx.Pool(workers) as pool:
            pool.starmap(_cache, jobs)
    else:
        for job in jobs:
            _cache(*job)


def _cache(root: str, split: str, source: str, driving: str, mode: str) -> None:
    ground_truth(root, split, source, driving, mode)


def _cache_path(root: str | Path, split: str, source: str, driving: str, mode: str) -> Path:
    return Path(root) / "reenactment" / split / mode / f"{source}__{driving}.npz"


def _specs(root: str | Path, split: str, *videos: str) -> list[synth.VideoSpec]:
    """The plan entries of ``videos``, after checking this code renders the dataset as it was built."""
    meta = fmt.read_meta(root)
    if meta.get("source") != "synthtalk":
        raise fmt.DatasetError(f"{root} is not a SynthTalk dataset: only SynthTalk can render reenactments")
    if meta.get("generator_version") != synth.GENERATOR_VERSION:
        raise fmt.DatasetError(f"{root} was built by SynthTalk generator version {meta.get('generator_version')}, "
                               f"this is version {synth.GENERATOR_VERSION}: rebuild it to render reenactments")
    plan = {spec["video_id"]: synth.VideoSpec(**spec) for spec in meta["plan"]}
    specs = []
    for video in videos:
        spec = plan.get(video)
        if spec is None or spec.split != split:
            raise fmt.DatasetError(f"{Path(root) / split / video} is not a video of {root}")
        specs.append(spec)
    return specs
