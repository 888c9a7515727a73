"""SynthTalk: build the embedded talking-head dataset with exact ground truth.

Two variants mirror the paper's datasets and protocols:

- ``synth-vox`` (VoxCeleb1): many identities, two videos each, strong head motion;
  train and test identities are disjoint.
- ``synth-ff`` (FaceForensics): fewer identities, several videos each, mostly
  frontal anchor-like motion; a random 75/25 split of the videos.

Sizes come from the profile (``data.train_videos``, ``data.test_videos``,
``data.frames_per_video``, ``data.resolution``; for ``synth-ff`` their sum is split
75/25). Frames are rendered at 256 x 256 (anti-aliased by 2x supersampling) and
area-downsampled to smaller resolutions. The same seed gives a byte-identical
dataset on the same machine: every video draws from its own generator seeded by
(seed, variant, video), whatever the number of worker processes.
"""

from __future__ import annotations

import multiprocessing
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm.auto import tqdm

from s2d import __version__
from s2d import landmarks as lm
from s2d.config import Config
from s2d.data import format as fmt
from s2d.data.identity import Identity, background, sample_identity
from s2d.data.motion import FPS, sample_motion
from s2d.data.render import FrameParams, Renderer

RENDER_SIZE = 256
VARIANTS = {"synth-vox": ("vox", 0), "synth-ff": ("ff", 1)}  # motion style, seed stream
GENERATOR_VERSION = 3  # bump when a change alters the rendered data
# used where a profile leaves a size at 0 ("all"): the paper-scale SynthTalk
DEFAULT_SIZES = {"train_videos": 1000, "test_videos": 100, "frames_per_video": 150}


@dataclass(frozen=True)
class VideoSpec:
    """What one video of the dataset is: which split, person and seeds."""

    index: int
    split: str
    identity: int
    video_id: str
    variant: str
    seed: int
    frames: int
    resolution: int


