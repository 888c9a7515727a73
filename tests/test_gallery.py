"""make gallery: s2d animate's real-face model, then the gallery's page, outside make reproduce's hour."""

import json

import numpy as np
import pandas as pd
import pytest

from s2d.cli import main
from s2d.config import load_config
from s2d.repro import plan
from s2d.repro.reproduce import PAGES, REPRODUCED


def test_the_gallery_is_its_own_target_and_its_help_says_what_it_costs(capsys):
    gallery = [page for page in PAGES if page.target == "gallery"]
    assert [page.notebook for page in gallery] == ["05_gallery.ipynb"] and gallery[0] not in REPRODUCED
    with pytest.raises(SystemExit):
        main(["gallery", "--help"])
    text = capsys.readouterr().out
    assert "real-face model" in text and "Not part of make" in text and "minutes on 2 CPU cores" in text


@pytest.mark.skipif(plan.real_data() is None, reason="no prepared real clips (make data-real)")
def test_gallery_builds_the_real_face_model_and_its_baseline_and_executes_its_page(tmp_path, capsys):
    results, book = tmp_path / "results", tmp_path / "book"
    args = ["gallery", "--profile", "smoke", "--results", str(results), "--data", str(tmp_path / "data"),
            "--runs", str(tmp_path / "runs"), "--book", str(book)]
    assert main(args) == 0
    assert "make book shows it" in capsys.readouterr().out
    out = results / "smoke" / "gallery"
    record = json.loads((out / "gallery.json").read_text())
    model = plan.real_face_run(load_config("smoke")).name
    assert record["checkpoint"].startswith(str(tmp_path / "runs" / "smoke" / model))
    assert record["model"]["steps"] > 0 and record["model_s"] > 0 and record["page_s"] > 0
    assert record["model_trained_now"] and record["baseline_trained_now"]  # a fresh run cache: built here
    baseline = plan.real_face_baseline_run(load_config("smoke")).name
    assert record["baseline"].startswith(str(tmp_path / "runs" / "smoke" / baseline)) and record["baseline_s"] > 0
    assert record["baseline_model"]["architecture"] == "first-order" and record["baseline_model"]["steps"] > 0
    assert (book / "gallery.ipynb").stat().st_size > 10_000 and (out / "gallery.png").stat().st_size > 5_000
    measures = pd.read_csv(out / "photo_measures.csv", index_col=0)
    assert len(measures) >= 1 and {"motion_ratio_68", "identity_distance"} <= set(measures.columns)
    assert np.isfinite(measures["frames_with_a_face"]).all()
