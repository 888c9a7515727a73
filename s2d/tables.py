"""The paper's tables as ``make reproduce`` computes them, beside the paper's own numbers.

Each table function trains (or reuses, :mod:`s2d.pipeline`) the models it needs,
evaluates every seed by the table's protocol (:mod:`s2d.evaluate`, cached), and
returns a :class:`TableResult`: the per-seed rows, their summary (mean and standard
deviation over seeds), the paper's rows beside ours, and the verdict on each of the
paper's claims the table can test (:mod:`s2d.claims`). Its ``attrs`` say the dataset,
resolution, profile, seeds, git commit, training record, and why a metric is n/a.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from s2d import claims, evaluate, paper, ratings
from s2d.checkpoint import load_model
from s2d.config import Config
from s2d.data import synth
from s2d.io import atomic_path, write_json
from s2d.pipeline import (
    ABLATIONS,
    RUNS_ROOT,
    WITH_MOTION_CUE,
    ModelRun,
    ablation_run,
    code_version,
    data_for,
    evaluated,
    main_run,
    trained,
)
from s2d.runtime import git_commit, pick_device

OURS = "S2D (ours)"
COPY_BASELINE = "copy the source frame (baseline)"
BEYOND_PAPER = {2: ("l1_gt", "psnr_gt", "ssim_gt")}  # columns the paper does not have, computable on SynthTalk
RATINGS = Path("results/ratings.csv")
BACKBONES = {"random": "VGG-19 with fixed-seed random weights (the same on every machine, offline too)",
             "imagenet": "VGG-19 with ImageNet weights"}


@dataclass
class TableResult:
    """One table of ours: per-seed rows (``method, seed, <metrics>``) and what describes them."""

    number: int
    per_seed: pd.DataFrame
    columns: list[str]
    attrs: dict = field(default_factory=dict)

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
        mine.index = [f"{m} [{a['dataset']}, {a['resolution']} px, {a['profile']}, "
                      f"{_seeds_label(int(summary.loc[m, 'seeds']))}]" for m in summary.index]
        return pd.concat([theirs, mine])

    def verdicts(self) -> pd.DataFrame:
        """Each of the paper's claims this table can test: reproduced, contradicted, or cannot tell."""
        return claims.verdicts(self.number, self.summary(), self.attrs.get("rows_for_claims", {}),
                               self.attrs.get("notes", {}))

    def save(self, results_dir: Path) -> Path:
        """Write ``table<N>.csv`` (summary), ``table<N>_seeds.csv``, ``table<N>_claims.csv`` and ``table<N>.json``."""
        results_dir.mkdir(parents=True, exist_ok=True)
        stem = results_dir / f"table{self.number}"
        for suffix, frame, index in (("", self.summary(), True), ("_seeds", self.per_seed, False),
                                     ("_claims", self.verdicts(), False)):
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


def _seeds_label(n: int) -> str:
    return "no training" if n == 0 else f"{n} seed" + ("" if n == 1 else "s")


def _value(mean: pd.Series, column: str) -> float:
    value = mean.get(column)
    return np.nan if value is None else float(value)


def _evaluation(run: ModelRun | None, protocol: str, config: Config, data: Path, runs_root: Path,
                progress: bool) -> tuple[pd.Series, dict]:
    """The mean row of ``protocol`` for a trained run (or the copy baseline when ``run`` is None), cached."""
    device = pick_device(config.device)
    settings = asdict(config.eval) | {"data": str(data)}
    functions = {
        "same_identity": lambda animate: evaluate.same_identity(data, animate, config=config.eval, device=device,
                                                                progress=progress),
        "faceforensics": lambda animate: evaluate.faceforensics(data, animate, seed=config.seed, config=config.eval,
                                                                device=device, progress=progress),
        "cross_identity": lambda animate: evaluate.cross_identity(data, animate, mode="relative", config=config.eval,
                                                                  device=device, progress=progress),
    }
    if run is None:
        cache = runs_root / config.profile / "copy-baseline" / "checkpoint.pt"
        result = evaluated(cache, protocol, lambda: functions[protocol](evaluate.copy_source), settings, "copy")
        return result.mean, {}
    ckpt, _ = trained(run.config, data, run.name, runs_root, progress)
    training = ckpt.parent / "train.json"
    record = json.loads(training.read_text()) if training.is_file() else {}
    result = evaluated(ckpt, protocol, lambda: functions[protocol](load_model(ckpt, device)[0].animate), settings)
    return result.mean, record | {"checkpoint": str(ckpt)}


