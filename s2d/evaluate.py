"""The evaluation protocols of Sec. 4.2, run over an s2d dataset with any animator.

- :func:`same_identity` (Table 1): the first frame of each test video is the
  source, every frame of the video drives it; pixel metrics against the real
  driving frames.
- :func:`faceforensics` (Table 3): one random source frame per video, every other
  frame drives it; L1 on the 0-255 scale as in Table 3.
- :func:`cross_identity` (Table 2): pose-matched pairs of videos of different
  people; the first frame of one animated by the landmarks of the other, either
  as they are (``mode="absolute"``) or as the driving's motion from its first
  frame applied to the source (``mode="relative"``, :func:`relative_landmarks`).
  The paper has no pixel ground truth: FID against the real driving frames, and
  landmark errors against the landmarks the animator was asked to produce.
  Beyond the paper, on SynthTalk, L1, PSNR and SSIM against the source person
  rendered performing the driving motion (:mod:`s2d.data.reenact`); NaN elsewhere.

A model plugs in as an :class:`Animator`. Every protocol returns an
:class:`Evaluation`: a tidy DataFrame with one row per video (or pair) and one
column per metric, and the aggregate row (the mean over videos, FID computed
once over all frames). A metric that cannot be computed is NaN, and the reason
is kept in ``attrs["notes"]`` ({metric: reason}) of both; the notes also say
when MS-SSIM used fewer than its 5 scales. Videos are streamed in batches of
``EvalConfig.batch_size`` frames; FID keeps only Inception features.

Landmark metrics need a :class:`LandmarkDetector` to find landmarks in the
generated frames; without one they are NaN ("no landmark detector given").

Every protocol also takes ``split``, ``config`` (:class:`s2d.config.EvalConfig`:
``batch_size``, ``frame_stride``, ``max_test_frames``, and the cross-identity pose thresholds),
``device`` (default :func:`s2d.runtime.pick_device`) and ``progress`` (a tqdm bar
of the videos or pairs done), and runs under ``torch.inference_mode()``.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from pathlib import Path
from typing import Callable, Iterator, NamedTuple, Protocol

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from s2d import landmarks as lm
from s2d import metrics
from s2d.config import EvalConfig
from s2d.data import format as fmt
from s2d.data import reenact
from s2d.data.detections import annotations, read_landmarks
from s2d.data.loaders import (
    EvalVideo,
    VideoFrames,
    cross_identity_pairs,
    faceforensics_plan,
    same_identity_plan,
    to_tensor,
)
from s2d.runtime import pick_device

NO_DETECTOR = "no landmark detector given"
LANDMARK_METRICS = ("akd", "akd_gt", "gaze_error", "eye_aperture_error", "mouth_aperture_error")
CROSS_LANDMARK_METRICS = ("akd", "gaze_error", "eye_aperture_error", "mouth_aperture_error")
REENACTMENT_METRICS = ("l1_gt", "psnr_gt", "ssim_gt")  # cross identity, beyond the paper
# compared with the dataset's annotated landmarks: exact on SynthTalk, another detector's estimate on real video
EXACT_TRUTH_METRICS = ("akd_gt", "gaze_error", "eye_aperture_error", "mouth_aperture_error")
NO_EXACT_LANDMARKS = ("needs SynthTalk's exact landmarks: the annotations of real video are a detector's estimate "
                      "(the pupils especially), not a ground truth")
NO_GROUND_TRUTH = "no ground truth: only SynthTalk can render the source person performing the driving motion"
MODES = reenact.MODES  # cross identity: the driving landmarks as they are, or their motion


class Animator(Protocol):
    """What the protocols call to animate a face; models are wrapped to look like this.

    ``source`` float ``(B, 3, H, W)`` in [0, 1], ``source_landmarks`` and
    ``driving_landmarks`` float ``(B, 74, 2)`` pixels (order in :mod:`s2d.landmarks`),
    all on the protocol's device. Returns the animated frames ``(B, 3, H, W)`` in [0, 1].
    Called under ``torch.inference_mode()``; a wrapped model should be in eval mode.

    A model driven by images instead (the keypoint baselines of :mod:`s2d.baselines`)
    sets ``driven_by_frames = True`` and is called as ``animate(source, driving_frames,
    driving_first_frame)``, the last ``None`` except for relative motion.
    """

    def __call__(self, source: torch.Tensor, source_landmarks: torch.Tensor,
                 driving_landmarks: torch.Tensor) -> torch.Tensor: ...


class LandmarkDetector(Protocol):
    """Finds the 74 landmarks in frames: float ``(B, 3, H, W)`` in [0, 1] -> ``(B, 74, 2)`` pixels."""

    def __call__(self, frames: torch.Tensor) -> torch.Tensor | np.ndarray: ...


def copy_source(source: torch.Tensor, source_landmarks: torch.Tensor, driving_landmarks: torch.Tensor) -> torch.Tensor:
    """The baseline every model must beat: ignore the driving landmarks and return the source."""
    return source


class Oracle:
    """An animator that returns the real frame whose annotated landmarks are the driving landmarks (tests only).

    It replays frames of ``root``/``split``, so it scores perfectly on the
    reconstruction protocols; landmarks that are no frame's annotation are an error.
    """

    def __init__(self, root: str | Path, split: str = "test"):
        self.root, self.split = Path(root), split
        self._frames: list[tuple[str, int]] = []
        landmarks = []
        for video in fmt.video_ids(self.root, split):
            points = fmt.read_annotations(self.root, split, video)["landmarks"]
            landmarks.append(points)
            self._frames += [(video, t) for t in range(len(points))]
        self._landmarks = np.concatenate(landmarks)

    def __call__(self, source: torch.Tensor, source_landmarks: torch.Tensor,
                 driving_landmarks: torch.Tensor) -> torch.Tensor:
        frames = []
        for query in driving_landmarks.detach().cpu().numpy():
            match = np.flatnonzero(np.all(self._landmarks == query, axis=(1, 2)))
            if not len(match):
                raise ValueError(f"Oracle: driving landmarks are not the annotation of any frame of "
                                 f"{self.root / self.split}; it can only replay annotated frames")
            video, t = self._frames[match[0]]
            frames.append(fmt.read_frames(self.root, self.split, video, [t])[0])
        return to_tensor(np.stack(frames)).to(source.device)


class Evaluation(NamedTuple):
    """A protocol's result: one row per video or pair, and the aggregate row."""

    rows: pd.DataFrame
    mean: pd.Series

    @property
    def notes(self) -> dict[str, str]:
        """Why a metric is NaN or what it means here, by metric (empty when every metric is plain)."""
        return self.mean.attrs.get("notes", {})


