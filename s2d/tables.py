"""The paper's tables as ``make reproduce`` computes them, beside the paper's own numbers.

Each table function trains (or reuses, :mod:`s2d.pipeline`) the models it needs,
evaluates every seed by the table's protocol (:mod:`s2d.evaluate`, cached), and
returns a :class:`TableResult`: the per-seed rows, their summary (mean and standard
deviation over seeds), the paper's rows beside ours, and the verdict on each of the
paper's claims the table can test (:mod:`s2d.claims`). Its ``attrs`` say the dataset,
resolution, profile, seeds, git commit, training record, and why a metric is n/a.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from s2d import claims, evaluate, paper, ratings
from s2d.baselines import animator
from s2d.checkpoint import load_model
from s2d.config import Config
from s2d.data import synth
from s2d.io import atomic_path, write_json
from s2d.pipeline import (
    ABLATIONS,
    BASELINES,
    DETECTOR,
    RUNS_ROOT,
    TABLE5_DETECTORS,
    WITH_MOTION_CUE,
    ModelRun,
    ablation_run,
    ablation_seeds,
    baseline_run,
    baseline_seeds,
    code_version,
    data_for,
    detector_identity,
    detector_model_run,
    exact_landmarks_run,
    evaluated,
    main_run,
    profile_detector,
    real_data,
    trained_run,
)
from s2d.runtime import git_commit, pick_device

OURS = "S2D (ours)"
EXACT = "S2D, exact landmarks (beyond the paper)"  # the oracle: trained on and driven by SynthTalk's annotations
COPY_BASELINE = "copy the source frame (baseline)"
# the keypoint baselines, trained here on the same data, losses and schedule: our row name -> the paper's
BASELINE_ROWS = {"first-order": "First-order motion model (same data)", "monkey-net": "Monkey-Net, zeroth order (same data)"}
# columns the paper does not have, computable on SynthTalk: AKD against the exact landmarks, the
# cross-identity ground truth, and (Table 4) the gaze error the local branches should lower
BEYOND_PAPER = {1: ("akd_gt",), 2: ("akd", "l1_gt", "psnr_gt", "ssim_gt"), 3: ("akd", "akd_gt"),
                4: ("akd", "akd_gt", "gaze_error")}
RATINGS = Path("results/ratings.csv")
ITEM_KEYS = ("video", "source_frame", "source_video", "driving_video", "mode")  # what names a test item
BACKBONES = {"random": "VGG-19 with fixed-seed random weights (the same on every machine, offline too)",
             "imagenet": "VGG-19 with ImageNet weights"}


@dataclass
class TableResult:
    """One table of ours: per-seed rows (``method, seed, <metrics>``), the per-video rows they average
    (``method, seed, item, <metrics>``: what the verdicts pair) and what describes them."""

    number: int
    per_seed: pd.DataFrame
    columns: list[str]
    attrs: dict = field(default_factory=dict)
    per_video: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def data(self) -> Path:
        """The dataset the table was computed on."""
        return Path(self.attrs["data"])

    def methods(self) -> list[str]:
        """The rows that were trained (every row but the copy baseline), in the table's order."""
        return list(self.attrs.get("runs", {}))

    def checkpoints(self, method: str) -> list[Path]:
        """The checkpoints of ``method``'s row, one per seed, in seed order."""
        if method not in self.attrs.get("runs", {}):
            raise KeyError(f"{method!r} is not a trained row of Table {self.number}; rows: {', '.join(self.methods())}")
        return [Path(self.attrs["training"][name]["checkpoint"]) for name in self.attrs["runs"][method]]

    def model(self, method: str, device: torch.device | str = "cpu"):
        """The trained model of ``method``'s first seed, in eval mode (what the page's figures show)."""
        return load_model(self.checkpoints(method)[0], device)[0]

    def summary(self) -> pd.DataFrame:
        """Mean over seeds per method, ``<metric>_std`` (sample standard deviation, NaN for one seed), ``seeds``."""
        grouped = self.per_seed.groupby("method", sort=False)
        mean = grouped[self.columns].mean()
        std = grouped[self.columns].std(ddof=1).add_suffix("_std")
        table = pd.concat([mean, std], axis=1)
        table["seeds"] = grouped["seed"].nunique()
        return table

    def side_by_side(self) -> pd.DataFrame:
        """The paper's rows and ours, "mean ± std" where several seeds ran, "n/a" where not computed."""
        theirs = paper.table(self.number).reindex(columns=self.columns)
        theirs.index = [f"{name} [paper, {paper.TABLES[self.number].dataset}, 256 px]" for name in theirs.index]
        theirs = theirs.apply(lambda col: col.map(_number))
        summary, a = self.summary(), self.attrs
        mine = pd.DataFrame({c: [_mean_std(summary.loc[m, c], summary.loc[m, f"{c}_std"]) for m in summary.index]
                             for c in self.columns}, index=summary.index)
        trained = a.get("trained_with", {})
        mine.index = [f"{m} [{a['dataset']}, {a['resolution']} px, {a['profile']}, "
                      f"{trained[m] + ', ' if m in trained else ''}{_seeds_label(int(summary.loc[m, 'seeds']))}]"
                      for m in summary.index]
        return pd.concat([theirs, mine])

    def verdicts(self) -> pd.DataFrame:
        """Each of the paper's claims this table can test (:mod:`s2d.claims`): reproduced, contradicted, or cannot
        tell, from the paired differences over the test videos and every seed."""
        methods = set(self.per_video.get("method", ()))
        return claims.verdicts(self.number, self.per_video, self.attrs.get("rows_for_claims", {}),
                               self.attrs.get("notes", {}), COPY_BASELINE if COPY_BASELINE in methods else None,
                               self.attrs.get("unlearned", {}))

    def save(self, results_dir: Path) -> Path:
        """Write ``table<N>.csv`` (summary), ``table<N>_seeds.csv``, ``table<N>_videos.csv``, ``table<N>_claims.csv``
        and ``table<N>.json``."""
        results_dir.mkdir(parents=True, exist_ok=True)
        stem = results_dir / f"table{self.number}"
        for suffix, frame, index in (("", self.summary(), True), ("_seeds", self.per_seed, False),
                                     ("_videos", self.per_video, False), ("_claims", self.verdicts(), False)):
            with atomic_path(stem.with_name(f"{stem.name}{suffix}.csv")) as tmp:
                frame.to_csv(tmp, float_format="%.4f", index=index)
        write_json(stem.with_suffix(".json"), self.attrs)
        return stem.with_suffix(".csv")


