"""make bench's measuring code (s2d.repro.bench) runs and its tables hold what they say; no timing is asserted."""

import pandas as pd
import pytest
import torch

from s2d.inference import InferenceOptions
from s2d.repro import bench, bench_report
from s2d.repro.figures import bench_figure


@pytest.fixture(scope="module")
def setup():
    return bench.Setup.build("smoke", 64, 2, torch.device("cpu"), InferenceOptions())


def test_stages_cover_both_models_and_run(setup):
    found = {(s.model, s.stage): s for s in bench.stages(setup, mediapipe=False)}
    assert {(bench.S2D, "dense motion"), (bench.S2D, "generator"), (bench.S2D, "model"),
            (bench.S2D, "landmark detector"), (bench.S2D, bench.END_TO_END), (bench.FOMM, "keypoint detector"),
            (bench.FOMM, "dense motion"), (bench.FOMM, "generator"), (bench.FOMM, bench.END_TO_END)} == set(found)
    for model in (bench.S2D, bench.FOMM):
        frames = found[(model, bench.END_TO_END)].call()
        assert frames.shape == (2, 3, 64, 64) and torch.isfinite(frames).all()
    # FOMM's frame costs its keypoint detector, dense motion and generator; the source's keypoints are not counted
    flops = {stage: bench.gflops(found[(bench.FOMM, stage)].call)
             for stage in ("keypoint detector", "dense motion", "generator", bench.END_TO_END)}
    parts = flops["keypoint detector"] + flops["dense motion"] + flops["generator"]
    assert flops[bench.END_TO_END] == pytest.approx(parts, rel=0.02)


def test_timed_runs_at_least_twice_and_memory_is_measured(setup):
    calls = []
    seconds, timed = bench.timed(lambda: calls.append(1), torch.device("cpu"), min_time=0, warmup=1)
    assert timed >= 2 and len(calls) == timed + 1 and seconds >= 0
    peak = bench._peak_memory_mb(lambda: torch.ones(64, 2**20).sum(), torch.device("cpu"))  # 256 MB
    assert peak != peak or peak > 100  # NaN where /proc/self/clear_refs cannot be written


def test_ratios_and_headline_from_a_latency_table():
    rows = []
    for model, fps in ((bench.S2D, 30.0), (bench.FOMM, 20.0)):
        for stage in (bench.END_TO_END, "generator"):
            rows.append({"widths": "cpu", "model": model, "stage": stage, "path": "fast", "device": "cpu",
                         "resolution": 256, "batch": 1, "frames_per_s": fps, "ms_per_frame": 1e3 / fps})
    rows.append({**rows[0], "stage": "landmark detector"})  # S2D only: no ratio
    latency = pd.DataFrame(rows)
    ratios = bench.ratios(latency)
    assert set(ratios.stage) == {bench.END_TO_END, "generator"}
    assert ratios.s2d_over_first_order.tolist() == pytest.approx([1.5, 1.5])
    top = bench_report.headline({"ratios": ratios})
    assert top.loc[("cpu", "fast", 256, 1), "s2d_over_first_order"] == pytest.approx(1.5)


def test_quick_bench_writes_every_table_and_the_figure(tmp_path):
    written = bench_report.run(tmp_path, "cpu", quick=True, widths="smoke")
    assert {path.stem for path in written} == set(bench_report.BENCH_TABLES) - {"compiled"}
    tables = bench_report.load(tmp_path)
    latency = tables["latency"]
    assert set(latency.path) == {"eager", "fast"} and (latency.frames_per_s > 0).all()
    assert latency.gflops_per_frame.notna().all()
    assert set(tables["ratios"].stage) == {bench.END_TO_END, "dense motion", "generator"}
    assert set(tables["frames"].frames) == {1, 4} and (tables["training"].steps_per_s > 0).all()
    assert bench_report.fast_path_speedup(latency).notna().all().all()
    assert bench_figure(tables, tmp_path / "bench.png").stat().st_size > 0
