"""Typed run configuration: dataclasses loaded from YAML.

A run is described by one :class:`Config`. The dataclass defaults are the
paper's settings; a profile YAML in ``s2d/configs/`` (``smoke``, ``cpu``,
``paper``) or a user's own YAML overrides some of them. A YAML may start
from another profile with ``extends: <profile name or path>``.

Loading is strict, so that a typo never silently falls back to a default:
an unknown or misspelt key is an error naming the key and the file, and a
value of the wrong type is an error naming the field.

    >>> cfg = load_config("smoke")
    >>> cfg.data.resolution
    64
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PROFILES_DIR = Path(__file__).resolve().parent / "configs"
PROFILES = ("smoke", "cpu", "paper")
ARCHITECTURES = ("s2d", "first-order", "monkey-net")  # model.architecture: S2D or a baseline of Tables 1-3


GLOBAL_MOTIONS = ("candidates", "offsets")  # model.global_motion: s2d.models.dense_motion.GlobalBranch
LOCAL_MOTIONS = ("spline", "offsets")  # model.local_motion: s2d.models.dense_motion.LocalBranch
BACKBONES = ("imagenet", "random", "auto")  # loss.perceptual_backbone
DETECTOR_VARIANTS = ("FAN4", "FAN4+DSNT", "FAN4+DSNT+SBR")  # detector.variant: Table 5's rows (s2d.detector.train)
CHOICES = {  # fields with a fixed set of values
    "model.architecture": ARCHITECTURES,
    "model.global_motion": GLOBAL_MOTIONS,
    "model.local_motion": LOCAL_MOTIONS,
    "model.landmark_points": (74, 68),
    "loss.perceptual_backbone": BACKBONES,
    "detector.variant": DETECTOR_VARIANTS,
}


@dataclass(frozen=True)
class Range:
    """The values a numeric field may take: ``low`` and ``high`` bounds (None: unbounded), each inclusive unless
    ``open_low`` / ``open_high``. A list field's range applies to each of its items."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False

    def holds(self, value: float) -> bool:
        above = self.low is None or (value > self.low if self.open_low else value >= self.low)
        below = self.high is None or (value < self.high if self.open_high else value <= self.high)
        return above and below

    def __str__(self) -> str:
        if self.high is None:
            return f"{'>' if self.open_low else '>='} {self.low:g}"
        if self.low is None:
            return f"{'<' if self.open_high else '<='} {self.high:g}"
        return f"in {'(' if self.open_low else '['}{self.low:g}, {self.high:g}{')' if self.open_high else ']'}"