def _number(value: float) -> object:
    return "n/a" if pd.isna(value) else round(float(value), 4)


def _mean_std(mean: float, std: float) -> str:
    if pd.isna(mean):
        return "n/a"
    return f"{mean:.4f}" if pd.isna(std) else f"{mean:.4f} ± {std:.4f}"


def trained_with(config: Config) -> str:
    """What trained a model, for its row label: steps, the perceptual loss's VGG-19 weights, the GAN term."""
    loss = config.loss
    vgg = "ImageNet" if loss.perceptual_backbone == "imagenet" else "random-weight"
    gan = f"GAN weight {loss.gan:g}" if loss.gan else "no GAN"
    return f"{config.train.steps} steps, {vgg} VGG-19 perceptual loss, {gan}"


def _driven_by(run: ModelRun) -> str:
    """What landmarks drive a model at test time, where it is not the model's own keypoints."""
    if run.config.model.architecture != "s2d":
        return ""  # the keypoint baselines find their own keypoints
    return (f", trained on and driven by {run.detector}'s landmarks" if run.detector
            else ", trained on and driven by SynthTalk's exact landmarks")


def _seeds_label(n: int) -> str:
    return "no training" if n == 0 else f"{n} seed" + ("" if n == 1 else "s")


def _per_video(rows: pd.DataFrame, method: str, seed: int | None, columns) -> pd.DataFrame:
    """An evaluation's per-video rows as ``method, seed, item, <columns>`` (``item`` names the test video or pair)."""
    keys = [c for c in ITEM_KEYS if c in rows.columns]
    item = rows[keys].astype(str).agg("/".join, axis=1)
    values = rows.reindex(columns=list(columns)).astype(float)
    return pd.concat([pd.DataFrame({"method": method, "seed": seed, "item": item}), values], axis=1)


def _value(mean: pd.Series, column: str) -> float:
    value = mean.get(column)
    return np.nan if value is None else float(value)