def plan(variant: str, config: Config, seed: int) -> list[VideoSpec]:
    """The dataset's videos, their splits and identities, before anything is rendered."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown SynthTalk variant '{variant}'; choose one of {', '.join(VARIANTS)}")
    d = config.data
    n_train = d.train_videos or DEFAULT_SIZES["train_videos"]
    n_test = d.test_videos or DEFAULT_SIZES["test_videos"]
    frames = d.frames_per_video or DEFAULT_SIZES["frames_per_video"]
    _, stream = VARIANTS[variant]
    if variant == "synth-vox":
        # two videos per identity; test identities are never seen in training
        splits = ["train"] * n_train + ["test"] * n_test
        identities = [i // 2 for i in range(n_train)] + [(n_train + 1) // 2 + i // 2 for i in range(n_test)]
    else:
        total = n_train + n_test
        n_ids = max(2, total // 6)
        identities = [i % n_ids for i in range(total)]
        order = np.random.default_rng([seed, stream, 0]).permutation(total)
        test = set(order[: round(0.25 * total)].tolist())
        splits = ["test" if i in test else "train" for i in range(total)]
    return [
        VideoSpec(i, split, ident, f"v{i:05d}-id{ident:04d}", variant, seed, frames, d.resolution)
        for i, (split, ident) in enumerate(zip(splits, identities))
    ]


def render_video(spec: VideoSpec) -> dict[str, np.ndarray]:
    """Render one video: frames, parsing and every ground-truth annotation."""
    identity, backdrop, motion = video_inputs(spec)
    rendered = render_frames(identity, backdrop, motion, spec.resolution)
    return {
        **rendered,
        "pose": np.stack([motion["yaw"], motion["pitch"], motion["roll"]], axis=1).astype(np.float32),
        "identity": np.array(identity.name),
        "gaze": motion["gaze"].astype(np.float32),
        "blink": motion["blink"].astype(np.float32),
        "mouth_open": motion["mouth_open"].astype(np.float32),
        "smile": motion["smile"].astype(np.float32),
        "brow_raise": motion["brow_raise"].astype(np.float32),
        "translation": np.stack([motion["tx"], motion["ty"]], axis=1).astype(np.float32),
        "scale": motion["scale"].astype(np.float32),
    }


def video_inputs(spec: VideoSpec) -> tuple[Identity, np.ndarray, dict[str, np.ndarray]]:
    """What a video is rendered from, drawn from its seeds: the identity, the background and the motion."""
    style, stream = VARIANTS[spec.variant]
    ident_rng = np.random.default_rng([spec.seed, stream, 1, spec.identity])
    video_rng = np.random.default_rng([spec.seed, stream, 2, spec.index])
    identity = sample_identity(ident_rng, name=f"id{spec.identity:04d}")
    backdrop = background(video_rng, RENDER_SIZE)
    return identity, backdrop, sample_motion(video_rng, spec.frames, style)


def render_frames(identity: Identity, backdrop: np.ndarray, motion: dict[str, np.ndarray],
                  resolution: int) -> dict[str, np.ndarray]:
    """Render ``identity`` before ``backdrop`` with ``motion`` (as from sample_motion) at ``resolution`` px.

    Returns ``frames`` (T, H, W, 3) uint8, ``parsing`` (T, H, W) uint8, ``landmarks``
    (T, 74, 2) float32 and ``visible`` (T, 74) bool.
    """
    renderer = Renderer(identity, backdrop, size=RENDER_SIZE)
    frames, parsing, landmarks, visible = [], [], [], []
    for t in range(len(motion["yaw"])):
        out = renderer.render(FrameParams(
            yaw=motion["yaw"][t], pitch=motion["pitch"][t], roll=motion["roll"][t],
            tx=motion["tx"][t], ty=motion["ty"][t], scale=motion["scale"][t],
            gaze_x=motion["gaze"][t, 0], gaze_y=motion["gaze"][t, 1], blink=motion["blink"][t],
            mouth_open=motion["mouth_open"][t], smile=motion["smile"][t], brow_raise=motion["brow_raise"][t],
        ))
        frames.append(out.image)
        parsing.append(out.parsing)
        landmarks.append(out.landmarks)
        visible.append(out.visible)
    frames_arr, parsing_arr, lmk = _resize(np.stack(frames), np.stack(parsing), np.stack(landmarks), resolution)
    return {"frames": frames_arr, "parsing": parsing_arr, "landmarks": lmk.astype(np.float32),
            "visible": np.stack(visible)}


def _resize(frames: np.ndarray, parsing: np.ndarray, landmarks: np.ndarray, size: int):
    """Area-downsample frames, nearest-sample parsing, and rescale landmarks to ``size``."""
    if size == RENDER_SIZE:
        return frames, parsing, landmarks
    if size > RENDER_SIZE:
        raise ValueError(f"SynthTalk renders at {RENDER_SIZE} px; {size} px would only upsample")
    frames = np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in frames])
    centres = np.floor((np.arange(size) + 0.5) * RENDER_SIZE / size).astype(int)
    parsing = parsing[:, centres][:, :, centres]
    landmarks = (landmarks + 0.5) * (size / RENDER_SIZE) - 0.5
    return frames, parsing, landmarks


def _write(job: tuple[VideoSpec, str]) -> str:
    spec, root = job
    data = render_video(spec)
    frames, parsing = data.pop("frames"), data.pop("parsing")
    fmt.write_video(Path(root), spec.split, spec.video_id, frames, data, parsing)
    return spec.video_id


def build(variant: str, config: Config, seed: int, out: str | Path, workers: int | None = None,
          overwrite: bool = False, progress: bool = True) -> Path:
    """Render the whole dataset into ``out`` (atomically) and return its path."""
    specs = plan(variant, config, seed)
    workers = workers or min(len(specs), os.cpu_count() or 1)
    out = Path(out)
    with fmt.building(out, overwrite=overwrite) as tmp:
        jobs = [(spec, str(tmp)) for spec in specs]
        bar = tqdm(total=len(jobs), desc=f"{variant} ({config.profile})", unit="video", disable=not progress)
        if workers > 1:
            ctx = multiprocessing.get_context("spawn" if os.name == "nt" else "fork")
            with ctx.Pool(workers) as pool:
                for _ in pool.imap_unordered(_write, jobs):
                    bar.update()
        else:
            for job in jobs:
                _write(job)
                bar.update()
        bar.close()
        fmt.write_meta(tmp, {
            "source": "synthtalk",
            "generator_version": GENERATOR_VERSION,
            "s2d_version": __version__,
            "variant": variant,
            "profile": config.profile,
            "seed": seed,
            "resolution": config.data.resolution,
            "render_size": RENDER_SIZE,
            "fps": FPS,
            "num_landmarks": lm.NUM_LANDMARKS,
            "parsing_labels": list(fmt.PARSING_LABELS),
            "videos": {split: sum(s.split == split for s in specs) for split in fmt.SPLITS},
            "identities": {split: len({s.identity for s in specs if s.split == split}) for split in fmt.SPLITS},
            "frames_per_video": specs[0].frames,
            "data_config": _data_settings(config),
            "plan": [asdict(s) for s in specs],
        })
    return out


def _data_settings(config: Config) -> dict:
    """The data settings that shape a SynthTalk build (not which dataset a run names, nor a root)."""
    return {k: v for k, v in asdict(config.data).items() if k not in ("dataset", "root")}


def folder_name(variant: str, config: Config, seed: int) -> str:
    """The cache folder of a variant rendered for a profile, resolution and seed, e.g. ``synth-vox-cpu-64px-seed0``
    (a profile may render one variant at two resolutions: Table 4's gaze study)."""
    return f"{variant}-{config.profile}-{config.data.resolution}px-seed{seed}"


def ensure(variant: str, config: Config, seed: int, data_root: str | Path = "data/synthtalk",
           progress: bool = True) -> tuple[Path, bool]:
    """The dataset for (variant, profile data settings, seed), built only if missing or stale.

    Returns its path and whether it was built now (False: reused from the cache).
    """
    out = Path(data_root) / folder_name(variant, config, seed)
    try:
        meta = fmt.read_meta(out)
        fresh = (meta.get("generator_version") == GENERATOR_VERSION and meta.get("variant") == variant
                 and meta.get("seed") == seed and meta.get("data_config") == _data_settings(config))
    except fmt.DatasetError:
        fresh = False
    if fresh:
        return out, False
    return build(variant, config, seed, out, overwrite=True, progress=progress), True


def fingerprint(root: str | Path) -> str:
    """A short hash of what a built dataset is (generator version, variant, seed, data settings)."""
    import hashlib
    import json

    meta = fmt.read_meta(root)
    key = {k: meta.get(k) for k in ("generator_version", "variant", "seed", "data_config")}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]