def relative_landmarks(source_lm: np.ndarray, driving_lm: np.ndarray, driving_first_lm: np.ndarray) -> np.ndarray:
    """Relative motion transfer: the source's landmarks moved as the driving face moved since its first frame.

    ``source + (driving - driving_first) * iod(source) / iod(driving_first)``, where
    ``iod`` is the interocular distance, so the displacement is scaled to the
    source's face size. All arrays ``(..., 74, 2)`` and broadcastable (e.g. source
    and first frame ``(74, 2)``, driving ``(T, 74, 2)``); returns float64. Zero
    displacement returns the source landmarks exactly.
    """
    arrays = [np.asarray(x, dtype=np.float64) for x in (source_lm, driving_lm, driving_first_lm)]
    for name, x in zip(("source_lm", "driving_lm", "driving_first_lm"), arrays):
        if x.shape[-2:] != (lm.NUM_LANDMARKS, 2):
            raise ValueError(f"{name} must be (..., {lm.NUM_LANDMARKS}, 2), got {x.shape}")
    source, driving, first = arrays
    try:
        np.broadcast_shapes(source.shape, driving.shape, first.shape)
    except ValueError:
        raise ValueError(f"landmark shapes do not broadcast: source {source.shape}, driving {driving.shape}, "
                         f"driving_first {first.shape}") from None
    scale = lm.interocular_distance(source) / np.maximum(lm.interocular_distance(first), 1e-6)
    return source + (driving - first) * scale[..., None, None]