def _table(number: int, runs: dict[str, list[ModelRun]], protocol: str, config: Config, data_root: Path,
           runs_root: Path, progress: bool, copy_baseline: bool = True) -> TableResult:
    columns = [*paper.TABLES[number].columns, *BEYOND_PAPER.get(number, ())]
    data = data_for(next(iter(runs.values()))[0], data_root, progress)
    rows, notes, training = [], {}, {}
    methods = [(name, run) for name, seeded in runs.items() for run in seeded]
    if copy_baseline:
        methods.append((COPY_BASELINE, None))
    for method, run in methods:
        mean, record = _evaluation(run, protocol, config, data, runs_root, progress)
        rows.append({"method": method, "seed": None if run is None else run.config.seed,
                     **{c: _value(mean, c) for c in columns}})
        notes.update({k: v for k, v in mean.attrs.get("notes", {}).items() if k in columns})
        if run is not None:
            training[run.name] = record
    first = next(iter(runs.values()))[0]
    attrs = {
        "table": number, "protocol": protocol, "dataset": first.variant, "data": str(data),
        "resolution": config.data.resolution, "profile": config.profile,
        "seeds": sorted({r.config.seed for seeded in runs.values() for r in seeded}),
        "git_commit": git_commit(), "training": training, "notes": notes,
        "beyond_paper": list(BEYOND_PAPER.get(number, ())),
    }
    return TableResult(number, pd.DataFrame(rows), columns, attrs)


def reconstruction_table(number: int, config: Config, data_root: Path = Path("data/synthtalk"),
                         runs_root: Path = RUNS_ROOT, progress: bool = True) -> TableResult:
    """Table 1 (same identity, synth-vox, every seed of the profile) or Table 3 (FaceForensics protocol, synth-ff)."""
    if number == 1:
        runs = {OURS: [main_run(config, "synth-vox", s) for s in config.seeds]}
        result = _table(1, runs, "same_identity", config, data_root, runs_root, progress)
    elif number == 3:
        runs = {OURS: [main_run(config, "synth-ff", config.seed)]}
        result = _table(3, runs, "faceforensics", config, data_root, runs_root, progress)
    else:
        raise ValueError(f"reconstruction tables are 1 and 3, not {number}")
    result.attrs["rows_for_claims"] = {"Ours": OURS}
    return result


def cross_identity_table(config: Config, data_root: Path = Path("data/synthtalk"), runs_root: Path = RUNS_ROOT,
                         progress: bool = True, ratings_file: Path = RATINGS) -> TableResult:
    """Table 2: the Table 1 models drive held-out faces of other people (relative motion, pose-matched pairs).

    FID as the paper; the user-preference share from the blind rating widget's
    ``ratings_file`` ("no ratings yet" until someone rates); and, beyond the paper,
    L1 / PSNR / SSIM against SynthTalk's rendering of the source person performing
    the driving motion.
    """
    runs = {OURS: [main_run(config, "synth-vox", s) for s in config.seeds]}
    result = _table(2, runs, "cross_identity", config, data_root, runs_root, progress)
    methods = list(dict.fromkeys(result.per_seed["method"]))
    shares, note = ratings.preference_column(ratings_file, 2, methods)
    result.per_seed["user_preference"] = result.per_seed["method"].map(shares)
    result.attrs["notes"]["user_preference"] = note
    result.attrs["rows_for_claims"] = {"Ours": OURS}
    return result


def ablation_table(config: Config, data_root: Path = Path("data/synthtalk"), runs_root: Path = RUNS_ROOT,
                   progress: bool = True) -> TableResult:
    """Table 4: each setting of :data:`s2d.pipeline.ABLATIONS` for every seed, same-identity protocol on synth-vox."""
    runs = {setting: [ablation_run(config, setting, s) for s in config.seeds] for setting in ABLATIONS}
    result = _table(4, runs, "same_identity", config, data_root, runs_root, progress, copy_baseline=False)
    result.attrs["rows_for_claims"] = {name: name for name in ABLATIONS if name in paper.TABLES[4].rows}
    result.attrs["rows_for_claims"]["Ours (Table 1)"] = WITH_MOTION_CUE
    return result


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


@torch.inference_mode()
def motion_diagnostics(result: TableResult, config: Config, seed: int, videos: int = 4) -> pd.DataFrame:
    """How far each Table 4 model's motion maps move pixels, against how far the landmarks move.

    Over the first ``videos`` held-out videos (same-identity protocol: the first frame
    driven by every frame): the mean displacement in pixels of the global branch's map
    f_G, of the fused map F (Eq. 3) and of the landmarks themselves, for each setting's
    ``seed`` model. A global map that moves far less than the landmarks has not learned
    the head motion.
    """
    from s2d.data import format as fmt
    from s2d.data.loaders import VideoFrames
    from s2d.models.dense_motion import identity_grid

    root, rows = result.attrs["data"], {}
    for setting in ABLATIONS:
        model, _ = load_model(result.attrs["training"][ablation_run(config, setting, seed).name]["checkpoint"])
        moved: dict[str, list[float]] = {"global map f_G (px)": [], "fused map F (px)": [], "landmarks (px)": []}
        for video in fmt.video_ids(root, "test")[:videos]:
            frames = VideoFrames(root, "test", video)
            source, n = frames[0], len(frames)
            driving = torch.as_tensor(frames.annotations["landmarks"])
            out = model.dense_motion(source["image"][None].expand(n, -1, -1, -1),
                                     source["landmarks"][None].expand(n, -1, -1), driving)
            size = source["image"].shape[-1]
            still = identity_grid(n, size, size)
            moved["global map f_G (px)"].append(((out.global_grid - still) * size / 2).norm(dim=-1).mean().item())
            moved["fused map F (px)"].append(((out.grid - still) * size / 2).norm(dim=-1).mean().item())
            moved["landmarks (px)"].append((driving - source["landmarks"]).norm(dim=-1).mean().item())
        rows[setting] = {k: float(np.mean(v)) for k, v in moved.items()}
    return pd.DataFrame.from_dict(rows, orient="index").round(3)