COUNT, SIZE, WEIGHT = Range(0), Range(1), Range(0)
POSITIVE, FRACTION = Range(0, open_low=True), Range(0, 1)
SCALE = Range(0, 1, open_low=True)
RANGES = {  # numeric fields checked beyond their type; every other numeric field takes any value
    "seed": COUNT, "seeds": COUNT,
    "data.resolution": Range(16), "data.num_landmarks": SIZE,
    "data.train_videos": COUNT, "data.test_videos": COUNT, "data.frames_per_video": COUNT,
    "model.num_keypoints": SIZE, "model.block_expansion": SIZE, "model.max_features": SIZE,
    "model.num_down_blocks": COUNT, "model.motion_blocks": SIZE, "model.motion_scale": SCALE,
    "model.local_crop": Range(4), "model.num_bottleneck_blocks": COUNT, "model.disc_scales": SCALE,
    "model.disc_block_expansion": SIZE, "model.disc_max_features": SIZE, "model.disc_blocks": SIZE,
    "loss.perceptual": WEIGHT, "loss.perceptual_scales": SCALE, "loss.perceptual_layers": Range(1, 5),
    "loss.l1": WEIGHT, "loss.gan": WEIGHT, "loss.parsing": WEIGHT, "loss.foreground": WEIGHT,
    "loss.foreground_near_head": WEIGHT,
    "loss.equivariance_value": WEIGHT, "loss.equivariance_jacobian": WEIGHT,
    "train.steps": SIZE, "train.batch_size": SIZE, "train.lr_generator": POSITIVE, "train.lr_baselines": POSITIVE,
    "train.lr_discriminator": POSITIVE, "train.betas": Range(0, 1, open_high=True), "train.milestones": SCALE,
    "train.checkpoint_every": SIZE, "train.snapshots": COUNT, "train.num_workers": COUNT,
    "train.time_budget_minutes": COUNT,
    "eval.batch_size": SIZE, "eval.max_test_frames": COUNT, "eval.frame_stride": SIZE,
    "eval.pose_threshold_deg": COUNT, "eval.pair_threshold_deg": COUNT, "eval.gaze_resolution": COUNT,
    "detector.input_size": Range(16), "detector.stacks": SIZE, "detector.features": SIZE, "detector.depth": SIZE,
    "detector.num_landmarks": SIZE, "detector.steps": SIZE, "detector.batch_size": SIZE, "detector.lr": POSITIVE,
    "detector.real_share": FRACTION, "detector.flip_prob": FRACTION, "detector.heatmap_sigma": POSITIVE,
    "detector.dsnt_reg_weight": WEIGHT, "detector.sbr_weight": WEIGHT,
    "detector.sbr_start": Range(0, 1, open_high=True), "detector.sbr_pairs": SIZE, "detector.lk_window": Range(3),
    "detector.lk_levels": SIZE, "detector.fb_threshold": POSITIVE, "detector.seed": COUNT,
    "detector.time_budget_s": COUNT,
}


class ConfigError(ValueError):
    """A configuration file or override that cannot be used as written."""


@dataclass
class DataConfig:
    """Which videos to train and test on, and at what size."""

    # Tables 1, 2, 4 and 5: a SynthTalk variant (synth-vox | synth-ff, rendered on demand) or a real dataset
    # prepared by `s2d data prepare` into ``root`` (voxceleb, or any name for such a folder; s2d.data.catalog)
    dataset: str = "voxceleb"
    root: str = "data/voxceleb"  # where a real dataset lives; empty for the embedded SynthTalk
    ff_dataset: str = "faceforensics"  # Table 3 (the FaceForensics protocol), likewise
    ff_root: str = "data/faceforensics"
    resolution: int = 256  # frames are square, resolution x resolution pixels
    num_landmarks: int = 74  # 68 iBUG-300W + 2 pupils + 4 iris edge points
    train_videos: int = 0  # 0 = every video the dataset has
    test_videos: int = 0
    frames_per_video: int = 0  # 0 = all frames
    # the real-face model's frame size (s2d animate's default model and the gallery, s2d.repro.plan.real_face_run);
    # 0: ``resolution``
    real_face_resolution: int = 0