def same_identity(root: str | Path, animate: Animator, *, split: str = "test", config: EvalConfig | None = None,
                  detector: LandmarkDetector | None = None, landmarks: str | Path | None = None,
                  device: torch.device | str | None = None, progress: bool = True,
                  videos: int = 0) -> Evaluation:
    """Table 1: each video's first frame animated by every frame of the video; metrics per video, then the mean.

    Rows: ``video, source_frame, frames, l1, psnr, ssim, ms_ssim, lpips, akd, akd_gt,
    gaze_error, eye_aperture_error, mouth_aperture_error``; the mean adds ``fid``,
    ``videos`` and ``frames`` (the total). Each metric is the mean over a video's
    frames, except PSNR: that of the MSE over all its frames, since the frame the
    source was taken from is usually reproduced exactly (an infinite PSNR). ``akd`` compares the detector's landmarks
    of generated and real driving frames (the paper's AKD); ``akd_gt`` and the
    gaze, eye and mouth errors compare the generated frames' detected landmarks
    with the driving frames' annotated ones. With ``landmarks`` (a folder of
    :mod:`s2d.data.detections`) the animator is given the detected landmarks of the
    source and driving frames instead of the annotated ones (Table 5); the metrics
    still compare with the annotations. ``videos``: only the first that many test videos (0: all; the
    learning curves' fixed subset).
    """
    plan = same_identity_plan(root, split)
    plan = plan[:videos] if videos else plan
    return _reconstruction("same_identity", plan, root, split, animate, 1.0, config, detector, landmarks, device,
                           progress)


def faceforensics(root: str | Path, animate: Animator, *, split: str = "test", seed: int = 0,
                  config: EvalConfig | None = None, detector: LandmarkDetector | None = None,
                  landmarks: str | Path | None = None, device: torch.device | str | None = None,
                  progress: bool = True) -> Evaluation:
    """Table 3: a random source frame per video (drawn with ``seed``), every other frame drives it.

    The columns of :func:`same_identity`, with L1 on the 0-255 scale of Table 3 as ``l1_255``.
    """
    plan = faceforensics_plan(root, split, seed=seed)
    return _reconstruction("faceforensics", plan, root, split, animate, 255.0, config, detector, landmarks, device,
                           progress)


