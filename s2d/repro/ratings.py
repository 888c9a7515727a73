"""Blind user-preference ratings: the "user preference" / "user study" columns of Tables 2 and 5.

The paper asked people to pick the best of several videos of the same input (18 raters x 100
trials for Table 2, 10 x 10 for Table 5). :class:`RatingWidget` runs such a study in JupyterLab
and appends every pick to a CSV; :func:`preference_share` and :func:`preference_column` turn
that CSV into the share of picks per method that the tables print.

The CSV is append-only, one row per pick, so that a crash never costs more than the pick being
written. The header is created atomically (temporary file renamed into place) when the file is
missing or empty; each row is then encoded in full and handed to a single ``write()`` on a file
opened for appending, followed by ``flush`` and ``fsync``. Should a row still be torn (power loss
mid-write), the next row starts on a fresh line and the readers here drop the torn one.
Skips are not recorded: a skipped trial is simply one without a pick.
"""

from __future__ import annotations

import csv
import html
import io
import os
import random
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from s2d.io import write_text

if TYPE_CHECKING:
    import ipywidgets

RATED_TABLES = (2, 5)  # the paper's tables with a user-preference column
COLUMNS = ("timestamp_utc", "rater", "table", "trial", "shown_order", "picked")
FORMATS = {".gif": "gif", ".mp4": "mp4"}


def _check_trials(trials: list[dict[str, str | Path]]) -> list[dict[str, Path]]:
    """The trials with paths as :class:`Path`, or a one-sentence ValueError naming what is wrong."""
    if not trials:
        raise ValueError("There must be at least one trial.")
    methods = set(trials[0])
    checked = []
    for number, trial in enumerate(trials, start=1):
        if len(trial) < 2:
            raise ValueError(f"Trial {number} has {len(trial)} candidate(s); a choice needs at least 2.")
        if set(trial) != methods:
            raise ValueError(f"Trial {number} compares {sorted(trial)}, "
                             f"but trial 1 compares {sorted(methods)}.")
        paths = {method: Path(video) for method, video in trial.items()}
        for method, video in paths.items():
            if "|" in method:
                raise ValueError(f"Method name {method!r} contains '|', which separates names in the CSV.")
            if video.suffix.lower() not in FORMATS:
                raise ValueError(f"Trial {number}: {video} is not a GIF or MP4 file.")
            if not video.is_file():
                raise ValueError(f"Trial {number}: video file {video} does not exist.")
        checked.append(paths)
    return checked


def _letter(index: int) -> str:
    return chr(ord("A") + index)


def _append_row(path: Path, row: dict[str, object]) -> None:
    """Append one CSV row to ``path`` crash-safely (module docstring), creating the header if needed."""
    if not path.is_file() or path.stat().st_size == 0:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(COLUMNS)
        write_text(path, buffer.getvalue())
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([row[column] for column in COLUMNS])
    line = buffer.getvalue().encode("utf-8")
    with open(path, "ab+") as f:
        size = f.seek(0, os.SEEK_END)
        if size:
            f.seek(size - 1)
            if f.read(1) != b"\n":  # a torn previous row: keep it on its own line
                line = b"\n" + line
        f.write(line)  # append mode: lands at the end whatever the read position
        f.flush()
        os.fsync(f.fileno())


