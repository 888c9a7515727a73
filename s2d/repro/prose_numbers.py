"""The numbers the README's prose cites, generated from a run's ``results/`` instead of typed by hand.

In ``README.md`` each generated passage sits between ``<!-- name -->`` and ``<!-- /name -->``;
:func:`passages` computes every passage from ``results/<profile>/`` (``run.json``, ``synthtalk.csv``,
``table1.csv`` and ``table1.json``), :func:`fill` writes them into the text, and ``python -m
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
    out = {
        "model_time": f"one model trains in about {np.mean(seconds):.0f} s",
        "training_speed": (f"about {np.mean([r['steps'] / r['wall_time_s'] for r in s2d]):.1f} steps/s "
                           f"(batch {run['config']['train']['batch_size']}), {min(seconds):.0f}-{max(seconds):.0f} s "
                           f"for its {s2d[0]['steps']} steps"),
        "table1": (f"L1 {table1.loc[OURS, 'l1']:.4f} ± {table1.loc[OURS, 'l1_std']:.4f} (PSNR "
                   f"{table1.loc[OURS, 'psnr']:.1f}, SSIM {table1.loc[OURS, 'ssim']:.3f}) against "
                   f"{table1.loc[COPY, 'l1']:.4f} ({table1.loc[COPY, 'psnr']:.1f}, {table1.loc[COPY, 'ssim']:.3f}) "
                   f"for copying the source frame unchanged ({int(table1.loc[OURS, 'seeds'])} seeds)"),
        "synthtalk": (f"{synthtalk.build_seconds.min():.0f}-{synthtalk.build_seconds.max():.0f} s and "
                      f"{synthtalk.megabytes.max():.0f} MB per variant ({synthtalk.videos_train.iloc[0] + synthtalk.videos_test.iloc[0]} "
                      f"videos at {synthtalk.resolution.iloc[0]} px, about {synthtalk.render_fps.mean():.0f} frames/s)"),
    }
    if full:
        stages = full["stages_s"]
        named = {"data": "SynthTalk", "train": f"{full['models_trained']} detectors and models",
                 "notebook": "the notebooks", "figures": "the claims figure", "book": "the book"}
        order = [*named, *(k for k in stages if k not in named)]
        parts = ", ".join(f"{named.get(k, k)} {stages[k]:,.0f} s" for k in order if k in stages)
        out["reproduce_time"] = (f"about {full['wall_time_s'] / 60:.0f} min of `s2d reproduce` in the last run from "
                                 f"scratch ({full['wall_time_s']:,.0f} s: {parts}; commit {full['git_commit']})")
    else:
        out["reproduce_time"] = "no run from scratch on record in `results/cpu/run.json`"
    return out


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
