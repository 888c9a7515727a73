"""A table of ours as the book shows it: :class:`TableResult` and what describes it.

A :class:`TableResult` holds the per-seed rows, the per-video rows they average (what the
verdicts pair), their summary (mean and standard deviation over seeds), the paper's rows
beside ours, and the verdict on each of the paper's claims the table can test
(:mod:`s2d.repro.claims`). Its ``attrs`` say the dataset, resolution, profile, seeds, git
commit, training record, and why a metric is n/a. :func:`describe` and
:func:`compute_comparison` say what made a table and what each method cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from s2d.checkpoint import load_model
from s2d.io import atomic_path, write_json
from s2d.repro import claims, paper

OURS = "S2D (ours)"
EXACT = "S2D, exact landmarks (beyond the paper)"  # the oracle: trained on and driven by SynthTalk's annotations
COPY_BASELINE = "copy the source frame (baseline)"
# the keypoint baselines, trained here on the same data, losses and schedule: our row name -> the paper's
BASELINE_ROWS = {"first-order": "First-order motion model (same data)", "monkey-net": "Monkey-Net, zeroth order (same data)"}
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
    # Table 4: the motion diagnostics per held-out video (s2d.repro.tables.with_motion), empty elsewhere
    motion: pd.DataFrame = field(default_factory=pd.DataFrame)

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
        """Each of the paper's claims this table can test (:mod:`s2d.repro.claims`): reproduced, contradicted, or cannot
        tell, from the paired differences over the test videos and every seed."""
        methods = set(self.per_video.get("method", ()))
        lines = claims.verdicts(self.number, self.per_video, self.attrs.get("rows_for_claims", {}),
                                self.attrs.get("notes", {}), COPY_BASELINE if COPY_BASELINE in methods else None,
                                self.attrs.get("unlearned", {}), tuple(self.attrs.get("claim_sources", claims.SOURCES)))
        if "claim_suffix" in self.attrs:  # a companion table says where its claims differ from the table's own
            lines["claim"] = lines["claim"] + self.attrs["claim_suffix"]
        return lines

    @property
    def stem(self) -> str:
        """The name of its files in ``results/<profile>/``: ``table<N>``, or a companion such as ``table4_gaze``."""
        return self.attrs.get("stem", f"table{self.number}")

    def save(self, results_dir: Path) -> Path:
        """Write ``table<N>.csv`` (summary), ``table<N>_seeds.csv``, ``table<N>_videos.csv``, ``table<N>_claims.csv``
        and ``table<N>.json``."""
        results_dir.mkdir(parents=True, exist_ok=True)
        stem = results_dir / self.stem
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


def _seeds_label(n: int) -> str:
    return "no training" if n == 0 else f"{n} seed" + ("" if n == 1 else "s")


def compute_comparison(result: TableResult) -> pd.DataFrame:
    """Each trained method of a table side by side: parameters, forward GFLOPs per generated frame
    (:func:`s2d.repro.bench.model_cost`), training steps and batch, and the measured training time per model."""
    from s2d.checkpoint import read_checkpoint
    from s2d.config import config_from_dict
    from s2d.repro.bench import model_cost

    rows = {}
    for method, names in result.attrs.get("runs", {}).items():
        records = [result.attrs["training"][name] for name in names if name in result.attrs["training"]]
        if not records:
            continue
        architecture = records[0].get("architecture", "s2d")
        cost = model_cost(config_from_dict(read_checkpoint(records[0]["checkpoint"])["config"]), architecture)
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
