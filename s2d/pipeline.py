"""Cached pipeline steps of ``make reproduce``: a model is trained once per (settings, code, data).

A trained model lives in ``runs/<profile>/<name>-<key>/`` where the key hashes the
run's full configuration, the source code of everything that shapes training
(models, losses, trainer, config) and the dataset's fingerprint. Asking again for
the same key reuses the finished checkpoint; a run interrupted half-way resumes
from its last checkpoint.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from s2d.checkpoint import load_checkpoint
from s2d.config import Config
from s2d.data import synth
from s2d.train import train

PACKAGE = Path(__file__).resolve().parent
TRAINING_CODE = ("models", "losses.py", "train.py", "config.py", "checkpoint.py", "data/loaders.py")
RUNS_ROOT = Path("runs")


def code_version() -> str:
    """A short hash of the source files that shape a trained model."""
    digest = hashlib.sha256()
    for entry in TRAINING_CODE:
        path = PACKAGE / entry
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(file.relative_to(PACKAGE).as_posix().encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


def run_key(config: Config, data_root: Path) -> str:
    blob = f"{config.fingerprint()}:{code_version()}:{synth.fingerprint(data_root)}"
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def trained(config: Config, data_root: str | Path, name: str, runs_root: Path = RUNS_ROOT,
            progress: bool = True) -> tuple[Path, bool]:
    """The checkpoint of ``config`` trained on ``data_root``, and whether it was trained now."""
    data_root = Path(data_root)
    out = runs_root / config.profile / f"{name}-{run_key(config, data_root)}"
    ckpt = out / "checkpoint.pt"
    if ckpt.is_file() and load_checkpoint(ckpt, config)["step"] >= config.train.steps:
        return ckpt, False
    return train(config, data_root, out, resume=True, progress=progress), True
