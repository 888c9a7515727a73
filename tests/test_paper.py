"""The transcribed paper numbers match the paper's own text, cell by cell."""

import re
from pathlib import Path

import numpy as np
import pytest

from s2d.repro import paper

PAPER = Path(__file__).resolve().parents[2] / "shared" / "paper" / "sparse-to-dense-motion-transfer.md"


def _cells(line: str) -> list[str]:
    return [re.sub(r"</?b>", "", c).strip() for c in line.split("\t")]


def _value(cell: str) -> float:
    if cell == "N/A":
        return np.nan
    return float(cell.rstrip("%").strip()) / (100 if cell.endswith("%") else 1)


@pytest.mark.skipif(not PAPER.is_file(), reason=f"{PAPER} is absent (the paper text is a development input)")
def test_every_number_matches_the_paper_text():
    lines = PAPER.read_text().splitlines()
    checked = 0
    for number, spec in paper.TABLES.items():
        frame = paper.table(number)
        header = next(i for i, line in enumerate(lines) if line.startswith(("Method\t", "Setting\t", "Detector\t"))
                      and i > _caption_line(lines, number))
        printed = [_cells(line) for line in lines[header + 1: header + 1 + len(spec.rows)]]
        assert len(printed) == len(frame), number
        for (name, row), cells in zip(frame.iterrows(), printed):
            values = [_value(c) for c in cells[1:]]
            assert np.allclose(row.to_numpy(float), values, equal_nan=True), (number, name, cells)
            checked += len(values)
    assert checked == 35 + 6 + 10 + 12 + 20


def _caption_line(lines: list[str], number: int) -> int:
    return next(i for i, line in enumerate(lines) if line.startswith(f"Table {number}."))


def test_tables_have_directions_and_reject_unknown_numbers():
    for spec in paper.TABLES.values():
        assert all(column in paper.HIGHER_IS_BETTER for column in spec.columns)
    assert paper.table(1).loc["Ours", "fid"] == 9.06
    assert np.isnan(paper.table(1).loc["Few-shot (2019)", "l1"])
    with pytest.raises(KeyError, match="1-5"):
        paper.table(6)
