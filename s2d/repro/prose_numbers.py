"""The numbers the README's prose cites, generated from a run's ``results/`` instead of typed by hand.

In ``README.md`` each generated passage sits between ``<!-- name -->`` and ``<!-- /name -->``;
:func:`passages` computes every passage from ``results/<profile>/`` (``run.json``, ``synthtalk.csv``,
``table1.csv`` and ``table1.json``; ``gaze/`` and ``gallery/`` for ``make gaze`` and ``make gallery``,
``photo_study.csv`` for ``make photo-study``), :func:`fill` writes them into the text, and ``python -m
s2d.repro.prose_numbers`` rewrites the README after a ``make reproduce``. A test compares the committed README
with the committed results, so a stale number fails CI.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from s2d.io import write_text
from s2d.repro.reproduce import from_scratch
from s2d.repro.table_result import COPY_BASELINE as COPY
from s2d.repro.table_result import OURS

MARKED = re.compile(r"<!-- (?P<name>[a-z0-9_]+) -->(?P<body>.*?)<!-- /(?P=name) -->", re.S)
README = Path("README.md")


def passages(results: Path) -> dict[str, str]:
    """Every generated passage of the README, from the run in ``results`` (e.g. ``results/cpu``)."""
    run = json.loads((results / "run.json").read_text())
    full = run.get("last_full_run") or from_scratch(run) or {}
    table1 = pd.read_csv(results / "table1.csv", index_col=0)
    records = json.loads((results / "table1.json").read_text())["training"]
    s2d = [r for name, r in records.items() if r.get("architecture") == "s2d" and "wall_time_s" in r]
    seconds = [r["wall_time_s"] for r in s2d]
    synthtalk = pd.read_csv(results / "synthtalk.csv")
    # how the models trained: at one thread each, side by side (s2d.repro.parallel), on the CPU since "jobs" is recorded
    how = f" at one thread, {run['jobs']} side by side" if run.get("jobs") and run["environment"]["device"] == "cpu" else ""
    out = {
        "model_time": f"one model trains in about {np.mean(seconds):.0f} s{how}",
        "training_speed": (f"about {np.mean([r['steps'] / r['wall_time_s'] for r in s2d]):.1f} steps/s "
                           f"(batch {run['config']['train']['batch_size']}{how}), {min(seconds):.0f}-{max(seconds):.0f} s "
                           f"for its {s2d[0]['steps']} steps"),
        "table1": (f"L1 {table1.loc[OURS, 'l1']:.4f} ± {table1.loc[OURS, 'l1_std']:.4f} (PSNR "
                   f"{table1.loc[OURS, 'psnr']:.1f}, SSIM {table1.loc[OURS, 'ssim']:.3f}) against "
                   f"{table1.loc[COPY, 'l1']:.4f} ({table1.loc[COPY, 'psnr']:.1f}, {table1.loc[COPY, 'ssim']:.3f}) "
                   f"for copying the source frame unchanged ({int(table1.loc[OURS, 'seeds'])} seeds)"),
        "synthtalk": (f"{synthtalk.build_seconds.min():.0f}-{synthtalk.build_seconds.max():.0f} s and "
                      f"{synthtalk.megabytes.max():.0f} MB per variant ({synthtalk.videos_train.iloc[0] + synthtalk.videos_test.iloc[0]} "
                      f"videos at {synthtalk.resolution.iloc[0]} px, about {synthtalk.render_fps.mean():.0f} frames/s)"),
    }
    timing = results.parent / "paper" / "timing.json"
    if timing.is_file():
        out["gpu_timing"] = gpu_timing(json.loads(timing.read_text()))
    gaze = results / "gaze" / "table4_gaze.json"  # make gaze's record (s2d.repro.gaze)
    if gaze.is_file():
        record = json.loads(gaze.read_text())
        models = sum(len(names) for names in record["runs"].values())
        out["gaze_time"] = (f"{models} models at {record['resolution']} px, {record['wall_time_s'] / 60:.0f} min for "
                            f"the whole study on its last run (commit {str(record['git_commit'])[:12]})")
    else:
        out["gaze_time"] = "not run yet for this profile"
    study = results / "photo_study.csv"  # make photo-study's pairs (s2d.repro.photo_study)
    out["photo_study"] = photo_study(pd.read_csv(study)) if study.is_file() else "not run yet"
    gallery = results / "gallery" / "gallery.json"  # make gallery's record (s2d.repro.gallery)
    if gallery.is_file():
        record = json.loads(gallery.read_text())
        model = record.get("model", {})
        trained = (f"trained in {model.get('wall_time_s', 0) / 60:.1f} min on {model.get('device', '?')}, "
                   f"{model.get('steps', '?')} steps")
        found = (f"the model took {record['model_s'] / 60:.1f} min ({trained})" if record.get("model_trained_now", True)
                 else f"the model came from the run cache ({trained})")
        if "baseline_s" in record:
            base = record.get("baseline_model", {})
            trained = f"trained in {base.get('wall_time_s', 0) / 60:.1f} min, {base.get('steps', '?')} steps"
            found += (f", the first-order model trained the same way took {record['baseline_s'] / 60:.1f} min "
                      f"({trained})" if record.get("baseline_trained_now", True)
                      else f", the first-order model trained the same way came from the run cache ({trained})")
        out["gallery_time"] = (f"on its last run (commit {str(record['git_commit'])[:12]}) {found} and the page "
                               f"{record['page_s'] / 60:.1f} min")
    else:
        out["gallery_time"] = "not run yet for this profile"
    if full:
        stages = full["stages_s"]
        named = {"data": "SynthTalk", "train": f"{full['models_trained']} detectors and models (each notebook starts "
                                               f"beside them once its models are trained)",
                 "notebook": "the notebooks after the last model", "figures": "the claims figure", "book": "the book"}
        order = [*named, *(k for k in stages if k not in named)]
        parts = ", ".join(f"{named.get(k, k)} {stages[k]:,.0f} s" for k in order if k in stages)
        out["reproduce_time"] = (f"about {full['wall_time_s'] / 60:.0f} min of `s2d reproduce` in the last run from "
                                 f"scratch ({full['wall_time_s']:,.0f} s: {parts}; commit {full['git_commit']})")
    else:
        out["reproduce_time"] = "no run from scratch on record in `results/cpu/run.json`"
    return out


def photo_study(pairs: pd.DataFrame) -> str:
    """The photo study's means (:mod:`s2d.repro.photo_study`): the model's, and the perfect landmark warp's where
    the study scored it."""
    from s2d.repro.photo_study import MODEL, REFERENCE

    method = pairs["method"] if "method" in pairs else pd.Series(MODEL, index=pairs.index)
    ours, floor = pairs[method == MODEL], pairs[method == REFERENCE]
    shown = {"motion_ratio_68": "motion ratio of all 68 points", "motion_ratio_contour": "of the face contour",
             "identity_distance": "identity distance"}
    text = ", ".join(f"{name} {ours[column].mean():.3f}" + (f" (a perfect landmark warp {floor[column].mean():.3f})"
                                                             if len(floor) else "")
                     for column, name in shown.items())
    return f"on {len(ours)} pairs in its last run: {text}"


def gpu_timing(record: dict) -> str:
    """The paper profile's cost per model on the GPU ``record`` (:mod:`s2d.repro.paper_timing`) was measured on,
    with the settings it overrode, and the cost of all the models ``make reproduce PROFILE=paper`` trains, in one
    process each."""
    from collections import Counter

    from s2d.config import load_config
    from s2d.repro.plan import detector_runs, model_runs

    paper = load_config("paper")
    names = {"s2d": "S2D", "first_order": "the first-order model", "monkey_net": "Monkey-Net"}
    models = "; ".join(f"{names[k]} {record[k]['steps_per_s']:.1f} steps/s, {record[k]['peak_gpu_memory_gb']:.0f} GB, "
                       f"{record[k]['paper_hours']:.1f} h" if k in record else f"{names[k]} not measured"
                       for k in names)
    detector = record["detector"]
    counts = Counter(run.config.model.architecture.replace("-", "_") for run in model_runs(paper))
    hours = sum(n * record[k]["paper_hours"] for k, n in counts.items() if k in record) + len(
        detector_runs(paper)) * detector["paper_hours"]
    short = {"s2d": "S2D", "first_order": "first-order", "monkey_net": "Monkey-Net"}
    trained = ", ".join(f"{n} {short[k]}" for k, n in counts.items()) + " models"
    unmeasured = [names[k] for k in counts if k not in record]
    beside = f" besides {' and '.join(unmeasured)}" if unmeasured else ""
    overrides = " and ".join(f"`{setting}`" for setting in record.get("overrides", []))
    return (f"on one {record['device']} at batch {record['s2d']['batch']} and {record['s2d']['resolution']} px, "
            f"the `paper` profile's settings{f' but {overrides}' if overrides else ''}, per model (steps/s, peak memory, the paper's {record['s2d']['paper_steps']:,} steps): {models}; the "
            f"{detector['variant']} detector {detector['steps_per_s']:.1f} steps/s at batch {detector['batch']}, "
            f"{detector['paper_hours']:.2f} h for its {detector['paper_steps']:,} steps. All that "
            f"`make reproduce PROFILE=paper` trains ({trained}, {len(detector_runs(paper))} detectors) is about "
            f"{hours:.0f} GPU-hours{beside}; with `GPUS=N` a model's wall time falls by at most N (DDP's scaling was not "
            f"measured: one GPU was lent)")


def fill(text: str, values: dict[str, str]) -> str:
    """``text`` with each marked passage replaced by its value (unknown names left as they are)."""
    def replace(match: re.Match) -> str:
        name = match["name"]
        body = values.get(name, match["body"])
        return f"<!-- {name} -->{body}<!-- /{name} -->"

    return MARKED.sub(replace, text)


def marked(text: str) -> dict[str, str]:
    """The marked passages of ``text``, by name."""
    return {m["name"]: m["body"] for m in MARKED.finditer(text)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m s2d.repro.prose_numbers",
                                     description="Rewrite the README's generated numbers from a run's results.")
    parser.add_argument("--results", type=Path, default=Path("results/cpu"), help="the run's results folder")
    parser.add_argument("--readme", type=Path, default=README, help="the file to rewrite")
    args = parser.parse_args(argv)
    text = args.readme.read_text()
    write_text(args.readme, fill(text, passages(args.results)))
    print(f"wrote {args.readme} from {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
