"""The ``s2d`` command line and the Makefile's promises."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from s2d.cli import main

ROOT = Path(__file__).resolve().parent.parent
# The notebooks' own caches (their parameters' defaults, relative to notebooks/): the reproduction test below fills
# them from scratch, so that nbval, which runs the notebooks after the tests, finds every smoke model trained and
# evaluated instead of training them again (the suite trains each smoke model once)
NOTEBOOK_DATA, NOTEBOOK_RUNS = ROOT / "notebooks" / "data" / "synthtalk", ROOT / "notebooks" / "runs"


def test_help_teaches_the_commands(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for command in ("config", "weights", "reproduce", "bench", "examples:"):
        assert command in out


def test_config_prints_the_resolved_profile(capsys):
    assert main(["config", "--profile", "smoke", "--set", "train.steps=3"]) == 0
    out = capsys.readouterr().out
    assert "profile: smoke" in out and "steps: 3" in out


def test_config_error_is_one_line_and_exit_code_2(capsys):
    assert main(["config", "--profile", "smoke", "--set", "trian.steps=3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "trian" in err and err.startswith("s2d: error:")


def test_weights_lists_every_file_and_rejects_unknown_names(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert main(["weights"]) == 0
    out = capsys.readouterr().out
    assert "missing" in out and "vgg19-dcbb9e9d.pth" in out and str(tmp_path) in out
    assert main(["weights", "resnet"]) == 2


def test_reproduce_starts_its_seeds_at_the_seed_it_is_given(tmp_path, monkeypatch):
    from s2d.repro import reproduce

    given = []
    monkeypatch.setattr(reproduce, "reproduce", lambda config, **kw: given.append(config) or tmp_path / "run.json")
    assert main(["reproduce", "--profile", "cpu", "--seed", "5", "--no-book"]) == 0
    assert (given[0].seed, given[0].seeds) == (5, [5, 6])  # the cpu profile runs two seeds


def test_reproduce_checks_gpus_before_anything_trains(capsys, monkeypatch):
    """GPUS=N: at least 1, a divisor of the batch (DDP splits it), one CUDA GPU per process, else gloo on the CPU."""
    import torch

    from s2d.repro import reproduce

    monkeypatch.setattr(reproduce, "reproduce", lambda config, **kw: pytest.fail("trained despite a bad --gpus"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    for gpus, says in (("0", "at least 1, got 0"), ("3", "does not divide train.batch_size 8"),
                       ("4", "needs 4 CUDA GPUs (one per DDP process), this machine has 2")):
        assert main(["reproduce", "--profile", "cpu", "--gpus", gpus, "--no-book"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: --gpus") and says in err and err.count("\n") == 0, err
    assert main(["reproduce", "--profile", "cpu", "--gpus", "2", "--check"]) == 0
    assert "2 DDP processes, one CUDA GPU each (NCCL)" in capsys.readouterr().out
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["reproduce", "--profile", "cpu", "--gpus", "4", "--check"]) == 0
    assert "no CUDA GPU here: each model trains in 4 DDP processes on the CPU (gloo)" in capsys.readouterr().out


def test_reproduce_trains_each_model_once_and_records_the_run(tmp_path, capsys):
    for cache in (NOTEBOOK_RUNS / "smoke", *NOTEBOOK_DATA.glob("*-smoke-*")):  # from scratch: the smoke caches only
        shutil.rmtree(cache, ignore_errors=True)
    args = ["reproduce", "--profile", "smoke", "--results", str(tmp_path / "results"), "--data", str(NOTEBOOK_DATA),
            "--runs", str(NOTEBOOK_RUNS), "--book", str(tmp_path / "book"), "--no-book"]
    assert main(args) == 0
    out = tmp_path / "results" / "smoke"
    meta = json.loads((out / "run.json").read_text())
    assert meta["profile"] == "smoke" and meta["seed"] == 0 and meta["seeds"] == [0]
    assert meta["config"]["seed"] == 0 and meta["environment"]["git_commit"]
    assert meta["wall_time_s"] >= sum(meta["stages_s"].values()) * 0.99
    assert set(meta["stages_s"]) == {"data", "train", "notebook", "figures"} and meta["finished_utc"]
    assert (out / "figures" / "claims.png").stat().st_size > 5_000  # the intro's claims at a glance
    assert meta["tables"]["table4_ablations"].startswith("notebooks/03_ablations")
    full = meta["last_full_run"]  # this run trained every model: it is the record of the last run from scratch
    assert full["wall_time_s"] == meta["wall_time_s"] and full["models_trained"] >= 14
    assert meta["tables"]["table5_detectors"].startswith("notebooks/04_detector")
    detectors = pd.read_csv(out / "table5.csv", index_col=0)
    assert {"Dlib", "FAN4", "FAN4+DSNT", "FAN4+DSNT+SBR"} <= set(detectors.index)
    assert np.isfinite(detectors.loc["FAN4+DSNT+SBR", ["sms", "nme_68"]].astype(float)).all()
    assert (tmp_path / "book" / "table5.ipynb").is_file()
    assert all(step["built"] for name, step in meta["steps"].items() if name.startswith("data:"))
    trained = [step for name, step in meta["steps"].items() if name.startswith("train:")]
    # 3 detector variants; S2D on vox and ff, the exact-landmark S2D oracle, 5 ablation settings (the paper's 4 and the paper-literal global
    # branch), First-order on vox and ff, Monkey-Net on vox, S2D on the landmarks of each of Table 5's 4
    # detectors; not the real-face model, which make gallery trains
    assert len(trained) == 3 + 2 + 1 + 5 + 3 + 4 and all(step["trained_now"] for step in trained)
    assert not (tmp_path / "book" / "gallery.ipynb").exists()  # make gallery's page
    assert meta["tables"]["figures_3_4_6_real_faces"].endswith("(make gallery)")
    assert np.isfinite(detectors.loc[["Dlib", "FAN4+DSNT+SBR"], ["l1", "ssim"]].astype(float)).all(axis=None)
    for number in (1, 2, 3, 4):  # the tables were computed and the executed notebooks written for the book
        table = pd.read_csv(out / f"table{number}.csv", index_col=0)
        assert json.loads((out / f"table{number}.json").read_text())["seeds"] == [0]  # the run's own settings
        assert (tmp_path / "book" / f"table{number}.ipynb").stat().st_size > 5_000
        assert (out / f"table{number}_claims.csv").is_file() and (out / f"table{number}_seeds.csv").is_file()
        videos = pd.read_csv(out / f"table{number}_videos.csv")  # what the verdicts pair
        assert set(table.index) <= set(videos["method"]) and videos["item"].notna().all()
        assert np.isfinite(table[{1: "ssim", 2: "ssim_gt", 3: "l1_255", 4: "ssim"}[number]]).all()
    assert {"S2D (ours)", "First-order motion model (same data)", "Monkey-Net, zeroth order (same data)"} <= set(
        pd.read_csv(out / "table1.csv", index_col=0).index)
    assert np.isfinite(pd.read_csv(out / "table1.csv", index_col=0)["akd"]).all()
    assert len(pd.read_csv(out / "table4.csv", index_col=0)) == 7  # 5 settings, Table 1's model, copying the source
    for figure in ("synthtalk_identities.png", "synthtalk_clip.gif", "table1_clip.gif", "table4_gaze.png"):
        assert (out / "figures" / figure).stat().st_size > 1_000, figure
    first = (out / "synthtalk.csv").read_text()
    assert "synth-vox" in first and "synth-ff" in first and "render_fps" in first
    tables = {n: (out / f"table{n}.csv").read_text() for n in (1, 2, 3, 4)}
    # a second run with nothing changed rebuilds and trains nothing, and gives the same tables
    assert main(args) == 0
    meta = json.loads((out / "run.json").read_text())
    assert not any(step.get("built") or step.get("trained_now") for step in meta["steps"].values())
    assert meta["last_full_run"] == full  # the cached run keeps the record of the full one beside its own
    assert (out / "synthtalk.csv").read_text() == first
    assert tables == {n: (out / f"table{n}.csv").read_text() for n in (1, 2, 3, 4)}


def test_module_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "s2d", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("s2d ")


def test_make_help_lists_every_target_with_a_line():
    result = subprocess.run(["make", "-s", "-C", str(ROOT), "help"], capture_output=True, text=True)
    assert result.returncode == 0
    listed = set(re.findall(r"make (\S+)", result.stdout))
    assert {"setup", "reproduce", "test", "book", "lab", "bench", "weights", "clean", "help"} <= listed


def test_data_synth_builds_and_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "ds"
    args = ["data", "synth", "--variant", "synth-ff", "--profile", "smoke", "--set", "data.frames_per_video=3",
            "--set", "data.train_videos=3", "--set", "data.test_videos=1", "--out", str(out), "--workers", "1"]
    assert main(args) == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["variant"] == "synth-ff" and meta["frames_per_video"] == 3
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err