@dataclass
class ModelConfig:
    """The dense motion generator and the image generator (Sec. 3, Fig. 1).

    ``architecture`` picks the motion model: S2D's, or a keypoint baseline of Tables 1-3
    (:mod:`s2d.baselines`: FOMM, Monkey-Net) with the same image generator; the baselines
    use ``block_expansion``, ``max_features``, ``motion_blocks`` and ``motion_scale`` for
    their keypoint detector and dense motion hourglasses, and ignore S2D's switches.
    """

    architecture: str = "s2d"  # s2d | first-order | monkey-net
    num_keypoints: int = 10  # keypoint baselines: K (FOMM vox-256: 10)
    block_expansion: int = 64
    max_features: int = 512
    num_down_blocks: int = 2  # image generator encoder depth
    motion_blocks: int = 5  # dense motion hourglass depth
    motion_scale: float = 0.25  # the global branch works at this fraction of the input size
    local_crop: int = 64  # local branch crop side at 256 px input (scaled with resolution)
    adain: bool = True  # Sec. 3.2, AdaIN layers driven by landmark vectors
    add_motion: bool = True  # Sec. 3.2, Add_Motion layer
    local_branches: bool = True  # Eq. (3), eye/brow and mouth branches
    # the global branch's hourglass predicts softmax weights over landmark-fitted motions (identity, affine,
    # thin-plate spline) plus a residual ("candidates", our reading), or the map's offsets ("offsets", literal)
    global_motion: str = "candidates"
    # beyond the paper: with candidates, the identity's logit is lowered by this much inside an ellipse around the
    # source face's outline (s2d.models.dense_motion.face_ellipse), so the face moves with the head on faces unlike
    # the training data's; 0: off (the tables' models), s2d.repro.plan.FACE_PRIOR for the real-face model
    face_prior: float = 0.0
    # a local branch's map is its region's thin-plate spline (fitted to its landmarks, pupils included) plus the
    # hourglass's offsets ("spline", ours), or those offsets alone ("offsets", literal)
    local_motion: str = "spline"
    motion_to_generator: bool = True  # dense motion map concatenated to the generator input
    landmark_points: int = 74  # landmarks the motion generator reads: 74, or 68 (iBUG only, no pupils: Table 5)
    num_bottleneck_blocks: int = 6  # residual blocks of the image generator
    disc_scales: list[float] = field(default_factory=lambda: [1.0])
    disc_block_expansion: int = 32
    disc_max_features: int = 512
    disc_blocks: int = 4


@dataclass
class LossConfig:
    """Weights of the terms of Eq. (8)."""

    perceptual: float = 10.0  # Eq. (4), per VGG-19 layer, summed over the pyramid scales
    perceptual_scales: list[float] = field(default_factory=lambda: [1.0, 0.5, 0.25, 0.125])
    # imagenet (needs s2d.weights "vgg19") | random (fixed-seed weights) | auto: imagenet where `make weights` has
    # cached them, else random (load_config resolves it, so every label and cache key sees which)
    perceptual_backbone: str = "imagenet"
    perceptual_layers: int = 5  # VGG-19 layers relu1_1 .. relu5_1 used, from the first
    l1: float = 1.0
    gan: float = 1.0  # Eq. (5), Eq. (6)
    parsing: float = 1.0  # Eq. (7), differentiable surrogate; S2D only
    # beyond Eq. (8), from the same parsing maps: the candidate global branch's identity weight taught to be 1 on
    # the still background and 0 on the head (s2d.losses.foreground_prior_loss); S2D only. Measured at cpu, 150
    # steps, seed 0, Table 4's full model on SynthTalk's landmarks, weight 0 / 0.2 / 1 / 3: held-out L1 0.0168 /
    # 0.0163 / 0.0161 / 0.0163, background flow 0.30 / 0.26 / 0.21 / 0.19 px, global-map landmark transfer 0.14 /
    # 0.15 / 0.16 / 0.16 px; 0.3 falling to 0 at 80% of the steps: the band beside the head came back (0.29 px). A
    # penalty on the global map's displacement over the still background instead stopped the head (at 1.5 per px:
    # head flow 0.09 of the landmarks', L1 0.0248). With the residual gated by the identity's weight (s2d.models.
    # dense_motion), weight 1 / 3 / 10: L1 0.0158 / 0.0159 / 0.0161, background flow 0.20 / 0.17 / 0.15 px,
    # transfer 0.19 / 0.18 / 0.26 px: 3 stills the band beside the head without slowing the head's motion
    foreground: float = 3.0
    # the background within 4 px of the head counts 1 + this in the foreground prior: there the warp samples
    # background whether or not the map moves it, and an unweighted mean left it moving with the head. Measured at
    # cpu, 150 steps, Table 4's full model, seeds 0 / 1, weight 0 -> 4: background flow 0.160 / 0.152 -> 0.097 /
    # 0.080 px (far from the head 0.011 / 0.009 -> 0.007 / 0.006), held-out L1 0.0155 / 0.0150 -> 0.0161 / 0.0158,
    # global-map landmark transfer 0.17 / 0.15 -> 0.26 / 0.20 px, head flow ratio 1.11 / 1.12 -> 1.07 / 1.05; with
    # channels-last training, seed 0, weight 4 / 8: background flow 0.105 / 0.078 px, L1 0.0163 / 0.0168. With the
    # uncovered strip counted as moving, seeds 0 / 1, weight 4 / 6: background flow 0.111 / 0.094 and 0.097 / 0.080
    # px, L1 0.0162 / 0.0157 and 0.0162 / 0.0159, L1 on the uncovered strip 0.125 / 0.124 and 0.126 / 0.127 (0.141
    # / 0.136 with the strip left out, weight 4)
    foreground_near_head: float = 6.0
    equivariance_value: float = 10.0  # keypoint baselines: FOMM's equivariance losses (vox-256: 10 and 10)
    equivariance_jacobian: float = 10.0  # first-order only


