"""The pipeline's model plan and caches, the tables' summaries and the verdicts on the paper's claims."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from s2d import evaluate
from s2d.repro import cache, claims, plan, table_result, tables
from s2d.config import load_config


def _summary(rows: dict[str, list[float]], metric: str = "l1") -> pd.DataFrame:
    per_seed = pd.DataFrame([{"method": m, "seed": s, metric: v} for m, vs in rows.items() for s, v in enumerate(vs)])
    return table_result.TableResult(4, per_seed, [metric]).summary()


COPY = table_result.COPY_BASELINE


def _videos(rows: dict[str, list[list[float]]], metric: str = "l1") -> pd.DataFrame:
    """Per-video rows: method -> one list of per-video values per seed (the copy baseline has seed None)."""
    return pd.DataFrame([{"method": m, "seed": None if m == COPY else s, "item": f"v{i:02d}", metric: v}
                         for m, seeded in rows.items() for s, values in enumerate(seeded)
                         for i, v in enumerate(values)])


def _verdict(per_video: pd.DataFrame, metric: str = "l1") -> pd.Series:
    copy = COPY if COPY in set(per_video["method"]) else None
    table = claims.verdicts(4, per_video, {"Full model": "full", "no AdaIN layer": "no adain"}, {}, copy)
    line = table[(table.metric == metric) & (table.claim == "Full model better than no AdaIN layer")]
    assert len(line) == 1
    return line.iloc[0]


def _noisy(mean: float, seeds: int, spread: float, videos: int = 12, seed: int = 0) -> list[list[float]]:
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.1, 0.2, videos)  # videos differ far more than the methods: pairing must see through it
    return [list(mean + base + rng.normal(0, spread, videos)) for _ in range(seeds)]


def test_the_paired_interval_covers_zero_for_equal_rows_and_excludes_it_for_a_shift():
    rng = np.random.default_rng(1)
    values = rng.uniform(0, 1, (20, 1)) + rng.normal(0, 0.01, (20, 3))  # 20 videos, 3 seeds each
    difference, low, high = claims.paired_interval(values, values.copy())
    assert difference == 0 and low <= 0 <= high
    difference, low, high = claims.paired_interval(values + 0.05 + rng.normal(0, 0.01, (20, 3)), values)
    assert 0 < low < difference < high and difference == pytest.approx(0.05, abs=0.01)
    assert claims.paired_interval(values + 0.05, values, seed=3) == claims.paired_interval(values + 0.05, values, seed=3)
    with pytest.raises(ValueError, match="same items"):
        claims.paired_interval(values, values[:5])


def test_verdicts_follow_the_paired_interval_and_the_papers_direction():
    # the paper: full 0.0442 < no AdaIN 0.0449 on L1 (lower is better); copying the source is worse than both
    copy = {COPY: [[v + 0.5 for v in _noisy(0.0, 1, 0.0)[0]]]}
    better = _verdict(_videos({"full": _noisy(0.0, 2, 0.002), "no adain": _noisy(0.01, 2, 0.002, seed=0)} | copy))
    assert better.verdict == claims.REPRODUCED and better.videos == 12 and better.seeds == "2 vs 2", better.to_dict()
    worse = _verdict(_videos({"full": _noisy(0.01, 2, 0.002), "no adain": _noisy(0.0, 3, 0.002)} | copy))
    assert worse.verdict == claims.CONTRADICTED and worse.difference < 0
    overlapping = _verdict(_videos({"full": _noisy(0.0, 2, 0.05), "no adain": _noisy(0.0, 2, 0.05, seed=1)} | copy))
    assert overlapping.verdict == claims.CANNOT_TELL and "includes 0" in overlapping.why


def test_pairing_sees_a_small_difference_that_the_spread_over_videos_hides():
    """Rows 0.01 apart over videos spread 0.1 wide: unpaired intervals overlap, the paired one does not."""
    summary = _videos({"full": _noisy(0.0, 2, 0.001), "no adain": _noisy(0.01, 2, 0.001)}).groupby("method")["l1"]
    assert summary.mean()["no adain"] - summary.mean()["full"] < summary.std()["full"]
    assert _verdict(_videos({"full": _noisy(0.0, 2, 0.001), "no adain": _noisy(0.01, 2, 0.001)})).verdict == \
        claims.REPRODUCED


def test_one_seed_or_a_row_no_better_than_copying_cannot_be_told():
    one_seed = _verdict(_videos({"full": _noisy(0.0, 1, 0.002), "no adain": _noisy(0.01, 2, 0.002)}))
    assert one_seed.verdict == claims.CANNOT_TELL and "one seed" in one_seed.why
    at_copy = _videos({"full": _noisy(0.0, 2, 0.002), "no adain": _noisy(0.01, 2, 0.002),
                       COPY: _noisy(0.01, 1, 0.002)})  # the ablation is no better than copying the source
    line = _verdict(at_copy)
    assert line.verdict == claims.CANNOT_TELL and "no AdaIN layer does not beat copying" in line.why, line.why
    beaten = _videos({"full": _noisy(0.0, 2, 0.002), "no adain": _noisy(0.01, 2, 0.002),
                      COPY: _noisy(0.03, 1, 0.002)})
    assert _verdict(beaten).verdict == claims.REPRODUCED


def test_a_missing_row_or_metric_cannot_be_told():
    missing = _verdict(_videos({"full": _noisy(0.0, 2, 0.01)}))
    assert missing.verdict == claims.CANNOT_TELL and "not in this run" in missing.why
    nan = _verdict(_videos({"full": [[np.nan] * 3] * 2, "no adain": [[np.nan] * 3] * 2}))
    assert nan.verdict == claims.CANNOT_TELL and nan.ours == "n/a"
    fid = _verdict(_videos({"full": _noisy(0.0, 2, 0.01), "no adain": _noisy(0.1, 2, 0.01)}), "fid")
    assert fid.verdict == claims.CANNOT_TELL and "no per-video values" in fid.why


def test_claims_come_from_the_papers_numbers():
    table = claims.verdicts(4, _videos({"x": [[1.0]]}), {}, {}, sources=("tables",))
    # three ablations x three metrics, and the motion cue (Table 1 against Table 4) on three metrics
    assert len(table) == 12
    both = claims.verdicts(4, _videos({"x": [[1.0]]}), {}, {})
    gaze = both.iloc[12:]  # and the claim of Fig. 2 and 5, which has no numbers: detected, and in the motion map
    assert len(both) == 14 and gaze.metric.tolist() == ["gaze_error", "pupil_transfer_px"]
    assert (gaze.claim == "Full model better than no local motion").all() and gaze.paper_gain.isna().all()
    assert gaze.paper.str.contains("Fig. 2 and 5").all()
    figures = claims.verdicts(4, _videos({"x": [[1.0]]}), {}, {}, sources=("figures",))
    assert figures.claim.tolist() == gaze.claim.tolist()
    cue = table[table.claim.str.contains("Ours \\(Table 1\\)")]
    assert set(cue.metric) == {"l1", "fid", "ssim"} and cue.claim.str.startswith("Ours (Table 1) better").all()
    ssim = table[(table.metric == "ssim") & table.claim.str.contains("no local motion")].iloc[0]
    assert ssim.claim == "Full model better than no local motion" and ssim.paper == "0.7733 vs 0.7729"


def test_the_gaze_study_trains_table4s_two_settings_again_larger():
    config = load_config("cpu")
    runs = plan.gaze_runs(config)
    assert list(runs) == [plan.FULL, "no local motion"] and config.eval.gaze_resolution == 128
    for setting, seeded in runs.items():
        assert [r.config.seed for r in seeded] == plan.ablation_seeds(config, setting)
        for run in seeded:
            table4 = plan.ablation_run(config, setting, run.config.seed)
            assert run.name.startswith("gaze-128px-") and run.detector == table4.detector == plan.DETECTOR
            # the same model, losses and schedule as Table 4's, on data and a detector at 128 px
            assert (run.config.model, run.config.loss, run.config.train) == (
                table4.config.model, table4.config.loss, table4.config.train)
            assert run.config.data.resolution == run.config.detector.input_size == 128
            assert replace(run.config.data, resolution=64) == table4.config.data
    # make gaze trains them, not make reproduce (they do not fit the cpu profile's hour)
    assert not any(name.startswith("gaze-") for name in (r.name for r in plan.model_runs(config)))
    at_own_size = load_config("cpu", ["eval.gaze_resolution=64"])
    assert plan.gaze_runs(at_own_size) == {} and plan.gaze_config(at_own_size) is None


def test_model_plan_names_each_model_once_and_shares_the_table1_model():
    config = load_config("cpu")
    runs = plan.model_runs(config)
    names = [r.name for r in runs]
    baselines = 2 + 2 + 1  # First-order and Monkey-Net 2 seeds each on synth-vox; First-order on synth-ff (Table 3)
    assert plan.baseline_seeds(config, "monkey-net") == plan.baseline_seeds(config, "first-order") == [0, 1]
    assert plan.ablation_seeds(config, plan.FULL) == [0, 1]
    assert plan.ablation_seeds(config, plan.PAPER_LITERAL) == [0]  # beyond the paper: no claim rests on it
    assert plan.ablation_seeds(config, plan.WITH_MOTION_CUE) == config.seeds  # the Table 1 model
    ablations = (len(plan.ABLATIONS) - 2) * 2 + 1  # the motion-cue setting is the Table 1 model itself
    oracle = 1  # Table 1's model on the exact landmarks, one seed
    assert len(names) == len(set(names)) == (1 + len(config.seeds) + oracle + ablations + baselines
                                             + len(plan.TABLE5_DETECTORS))
    assert plan.real_face_run(config).name not in names  # make gallery's (and s2d animate's), not make reproduce's
    assert {f"s2d-synth-vox-seed{s}" for s in config.seeds} <= set(names)  # Table 1's seeds, beyond Table 4's
    # as the paper, S2D learns from and is driven by our detector's landmarks in Tables 1-4; the oracle by the exact ones
    assert all(r.detector == plan.DETECTOR for r in runs if r.name.startswith(("s2d-synth", "ablation-")))
    oracle_run = plan.exact_landmarks_run(config, 0)
    assert oracle_run.detector is None and oracle_run.config == plan.main_run(config, "synth-vox", 0).config
    fomm = plan.baseline_run(config, "first-order", "synth-vox", 2)
    assert fomm.config.model.architecture == "first-order" and fomm.config.seed == 2 and fomm.config.train == config.train
    assert fomm.config.loss == config.loss  # the same losses and schedule as S2D
    assert plan.ablation_run(config, plan.WITH_MOTION_CUE, 1) == plan.main_run(config, "synth-vox", 1)
    no_local = plan.ablation_run(config, "no local motion", 2)
    assert not no_local.config.model.local_branches and not no_local.config.model.motion_to_generator
    assert no_local.config.seed == 2 and no_local.data_seed == config.seed  # every seed is tested on the same data
    with pytest.raises(KeyError, match="unknown ablation"):
        plan.ablation_run(config, "no eyes", 0)


def test_every_seed_learns_from_the_landmarks_of_the_one_profile_detector(tmp_path, monkeypatch):
    config = load_config("smoke")
    asked = []
    monkeypatch.setattr(cache, "data_for", lambda run, root, progress=True: tmp_path / run.variant)
    monkeypatch.setattr(cache, "detected_landmarks",
                        lambda cfg, name, data, *args: asked.append((cfg.seed, name)) or tmp_path / "landmarks")
    monkeypatch.setattr(cache, "trained", lambda cfg, data, name, *args: (tmp_path / name / "checkpoint.pt", True))
    for seed in (3, 4):
        _, landmarks, _ = cache.trained_run(plan.main_run(config, "synth-vox", seed), tmp_path, tmp_path)
        assert landmarks == tmp_path / "landmarks"
    cache.trained_run(plan.ablation_run(config, "no local motion", 4), tmp_path, tmp_path)
    # the model's seed changes its training, not the detector that finds its landmarks (nor the data)
    assert asked == [(config.seed, plan.DETECTOR)] * 3


def test_training_key_ignores_evaluation_settings_but_not_training_ones():
    config = load_config("smoke")
    key = cache.training_fingerprint(config)
    assert cache.training_fingerprint(replace(config, eval=replace(config.eval, batch_size=3))) == key
    assert cache.training_fingerprint(replace(config, seeds=[0, 1, 2])) == key
    assert cache.training_fingerprint(replace(config, seed=1)) != key
    assert cache.training_fingerprint(replace(config, train=replace(config.train, steps=21))) != key


def test_evaluations_are_cached_per_model_protocol_and_settings(tmp_path, synth_vox):
    calls = []

    def run():
        calls.append(1)
        return evaluate.same_identity(synth_vox, evaluate.copy_source, device="cpu", progress=False)

    checkpoint = tmp_path / "checkpoint.pt"
    first = cache.evaluated(checkpoint, "same_identity", run, {"a": 1}, identity="copy")
    again = cache.evaluated(checkpoint, "same_identity", run, {"a": 1}, identity="copy")
    assert len(calls) == 1
    assert again.mean["l1"] == pytest.approx(first.mean["l1"]) and again.mean.attrs["notes"] == first.mean.attrs["notes"]
    pd.testing.assert_frame_equal(again.rows, first.rows, check_dtype=False)
    cache.evaluated(checkpoint, "same_identity", run, {"a": 2}, identity="copy")
    assert len(calls) == 2


def test_a_row_that_did_not_learn_cannot_carry_a_claim():
    per_video = _videos({"sbr": _noisy(0.0, 2, 0.001), "dsnt": _noisy(0.01, 2, 0.001)}, "sms")
    rows = {"FAN4+DSNT+SBR": "sbr", "FAN4+DSNT": "dsnt"}
    learned = claims.verdicts(5, per_video, rows, {})
    line = learned[(learned.metric == "sms") & (learned.claim == "FAN4+DSNT+SBR better than FAN4+DSNT")].iloc[0]
    assert line.verdict == claims.REPRODUCED
    failed = claims.verdicts(5, per_video, rows, {}, unlearned={"dsnt": "did not converge: NME 0.93"})
    line = failed[(failed.metric == "sms") & (failed.claim == "FAN4+DSNT+SBR better than FAN4+DSNT")].iloc[0]
    assert line.verdict == claims.CANNOT_TELL and "FAN4+DSNT did not converge" in line.why


@pytest.mark.parametrize("profile", ["smoke", "cpu", "paper"])
def test_each_page_waits_for_models_that_make_reproduce_trains(profile):
    """make reproduce starts a notebook when its models are trained: every model a page evaluates is one it trains
    (else the page would wait forever), and the pages that evaluate nothing start at once."""
    from s2d.repro.reproduce import REPRODUCED, page_needs

    config = load_config(profile)
    trained = {run.name for run in plan.model_runs(config)} | {run.name for run in plan.detector_runs(config)}
    needs = {page.page: page_needs(page, config) for page in REPRODUCED}
    assert all(names <= trained for names in needs.values()), {page: names - trained for page, names in needs.items()}
    assert needs["data.ipynb"] == needs["bench.ipynb"] == frozenset()
    assert plan.main_run(config, config.data.dataset, config.seed).name in needs["table1.ipynb"]
    assert needs["table1.ipynb"] == needs["table2.ipynb"] and needs["explore.ipynb"] <= needs["table1.ipynb"]
    assert {run.name for seeded in tables.table_runs(4, config).values() for run in seeded} <= needs["table4.ipynb"]
    assert plan.detector_model_run(config, "dlib").name in needs["table5.ipynb"]
    with pytest.raises(ValueError, match="1-5"):
        tables.table_runs(6, config)