def cross_identity(root: str | Path, animate: Animator, *, mode: str = "relative", split: str = "test",
                   config: EvalConfig | None = None, detector: LandmarkDetector | None = None,
                   landmarks: str | Path | None = None, device: torch.device | str | None = None,
                   progress: bool = True) -> Evaluation:
    """Table 2: pose-matched pairs (``EvalConfig.pose_threshold_deg``, ``pair_threshold_deg``), each way round.

    The first frame of the source video is animated by every frame of the driving
    video, with ``mode="absolute"`` (the driving landmarks as they are) or
    ``"relative"`` (:func:`relative_landmarks`). Rows: ``source_video, driving_video,
    mode, frames, akd, gaze_error, eye_aperture_error, mouth_aperture_error, l1_gt,
    psnr_gt, ssim_gt``: the landmark errors of the generated frames (detected) against
    the landmarks the animator was given, then (beyond the paper) the pixel metrics
    against the reenactment ground truth of :mod:`s2d.data.reenact` (the source person
    performing the driving motion in ``mode``; SynthTalk only, rendered once and cached
    in the dataset folder), PSNR that of the MSE over all of a pair's frames. The mean
    adds ``fid`` (all generated frames against all real driving frames), ``pairs`` and
    ``frames``.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    config = config or EvalConfig()
    device = pick_device() if device is None else torch.device(device)
    plan = cross_identity_pairs(root, split, frontal_deg=config.pose_threshold_deg,
                                pair_deg=config.pair_threshold_deg)
    synthtalk = reenact.is_synthtalk(root)
    if synthtalk:  # render the ground truth in worker processes before any network runs here
        reenact.prepare(root, split, [(item.source_video, item.driving_video) for item in plan], mode)
    notes = _network_notes(device, lpips=False)
    if detector is None:
        notes.update(dict.fromkeys(CROSS_LANDMARK_METRICS, NO_DETECTOR))
    if not synthtalk:
        notes.update(dict.fromkeys(REENACTMENT_METRICS, NO_GROUND_TRUTH))
        if detector is not None:
            notes.update({m: NO_EXACT_LANDMARKS for m in CROSS_LANDMARK_METRICS if m in EXACT_TRUTH_METRICS})
    if not plan:
        notes["pairs"] = (f"no pose-matched pairs in {Path(root) / split} (first frames frontal within "
                          f"{config.pose_threshold_deg} deg, pairs within {config.pair_threshold_deg} deg)")
    rows, features = [], _Features("fid" not in notes)
    with torch.inference_mode():
        for item in tqdm(plan, desc=f"cross identity ({mode})", unit="pair", disable=not progress):
            item = _capped(item, config)
            source_lm = annotations(root, split, item.source_video, landmarks)["landmarks"][item.source_index]
            first_lm = annotations(root, split, item.driving_video, landmarks)["landmarks"][item.driving_indices[0]]

            def targets(driving: np.ndarray) -> np.ndarray:
                return relative_landmarks(source_lm, driving, first_lm) if mode == "relative" else driving

            if synthtalk:  # the ground truth of the driving frames, in the batches _stream yields
                truth = reenact.ground_truth(root, split, item.source_video, item.driving_video, mode)["frames"]
                truth_batches = iter(to_tensor(truth[list(item.driving_indices)]).split(config.batch_size))
            values: dict[str, list[np.ndarray]] = defaultdict(list)
            for real, generated, _, wanted in _stream(root, split, item, animate, targets, config, landmarks, device,
                                                      relative=mode == "relative"):
                features.add(generated, real, device)
                if synthtalk:
                    gen_cpu, target = generated.cpu(), next(truth_batches)
                    values["l1_gt"].append(metrics.l1(gen_cpu, target))
                    values["mse_gt"].append(metrics.mse(gen_cpu, target))
                    values["ssim_gt"].append(metrics.ssim(gen_cpu, target))
                if detector is not None:
                    found = _detect(detector, generated)
                    values["akd"].append(metrics.akd(found, wanted))
                    if synthtalk:
                        values["gaze_error"].append(metrics.gaze_error(found, wanted))
                        values["eye_aperture_error"].append(metrics.eye_aperture_error(found, wanted))
                        values["mouth_aperture_error"].append(metrics.mouth_aperture_error(found, wanted))
            row = {"source_video": item.source_video, "driving_video": item.driving_video, "mode": mode,
                   "frames": len(item.driving_indices)}
            row |= _frame_means(values, (*CROSS_LANDMARK_METRICS, "l1_gt", "ssim_gt"))
            mse_gt = np.concatenate(values["mse_gt"]).mean() if synthtalk else np.nan
            row["psnr_gt"] = float(metrics.psnr_from_mse(mse_gt))
            rows.append(row)
    metric_names = (*CROSS_LANDMARK_METRICS, *REENACTMENT_METRICS)
    columns = ["source_video", "driving_video", "mode", "frames", *metric_names]
    return _evaluation(f"cross_identity ({mode})", rows, columns, metric_names, features, notes, "pairs")


# the protocols by the names the command line gives them
PROTOCOLS: dict[str, Callable[..., Evaluation]] = {"same-identity": same_identity, "faceforensics": faceforensics,
                                                   "cross-identity": cross_identity}


def _reconstruction(protocol: str, plan: list[EvalVideo], root: str | Path, split: str, animate: Animator,
                    l1_scale: float, config: EvalConfig | None, detector: LandmarkDetector | None,
                    landmarks: str | Path | None, device: torch.device | str | None, progress: bool) -> Evaluation:
    """Run a same-video protocol: every generated frame has its real driving frame as ground truth."""
    config = config or EvalConfig()
    device = pick_device() if device is None else torch.device(device)
    l1_name = "l1" if l1_scale == 1 else f"l1_{l1_scale:g}"
    metric_names = (l1_name, "psnr", "ssim", "ms_ssim", "lpips", *LANDMARK_METRICS)
    notes = _network_notes(device, lpips=True)
    exact = reenact.is_synthtalk(root)
    if detector is None:
        notes.update(dict.fromkeys(LANDMARK_METRICS, NO_DETECTOR))
    elif not exact:
        notes.update(dict.fromkeys(EXACT_TRUTH_METRICS, NO_EXACT_LANDMARKS))
    scales = None
    rows, features = [], _Features("fid" not in notes)
    with torch.inference_mode():
        for item in tqdm(plan, desc=protocol.replace("_", " "), unit="video", disable=not progress):
            item = _capped(item, config)
            values: dict[str, list[np.ndarray]] = defaultdict(list)
            for real, generated, driving_lm, _ in _stream(root, split, item, animate, None, config, landmarks,
                                                          device):
                if scales is None:
                    scales = metrics.ms_ssim_scales(*real.shape[-2:])
                    if scales < len(metrics.MS_SSIM_WEIGHTS):
                        notes["ms_ssim"] = _ms_ssim_note(scales, *real.shape[-2:])
                gen_cpu, real_cpu = generated.cpu(), real.cpu()
                values[l1_name].append(metrics.l1(gen_cpu, real_cpu, scale=l1_scale))
                values["mse"].append(metrics.mse(gen_cpu, real_cpu))
                values["ssim"].append(metrics.ssim(gen_cpu, real_cpu))
                values["ms_ssim"].append(metrics.ms_ssim(gen_cpu, real_cpu, scales=scales))
                if "lpips" not in notes:
                    values["lpips"].append(metrics.lpips(generated, real, device))
                features.add(generated, real, device)
                if detector is not None:
                    found, found_real = _detect(detector, generated), _detect(detector, real)
                    values["akd"].append(metrics.akd(found, found_real))
                if detector is not None and exact:
                    values["akd_gt"].append(metrics.akd(found, driving_lm))
                    values["gaze_error"].append(metrics.gaze_error(found, driving_lm))
                    values["eye_aperture_error"].append(metrics.eye_aperture_error(found, driving_lm))
                    values["mouth_aperture_error"].append(metrics.mouth_aperture_error(found, driving_lm))
            row = {"video": item.driving_video, "source_frame": item.source_index, "frames": len(item.driving_indices)}
            row |= _frame_means(values, tuple(name for name in metric_names if name != "psnr"))
            row["psnr"] = float(metrics.psnr_from_mse(np.concatenate(values["mse"]).mean()))
            rows.append(row)
    columns = ["video", "source_frame", "frames", *metric_names]
    return _evaluation(protocol, rows, columns, metric_names, features, notes, "videos")


def _stream(root: str | Path, split: str, item: EvalVideo, animate: Animator,
            targets: Callable[[np.ndarray], np.ndarray] | None, config: EvalConfig, landmarks: str | Path | None,
            device: torch.device, relative: bool = False) -> Iterator[tuple[torch.Tensor, torch.Tensor, np.ndarray,
                                                                            np.ndarray]]:
    """Animate ``item``'s source with its driving frames, ``config.batch_size`` frames at a time.

    Yields ``(real, generated, driving_landmarks, target_landmarks)``: the real driving
    frames and generated frames on ``device``, the driving frames' annotated landmarks
    and the landmarks the animator was given (``targets(driving)``, or the driving ones;
    taken from the detections in ``landmarks`` when given). An animator driven by frames
    rather than landmarks (``animate.driven_by_frames``, the keypoint baselines) is given
    the source and the real driving frames, and with ``relative`` the first driving frame.
    """
    source = to_tensor(fmt.read_frames(root, split, item.source_video, [item.source_index])).to(device)
    source_lm = annotations(root, split, item.source_video, landmarks)["landmarks"][item.source_index]
    source_lm = torch.from_numpy(source_lm).to(device)[None]
    given = None if landmarks is None else read_landmarks(landmarks, split, item.driving_video)
    by_frames = getattr(animate, "driven_by_frames", False)
    first = None
    if by_frames and relative:
        first = to_tensor(fmt.read_frames(root, split, item.driving_video, [item.driving_indices[0]])).to(device)
    frames = VideoFrames(root, split, item.driving_video, item.driving_indices)
    for batch in DataLoader(frames, batch_size=config.batch_size):
        real = batch["image"].to(device)
        driving = batch["landmarks"].numpy()
        wanted = driving if given is None else given[batch["index"].numpy()]
        wanted = wanted if targets is None else targets(wanted)
        n = len(real)
        if by_frames:
            generated = animate(source.expand(n, -1, -1, -1), real,
                                None if first is None else first.expand(n, -1, -1, -1))
        else:
            generated = animate(source.expand(n, -1, -1, -1), source_lm.expand(n, -1, -1),
                                torch.from_numpy(np.asarray(wanted, dtype=np.float32)).to(device))
        if tuple(generated.shape) != tuple(real.shape):
            raise ValueError(f"the animator returned frames of shape {tuple(generated.shape)}, "
                             f"expected {tuple(real.shape)} like the driving frames")
        yield real, generated, driving, wanted


class _Features:
    """Inception features of all generated and all real frames of a protocol, for one FID."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.generated: list[np.ndarray] = []
        self.real: list[np.ndarray] = []

    def add(self, generated: torch.Tensor, real: torch.Tensor, device: torch.device) -> None:
        if self.enabled:
            self.generated.append(metrics.inception_features(generated, device))
            self.real.append(metrics.inception_features(real, device))

    def fid(self, notes: dict[str, str]) -> float:
        if not self.enabled:
            return float("nan")
        count = sum(len(f) for f in self.generated)
        if count < 2:
            notes["fid"] = f"FID needs at least 2 frames, the protocol generated {count}"
            return float("nan")
        if count < metrics.FID_DIMS:
            notes["fid"] = (f"over {count} generated and {count} real frames, fewer than the {metrics.FID_DIMS} "
                            "feature dimensions: biased upwards, compare only sets of the same size")
        return metrics.fid(np.concatenate(self.generated), np.concatenate(self.real))