class _MemoisedDetector:
    """A detector that remembers its answer for each batch of frames it has seen: every model of a table
    is compared with the same real driving frames, found once."""

    def __init__(self, detector):
        self.detector, self.seen = detector, {}

    def __call__(self, frames: torch.Tensor) -> np.ndarray:
        key = hashlib.sha1(frames.detach().cpu().numpy().tobytes()).hexdigest()
        if key not in self.seen:
            found = self.detector(frames)
            self.seen[key] = found.detach().cpu().numpy() if isinstance(found, torch.Tensor) else np.asarray(found)
        return self.seen[key]


@dataclass
class _TableEvaluator:
    """What every evaluation of a table shares: the data, the device and the AKD detector."""

    config: Config
    data: Path  # the dataset the table is computed on
    data_root: Path  # the SynthTalk folder of every variant
    runs_root: Path
    progress: bool

    def __post_init__(self) -> None:
        self.device = pick_device(self.config.device)
        detector, checkpoint = profile_detector(self.config, DETECTOR, self.data_root, self.runs_root,
                                                self.progress)
        self.detector = _MemoisedDetector(detector)
        self.detector_id = detector_identity(DETECTOR, checkpoint)

    def protocol(self, name: str, animate, landmarks: Path | None = None) -> evaluate.Evaluation:
        """Run protocol ``name``, the animator driven by the detected ``landmarks`` if given (else the annotations)."""
        c = self.config
        common = dict(config=c.eval, detector=self.detector, landmarks=landmarks, device=self.device,
                      progress=self.progress)
        if name == "same_identity":
            return evaluate.same_identity(self.data, animate, **common)
        if name == "faceforensics":
            return evaluate.faceforensics(self.data, animate, seed=c.seed, **common)
        if name == "cross_identity":
            return evaluate.cross_identity(self.data, animate, mode="relative", **common)
        raise ValueError(f"unknown protocol {name!r}")

    def __call__(self, run: ModelRun | None, protocol: str) -> tuple[evaluate.Evaluation, dict]:
        """``protocol``'s evaluation of a trained run (or of the copy baseline when ``run`` is None), cached, and the
        run's training record."""
        settings = asdict(self.config.eval) | {"data": str(self.data), "akd_detector": self.detector_id}
        if run is None:
            cache = self.runs_root / self.config.profile / "copy-baseline" / "checkpoint.pt"
            return evaluated(cache, protocol, lambda: self.protocol(protocol, evaluate.copy_source), settings,
                             "copy"), {}
        ckpt, landmarks, _ = trained_run(run, self.data_root, self.runs_root, self.progress)
        if landmarks is not None:
            settings |= {"landmarks": landmarks.name}
        training = ckpt.parent / "train.json"
        record = json.loads(training.read_text()) if training.is_file() else {}
        result = evaluated(ckpt, protocol,
                           lambda: self.protocol(protocol, animator(load_model(ckpt, self.device)[0]), landmarks),
                           settings)
        return result, record | {"checkpoint": str(ckpt)}


def _table(number: int, runs: dict[str, list[ModelRun]], protocol: str, config: Config, data_root: Path,
           runs_root: Path, progress: bool) -> TableResult:
    columns = [*paper.TABLES[number].columns, *BEYOND_PAPER.get(number, ())]
    data = data_for(next(iter(runs.values()))[0], data_root, progress)
    evaluator = _TableEvaluator(config, data, data_root, runs_root, progress)
    rows, videos, notes, training = [], [], {}, {}
    methods = [*((name, run) for name, seeded in runs.items() for run in seeded), (COPY_BASELINE, None)]
    for method, run in methods:
        result, record = evaluator(run, protocol)
        mean, seed = result.mean, None if run is None else run.config.seed
        rows.append({"method": method, "seed": seed, **{c: _value(mean, c) for c in columns}})
        videos.append(_per_video(result.rows, method, seed, columns))
        notes.update({k: v for k, v in mean.attrs.get("notes", {}).items() if k in columns})
        if run is not None:
            training[run.name] = record
    first = next(iter(runs.values()))[0]
    attrs = {
        "table": number, "protocol": protocol, "dataset": first.variant, "data": str(data),
        "resolution": config.data.resolution, "profile": config.profile,
        "seeds": sorted({r.config.seed for seeded in runs.values() for r in seeded}),
        "git_commit": git_commit(), "training": training, "notes": notes,
        "beyond_paper": list(BEYOND_PAPER.get(number, ())), "akd_detector": evaluator.detector_id,
        "runs": {method: [run.name for run in seeded] for method, seeded in runs.items()},
        "trained_with": {method: trained_with(seeded[0].config) + _driven_by(seeded[0])
                         for method, seeded in runs.items()},
    }
    return TableResult(number, pd.DataFrame(rows), columns, attrs, pd.concat(videos, ignore_index=True))


