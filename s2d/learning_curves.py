"""Learning curves: a model's held-out L1 and AKD against its training steps.

Training keeps the model's weights at a few evenly spaced steps of the same run
(``train.snapshots``, :func:`s2d.train.snapshot_steps`). :func:`learning_curve`
scores each on a fixed subset of the held-out videos with the same-identity
protocol of Table 1 (the first :data:`CURVE_VIDEOS` test videos, every
:data:`CURVE_STRIDE`-th frame), so every method and every step is measured on the
same frames. :func:`still_learning` says whether a curve had flattened by the end:
the share of its whole improvement (from step 0 to the end) that came in its last
third of steps.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Callable

import pandas as pd

from s2d.config import EvalConfig
from s2d.evaluate import Evaluation, same_identity

CURVE_VIDEOS = 6
CURVE_STRIDE = 12
CURVE_COLUMNS = ("l1", "akd")
# a curve whose last third of steps brought more than this share of its whole improvement was still learning
STILL_LEARNING_SHARE = 0.2


def snapshots(checkpoint: str | Path) -> dict[int, Path]:
    """The kept weights of the run whose final checkpoint is ``checkpoint``: {step: path}, by step."""
    found = {}
    for path in (Path(checkpoint).parent / "snapshots").glob("step*.pt"):
        match = re.fullmatch(r"step(\d+)\.pt", path.name)
        if match:
            found[int(match.group(1))] = path
    return dict(sorted(found.items()))


def curve_config(config: EvalConfig) -> EvalConfig:
    """The evaluation settings of a learning-curve point: ``config`` with every :data:`CURVE_STRIDE`-th frame."""
    return replace(config, frame_stride=CURVE_STRIDE, max_test_frames=0)


def learning_curve(checkpoint: str | Path, evaluate: Callable[[Path], Evaluation]) -> pd.DataFrame:
    """``step, l1, akd, frames`` for every kept step of ``checkpoint``'s run; ``evaluate(snapshot)`` scores one
    (:func:`curve_point`, usually cached). Empty when the run kept no snapshots."""
    rows = []
    for step, path in snapshots(checkpoint).items():
        mean = evaluate(path).mean
        rows.append({"step": step, **{c: float(mean.get(c, float("nan"))) for c in CURVE_COLUMNS},
                     "frames": int(mean["frames"])})
    return pd.DataFrame(rows, columns=["step", *CURVE_COLUMNS, "frames"])


def curve_point(root: str | Path, animate, config: EvalConfig, detector, landmarks=None, device=None) -> Evaluation:
    """One point of a learning curve: the same-identity protocol on the curve's fixed subset of ``root``."""
    return same_identity(root, animate, config=curve_config(config), detector=detector, landmarks=landmarks,
                         device=device, progress=False, videos=CURVE_VIDEOS)


def still_learning(curve: pd.DataFrame, column: str = "l1") -> dict[str, float | bool]:
    """How flat ``curve`` (one method's ``step, <column>``, lower is better) was at its end.

    ``last_third_share``: the fall of ``column`` over the last third of the steps divided by its
    fall from the first to the last step (NaN when it did not fall at all); ``still_learning``:
    that share above :data:`STILL_LEARNING_SHARE`, or the curve never fell.
    """
    curve = curve.sort_values("step")
    steps, values = curve["step"].to_numpy(), curve[column].to_numpy()
    if len(curve) < 3:
        return {"last_third_share": float("nan"), "still_learning": True}
    before = values[steps <= steps[-1] * 2 / 3][-1]
    whole = values[0] - values[-1]
    share = float((before - values[-1]) / whole) if whole > 0 else float("nan")
    return {"last_third_share": share, "still_learning": bool(not whole > 0 or share > STILL_LEARNING_SHARE)}


def summary(curves: pd.DataFrame, reference: str | None = None) -> pd.DataFrame:
    """Per method of ``curves`` (``method, step, l1, akd``): the first and last L1, and :func:`still_learning`.

    ``reference`` names a row that did not train (the copy baseline): it is left out.
    """
    rows = {}
    for method, curve in curves.groupby("method", sort=False):
        if method == reference:
            continue
        curve = curve.sort_values("step")
        rows[method] = {"steps": int(curve["step"].max()), "l1_at_0": float(curve["l1"].iloc[0]),
                        "l1_at_end": float(curve["l1"].iloc[-1]), **still_learning(curve)}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("method")


def flatness_text(table: pd.DataFrame) -> str:
    """One sentence from :func:`summary`'s ``table``: which methods had flattened by their last step and which
    were still learning (so that a claim against them compares a model that had not finished)."""
    done = [m for m in table.index if not table.loc[m, "still_learning"]]
    going = [m for m in table.index if table.loc[m, "still_learning"]]
    parts = []
    if done:
        parts.append(f"Flattened by the end (under {STILL_LEARNING_SHARE:.0%} of the improvement in the last third): "
                     + ", ".join(done) + ".")
    if going:
        parts.append("**Still learning** when training stopped: " + ", ".join(going)
                     + "; a verdict against it is a verdict on a model that had not finished learning.")
    return " ".join(parts)
