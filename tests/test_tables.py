"""The pipeline's model plan and caches, the tables' summaries and the verdicts on the paper's claims."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from s2d import claims, evaluate, pipeline, tables
from s2d.config import load_config


def _summary(rows: dict[str, list[float]], metric: str = "l1") -> pd.DataFrame:
    per_seed = pd.DataFrame([{"method": m, "seed": s, metric: v} for m, vs in rows.items() for s, v in enumerate(vs)])
    return tables.TableResult(4, per_seed, [metric]).summary()


def _verdict(summary: pd.DataFrame, better: str, worse: str, metric: str = "l1") -> pd.Series:
    table = claims.verdicts(4, summary, {"Full model": "full", "no AdaIN layer": "no adain"}, {})
    line = table[(table.metric == metric) & (table.claim == "Full model better than no AdaIN layer")]
    assert len(line) == 1
    return line.iloc[0]


def test_summary_is_mean_and_sample_std_over_seeds():
    summary = _summary({"a": [1.0, 2.0, 3.0], "b": [5.0]})
    assert summary.loc["a", "l1"] == 2.0 and summary.loc["a", "l1_std"] == pytest.approx(1.0)
    assert np.isnan(summary.loc["b", "l1_std"]) and summary.loc["b", "seeds"] == 1


def test_verdicts_follow_the_intervals_and_the_papers_direction():
    # the paper: full 0.0442 < no AdaIN 0.0449 on L1 (lower is better)
    assert _verdict(_summary({"full": [0.10, 0.11, 0.12], "no adain": [0.20, 0.21, 0.22]}),
                    "full", "no adain").verdict == claims.REPRODUCED
    assert _verdict(_summary({"full": [0.30, 0.31, 0.32], "no adain": [0.20, 0.21, 0.22]}),
                    "full", "no adain").verdict == claims.CONTRADICTED
    overlapping = _verdict(_summary({"full": [0.10, 0.20, 0.30], "no adain": [0.15, 0.25, 0.35]}), "full", "no adain")
    assert overlapping.verdict == claims.CANNOT_TELL and "overlap" in overlapping.why
    one_seed = _verdict(_summary({"full": [0.1], "no adain": [0.2]}), "full", "no adain")
    assert one_seed.verdict == claims.CANNOT_TELL and "one seed" in one_seed.why


def test_a_missing_row_or_metric_cannot_be_told():
    missing = _verdict(_summary({"full": [0.1, 0.2]}), "full", "no adain")
    assert missing.verdict == claims.CANNOT_TELL and "not in this run" in missing.why
    nan = _verdict(_summary({"full": [np.nan, np.nan], "no adain": [np.nan, np.nan]}), "full", "no adain")
    assert nan.verdict == claims.CANNOT_TELL and nan.ours == "n/a"


def test_claims_come_from_the_papers_numbers():
    table = claims.verdicts(4, _summary({"x": [1.0]}), {}, {})
    # three ablations x three metrics, and the motion cue (Table 1 against Table 4) on three metrics
    assert len(table) == 12
    cue = table[table.claim.str.contains("Ours \\(Table 1\\)")]
    assert set(cue.metric) == {"l1", "fid", "ssim"} and cue.claim.str.startswith("Ours (Table 1) better").all()
    ssim = table[(table.metric == "ssim") & table.claim.str.contains("no local motion")].iloc[0]
    assert ssim.claim == "Full model better than no local motion" and ssim.paper == "0.7733 vs 0.7729"


def test_model_plan_names_each_model_once_and_shares_the_table1_model():
    config = load_config("cpu")
    runs = pipeline.model_runs(config)
    names = [r.name for r in runs]
    baselines = 3 + 2 + 1  # First-order 3 seeds, Monkey-Net 2 on synth-vox; First-order on synth-ff (Table 3)
    assert pipeline.baseline_seeds(config, "monkey-net") == [0, 1]
    assert pipeline.ablation_seeds(config) == [0, 1]
    ablations = (len(pipeline.ABLATIONS) - 1) * 2  # the motion-cue setting is the Table 1 model itself
    real_face = 0 if pipeline.real_data() is None else 1  # trained when the real clips are prepared
    assert len(names) == len(set(names)) == (1 + len(config.seeds) + ablations + baselines
                                             + len(pipeline.TABLE5_DETECTORS) + real_face)
    assert {f"s2d-synth-vox-seed{s}" for s in config.seeds} <= set(names)  # Table 1's seeds, beyond Table 4's
    fomm = pipeline.baseline_run(config, "first-order", "synth-vox", 2)
    assert fomm.config.model.architecture == "first-order" and fomm.config.seed == 2 and fomm.config.train == config.train
    assert fomm.config.loss == config.loss  # the same losses and schedule as S2D
    assert pipeline.ablation_run(config, pipeline.WITH_MOTION_CUE, 1) == pipeline.main_run(config, "synth-vox", 1)
    no_local = pipeline.ablation_run(config, "no local motion", 2)
    assert not no_local.config.model.local_branches and not no_local.config.model.motion_to_generator
    assert no_local.config.seed == 2 and no_local.data_seed == config.seed  # every seed is tested on the same data
    with pytest.raises(KeyError, match="unknown ablation"):
        pipeline.ablation_run(config, "no eyes", 0)


def test_training_key_ignores_evaluation_settings_but_not_training_ones():
    config = load_config("smoke")
    key = pipeline.training_fingerprint(config)
    assert pipeline.training_fingerprint(replace(config, eval=replace(config.eval, batch_size=3))) == key
    assert pipeline.training_fingerprint(replace(config, seeds=[0, 1, 2])) == key
    assert pipeline.training_fingerprint(replace(config, seed=1)) != key
    assert pipeline.training_fingerprint(replace(config, train=replace(config.train, steps=21))) != key


def test_evaluations_are_cached_per_model_protocol_and_settings(tmp_path, synth_vox):
    calls = []

    def run():
        calls.append(1)
        return evaluate.same_identity(synth_vox, evaluate.copy_source, device="cpu", progress=False)

    checkpoint = tmp_path / "checkpoint.pt"
    first = pipeline.evaluated(checkpoint, "same_identity", run, {"a": 1}, identity="copy")
    again = pipeline.evaluated(checkpoint, "same_identity", run, {"a": 1}, identity="copy")
    assert len(calls) == 1
    assert again.mean["l1"] == pytest.approx(first.mean["l1"]) and again.mean.attrs["notes"] == first.mean.attrs["notes"]
    pd.testing.assert_frame_equal(again.rows, first.rows, check_dtype=False)
    pipeline.evaluated(checkpoint, "same_identity", run, {"a": 2}, identity="copy")
    assert len(calls) == 2