def reconstruction_table(number: int, config: Config, data_root: Path = Path("data/synthtalk"),
                         runs_root: Path = RUNS_ROOT, progress: bool = True) -> TableResult:
    """Table 1 (same identity, synth-vox, every seed of the profile) or Table 3 (FaceForensics protocol, synth-ff)."""
    if number == 1:
        runs = _with_baselines(_ours_and_oracle(config), config, "synth-vox")
        result = _table(1, runs, "same_identity", config, data_root, runs_root, progress)
    elif number == 3:
        runs = _with_baselines({OURS: [main_run(config, "synth-ff", config.seed)]}, config, "synth-ff")
        result = _table(3, runs, "faceforensics", config, data_root, runs_root, progress)
    else:
        raise ValueError(f"reconstruction tables are 1 and 3, not {number}")
    result.attrs["rows_for_claims"] = _claim_rows()
    return result


def _ours_and_oracle(config: Config) -> dict[str, list[ModelRun]]:
    """S2D on our detector's landmarks for every seed (the paper's row), and on the exact ones for the first."""
    return {OURS: [main_run(config, "synth-vox", s) for s in config.seeds],
            EXACT: [exact_landmarks_run(config, config.seed)]}


def _with_baselines(runs: dict[str, list[ModelRun]], config: Config, variant: str) -> dict[str, list[ModelRun]]:
    """``runs`` and the keypoint baselines the paper's table has, with their seeds
    (:func:`s2d.pipeline.baseline_seeds`; Table 3: First-order only, the profile's seed)."""
    if variant == "synth-vox":
        return runs | {BASELINE_ROWS[a]: [baseline_run(config, a, variant, s) for s in baseline_seeds(config, a)]
                       for a in BASELINES}
    return runs | {BASELINE_ROWS["first-order"]: [baseline_run(config, "first-order", variant, config.seed)]}


def _claim_rows() -> dict[str, str]:
    return {"Ours": OURS} | {BASELINES[a]: BASELINE_ROWS[a] for a in BASELINES}


def cross_identity_table(config: Config, data_root: Path = Path("data/synthtalk"), runs_root: Path = RUNS_ROOT,
                         progress: bool = True, ratings_file: Path = RATINGS) -> TableResult:
    """Table 2: the Table 1 models drive held-out faces of other people (relative motion, pose-matched pairs).

    FID as the paper; the user-preference share from the blind rating widget's
    ``ratings_file`` ("no ratings yet" until someone rates); and, beyond the paper,
    L1 / PSNR / SSIM against SynthTalk's rendering of the source person performing
    the driving motion.
    """
    runs = _with_baselines(_ours_and_oracle(config), config, "synth-vox")
    result = _table(2, runs, "cross_identity", config, data_root, runs_root, progress)
    methods = list(dict.fromkeys(result.per_seed["method"]))
    shares, note = ratings.preference_column(ratings_file, 2, methods)
    result.per_seed["user_preference"] = result.per_seed["method"].map(shares)
    result.attrs["notes"]["user_preference"] = note
    result.attrs["rows_for_claims"] = _claim_rows()
    return result


def ablation_table(config: Config, data_root: Path = Path("data/synthtalk"), runs_root: Path = RUNS_ROOT,
                   progress: bool = True) -> TableResult:
    """Table 4: each setting of :data:`s2d.pipeline.ABLATIONS` for :func:`s2d.pipeline.ablation_seeds` (the Table 1
    model, which one setting is, for every seed Table 1 trained) and the copy baseline, same-identity protocol on
    synth-vox."""
    runs = {setting: [ablation_run(config, setting, s) for s in ablation_seeds(config, setting)]
            for setting in ABLATIONS}
    result = _table(4, runs, "same_identity", config, data_root, runs_root, progress)
    result.attrs["rows_for_claims"] = {name: name for name in ABLATIONS if name in paper.TABLES[4].rows}
    result.attrs["rows_for_claims"]["Ours (Table 1)"] = WITH_MOTION_CUE
    return result