class RatingWidget:
    """One blind rating session: each trial's videos side by side as "A", "B", ..., one pick per trial.

    The candidates' order is shuffled per trial (``seed`` makes it reproducible) and the method
    names are never shown, so a rater cannot favour a method by name or by position. ``pick`` and
    ``skip`` are what the buttons call, so tests can drive the widget without a browser. After the
    last trial the buttons are disabled and ``pick``/``skip`` raise RuntimeError rather than
    silently dropping a pick.
    """

    def __init__(self, table: int, trials: list[dict[str, str | Path]], question: str,
                 out: Path = Path("results/ratings.csv"), seed: int | None = None, rater: str = ""):
        if table not in RATED_TABLES:
            raise ValueError(f"Ratings are collected for Tables 2 and 5, not Table {table}.")
        try:
            import ipywidgets
        except ImportError as err:
            raise ImportError("RatingWidget needs ipywidgets: pip install 's2d[notebooks]'.") from err
        self._w = ipywidgets
        self.table = table
        self.trials = _check_trials(trials)
        self.question = question
        self.out = Path(out)
        self.rater = rater
        rng = random.Random(seed)
        self.orders = [rng.sample(sorted(trial), len(trial)) for trial in self.trials]
        self.index = 0

        letters = [_letter(i) for i in range(len(self.trials[0]))]
        self._buttons = [ipywidgets.Button(description=letter) for letter in letters]
        for button, letter in zip(self._buttons, letters):
            button.on_click(lambda _, letter=letter: self.pick(letter))
        skip = ipywidgets.Button(description="skip")
        skip.on_click(lambda _: self.skip())
        self._buttons.append(skip)
        self._progress = ipywidgets.Label()
        self._videos = ipywidgets.HBox()
        header = ipywidgets.HTML(f"<b>{html.escape(question)}</b>")
        self.widget = ipywidgets.VBox([header, self._progress, self._videos, ipywidgets.HBox(self._buttons)])
        self._show()

    @property
    def done(self) -> bool:
        """Whether every trial has been picked or skipped."""
        return self.index >= len(self.trials)

    @property
    def order(self) -> list[str]:
        """The method names in the order currently shown (A first); empty once done."""
        return [] if self.done else list(self.orders[self.index])

    def pick(self, letter: str) -> str:
        """Record that the video shown as ``letter`` was preferred, move on, and return its method."""
        self._check_not_done()
        letters = [_letter(i) for i in range(len(self.order))]
        if letter not in letters:
            raise ValueError(f"Pick one of {', '.join(letters)}, not {letter!r}.")
        method = self.order[letters.index(letter)]
        _append_row(self.out, {
            "timestamp_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "rater": self.rater, "table": self.table, "trial": self.index + 1,
            "shown_order": "|".join(self.order), "picked": method,
        })
        self._advance()
        return method

    def skip(self) -> None:
        """Move to the next trial without recording anything."""
        self._check_not_done()
        self._advance()

    def _ipython_display_(self) -> None:
        from IPython.display import display
        display(self.widget)

    def _check_not_done(self) -> None:
        if self.done:
            raise RuntimeError(f"All {len(self.trials)} trials are done; there is nothing left to rate.")

    def _advance(self) -> None:
        self.index += 1
        self._show()

    def _show(self) -> None:
        """Put the current trial's videos (or the closing message) on screen."""
        if self.done:
            self._progress.value = f"all {len(self.trials)} trials done, thank you"
            self._videos.children = ()
            for button in self._buttons:
                button.disabled = True
            return
        self._progress.value = f"trial {self.index + 1} of {len(self.trials)}"
        trial = self.trials[self.index]
        self._videos.children = tuple(
            self._w.VBox([self._w.Label(_letter(i)), self._media(trial[method])])
            for i, method in enumerate(self.order))

    def _media(self, video: Path) -> ipywidgets.Image | ipywidgets.Video:
        """The player for one candidate; its file name is not shown, which keeps the study blind."""
        if FORMATS[video.suffix.lower()] == "gif":
            return self._w.Image(value=video.read_bytes(), format="gif")
        return self._w.Video(value=video.read_bytes(), format="mp4", autoplay=True, loop=True)


def _ratings(path: str | Path, table: int) -> pd.DataFrame | None:
    """The complete rows of ``path`` for ``table``, or None if there are none (torn rows dropped)."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return None
    frame = pd.read_csv(path, dtype=str, na_filter=False)  # a torn row's missing fields read as ""
    complete = [picked in shown.split("|") for picked, shown in zip(frame["picked"], frame["shown_order"])]
    frame = frame[pd.Series(complete, index=frame.index, dtype=bool) & (frame["table"] == str(table))]
    return None if frame.empty else frame


def _share(frame: pd.DataFrame) -> pd.Series:
    """Share of picks per method, over every method that was ever shown (0 for one never picked)."""
    shown = sorted({method for order in frame["shown_order"] for method in order.split("|")})
    return frame["picked"].value_counts(normalize=True).reindex(shown, fill_value=0.0).rename("share")


def preference_share(path: str | Path, table: int) -> pd.Series | None:
    """The share of picks per method for ``table`` (sums to 1), or None without ratings.

    Every method that was ever shown is listed, so a method nobody picked gets 0, as Dlib and
    FAN4 do in the paper's Table 5.
    """
    frame = _ratings(path, table)
    return None if frame is None else _share(frame)


def preference_column(path: str | Path, table: int, methods: list[str]) -> tuple[dict[str, float], str]:
    """The preference share of each of ``methods`` and a note for the table caption.

    Without ratings every value is NaN and the note is "no ratings yet"; otherwise the note reads
    "N ratings from R raters" (singular for 1; an empty rater name counts as one anonymous rater).
    A method that was never shown to raters gets NaN, not 0.
    """
    frame = _ratings(path, table)
    if frame is None:
        return {method: np.nan for method in methods}, "no ratings yet"
    share = _share(frame)
    n, raters = len(frame), frame["rater"].nunique()
    note = f"{n} rating{'s' * (n != 1)} from {raters} rater{'s' * (raters != 1)}"
    return {method: float(share.get(method, np.nan)) for method in methods}, note