def _network_notes(device: torch.device, lpips: bool) -> dict[str, str]:
    """Build the networks of FID (and LPIPS if ``lpips``); return {metric: reason} for those unavailable."""
    networks = {"fid": metrics.inception_network}
    if lpips:
        networks["lpips"] = metrics.lpips_network
    notes = {}
    for name, build in networks.items():
        try:
            build(device)
        except metrics.MetricUnavailable as err:
            notes[name] = str(err)
    return notes


def _capped(item: EvalVideo, config: EvalConfig) -> EvalVideo:
    """``item`` with every ``config.frame_stride``-th driving frame, at most ``config.max_test_frames`` of them
    (0: all)."""
    if config.frame_stride < 1:
        raise ValueError(f"eval.frame_stride must be at least 1, got {config.frame_stride}")
    indices = item.driving_indices[:: config.frame_stride]
    if config.max_test_frames:
        indices = indices[: config.max_test_frames]
    return item if indices == item.driving_indices else dataclasses.replace(item, driving_indices=indices)


def _detect(detector: LandmarkDetector, frames: torch.Tensor) -> np.ndarray:
    found = detector(frames)
    found = found.detach().cpu().numpy() if isinstance(found, torch.Tensor) else np.asarray(found)
    expected = (len(frames), lm.NUM_LANDMARKS, 2)
    if found.shape != expected:
        raise ValueError(f"the landmark detector returned shape {found.shape}, expected {expected}")
    return found


