"""The blind rating widget and the preference shares it feeds into Tables 2 and 5."""

from __future__ import annotations

import csv
import math
from collections import Counter
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

pytest.importorskip("ipywidgets")

from s2d.repro.ratings import COLUMNS, RatingWidget, preference_column, preference_share  # noqa: E402

METHODS = ("Monkey-Net (2019)", "First-order (2019)", "Ours")
QUESTION = "Which video animates the source face most realistically, following the driving motion?"


def _gif(path: Path, value: int) -> Path:
    frames = np.full((2, 8, 8, 3), value, dtype=np.uint8)
    iio.imwrite(path, frames, extension=".gif")
    return path


@pytest.fixture
def trials(tmp_path) -> list[dict[str, Path]]:
    """Six trials of three tiny two-frame GIFs each."""
    return [{m: _gif(tmp_path / f"t{t}_{i}.gif", 40 * i) for i, m in enumerate(METHODS)} for t in range(6)]


def _texts(widget) -> list[str]:
    """Every text a rater can read in ``widget`` and its children."""
    own = [getattr(widget, name) for name in ("value", "description")
           if isinstance(getattr(widget, name, None), str)]
    return own + [text for child in getattr(widget, "children", ()) for text in _texts(child)]


def _widget(trials, tmp_path, **kwargs) -> RatingWidget:
    return RatingWidget(2, trials, QUESTION, out=tmp_path / "ratings.csv", seed=0, **kwargs)


def test_widget_builds_blind_and_shuffled(trials, tmp_path):
    w = _widget(trials, tmp_path)
    assert w.widget.children  # a VBox that JupyterLab can render
    assert w._progress.value == "trial 1 of 6"
    assert [b.description for b in w._buttons] == ["A", "B", "C", "skip"]
    labels = [box.children[0].value for box in w._videos.children]
    assert labels == ["A", "B", "C"]
    assert not any(m in text for m in METHODS for text in _texts(w.widget))  # blind: no name on screen
    assert sorted(w.order) == sorted(METHODS)
    assert len({tuple(order) for order in w.orders}) > 1
    assert w.orders == _widget(trials, tmp_path).orders  # a seed reproduces the shuffle


def test_pick_records_the_method_shown_and_round_trips(trials, tmp_path):
    w = _widget(trials, tmp_path, rater="ana")
    first = w.order
    assert w.pick("A") == first[0]
    w.skip()
    third = w.order
    w._buttons[1].click()  # the "B" button does what pick("B") does
    assert w._progress.value == "trial 4 of 6"

    with open(tmp_path / "ratings.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == COLUMNS
    assert [(r["rater"], r["table"], r["trial"], r["shown_order"], r["picked"]) for r in rows] == [
        ("ana", "2", "1", "|".join(first), first[0]),
        ("ana", "2", "3", "|".join(third), third[1]),
    ]

    share = preference_share(tmp_path / "ratings.csv", 2)
    assert sorted(share.index) == sorted(METHODS)  # a method never picked still shows, at 0
    assert math.isclose(share.sum(), 1.0)
    picks = Counter([first[0], third[1]])
    assert share.to_dict() == {m: picks[m] / 2 for m in METHODS}
    values, note = preference_column(tmp_path / "ratings.csv", 2, [*METHODS, "Few-shot (2019)"])
    assert note == "2 ratings from 1 rater"
    assert values[first[0]] == share[first[0]]
    assert math.isnan(values["Few-shot (2019)"])  # never shown to raters
    assert preference_share(tmp_path / "ratings.csv", 5) is None


def test_no_ratings_yet(tmp_path):
    assert preference_share(tmp_path / "missing.csv", 2) is None
    values, note = preference_column(tmp_path / "missing.csv", 5, ["Dlib", "FAN4"])
    assert note == "no ratings yet"
    assert all(math.isnan(v) for v in values.values())


def test_torn_row_is_dropped_and_next_row_is_whole(trials, tmp_path):
    w = _widget(trials, tmp_path)
    w.pick("A")
    with open(tmp_path / "ratings.csv", "a") as f:
        f.write("2024-01-01T00:00:00+00:00,,2,2,Ours|Monk")  # a crash mid-row
    w.pick("C")
    values, note = preference_column(tmp_path / "ratings.csv", 2, list(METHODS))
    assert note == "2 ratings from 1 rater"
    assert sum(values.values()) == pytest.approx(1.0)


def test_after_the_last_trial(trials, tmp_path):
    w = _widget(trials[:2], tmp_path)
    w.pick("A")
    w.skip()
    assert w.done and w.order == []
    assert all(b.disabled for b in w._buttons)
    with pytest.raises(RuntimeError):
        w.pick("A")
    with pytest.raises(RuntimeError):
        w.skip()


def test_bad_input(trials, tmp_path):
    with pytest.raises(ValueError, match="Tables 2 and 5"):
        RatingWidget(3, trials, QUESTION)
    with pytest.raises(ValueError, match="at least 2"):
        RatingWidget(2, [{"Ours": trials[0]["Ours"]}], QUESTION)
    with pytest.raises(ValueError, match="trial 1 compares"):
        RatingWidget(2, [trials[0], {m: trials[1][m] for m in METHODS[1:]}], QUESTION)
    with pytest.raises(ValueError, match="does not exist"):
        RatingWidget(2, [{**trials[0], "Ours": tmp_path / "gone.gif"}], QUESTION)
    (tmp_path / "clip.avi").write_bytes(b"")
    with pytest.raises(ValueError, match="not a GIF or MP4"):
        RatingWidget(2, [{**trials[0], "Ours": tmp_path / "clip.avi"}], QUESTION)
    w = _widget(trials, tmp_path)
    with pytest.raises(ValueError, match="Pick one of A, B, C"):
        w.pick("D")
