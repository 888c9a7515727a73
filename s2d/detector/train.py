"""Training and running the landmark detector variants of Table 5 (Sec. 3.3, Sec. 4.3.2).

Three variants, named as in Table 5:

- ``FAN4``: heatmap regression, the mean squared error to Gaussian target maps
  (peak 1, ``heatmap_sigma`` heatmap pixels) summed over the stacks; decoded by
  argmax (:func:`s2d.detector.decode.argmax_decode`).
- ``FAN4+DSNT``: DSNT coordinate regression, the Euclidean distance of the DSNT
  coordinates to the targets plus ``dsnt_reg_weight`` times the Jensen-Shannon
  regulariser (Nibali et al.), summed over the stacks; decoded by DSNT.
- ``FAN4+DSNT+SBR``: as ``FAN4+DSNT``, plus from step ``sbr_start * steps`` on,
  ``sbr_weight`` times the registration loss of SBR (Dong et al.) on consecutive
  frame pairs used without labels: the train videos of the labelled dataset and
  of any ``unlabelled_roots`` (prepared real videos, for example). The paper
  fine-tunes a converged detector with SBR; here the first ``sbr_start`` of the
  run is exactly the ``FAN4+DSNT`` run of the same seed, and SBR is added for the rest.

Supervision comes from the ground-truth landmarks of a dataset in s2d's layout
(SynthTalk), in place of the paper's WFLW (which has no pupils). All 74 points
are supervised in every frame, hidden ones included (SynthTalk knows where they are).
Real frames join them when ``labelled_roots`` are given (the prepared real clips,
labelled by MediaPipe FaceMesh with iris): ``real_share`` of every batch comes from
them. The ``paper`` profile reads WFLW instead (:mod:`s2d.detector.wflw`).

Inputs: frames are resized (bilinear, antialiased) to ``input_size`` square pixels
whatever their size; coordinates travel in normalised form (see
:mod:`s2d.geometry`), so predictions map back to the frames exactly. The
``cpu`` profile upsamples SynthTalk's 64 px frames to 128 px, which gives 32 x 32
heatmaps, two frame pixels per heatmap pixel (at 64 px input the heatmaps would be
16 x 16); the ``paper`` profile is FAN4 itself at 256 px. SBR tracks with
Lucas-Kanade on the network inputs, so ``lk_window`` is in input pixels.

``train`` writes ``checkpoint.pt``, ``train.json`` and ``losses.csv`` into its out
folder, each atomically; :class:`Detector` loads the checkpoint and detects.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from s2d import __version__
from s2d import landmarks as lm
from s2d.checkpoint import CheckpointError, read_checkpoint, save_checkpoint
from s2d.config import DetectorConfig, load_config
from s2d.data import format as fmt
from s2d.data.loaders import to_tensor
from s2d.detector.decode import argmax_decode, dsnt, js_regulariser, softmax_heatmaps
from s2d.detector.fan import FAN, FAN4_DEPTH, FAN4_FEATURES, FAN4_STACKS, from_pretrained_fan4
from s2d.detector.sbr import sbr_loss, track_batch
from s2d.detector.wflw import WFLWLabelled, is_wflw
from s2d.geometry import gaussian_heatmaps_sigma_px, to_normalised, to_pixels
from s2d.io import atomic_path, write_json
from s2d.runtime import git_commit, pick_device, seed_everything

MODEL_NAME = "s2d-detector"
LOSS_COLUMNS = ("heatmap", "coords", "regulariser", "sbr", "sbr_valid", "total")


def profile_config(profile: str | Path, variant: str, **changes: Any) -> DetectorConfig:
    """The ``detector:`` section of a profile (``smoke``, ``cpu``, ``paper``, or a YAML file) for ``variant``,
    with ``changes``; :class:`s2d.config.ConfigError` when a value is out of range."""
    return dataclasses.replace(load_config(profile).detector, variant=variant, **changes)


def build_detector(config: DetectorConfig) -> FAN:
    """The FAN network of a detector config (untrained)."""
    return FAN(config.stacks, config.num_landmarks, config.features, config.depth)


def resize(frames: torch.Tensor, size: int) -> torch.Tensor:
    """Frames ``(B, 3, H, W)`` -> ``(B, 3, size, size)``, bilinear with antialiasing, normalised coordinates kept."""
    if frames.shape[-2:] == (size, size):
        return frames
    return F.interpolate(frames, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


# ----------------------------------------------------------------------------- data


class _Labelled:
    """Every frame of a split with its ground-truth landmarks, held in memory (uint8)."""

    def __init__(self, root: Path, split: str):
        videos = fmt.video_ids(root, split)
        if not videos:
            raise fmt.DatasetError(f"{root / split} holds no videos")
        self.by_video = {v: fmt.read_frames(root, split, v) for v in videos}
        points = [fmt.read_annotations(root, split, v)["landmarks"] for v in videos]
        for video, pts in zip(videos, points):
            if pts.shape != (len(self.by_video[video]), lm.NUM_LANDMARKS, 2):
                raise fmt.DatasetError(f"{root}: annotations of {split}/{video} have landmarks {pts.shape}, "
                                       f"expected ({len(self.by_video[video])}, {lm.NUM_LANDMARKS}, 2)")
        self.frames = np.concatenate(list(self.by_video.values()))
        self.landmarks = np.concatenate(points).astype(np.float32)

    def batch(self, rng: np.random.Generator, size: int,
              flip_prob: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Random frames ``(B, 3, H, W)`` in [0, 1], their normalised landmarks ``(B, 74, 2)`` and the
        landmarks' loss weights ``(B, 74)`` (all 1: every point is known)."""
        index = rng.integers(len(self.frames), size=size)
        flips = rng.random(size) < flip_prob
        frames, points = self.frames[index].copy(), self.landmarks[index].copy()
        height, width = frames.shape[1:3]
        frames[flips] = frames[flips][:, :, ::-1]
        points[flips] = lm.flip_horizontal(points[flips], width)
        return (to_tensor(frames), torch.from_numpy(to_normalised(points, height, width)),
                torch.ones(size, lm.NUM_LANDMARKS))