def _frame_means(values: dict[str, list[np.ndarray]], names: tuple[str, ...]) -> dict[str, float]:
    """The mean over a video's frames of each metric; NaN for metrics not computed."""
    return {name: float(np.concatenate(values[name]).mean()) if values.get(name) else float("nan") for name in names}


def _ms_ssim_note(scales: int, height: int, width: int) -> str:
    kept = ", ".join(f"{w:.4f}" for w in metrics.ms_ssim_weights(scales))
    need = metrics.SSIM_WINDOW * 2 ** (len(metrics.MS_SSIM_WEIGHTS) - 1)
    return (f"{scales} of 5 scales with weights renormalised to ({kept}): {height}x{width} px frames are too small "
            f"for 5 scales of 11x11 windows (needs >= {need} px); not comparable with 5-scale MS-SSIM")


def _evaluation(protocol: str, rows: list[dict], columns: list[str], metric_names: tuple[str, ...],
                features: _Features, notes: dict[str, str], count_name: str) -> Evaluation:
    """Assemble the per-item table and its mean row, both carrying the protocol and the notes."""
    table = pd.DataFrame(rows, columns=columns)
    mean = table[list(metric_names)].astype(float).mean()
    mean["fid"] = features.fid(notes)
    mean[count_name] = len(table)
    mean["frames"] = int(table["frames"].sum())
    mean.name = "mean"
    for frame in (table, mean):
        frame.attrs["protocol"] = protocol
        frame.attrs["notes"] = dict(notes)
    return Evaluation(table, mean)