@dataclass
class TrainConfig:
    """Optimisation schedule."""

    # the paper's 100 epochs of 75 repeats of VoxCeleb1's 1,211 training identities at batch 40 (paper.yaml)
    steps: int = 227_100
    batch_size: int = 40
    lr_generator: float = 2e-4  # S2D's generator (dense motion + image generator)
    lr_baselines: float = 2e-4  # the keypoint baselines' generator (first-order-model's vox-256: 2e-4)
    lr_discriminator: float = 2e-4
    betas: list[float] = field(default_factory=lambda: [0.5, 0.999])
    milestones: list[float] = field(default_factory=lambda: [0.6, 0.9])  # fractions of steps; lr x 0.1 at each
    checkpoint_every: int = 5_000
    # the model's weights kept at this many evenly spaced steps (and at step 0) in ``snapshots/``, for the
    # learning curves (s2d.learning_curves); 0: none
    snapshots: int = 5
    num_workers: int = 4
    time_budget_minutes: float = 0.0  # 0 = no limit; otherwise stop cleanly when spent


@dataclass
class EvalConfig:
    """Evaluation protocols (Sec. 4.1, 4.2)."""

    batch_size: int = 16  # frames per forward pass when streaming a test video
    max_test_frames: int = 0  # 0 = every frame
    frame_stride: int = 1  # every k-th driving frame of a test video (1 = every frame), before max_test_frames
    pose_threshold_deg: float = 5.0  # cross identity: frontal first frame
    pair_threshold_deg: float = 1.0  # cross identity: first-frame poses this close
    # Table 4's gaze comparison (Fig. 2 and 5: the full model against no local motion) trains and tests those two
    # settings again at this resolution when it is above data.resolution (0: Table 4's own models only)
    gaze_resolution: int = 0


@dataclass(frozen=True)
class DetectorConfig:
    """One landmark detector run (Sec. 3.3, Table 5; :mod:`s2d.detector.train`). Defaults are the paper's FAN4
    at 256 px.

    The paper gives the architecture (FAN4, 74 heatmaps) but no optimisation
    settings; ``steps``, ``batch_size``, ``lr``, the loss weights and the SBR
    schedule are this reproduction's choices. A profile's ``detector:`` section
    sets the sizes; the variant, ``seed`` and ``device`` are set per run.
    """

    variant: str = "FAN4+DSNT+SBR"
    input_size: int = 256  # frames are resized to input_size x input_size; heatmaps are input_size / 4
    stacks: int = 4  # FAN4 (s2d.detector.fan.FAN4_STACKS)
    features: int = 256  # FAN4_FEATURES
    depth: int = 4  # FAN4_DEPTH
    num_landmarks: int = 74
    pretrained: bool = True  # start from 2DFAN4 where the shape fits and the file is available
    steps: int = 20_000
    batch_size: int = 16  # labelled frames per step
    lr: float = 1e-4  # Adam
    real_share: float = 0.25  # fraction of each labelled batch from labelled_roots (real frames), when given
    flip_prob: float = 0.5  # horizontal flips of labelled frames (landmarks mirrored, left/right swapped)
    heatmap_sigma: float = 1.0  # heatmap pixels: FAN4's target maps and the DSNT regulariser's Gaussian
    dsnt_reg_weight: float = 1.0  # Nibali et al.'s lambda
    sbr_weight: float = 0.5
    sbr_start: float = 0.5  # fraction of the steps before SBR is added
    sbr_pairs: int = 8  # unlabelled consecutive frame pairs per step
    lk_window: int = 15  # Lucas-Kanade window side, input pixels
    lk_levels: int = 2
    fb_threshold: float = 1.0  # forward-backward round-trip error (input pixels) above which a track is dropped
    seed: int = 0
    device: str = "auto"
    time_budget_s: float = 0.0  # 0 = none; otherwise stop cleanly after this much training time

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            problem = _out_of_range(f"detector.{f.name}", getattr(self, f.name))
            if problem:
                raise ConfigError(f"detector settings: {problem}")
        multiple = 4 * 2**self.depth
        if self.input_size % multiple:
            raise ConfigError(f"detector settings: field 'detector.input_size' must be a multiple of {multiple} "
                              f"(4 x 2**depth), got {self.input_size}")

    @property
    def uses_dsnt(self) -> bool:
        return "DSNT" in self.variant

    @property
    def uses_sbr(self) -> bool:
        return self.variant.endswith("+SBR")


