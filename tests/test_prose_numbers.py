"""The README's numbers are generated from the committed results, and a stale one fails."""

from pathlib import Path

import pytest

from s2d.repro import prose_numbers

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results" / "cpu"


def test_fill_replaces_only_the_marked_passages():
    text = "a <!-- speed -->old<!-- /speed --> b <!-- other -->kept<!-- /other -->"
    filled = prose_numbers.fill(text, {"speed": "2.0 steps/s"})
    assert filled == "a <!-- speed -->2.0 steps/s<!-- /speed --> b <!-- other -->kept<!-- /other -->"
    assert prose_numbers.marked(filled) == {"speed": "2.0 steps/s", "other": "kept"}


@pytest.mark.skipif(not (RESULTS / "run.json").is_file(), reason="no committed cpu results")
def test_the_readmes_numbers_are_the_committed_results():
    """Every generated passage of README.md is what results/cpu gives (`python -m s2d.repro.prose_numbers` rewrites
    them after a run): a number typed by hand, or left from an older run, fails here."""
    readme = prose_numbers.marked((ROOT / "README.md").read_text())
    expected = prose_numbers.passages(RESULTS)
    assert set(expected) <= set(readme), set(expected) - set(readme)
    for name, value in expected.items():
        assert readme[name] == value, (name, readme[name], value)
