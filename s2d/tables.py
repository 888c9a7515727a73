"""The paper's tables as ``make reproduce`` computes them, beside the paper's own numbers.

Each function trains (or reuses, :mod:`s2d.pipeline`) what it needs, evaluates it by
the table's protocol (:mod:`s2d.evaluate`), and returns a tidy DataFrame: one row
per method, the table's columns, and ``attrs`` saying the dataset, resolution,
profile, seeds, git commit, and why a metric is n/a.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd

from s2d import evaluate, paper
from s2d.checkpoint import load_model
from s2d.config import Config
from s2d.data import synth
from s2d.io import atomic_path, write_json
from s2d.pipeline import RUNS_ROOT, trained
from s2d.runtime import git_commit, pick_device

PROTOCOLS = {1: ("synth-vox", evaluate.same_identity), 3: ("synth-ff", evaluate.faceforensics)}
COPY_BASELINE = "copy the source frame (baseline)"


def reconstruction_table(number: int, config: Config, data_root: Path = Path("data/synthtalk"),
                         runs_root: Path = RUNS_ROOT, progress: bool = True) -> pd.DataFrame:
    """Table 1 (same identity, synth-vox) or Table 3 (FaceForensics protocol, synth-ff) for one seed."""
    variant, protocol = PROTOCOLS[number]
    config = replace(config, data=replace(config.data, dataset=variant))
    data, _ = synth.ensure(variant, config, config.seed, data_root, progress)
    ckpt, _ = trained(config, data, f"s2d-{variant}-seed{config.seed}", runs_root, progress)
    device = pick_device(config.device)
    model, _ = load_model(ckpt, device)
    columns = list(paper.TABLES[number].columns)
    rows, notes = {}, {}
    for name, animate in ((f"S2D (ours, {config.profile})", model.animate), (COPY_BASELINE, evaluate.copy_source)):
        result = protocol(data, animate, config=config.eval, device=device, progress=progress)
        rows[name] = [result.mean.get(c, float("nan")) for c in columns]
        notes.update({k: v for k, v in result.mean.attrs.get("notes", {}).items() if k in columns})
    table = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
    table.index.name = "method"
    training = ckpt.parent / "train.json"
    table.attrs = {
        "training": json.loads(training.read_text()) if training.is_file() else {},
        "table": number, "dataset": variant, "resolution": config.data.resolution, "profile": config.profile,
        "seeds": [config.seed], "git_commit": git_commit(), "checkpoint": str(ckpt), "data": str(data),
        "notes": notes,
    }
    return table


def save(table: pd.DataFrame, results_dir: Path) -> Path:
    """Write ``table<N>.csv`` and its metadata ``table<N>.json`` (dataset, profile, seeds, notes)."""
    number = table.attrs["table"]
    path = results_dir / f"table{number}.csv"
    with atomic_path(path) as tmp:
        table.to_csv(tmp, float_format="%.4f")
    write_json(results_dir / f"table{number}.json", table.attrs)
    return path


def side_by_side(ours: pd.DataFrame, number: int) -> pd.DataFrame:
    """The paper's rows and ours in one table, with where each comes from; n/a where not computed."""
    theirs = paper.table(number)
    theirs.index = [f"{name} [paper, {paper.TABLES[number].dataset}, 256 px]" for name in theirs.index]
    a = ours.attrs
    mine = ours.copy()
    mine.index = [f"{name} [{a['dataset']}, {a['resolution']} px, {a['profile']}]" for name in mine.index]
    both = pd.concat([theirs, mine]).round(4)
    return both.astype(object).where(both.notna(), "n/a")
