"""The paper's claims as directions between rows of its tables, and whether our run reproduces each.

A claim is "row A does better than row B on metric m", read off the paper's numbers
(:mod:`s2d.repro.paper`) for the comparisons the paper argues: S2D against the baselines
(Tables 1-3) and the full model against each ablation (Table 4), plus the motion-map
cue, which the paper supports by comparing Table 1's model with Table 4's full model. One claim
the paper makes with figures only: the local branches transfer the gaze (Fig. 2 and 5), tested
between Table 4's full model and its "no local motion" setting on the detected gaze error and on
the motion map's pupil-transfer error (:data:`FIGURE_CLAIMS`).

Our verdict rests on the **paired** difference of the two rows over the same test videos
(or pairs) and every seed each row was trained on: per video, the mean over a row's
seeds; the difference's mean over videos; and its 95% confidence interval by a
hierarchical bootstrap that resamples the test videos and, independently, each row's
seeds (:func:`paired_interval`), so both the choice of videos and the training
randomness are in the interval. The verdict is

- "reproduced" when the interval excludes zero in the paper's direction, **and** both
  rows beat copying the source frame (their own paired intervals against the copy
  baseline exclude zero in their favour), **and** each trained row has two seeds or
  more;
- "contradicted" when, on the same conditions, the interval excludes zero the other way;
- "cannot tell" otherwise, with the reason: the interval includes zero, a row does not
  beat copying the source, one seed (the interval would cover the test videos but not
  the training randomness), a metric that is one number per model (FID, the user
  study: no per-video values to pair), a metric not computed here, or a row not in the run.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from s2d.repro import paper

REPRODUCED, CONTRADICTED, CANNOT_TELL = "reproduced", "contradicted", "cannot tell"
CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 4000
ABLATED = ("no Add_Motion layer", "no AdaIN layer", "no local motion")
COMPARISONS = {
    1: [("Ours", "First-order (2019)"), ("Ours", "Monkey-Net (2019)")],
    2: [("Ours", "First-order (2019)"), ("Ours", "Monkey-Net (2019)")],
    3: [("Ours", "First-order (2019)")],
    4: [*(("Full model", other) for other in ABLATED), ("Ours (Table 1)", "Full model")],
    5: [("FAN4+DSNT+SBR", "FAN4+DSNT"), ("FAN4+DSNT", "FAN4"), ("FAN4+DSNT+SBR", "Dlib")],
}
CROSS_TABLE = {"Ours (Table 1)": (1, "Ours")}  # a row a table's claims borrow from another table
# claims the paper makes with figures, not numbers, tested on metrics beyond its tables: (better, worse, metric,
# where): the local branches transfer the gaze that the global branch misses (Fig. 2 and 5), in the generated
# frames as our detector sees them and, detector-free, in the motion map (where it sends the driving pupils)
FIGURE_CLAIMS = {4: [("Full model", "no local motion", metric, "Fig. 2 and 5")
                     for metric in ("gaze_error", "pupil_transfer_px")]}
SOURCES = ("tables", "figures")  # which of the paper's claims verdicts() tests
# difference and interval: ours, paired, in the metric's units, positive in the paper's direction; gain, gain_low,
# gain_high and paper_gain: the same relative to the row the paper found worse (ours and the paper's), for plotting
COLUMNS = ["table", "metric", "claim", "paper", "ours", "difference", "interval", "gain", "gain_low", "gain_high",
           "paper_gain", "videos", "seeds", "verdict", "why"]


def _paper_value(table: int, row: str, metric: str) -> float | None:
    number, name = CROSS_TABLE.get(row, (table, row))
    source = paper.TABLES[number]
    if metric not in source.columns:
        return None
    return source.rows[name][source.columns.index(metric)]


def _better(a: float, b: float, metric: str) -> bool:
    return a > b if paper.HIGHER_IS_BETTER[metric] else a < b


def paired_interval(better: np.ndarray, worse: np.ndarray, *, resamples: int = BOOTSTRAP_RESAMPLES,
                    confidence: float = CONFIDENCE, seed: int = 0) -> tuple[float, float, float]:
    """The mean over items of ``better - worse`` and its bootstrap confidence interval.

    ``better`` is ``(items, seeds_a)`` and ``worse`` ``(items, seeds_b)``: one row per test video
    (the same videos in both), one column per trained seed. Each resample draws the items with
    replacement and, independently, each side's seeds; the interval is the percentile interval
    of the resampled differences. Returns ``(difference, low, high)``.
    """
    better, worse = np.asarray(better, float), np.asarray(worse, float)
    if better.ndim != 2 or worse.ndim != 2 or len(better) != len(worse) or len(better) == 0:
        raise ValueError(f"need (items, seeds) arrays over the same items, got {better.shape} and {worse.shape}")
    rng = np.random.default_rng(seed)
    items = rng.multinomial(len(better), np.full(len(better), 1 / len(better)), size=resamples) / len(better)

    def seed_weights(values: np.ndarray) -> np.ndarray:
        count = values.shape[1]
        return rng.multinomial(count, np.full(count, 1 / count), size=resamples) / count

    per_item = better @ seed_weights(better).T - worse @ seed_weights(worse).T  # (items, resamples)
    resampled = (items * per_item.T).sum(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(resampled, [tail, 1 - tail])
    return float(better.mean(axis=1).mean() - worse.mean(axis=1).mean()), float(low), float(high)


def verdicts(table: int, per_video: pd.DataFrame, rows: dict[str, str], notes: dict[str, str],
             copy: str | None = None, unlearned: dict[str, str] | None = None,
             sources: tuple[str, ...] = SOURCES) -> pd.DataFrame:
    """One line per (comparison, metric) of ``table`` the paper reports numbers for (``"tables"`` in ``sources``),
    and per claim it makes with a figure (:data:`FIGURE_CLAIMS`, ``"figures"``).

    ``per_video`` has one line per (method, seed, test item): ``method, seed, item, <metrics>``
    (:attr:`s2d.repro.table_result.TableResult.per_video`); ``rows`` maps the paper's row names to ours;
    ``notes`` says why a metric is n/a; ``copy`` names the copy-the-source baseline's method; ``unlearned``
    gives the rows known not to have learned (a detector that did not converge) with the reason: their claims
    cannot be told.
    """
    claimed = []  # (winner, loser, metric, the paper's evidence, its gain)
    for a, b in COMPARISONS.get(table, []) if "tables" in sources else ():
        for metric in paper.TABLES[table].columns:
            pa, pb = _paper_value(table, a, metric), _paper_value(table, b, metric)
            if pa is None or pb is None or pa == pb:
                continue
            winner, loser = (a, b) if _better(pa, pb, metric) else (b, a)
            pw, pl = _paper_value(table, winner, metric), _paper_value(table, loser, metric)
            claimed.append((winner, loser, metric, f"{pw} vs {pl}", abs(pw - pl) / abs(pl) if pl else np.nan))
    if "figures" in sources:
        claimed += [(a, b, metric, f"{where} (figures, no numbers)", np.nan)
                    for a, b, metric, where in FIGURE_CLAIMS.get(table, [])]
    lines, unlearned = [], unlearned or {}
    for winner, loser, metric, evidence, gain in claimed:
        claim = f"{winner} better than {loser}"
        line = {"table": table, "metric": metric, "claim": claim, "paper": evidence, "paper_gain": gain}
        judged = _Comparison(per_video, metric, notes, copy, zlib.crc32(f"{table} {claim} {metric}".encode()))
        line.update(judged.verdict(rows.get(winner), rows.get(loser), (winner, loser)))
        failed = [f"{name} {unlearned[rows[name]]}" for name in (winner, loser) if rows.get(name) in unlearned]
        if failed:
            line |= {"verdict": CANNOT_TELL, "why": "; ".join(failed)}
        lines.append(line)
    return pd.DataFrame(lines, columns=COLUMNS)


class _Comparison:
    """The paired comparison of rows of one table on one metric."""

    def __init__(self, per_video: pd.DataFrame, metric: str, notes: dict[str, str], copy: str | None, seed: int):
        self.per_video, self.metric, self.notes, self.copy, self.seed = per_video, metric, notes, copy, seed

    def values(self, method: str) -> pd.DataFrame:
        """``(item, seed)`` values of ``method``; empty when the metric has no per-video values."""
        if self.per_video.empty or self.metric not in self.per_video.columns:
            return pd.DataFrame()
        rows = self.per_video[self.per_video["method"] == method]
        return rows.assign(seed=rows["seed"].fillna(-1)).pivot(index="item", columns="seed", values=self.metric)

    def paired(self, better: str, worse: str) -> tuple[float, float, float, int] | None:
        """Difference oriented so that positive favours ``better``, its interval, and the items paired."""
        a, b = self.values(better), self.values(worse)
        both = pd.concat([a, b], axis=1, keys=["better", "worse"], join="inner").dropna()
        if len(both) < 2:
            return None
        a, b = both["better"].to_numpy(), both["worse"].to_numpy()
        sign = 1.0 if paper.HIGHER_IS_BETTER[self.metric] else -1.0
        difference, low, high = paired_interval(sign * a, sign * b, seed=self.seed)
        return difference, low, high, len(both)

    def verdict(self, winner: str | None, loser: str | None, names: tuple[str, str]) -> dict[str, object]:
        for ours, name in ((winner, names[0]), (loser, names[1])):
            if ours is None or ours not in set(self.per_video.get("method", ())):
                return {"ours": "", "verdict": CANNOT_TELL, "why": f"{name} is not in this run"}
        metric = self.metric
        means = [self.per_video.loc[self.per_video["method"] == r, metric].mean()
                 if metric in self.per_video.columns else np.nan for r in (winner, loser)]
        if np.isnan(means).any():
            reason = self.notes.get(metric, "one number per model: no per-video values to pair"
                                    if metric in ("fid", "user_preference", "user_study") else "not computed")
            return {"ours": "n/a", "verdict": CANNOT_TELL, "why": f"{metric} n/a per video: {reason}"}
        seeds = [self.values(r).shape[1] for r in (winner, loser)]
        line = {"ours": f"{means[0]:.4f} vs {means[1]:.4f}", "seeds": f"{seeds[0]} vs {seeds[1]}"}
        paired = self.paired(winner, loser)
        if paired is None:
            return line | {"verdict": CANNOT_TELL, "why": "fewer than two test items in common"}
        difference, low, high, items = paired
        scale = abs(means[1]) or np.nan
        line |= {"difference": round(difference, 5), "interval": f"[{low:.5f}, {high:.5f}]", "videos": items,
                 "gain": difference / scale, "gain_low": low / scale, "gain_high": high / scale}
        for ours, name in ((winner, names[0]), (loser, names[1])):
            against = self.against_copy(ours)
            if against:
                return line | {"verdict": CANNOT_TELL, "why": f"{name} {against}"}
        if min(seeds) < 2:
            return line | {"verdict": CANNOT_TELL,
                           "why": "one seed: the interval covers the test videos, not the training randomness"}
        if low > 0:
            return line | {"verdict": REPRODUCED, "why": f"the {CONFIDENCE:.0%} paired interval is above 0"}
        if high < 0:
            return line | {"verdict": CONTRADICTED, "why": f"the {CONFIDENCE:.0%} paired interval is below 0"}
        return line | {"verdict": CANNOT_TELL, "why": f"the {CONFIDENCE:.0%} paired interval includes 0"}

    def against_copy(self, method: str) -> str:
        """Why ``method`` does not beat copying the source on this metric ("" when it does, or when there is no
        copy baseline for the metric)."""
        if self.copy is None or method == self.copy:
            return ""
        copied = self.values(self.copy)
        if copied.empty or copied.isna().all().all():
            return ""
        paired = self.paired(method, self.copy)
        if paired is None:
            return "shares fewer than two test items with the copy baseline"
        difference, low, high, _ = paired
        if low > 0:
            return ""
        return (f"does not beat copying the source on {self.metric} (paired difference {difference:.5f}, "
                f"{CONFIDENCE:.0%} interval [{low:.5f}, {high:.5f}])")