def learning_curves(result: TableResult, config: Config, data_root: Path = Path("data/synthtalk"),
                    runs_root: Path = RUNS_ROOT, progress: bool = True) -> pd.DataFrame:
    """``method, step, l1, akd, frames``: the learning curve (:mod:`s2d.learning_curves`) of each trained method
    of ``result``, from the run of its first seed, driven as in the table; and the copy baseline's level on the
    same frames (at the first and last step). Every point is evaluated once and cached like the table's."""
    from s2d import learning_curves as lc

    evaluator = _TableEvaluator(config, result.data, data_root, runs_root, progress)
    settings = asdict(lc.curve_config(config.eval)) | {"data": str(result.data), "videos": lc.CURVE_VIDEOS,
                                                        "akd_detector": evaluator.detector_id}

    def point(animate, landmarks: Path | None) -> evaluate.Evaluation:
        return lc.curve_point(evaluator.data, animate, config.eval, evaluator.detector, landmarks, evaluator.device)

    frames = []
    for method in result.methods():
        checkpoint = result.checkpoints(method)[0]
        record = result.attrs["training"][result.attrs["runs"][method][0]]
        found = None if record.get("landmarks", "annotations") == "annotations" else Path(record["landmarks"])
        scored = lambda snapshot, found=found: evaluated(
            snapshot, "curve", lambda: point(animator(load_model(snapshot, evaluator.device)[0]), found),
            settings | {"landmarks": None if found is None else found.name})
        frames.append(lc.learning_curve(checkpoint, scored).assign(method=method))
    curves = pd.concat(frames, ignore_index=True)
    cache = runs_root / config.profile / "copy-baseline" / "checkpoint.pt"
    copied = evaluated(cache, "curve", lambda: point(evaluate.copy_source, None), settings, "copy").mean
    level = pd.DataFrame({"method": COPY_BASELINE, "step": [curves["step"].min(), curves["step"].max()],
                          **{c: float(copied[c]) for c in lc.CURVE_COLUMNS}, "frames": int(copied["frames"])})
    return pd.concat([curves, level], ignore_index=True)[["method", "step", *lc.CURVE_COLUMNS, "frames"]]


def compute_comparison(result: TableResult) -> pd.DataFrame:
    """Each trained method of a table side by side: parameters, forward GFLOPs per generated frame
    (:func:`s2d.bench.model_cost`), training steps and batch, and the measured training time per model."""
    from s2d.bench import model_cost

    rows = {}
    for method, names in result.attrs.get("runs", {}).items():
        records = [result.attrs["training"][name] for name in names if name in result.attrs["training"]]
        if not records:
            continue
        architecture = records[0].get("architecture", "s2d")
        cost = model_cost(result.attrs["profile"], architecture)
        seconds = [r["wall_time_s"] for r in records if "wall_time_s" in r]
        rows[method] = {"architecture": architecture, "parameters": cost["parameters"],
                        "gflops_per_frame": round(cost["gflops_per_frame"], 3), "training_steps": records[0]["steps"],
                        "models": len(records),
                        "training_s_per_model": round(float(np.mean(seconds)), 1) if seconds else np.nan}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("method")


