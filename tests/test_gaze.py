"""make gaze (s2d.repro.gaze): Table 4's two settings again at 128 px, and the gaze claim's verdicts."""

import json

import numpy as np
import pandas as pd

from s2d.cli import main
from s2d.repro import gaze, plan
from s2d.repro.reproduce import claims_step
from s2d.repro.table_result import COPY_BASELINE


def test_make_gaze_trains_the_two_settings_at_128_px_and_writes_their_verdicts(tmp_path):
    args = ["gaze", "--profile", "smoke", "--results", str(tmp_path / "results"), "--data", str(tmp_path / "data"),
            "--runs", str(tmp_path / "runs")]
    assert main(args) == 0
    folder = tmp_path / "results" / "smoke" / "gaze"
    study = gaze.load(folder)
    assert study is not None and study.attrs["resolution"] == 128 and study.figure.stat().st_size > 1_000
    assert set(study.attrs["runs"]) == set(plan.GAZE_SETTINGS)
    assert all(name.startswith("gaze-128px-") for names in study.attrs["runs"].values() for name in names)
    assert (tmp_path / "data" / "synth-vox-smoke-128px-seed0" / "meta.json").is_file()  # its own data, at 128 px
    # the gaze claim alone, on the detected gaze and on the motion map's pupils, labelled with its size
    assert set(study.verdicts.metric) == {"gaze_error", "pupil_transfer_px"}
    assert study.verdicts.claim.str.endswith("(at 128 px)").all()
    assert (study.verdicts.claim.str.startswith("Full model better than no local motion")).all()
    assert (study.verdicts.verdict == "cannot tell").all()  # smoke trains one seed: the interval misses the seeds
    # copying the source frame is the identity warp: its pupil error is how far the pupils moved
    assert np.isclose(study.summary.loc[COPY_BASELINE, "pupil_transfer_px"], study.motion["pupil_identity_px"].iloc[0],
                      atol=1e-3)
    floor = study.attrs["gaze_floor"]  # what a detected gaze error can show on these frames
    assert set(floor) == {"gaze_change", "detector_error", "detector_change"} and floor["gaze_change"] > 0
    assert np.isfinite(list(floor.values())).all() and "interocular" in gaze.describe(study)
    videos = pd.read_csv(folder / "table4_gaze_videos.csv")
    assert videos["pupil_transfer_px"].notna().all() and set(videos["method"]) == {*plan.GAZE_SETTINGS, COPY_BASELINE}
    # the claims figure of make reproduce includes them
    assert "figures:claims" in claims_step(tmp_path / "results" / "smoke")
    first = {p.name: p.read_bytes() for p in folder.glob("*.csv")}
    assert main(args) == 0  # cached: nothing trains again, and the same numbers come out
    assert first == {p.name: p.read_bytes() for p in folder.glob("*.csv")}
    assert json.loads((folder / "table4_gaze.json").read_text())["seeds"] == [0]


def test_make_gaze_says_when_the_profile_has_no_larger_size(tmp_path, capsys):
    args = ["gaze", "--profile", "smoke", "--set", "eval.gaze_resolution=0", "--results", str(tmp_path)]
    assert main(args) == 2
    assert "not above its data.resolution" in capsys.readouterr().err
    assert gaze.load(tmp_path / "smoke" / "gaze") is None