TABLE5_ROWS = {"dlib": "Dlib", "FAN4": "FAN4", "FAN4+DSNT": "FAN4+DSNT", "FAN4+DSNT+SBR": "FAN4+DSNT+SBR"}
NOT_BUILT = "S2D trained on each detector's landmarks is not built yet"


def detector_table(config: Config, data_root: Path = Path("data/synthtalk"), runs_root: Path = RUNS_ROOT,
                   progress: bool = True, real_root: Path = Path("data/real"),
                   ratings_file: Path = RATINGS) -> TableResult:
    """Table 5, the detectors' half: SMS (Eq. 9) of each detector on the held-out SynthTalk videos.

    Beyond the paper: the normalised mean error against SynthTalk's exact landmarks
    (68 points, pupils), the frames without a face, and SMS on the prepared real clips
    of ``real_root`` (``make data-real``) when they exist. Every detector of
    :data:`s2d.detector.registry.DETECTORS` has a row; one that cannot run here (the
    pretrained FAN4 offline) is n/a with the reason. The right half (S2D trained on
    each detector's landmarks) is n/a until it is built.
    """
    from s2d.detector.registry import DETECTORS, TRAINED, get_detector
    from s2d.detector.stability import detector_stability, stability_mean
    from s2d.pipeline import detector_runs, trained_detector
    from s2d.weights import WeightsUnavailable

    runs = {run.config.variant: run for run in detector_runs(config)}
    vox = synth.ensure("synth-vox", config, config.seed, data_root, progress)[0]
    real = real_root if (real_root / "meta.json").is_file() or (real_root / "test").is_dir() else None
    rows, notes, training = [], {}, {}
    for name in DETECTORS:
        row = {"method": TABLE5_ROWS.get(name, name), "seed": config.seed}
        try:
            checkpoint = None
            if name in TRAINED:
                checkpoint, _ = trained_detector(runs[name], vox, runs_root, config.profile, progress)
                training[runs[name].name] = json.loads((checkpoint.parent / "train.json").read_text()) | {
                    "checkpoint": str(checkpoint)}
            detector = get_detector(name, checkpoint)
        except (WeightsUnavailable, ImportError, RuntimeError, ValueError) as err:
            notes[f"{name}"] = f"{name} cannot run here: {err}"
            rows.append(row)
            continue
        for prefix, root in (("", vox), ("real_", real)):
            if root is None:
                continue
            cache = (checkpoint or runs_root / config.profile / "detector-baselines" / name / "none").parent
            identity = None if checkpoint else name
            result = evaluated(cache / "checkpoint.pt", f"stability-{prefix or 'synth'}",
                               lambda r=root: _stability(detector_stability, stability_mean, detector, r, progress),
                               {"data": str(root), "split": "test", "code": code_version(("detector",))}, identity)
            for column in ("sms", "nme_68", "nme_pupils", "failed_frames", "sms_truth"):
                row[f"{prefix}{column}"] = _value(result.mean, column)
            notes.update({f"{prefix}{k}": v for k, v in result.mean.attrs.get("notes", {}).items()})
        rows.append(row)
    columns = ["user_study", "sms", "l1", "fid", "ssim", "nme_68", "nme_pupils", "failed_frames", "sms_truth",
               "real_sms", "real_nme_68"]
    table = pd.DataFrame(rows).reindex(columns=["method", "seed", *columns])
    shares, note = ratings.preference_column(ratings_file, 5, list(table["method"]))
    table["user_study"] = table["method"].map(shares)
    notes.update({"user_study": note, "l1": NOT_BUILT, "fid": NOT_BUILT, "ssim": NOT_BUILT,
                  "sms": "Eq. (9) per point in pixels of the 64 px frames, mean over the 68 iBUG points; the paper's "
                         "values (51-115) are on another scale (likely summed over points, at 256 px)"})
    if real is None:
        notes["real_sms"] = notes["real_nme_68"] = f"no prepared real clips at {real_root} (make data-real)"
    attrs = {"table": 5, "protocol": "detector stability", "dataset": "synth-vox", "data": str(vox),
             "resolution": config.data.resolution, "profile": config.profile, "seeds": [config.seed],
             "git_commit": git_commit(), "training": training, "notes": notes,
             "beyond_paper": ["nme_68", "nme_pupils", "failed_frames", "sms_truth", "real_sms", "real_nme_68"],
             "rows_for_claims": {paper_row: paper_row for paper_row in TABLE5_ROWS.values()}}
    return TableResult(5, table, columns, attrs)


def _stability(detector_stability, stability_mean, detector, root: Path, progress: bool) -> evaluate.Evaluation:
    rows = detector_stability(detector, root, "test", progress=progress)
    return evaluate.Evaluation(rows, stability_mean(rows))