def describe(result: TableResult) -> pd.DataFrame:
    """What made a table: data, resolution, profile, seeds, commit, training (steps, time, weights), n/a reasons."""
    a = result.attrs
    records = list(a["training"].values())
    seconds = [r["wall_time_s"] for r in records if "wall_time_s" in r]
    facts = {
        "dataset": f"{a['dataset']} ({a['data']})",
        "resolution": f"{a['resolution']} px",
        "profile": a["profile"],
        "seeds": ", ".join(map(str, a["seeds"])),
        "git commit": a["git_commit"],
        "models": f"{len(records)}, {records[0].get('steps', '?')} steps each" if records else "none",
        "training wall time": (f"{sum(seconds):.0f} s in all, {sum(seconds) / len(seconds):.0f} s per model "
                               f"on {records[0].get('device', '?')}") if seconds else "n/a",
    }
    backbones = sorted({r["perceptual_backbone"] for r in records if "perceptual_backbone" in r})
    if backbones:
        facts["perceptual loss weights"] = ", ".join(BACKBONES.get(b, b) for b in backbones)
    starts = sorted({r["start"] for r in records if "start" in r})
    if starts:
        facts["detector start"] = "; ".join(starts)
    facts.update({f"{metric}": reason for metric, reason in a["notes"].items()})
    return pd.DataFrame({"value": facts}).rename_axis("what")


def motion_diagnostics(result: TableResult, config: Config) -> pd.DataFrame:
    """Does each Table 4 model move the face? :mod:`s2d.motion_diagnostics` on every held-out video, for every
    seed the setting was trained on: the mean over videos and seeds, and the number of models.

    Columns: the identity warp's landmark-transfer error (the landmarks' own motion), the global and fused
    maps' errors, the global map's head flow over the landmark displacement, its background flow, the local
    masks on their crops' outer ring and the fused map's jump across the crop borders.
    """
    from s2d import motion_diagnostics as md

    rows = {}
    for setting in result.methods():
        per_model = []
        for checkpoint in result.checkpoints(setting):
            model, _ = load_model(checkpoint)
            per_model.append(md.motion_diagnostics(model, result.data, frame_stride=config.eval.frame_stride).mean())
        rows[setting] = pd.concat(per_model, axis=1).mean(axis=1).to_dict() | {"models": len(per_model)}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("setting")


TABLE5_ROWS = {"dlib": "Dlib", "FAN4": "FAN4", "FAN4+DSNT": "FAN4+DSNT", "FAN4+DSNT+SBR": "FAN4+DSNT+SBR"}
NME_CONVERGED = 0.25  # a detector whose normalised mean error exceeds this has not learned to find the landmarks
TABLE5_MODEL_COLUMNS = ("l1", "fid", "ssim")  # the right half: S2D trained and tested on the detector's landmarks


