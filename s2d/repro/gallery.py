"""The gallery (``make gallery``): Figures 3, 4 and 6 on real faces, by the real-face model of ``s2d animate``.

:func:`gallery` builds the real-face model (:func:`s2d.repro.animate_model.default_checkpoint`: the real clips
prepared and the model trained when the run cache does not hold them, at every core, as ``s2d animate``'s first
use) and the first-order model trained the same way (:func:`s2d.repro.plan.real_face_baseline_run`), and executes the gallery's page (``notebooks/05_gallery.ipynb``) into the book's folder; the page writes its
figures, clips and photo measures into ``results/<profile>/gallery/``, and :func:`gallery` records what made them
in ``gallery.json`` there (commit, models, times).

It is not part of ``make reproduce``: the real-face model alone trains for 14 minutes in ``make reproduce``'s
workers (845 s at one thread beside another model, 2026-12-07, with 79 s more to render SynthTalk at 128 px),
which the cpu profile's hour has no room for. ``make reproduce`` leaves the page and the folder as they are (the
folder is outside ``figures/``, which the other notebooks redraw); ``make book`` shows a new gallery.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path

from s2d.config import load_config
from s2d.io import write_json
from s2d.repro import plan
from s2d.repro.animate_model import PROFILE, default_checkpoint
from s2d.repro.cache import RUNS_ROOT, trained_run
from s2d.repro.reproduce import PAGES, execute_page
from s2d.runtime import git_commit

TARGET = "gallery"  # the make target of the gallery's page (s2d.repro.reproduce.Page.target)


def gallery(profile: str = PROFILE, results_root: Path = Path("results"), data_root: Path = Path("data/synthtalk"),
            runs_root: Path = RUNS_ROOT, book_results: Path = Path("book/results"), progress: bool = True) -> Path:
    """Build the real-face model of ``profile`` and its first-order counterpart if needed, execute the gallery's page into ``book_results`` and
    record the run in ``results_root/<profile>/gallery/gallery.json``; return that record's path."""
    start = time.perf_counter()
    commit = git_commit()  # before the page rewrites anything
    since = time.time()
    checkpoint = default_checkpoint(profile, data_root, runs_root, progress)
    built = time.perf_counter() - start
    trained_now = checkpoint.stat().st_mtime >= since  # else the run cache held it
    baseline_run = plan.real_face_baseline_run(load_config(profile))
    baseline, _, baseline_now = trained_run(baseline_run, data_root, runs_root, progress, announce=lambda: print(
        f"s2d: training {baseline_run.name}, the first-order model trained as the real-face model is (the page "
        f"compares them on the held-out real clip)"))
    baseline_s = time.perf_counter() - start - built
    page = next(page for page in PAGES if page.target == TARGET)
    executed = execute_page(page, Path(profile), results_root, data_root, runs_root, book_results)
    training, baseline_training = checkpoint.parent / "train.json", baseline.parent / "train.json"
    record = {
        "profile": profile,
        "git_commit": commit,
        "finished_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "checkpoint": str(checkpoint),
        "model": json.loads(training.read_text()) if training.is_file() else {},
        "model_trained_now": trained_now,
        "model_s": round(built, 1),  # finding (or building) the model: the real clips, data and training
        "baseline": str(baseline),
        "baseline_model": json.loads(baseline_training.read_text()) if baseline_training.is_file() else {},
        "baseline_trained_now": baseline_now,
        "baseline_s": round(baseline_s, 1),
        "page_s": round(time.perf_counter() - start - built - baseline_s, 1),
        "page": str(executed),
    }
    return write_json(results_root / profile / "gallery" / "gallery.json", record)
