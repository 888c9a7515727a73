"""The paper's claims as directions between rows of its tables, and whether our run reproduces each.

A claim is "row A does better than row B on metric m", read off the paper's numbers
(:mod:`s2d.paper`) for the comparisons the paper argues: S2D against the baselines
(Tables 1-3) and the full model against each ablation (Table 4), plus the motion-map
cue, which the paper supports by comparing Table 1's model with Table 4's full model.

Our verdict compares the mean ± standard deviation over seeds of the two rows:
"reproduced" when the intervals are disjoint and in the paper's direction,
"contradicted" when disjoint the other way, and "cannot tell" when they overlap, when
only one seed ran (no interval), when the metric could not be computed here, or when
a row is not part of this run yet.
"""

from __future__ import annotations

import pandas as pd

from s2d import paper

REPRODUCED, CONTRADICTED, CANNOT_TELL = "reproduced", "contradicted", "cannot tell"
ABLATED = ("no Add_Motion layer", "no AdaIN layer", "no local motion")
COMPARISONS = {
    1: [("Ours", "First-order (2019)"), ("Ours", "Monkey-Net (2019)")],
    2: [("Ours", "First-order (2019)"), ("Ours", "Monkey-Net (2019)")],
    3: [("Ours", "First-order (2019)")],
    4: [*(("Full model", other) for other in ABLATED), ("Ours (Table 1)", "Full model")],
    5: [("FAN4+DSNT+SBR", "FAN4+DSNT"), ("FAN4+DSNT", "FAN4"), ("FAN4+DSNT+SBR", "Dlib")],
}
CROSS_TABLE = {"Ours (Table 1)": (1, "Ours")}  # a row a table's claims borrow from another table


def _paper_value(table: int, row: str, metric: str) -> float | None:
    number, name = CROSS_TABLE.get(row, (table, row))
    source = paper.TABLES[number]
    if metric not in source.columns:
        return None
    return source.rows[name][source.columns.index(metric)]


def _better(a: float, b: float, metric: str) -> bool:
    return a > b if paper.HIGHER_IS_BETTER[metric] else a < b


def verdicts(table: int, summary: pd.DataFrame, rows: dict[str, str], notes: dict[str, str]) -> pd.DataFrame:
    """One line per (comparison, metric) of ``table`` the paper reports numbers for.

    ``summary`` is :meth:`s2d.tables.TableResult.summary` (mean, ``<metric>_std``, ``seeds`` per
    method); ``rows`` maps the paper's row names to ours; ``notes`` says why a metric is n/a.
    """
    lines = []
    for a, b in COMPARISONS.get(table, []):
        for metric in paper.TABLES[table].columns:
            pa, pb = _paper_value(table, a, metric), _paper_value(table, b, metric)
            if pa is None or pb is None or pa == pb:
                continue
            winner, loser = (a, b) if _better(pa, pb, metric) else (b, a)
            line = {"table": table, "metric": metric, "claim": f"{winner} better than {loser}",
                    "paper": f"{_paper_value(table, winner, metric)} vs {_paper_value(table, loser, metric)}"}
            line.update(_ours(summary, rows.get(winner), rows.get(loser), metric, notes, (winner, loser)))
            lines.append(line)
    return pd.DataFrame(lines, columns=["table", "metric", "claim", "paper", "ours", "verdict", "why"])


def _ours(summary: pd.DataFrame, winner: str | None, loser: str | None, metric: str, notes: dict[str, str],
          names: tuple[str, str]) -> dict[str, str]:
    for ours, name in ((winner, names[0]), (loser, names[1])):
        if ours is None or ours not in summary.index:
            return {"ours": "", "verdict": CANNOT_TELL, "why": f"{name} is not in this run"}
    if metric not in summary.columns or summary.loc[[winner, loser], metric].isna().any():
        return {"ours": "n/a", "verdict": CANNOT_TELL, "why": f"{metric} n/a: {notes.get(metric, 'not computed')}"}
    (mw, sw), (ml, sl) = ((summary.loc[r, metric], summary.loc[r, f"{metric}_std"]) for r in (winner, loser))
    text = f"{mw:.4f} ± {sw:.4f} vs {ml:.4f} ± {sl:.4f}"
    if pd.isna(sw) or pd.isna(sl):
        return {"ours": f"{mw:.4f} vs {ml:.4f}", "verdict": CANNOT_TELL, "why": "one seed: no interval"}
    if mw - sw <= ml + sl and ml - sl <= mw + sw:
        return {"ours": text, "verdict": CANNOT_TELL, "why": "the mean ± std intervals overlap"}
    if _better(mw, ml, metric):
        return {"ours": text, "verdict": REPRODUCED, "why": "disjoint intervals, the paper's direction"}
    return {"ours": text, "verdict": CONTRADICTED, "why": "disjoint intervals, the opposite direction"}
