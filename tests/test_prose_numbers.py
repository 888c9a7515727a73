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


def test_the_gpu_timing_names_the_settings_it_changed():
    """The GPU cost is quoted with every setting the measurement overrode (a random-weight VGG-19, say), or as the
    paper profile's own settings when it overrode none."""
    model = {"batch": 40, "resolution": 256, "steps_per_s": 8.0, "peak_gpu_memory_gb": 27.0, "paper_steps": 227100,
             "paper_hours": 7.9}
    record = {"device": "GPU", "overrides": ["loss.perceptual_backbone=random"], "s2d": model,
              "detector": {"variant": "FAN4+DSNT+SBR", "batch": 16, "steps_per_s": 7.0, "paper_steps": 20000,
                           "paper_hours": 0.8}}
    assert "256 px, the `paper` profile's settings but `loss.perceptual_backbone=random`, per model" in (
        prose_numbers.gpu_timing(record))
    assert "256 px, the `paper` profile's settings, per model" in prose_numbers.gpu_timing({**record, "overrides": []})


def test_the_photo_study_passage_gives_the_models_means_and_the_floor_where_scored():
    import pandas as pd

    from s2d.repro.photo_study import MODEL, REFERENCE

    pairs = pd.DataFrame({"method": [MODEL, REFERENCE, MODEL, REFERENCE], "motion_ratio_68": [0.3, 0.2, 0.5, 0.4],
                          "motion_ratio_contour": [0.6, 0.5, 0.8, 0.7], "identity_distance": [0.3, 0.2, 0.3, 0.2]})
    text = prose_numbers.photo_study(pairs)
    assert text.startswith("on 2 pairs") and "all 68 points 0.400 (a perfect landmark warp 0.300)" in text
    assert "face contour 0.700 (a perfect landmark warp 0.600)" in text
    alone = prose_numbers.photo_study(pairs[pairs.method == MODEL].drop(columns="method"))
    assert "identity distance 0.300" in alone and "perfect" not in alone


@pytest.mark.skipif(not (RESULTS / "run.json").is_file(), reason="no committed cpu results")
def test_the_readmes_numbers_are_the_committed_results():
    """Every generated passage of README.md is what results/cpu gives (`python -m s2d.repro.prose_numbers` rewrites
    them after a run): a number typed by hand, or left from an older run, fails here."""
    readme = prose_numbers.marked((ROOT / "README.md").read_text())
    expected = prose_numbers.passages(RESULTS)
    assert set(expected) <= set(readme), set(expected) - set(readme)
    for name, value in expected.items():
        assert readme[name] == value, (name, readme[name], value)