@dataclass
class Config:
    """Everything that defines one run. The paper's settings are the defaults."""

    profile: str = "paper"
    seed: int = 0
    seeds: list[int] = field(default_factory=lambda: [0])  # seeds for multi-seed tables
    device: str = "auto"  # auto = CUDA when present, else CPU
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    detector: DetectorConfig = field(default_factory=DetectorConfig)  # the landmark detector it is driven by

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def fingerprint(self) -> str:
        """A short hash of every setting: the cache key of what this config trains."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


def profile_path(name: str) -> Path:
    path = PROFILES_DIR / f"{name}.yaml"
    if not path.is_file():
        hint = _did_you_mean(name, PROFILES)
        raise ConfigError(f"unknown profile '{name}'{hint}; profiles: {', '.join(PROFILES)}")
    return path


def load_config(source: str | Path = "cpu", overrides: list[str] | None = None) -> Config:
    """Load a profile by name (``smoke``, ``cpu``, ``paper``) or a YAML file by path.

    ``overrides`` are ``dotted.key=value`` strings applied last, for example
    ``["train.steps=100", "model.local_branches=false"]``; values are parsed as YAML.
    """
    raw = _read_with_extends(_resolve_source(source), seen=())
    for item in overrides or []:
        raw = _merge(raw, _override(item))
    return resolve_backbone(_build(Config, raw, origin=str(source), prefix=""))


def resolve_backbone(config: Config) -> Config:
    """``loss.perceptual_backbone: auto`` made concrete: ``imagenet`` when VGG-19's ImageNet weights are cached
    (``make weights``), else ``random``; any other value is kept."""
    if config.loss.perceptual_backbone != "auto":
        return config
    from s2d import weights

    backbone = "imagenet" if weights.is_available("vgg19") else "random"
    return dataclasses.replace(config, loss=dataclasses.replace(config.loss, perceptual_backbone=backbone))


def config_from_dict(raw: dict[str, Any], origin: str = "a dict") -> Config:
    """A Config from a plain mapping (as ``Config.to_dict`` gives, e.g. stored in a checkpoint), checked strictly."""
    return _build(Config, _tag(raw, origin), origin=origin, prefix="")


def _resolve_source(source: str | Path) -> Path:
    path = Path(source)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        return path
    return profile_path(str(source))


def _read_with_extends(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        chain = " -> ".join(str(p) for p in (*seen, path))
        raise ConfigError(f"'extends' loops: {chain}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    parent = raw.pop("extends", None)
    if parent is None:
        return _tag(raw, str(path))
    base_path = (path.parent / parent) if str(parent).endswith((".yaml", ".yml")) else profile_path(parent)
    base = _read_with_extends(base_path, seen=(*seen, path))
    return _merge(base, _tag(raw, str(path)))


class _Tagged(dict):
    """A YAML mapping that remembers which file (or override) set each key."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.origins: dict[str, str] = {}