def detector_table(config: Config, data_root: Path = Path("data/synthtalk"), runs_root: Path = RUNS_ROOT,
                   progress: bool = True, real_root: Path | None = None,
                   ratings_file: Path = RATINGS) -> TableResult:
    """Table 5: each landmark detector's stability, and S2D trained on its landmarks.

    Left half: SMS (Eq. 9) of each detector on the held-out SynthTalk videos; beyond the
    paper, the normalised mean error against SynthTalk's exact landmarks (68 points,
    pupils), the frames without a face, and SMS / NME on the prepared real clips of
    ``real_root`` (default :data:`s2d.pipeline.REAL_ROOT` when ``make data-real`` made it;
    their "truth" is MediaPipe's). Right half (:data:`s2d.pipeline.TABLE5_DETECTORS`): S2D
    trained on the detector's 68 iBUG points with the perceptual loss only, as the paper,
    and tested on the same-identity protocol with the landmarks the detector finds in the
    source and driving frames: L1, FID, SSIM against the real frames. A pretrained
    baseline that cannot run here (FAN4's weights offline) is n/a with the reason.
    """
    from s2d.detector.registry import DETECTORS, DetectorError
    from s2d.detector.stability import detector_stability, stability_mean
    from s2d.weights import WeightsUnavailable

    vox = synth.ensure("synth-vox", config, config.seed, data_root, progress)[0]
    real = real_data() if real_root is None else real_data(real_root)
    evaluator = _TableEvaluator(config, vox, data_root, runs_root, progress)
    rows, videos, notes, training, labels = [], [], {}, {}, {}
    for name in DETECTORS:
        row = {"method": TABLE5_ROWS.get(name, name), "seed": config.seed}
        rows.append(row)
        try:
            detector, checkpoint = profile_detector(config, name, data_root, runs_root, progress)
        except (WeightsUnavailable, DetectorError) as err:  # a pretrained baseline this machine cannot run
            notes[name] = f"{name} cannot run here: {err}"
            continue
        if checkpoint is not None:
            training[name] = json.loads((checkpoint.parent / "train.json").read_text()) | {
                "checkpoint": str(checkpoint)}
        cache = (checkpoint or runs_root / config.profile / "detector-baselines" / name / "none").parent
        for prefix, root in (("", vox), ("real_", real)):
            if root is None:
                continue
            result = evaluated(cache / "checkpoint.pt", f"stability-{prefix or 'synth'}",
                               lambda r=root: _stability(detector_stability, stability_mean, detector, r, progress),
                               {"data": str(root), "split": "test", "code": code_version(("detector",))},
                               None if checkpoint else name)
            for column in ("sms", "nme_68", "nme_pupils", "failed_frames", "sms_truth"):
                row[f"{prefix}{column}"] = _value(result.mean, column)
            if not prefix:
                videos.append(_per_video(result.rows, row["method"], config.seed, ("sms", "nme_68")))
            notes.update({f"{prefix}{k}": v for k, v in result.mean.attrs.get("notes", {}).items()})
        if name in TABLE5_DETECTORS:
            run = detector_model_run(config, name)
            result, record = evaluator(run, "same_identity")
            row.update({column: _value(result.mean, column) for column in TABLE5_MODEL_COLUMNS})
            notes.update({k: v for k, v in result.mean.attrs.get("notes", {}).items() if k in TABLE5_MODEL_COLUMNS})
            videos.append(_per_video(result.rows, row["method"], config.seed, TABLE5_MODEL_COLUMNS))
            training[run.name] = record
            labels[row["method"]] = f"S2D on its landmarks: {trained_with(run.config)}"
    copied, _ = evaluator(None, "same_identity")  # what the models must beat, paired over the same videos
    videos.append(_per_video(copied.rows, COPY_BASELINE, None, TABLE5_MODEL_COLUMNS))
    columns = ["user_study", "sms", "l1", "fid", "ssim", "nme_68", "nme_pupils", "failed_frames", "sms_truth",
               "real_sms", "real_nme_68"]
    unlearned = {r["method"]: f"did not converge: NME {r['nme_68']:.2f} against the exact landmarks"
                 for r in rows if r.get("nme_68", 0) > NME_CONVERGED}
    for method, reason in unlearned.items():
        labels[method] = f"{reason}; {labels[method]}" if method in labels else reason
    table = pd.DataFrame(rows).reindex(columns=["method", "seed", *columns])
    shares, note = ratings.preference_column(ratings_file, 5, list(table["method"]))
    table["user_study"] = table["method"].map(shares)
    untrained = [name for name in DETECTORS if name not in TABLE5_DETECTORS]
    notes.update({"user_study": note,
                  "sms": "Eq. (9) per point in pixels of the 64 px frames, mean over the 68 iBUG points; the paper's "
                         "values (51-115) are on another scale (likely summed over points, at 256 px)",
                  "l1": f"S2D trained on the detector's 68 points, perceptual loss only, tested with the landmarks it "
                        f"finds (same-identity protocol); not trained for {', '.join(untrained)}"})
    if real is None:
        notes["real_sms"] = notes["real_nme_68"] = "no prepared real clips (make data-real)"
    else:
        notes["real_nme_68"] = ("against MediaPipe's landmarks of the real test clip (the real clips' labels), "
                                "not hand labels; our detectors also learn from MediaPipe-labelled real frames")
    attrs = {"table": 5, "protocol": "detector stability; same identity for L1, FID, SSIM", "dataset": "synth-vox",
             "data": str(vox), "resolution": config.data.resolution, "profile": config.profile,
             "seeds": [config.seed], "git_commit": git_commit(), "training": training, "notes": notes,
             "beyond_paper": ["nme_68", "nme_pupils", "failed_frames", "sms_truth", "real_sms", "real_nme_68"],
             "akd_detector": evaluator.detector_id, "trained_with": labels, "unlearned": unlearned,
             "rows_for_claims": {paper_row: paper_row for paper_row in TABLE5_ROWS.values()}}
    return TableResult(5, table, columns, attrs, pd.concat(videos, ignore_index=True))


def _stability(detector_stability, stability_mean, detector, root: Path, progress: bool) -> evaluate.Evaluation:
    rows = detector_stability(detector, root, "test", progress=progress)
    return evaluate.Evaluation(rows, stability_mean(rows))