class _FramePairs:
    """Consecutive frame pairs (t, t+1) of every video of a split, used without labels (SBR)."""

    def __init__(self, root: Path, split: str, in_memory: dict[str, np.ndarray] | None = None):
        self.root, self.split, self.in_memory = root, split, in_memory or {}
        self.index: list[tuple[str, int]] = []
        for video in fmt.video_ids(root, split):
            n = len(self.in_memory[video]) if video in self.in_memory else len(fmt.frame_paths(root, split, video))
            self.index += [(video, t) for t in range(n - 1)]
        if not self.index:
            raise fmt.DatasetError(f"{root / split} has no video with two frames or more")

    def __len__(self) -> int:
        return len(self.index)

    def pair(self, k: int) -> np.ndarray:
        """Pair ``k`` as uint8 ``(2, H, W, 3)``."""
        video, t = self.index[k]
        if video in self.in_memory:
            return self.in_memory[video][t : t + 2]
        return fmt.read_frames(self.root, self.split, video, [t, t + 1])


def _pair_batch(sources: list[_FramePairs], rng: np.random.Generator, count: int,
                size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` random pairs, each source equally likely: frames t and t+1, ``(count, 3, size, size)`` each."""
    pairs = []
    for _ in range(count):
        source = sources[rng.integers(len(sources))]
        pairs.append(resize(to_tensor(source.pair(int(rng.integers(len(source))))), size))
    stacked = torch.stack(pairs)
    return stacked[:, 0], stacked[:, 1]


# ----------------------------------------------------------------------------- losses


def supervised_losses(config: DetectorConfig, outputs: list[torch.Tensor], targets: torch.Tensor,
                      weights: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """The variant's supervised terms, summed over the stacks (intermediate supervision).

    ``outputs``: each stack's heatmaps ``(B, L, h, w)``; ``targets``: normalised
    landmarks ``(B, L, 2)``; ``weights``: ``(B, L)``, 0 for points a dataset does not
    label (WFLW's iris edges), default all 1. FAN4: ``heatmap`` (MSE to Gaussian maps);
    DSNT variants: ``coords`` (mean Euclidean distance, normalised units) and
    ``regulariser`` (JS); each a weighted mean over the points.
    """
    weights = torch.ones(targets.shape[:2], device=targets.device) if weights is None else weights
    total = weights.sum().clamp(min=1)

    def mean(per_point: torch.Tensor) -> torch.Tensor:
        return (per_point * weights).sum() / total

    if not config.uses_dsnt:
        goal = gaussian_heatmaps_sigma_px(targets, *outputs[0].shape[-2:], sigma=config.heatmap_sigma)
        return {"heatmap": sum(mean(((heatmaps - goal) ** 2).mean(dim=(-2, -1))) for heatmaps in outputs)}
    coords = regulariser = torch.zeros((), device=targets.device)
    for heatmaps in outputs:
        probabilities = softmax_heatmaps(heatmaps)
        coords = coords + mean(torch.linalg.vector_norm(dsnt(probabilities) - targets, dim=-1))
        regulariser = regulariser + mean(js_regulariser(probabilities, targets, config.heatmap_sigma))
    return {"coords": coords, "regulariser": regulariser}


def registration_loss(config: DetectorConfig, heatmaps_t: torch.Tensor, heatmaps_next: torch.Tensor,
                      frames_t: torch.Tensor, frames_next: torch.Tensor) -> tuple[torch.Tensor, float]:
    """SBR on a batch of pairs: the DSNT detections of t, tracked into t+1, against those of t+1.

    ``frames_*`` are the network inputs ``(P, 3, S, S)``, ``heatmaps_*`` the last
    stack's output for them. Returns the loss and the fraction of valid tracks.
    """
    size = frames_t.shape[-1]
    detections_t = dsnt(softmax_heatmaps(heatmaps_t.detach()))
    tracked, valid = track_batch(frames_t, frames_next, to_pixels(detections_t, size, size),
                                 config.lk_window, config.lk_levels, config.fb_threshold)
    detections_next = dsnt(softmax_heatmaps(heatmaps_next))
    loss = sbr_loss(detections_next, to_normalised(tracked, size, size), valid)
    return loss, float(valid.float().mean())


# ----------------------------------------------------------------------------- training


def _initialise(model: FAN, config: DetectorConfig) -> tuple[bool, str]:
    """Copy 2DFAN4 into ``model`` when possible (Sec. 3.3); return (pretrained, how the run started)."""
    if not config.pretrained:
        return False, "random start (pretrained=False)"
    if config.features != FAN4_FEATURES or config.depth != FAN4_DEPTH or config.stacks > FAN4_STACKS:
        return False, (f"random start (2DFAN4 weights need {FAN4_FEATURES} features and depth {FAN4_DEPTH}; "
                       f"this model has {config.features} and {config.depth})")
    if from_pretrained_fan4(model):
        return True, "pretrained 2DFAN4 (68 heatmaps copied, 6 new ones random)"
    return False, "random start (2DFAN4 weights unavailable)"


def train(config: DetectorConfig, data_root: str | Path, out_dir: str | Path,
          unlabelled_roots: tuple[str | Path, ...] = (), labelled_roots: tuple[str | Path, ...] = (),
          progress: bool = True) -> Path:
    """Train ``config.variant`` on the train split of ``data_root`` into ``out_dir``; return the checkpoint path.

    ``unlabelled_roots``: further datasets in s2d's layout whose train videos feed
    the SBR loss without their labels (ignored by the variants without SBR).
    ``labelled_roots``: further labelled datasets (real frames with MediaPipe landmarks in s2d's
    layout, or WFLW, :mod:`s2d.detector.wflw`) that give ``config.real_share`` of every labelled batch.
    Deterministic given ``config.seed``: step ``s`` draws its samples from
    ``np.random.default_rng([seed, s])``.
    """
    data_root, out_dir = Path(data_root), Path(out_dir)
    device = pick_device(config.device)
    seed_everything(config.seed)
    model = build_detector(config)
    pretrained, start = _initialise(model, config)
    model.to(device).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    labelled = _Labelled(data_root, "train")
    extra = [WFLWLabelled(root, "train", config.input_size) if is_wflw(root) else _Labelled(Path(root), "train")
             for root in labelled_roots]
    from_extra = round(config.real_share * config.batch_size) if extra else 0
    sources = []
    if config.uses_sbr:
        sources = [_FramePairs(data_root, "train", labelled.by_video)]
        sources += [_FramePairs(Path(root), "train") for root in unlabelled_roots]
    sbr_from = round(config.sbr_start * config.steps)

    rows: list[dict[str, Any]] = []
    began = time.perf_counter()
    bar = tqdm(total=config.steps, desc=f"detector {config.variant}", unit="step", disable=not progress)
    for step in range(1, config.steps + 1):
        rng = np.random.default_rng([config.seed, step])
        frames, targets, weights = labelled.batch(rng, config.batch_size - from_extra, config.flip_prob)
        inputs = [resize(frames, config.input_size)]
        if from_extra:
            source = extra[int(rng.integers(len(extra)))]
            real_frames, real_targets, real_weights = source.batch(rng, from_extra, config.flip_prob)
            inputs = [torch.cat([inputs[0], resize(real_frames, config.input_size)])]
            targets, weights = torch.cat([targets, real_targets]), torch.cat([weights, real_weights])
        use_sbr = config.uses_sbr and step > sbr_from
        if use_sbr:
            frames_t, frames_next = _pair_batch(sources, rng, config.sbr_pairs, config.input_size)
            inputs += [frames_t, frames_next]
        outputs = model(torch.cat(inputs).to(device))
        b = config.batch_size
        terms = supervised_losses(config, [o[:b] for o in outputs], targets.to(device), weights.to(device))
        total = terms.get("heatmap", 0) + terms.get("coords", 0) + config.dsnt_reg_weight * terms.get("regulariser", 0)
        logged: dict[str, float] = {}
        if use_sbr:
            p = config.sbr_pairs
            terms["sbr"], logged["sbr_valid"] = registration_loss(
                config, outputs[-1][b : b + p], outputs[-1][b + p :], frames_t, frames_next)
            total = total + config.sbr_weight * terms["sbr"]
        optimiser.zero_grad(set_to_none=True)
        total.backward()
        optimiser.step()
        logged.update({k: float(v.detach()) for k, v in terms.items()}, total=float(total.detach()))
        seconds = time.perf_counter() - began
        rows.append({"step": step, **logged, "seconds": round(seconds, 3)})
        bar.update()
        bar.set_postfix({k: f"{v:.4f}" for k, v in logged.items() if k in ("total", "sbr")})
        if config.time_budget_s and seconds > config.time_budget_s:
            break
    bar.close()
    steps_done = len(rows)

    ckpt_path = out_dir / "checkpoint.pt"
    save_checkpoint(ckpt_path, {"variant": config.variant, "config": dataclasses.asdict(config),
                                "state_dict": model.state_dict(), "steps": steps_done, "start": start}, MODEL_NAME)
    _write_losses(out_dir / "losses.csv", rows)
    write_json(out_dir / "train.json", {
        "model": MODEL_NAME, "variant": config.variant, "steps": steps_done, "steps_planned": config.steps,
        "stopped_early": steps_done < config.steps, "wall_time_s": round(time.perf_counter() - began, 2),
        "pretrained": pretrained, "start": start, "config": dataclasses.asdict(config),
        "data": str(data_root), "unlabelled": [str(r) for r in unlabelled_roots] if config.uses_sbr else [],
        "labelled_frames": len(labelled.frames), "labelled_real": [str(r) for r in labelled_roots],
        "labelled_real_frames": sum(len(e.faces) if isinstance(e, WFLWLabelled) else len(e.frames) for e in extra),
        "parameters": sum(p.numel() for p in model.parameters()),
        "device": str(device), "git_commit": git_commit(), "s2d_version": __version__,
    })
    return ckpt_path


def _write_losses(path: Path, rows: list[dict[str, Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["step", *LOSS_COLUMNS, "seconds"], restval="")
    writer.writeheader()
    writer.writerows({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()} for r in rows)
    with atomic_path(path) as tmp:
        tmp.write_text(buffer.getvalue())


# ----------------------------------------------------------------------------- inference


class Detector:
    """A trained detector: frames in, 74 landmarks per frame out (pixels of the given frames).

    FAN4 decodes the last stack's heatmaps by argmax, the DSNT variants by DSNT.
    """

    def __init__(self, model: FAN, config: DetectorConfig, device: torch.device | str = "cpu"):
        self.config = config
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> Detector:
        """The detector of a ``checkpoint.pt`` written by :func:`train`, on ``device`` (``auto``: CUDA if present)."""
        state = read_checkpoint(path, MODEL_NAME)
        try:
            config = DetectorConfig(**state["config"])
        except TypeError as err:
            raise CheckpointError(f"{path}: its detector settings do not fit this version of s2d ({err})") from None
        model = build_detector(config)
        model.load_state_dict(state["state_dict"])
        return cls(model, config, pick_device(device))

    @torch.inference_mode()
    def __call__(self, frames: torch.Tensor) -> np.ndarray:
        """Landmarks ``(B, 74, 2)`` (x, y pixels of ``frames``) of RGB frames ``(B, 3, H, W)`` in [0, 1]."""
        if not isinstance(frames, torch.Tensor) or frames.ndim != 4 or frames.shape[1] != 3:
            shape = tuple(frames.shape) if hasattr(frames, "shape") else type(frames).__name__
            raise ValueError(f"expected a frame tensor (B, 3, H, W) in [0, 1], got {shape}")
        height, width = frames.shape[-2:]
        inputs = resize(frames.to(self.device, torch.float32), self.config.input_size)
        heatmaps = self.model(inputs)[-1]
        coords = dsnt(softmax_heatmaps(heatmaps)) if self.config.uses_dsnt else argmax_decode(heatmaps)
        return to_pixels(coords, height, width).float().cpu().numpy()
