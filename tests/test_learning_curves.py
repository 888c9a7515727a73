"""Learning curves: the steps a run keeps, the curve scored on them, and the rule that says a curve was flat."""

import pandas as pd
import pytest
import torch

from s2d import learning_curves as lc
from s2d.checkpoint import load_model
from s2d.config import load_config
from s2d.evaluate import copy_source
from s2d.train import snapshot_path, snapshot_steps, train


def test_snapshot_steps_are_evenly_spaced_and_include_the_start_and_the_end():
    assert snapshot_steps(150, 6) == {0, 25, 50, 75, 100, 125, 150}
    assert snapshot_steps(20, 6) == {0, 3, 7, 10, 13, 17, 20}
    assert snapshot_steps(150, 0) == set()


def test_a_run_keeps_its_weights_at_the_snapshot_steps_and_the_last_equals_the_checkpoint(synth_vox, tmp_path):
    config = load_config("smoke", ["train.steps=4", "train.snapshots=2", "train.checkpoint_every=2"])
    ckpt = train(config, synth_vox, tmp_path / "run", progress=False)
    kept = lc.snapshots(ckpt)
    assert list(kept) == [0, 2, 4] and kept[2] == snapshot_path(tmp_path / "run", 2)
    first, last, final = (load_model(p)[0].state_dict() for p in (kept[0], kept[4], ckpt))
    assert all(torch.equal(last[k], final[k]) for k in final)
    assert not all(torch.equal(first[k], final[k]) for k in final)  # training moved the weights


def test_the_learning_curve_scores_every_kept_step_on_the_same_frames(synth_vox, tmp_path):
    config = load_config("smoke", ["train.steps=4", "train.snapshots=2", "train.checkpoint_every=2"])
    ckpt = train(config, synth_vox, tmp_path / "run", progress=False)
    seen = []

    def point(snapshot):
        seen.append(snapshot)
        return lc.curve_point(synth_vox, copy_source, config.eval, detector=None)

    curve = lc.learning_curve(ckpt, point)
    assert list(curve["step"]) == [0, 2, 4] and len(seen) == 3
    assert curve["frames"].nunique() == 1 and curve["l1"].nunique() == 1  # copying: the same frames, the same L1
    assert curve["akd"].isna().all()  # no detector given
    assert lc.learning_curve(tmp_path / "nothing" / "checkpoint.pt", point).empty


def _curve(values):
    return pd.DataFrame({"step": [0, 25, 50, 75, 100, 125, 150], "l1": values})


def test_a_curve_that_fell_early_has_stopped_and_one_that_falls_at_the_end_has_not():
    flat = lc.still_learning(_curve([0.03, 0.02, 0.018, 0.017, 0.0165, 0.0163, 0.0162]))
    assert flat["still_learning"] is False and flat["last_third_share"] == pytest.approx(0.3 / 13.8)
    steep = lc.still_learning(_curve([0.03, 0.029, 0.028, 0.027, 0.026, 0.022, 0.018]))
    assert steep["still_learning"] is True and steep["last_third_share"] == pytest.approx(8 / 12)
    never = lc.still_learning(_curve([0.03] * 7))
    assert never["still_learning"] is True and pd.isna(never["last_third_share"])


def test_the_summary_leaves_out_the_reference_row():
    curves = pd.concat([_curve([0.03, 0.02, 0.018, 0.017, 0.0165, 0.0163, 0.0162]).assign(method="a"),
                        pd.DataFrame({"step": [0, 150], "l1": [0.028, 0.028], "method": "copy"})])
    table = lc.summary(curves, reference="copy")
    assert list(table.index) == ["a"] and table.loc["a", "l1_at_end"] == pytest.approx(0.0162)


def test_the_flatness_sentence_names_the_methods_still_learning():
    table = pd.DataFrame({"still_learning": [False, True]}, index=["flat one", "steep one"])
    text = lc.flatness_text(table)
    assert "Flattened by the end" in text and "flat one" in text.split("**Still learning**")[0]
    assert "steep one" in text.split("**Still learning**")[1]
    assert "Still learning" not in lc.flatness_text(table.iloc[:1])