def _tag(raw: dict[str, Any], origin: str) -> _Tagged:
    out = _Tagged()
    for key, value in raw.items():
        out[key] = _tag(value, origin) if isinstance(value, dict) else value
        out.origins[key] = origin
    return out


def _merge(base: _Tagged, top: _Tagged) -> _Tagged:
    out = _Tagged(base)
    out.origins = dict(base.origins)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            out[key] = _merge(base[key], value)
        else:
            out[key] = value
        out.origins[key] = top.origins[key]
    return out


def _override(item: str) -> _Tagged:
    """Turn ``a.b=value`` into the nested mapping ``{a: {b: value}}``."""
    key, sep, value = item.partition("=")
    keys = [k.strip() for k in key.split(".")]
    if not sep or not all(keys):
        raise ConfigError(f"override '{item}' is not of the form section.key=value")
    node: Any = yaml.safe_load(value)
    for k in reversed(keys):
        node = {k: node}
    return _tag(node, f"override '{item}'")


def _did_you_mean(name: str, choices: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _build(cls: type, raw: dict[str, Any], origin: str, prefix: str) -> Any:
    origins = getattr(raw, "origins", {})
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in raw.items():
        dotted = f"{prefix}{key}"
        where = origins.get(key, origin)
        if key not in names:
            raise ConfigError(
                f"{where}: unknown key '{dotted}'{_did_you_mean(str(key), names)}; "
                f"valid keys{' in ' + prefix.rstrip('.') if prefix else ''}: {', '.join(names)}"
            )
        kwargs[key] = _coerce(hints[key], value, dotted, where)
        problem = _out_of_range(dotted, kwargs[key])
        if problem:
            raise ConfigError(f"{where}: {problem}")
    try:
        return cls(**kwargs)
    except ConfigError as err:  # a check across fields (DetectorConfig's)
        raise ConfigError(f"{origin}: {err}") from None


def _out_of_range(dotted: str, value: Any) -> str | None:
    """Why ``value`` cannot be field ``dotted`` (its set of choices or its :data:`RANGES`), or None when it can."""
    if dotted in CHOICES and value not in CHOICES[dotted]:
        return (f"field '{dotted}' must be one of {', '.join(map(str, CHOICES[dotted]))}, got {value!r}"
                f"{_did_you_mean(str(value), map(str, CHOICES[dotted]))}")
    allowed = RANGES.get(dotted)
    for item in value if isinstance(value, list) else [value]:
        if allowed is not None and not allowed.holds(item):
            return f"field '{dotted}' must be {allowed}, got {item!r}"
    return None


def _coerce(hint: Any, value: Any, dotted: str, origin: str) -> Any:
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"{origin}: field '{dotted}' must be a mapping of {hint.__name__} settings")
        return _build(hint, value, origin, prefix=f"{dotted}.")
    origin_type = typing.get_origin(hint)
    if origin_type is list:
        (item_hint,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(f"{origin}: field '{dotted}' must be a list, got {value!r}")
        return [_coerce(item_hint, v, f"{dotted}[{i}]", origin) for i, v in enumerate(value)]
    if origin_type in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(inner, value, dotted, origin)
    if hint is float and isinstance(value, str):
        try:  # YAML 1.1 reads 1e-3 (no dot) as a string
            value = float(value)
        except ValueError:
            pass
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        str: isinstance(value, str),
    }.get(hint)
    if ok is None:
        raise TypeError(f"config field '{dotted}' has an unsupported type {hint!r}")
    if not ok:
        raise ConfigError(
            f"{origin}: field '{dotted}' must be {hint.__name__}, got {value!r} ({type(value).__name__})"
        )
    return float(value) if hint is float else value
