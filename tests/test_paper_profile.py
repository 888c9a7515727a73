"""The paper profile reads the paper's datasets (issue 19): VoxCeleb1 for Tables 1, 2, 4 and 5, FaceForensics for
Table 3, prepared by the user; a missing one stops at once; `s2d reproduce` runs through on real video, here a
miniature VoxCeleb-layout dataset of the registry clips; and a model trains under DDP in two gloo processes."""

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from s2d.cli import main
from s2d.config import load_config
from s2d.data import catalog
from s2d.data import format as fmt
from s2d.repro import cache, plan

ROOT = Path(__file__).resolve().parent.parent
MINIATURE = ROOT / "tests" / "configs" / "paper-miniature.yaml"
REGISTRY_CLIPS = ROOT / ".cache" / "real" / "videos"  # make test fetches them (make data-real's download)


def test_the_paper_profile_names_the_paper_datasets_and_the_cpu_profile_synthtalk():
    paper, cpu = load_config("paper"), load_config("cpu")
    assert (paper.data.dataset, paper.data.root) == ("voxceleb", "data/voxceleb")
    assert (paper.data.ff_dataset, paper.data.ff_root) == ("faceforensics", "data/faceforensics")
    assert (cpu.data.dataset, cpu.data.ff_dataset) == ("synth-vox", "synth-ff")
    runs = plan.model_runs(paper)
    assert {run.variant for run in runs} == {"voxceleb", "faceforensics"}
    assert all(not catalog.is_rendered(run.config.data.dataset) for run in runs)
    table3 = [run for run in runs if run.used_by == "Table 3"]
    assert table3 and all(run.config.data.root == "data/faceforensics" for run in table3)
    assert {run.variant for run in plan.detector_runs(paper)} == {"voxceleb"}
    # on real faces the real-face model of `s2d animate` is the Table 1 model, no SynthTalk mixed in
    assert plan.real_face_run(paper) == plan.main_run(paper, "voxceleb", paper.seed)
    assert plan.real_face_baseline_run(paper) == plan.baseline_run(paper, "first-order", "voxceleb", paper.seed)
    assert plan.real_face_run(cpu).with_real and plan.real_face_baseline_run(cpu).with_real
    assert plan.real_face_baseline_run(cpu).config.data == plan.real_face_run(cpu).config.data


def test_a_missing_dataset_stops_reproduce_and_train_at_once_with_what_to_do(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["reproduce", "--profile", "paper", "--no-book", "--results", "results"]) == 2
    err = capsys.readouterr().err
    for needed in ("VoxCeleb1", "data/voxceleb", "FaceForensics", "data/faceforensics", "GB", "--profile cpu",
                   "`s2d data prepare --videos <dir> --out data/voxceleb --size 256`",
                   "first-order-model's <root> itself, whose train/test split is kept"):
        assert needed in err, needed
    assert main(["reproduce", "--profile", "paper", "--check"]) == 2  # what make reproduce runs first
    assert "data/faceforensics" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing rendered, trained or written in its place
    assert main(["train", "--profile", "paper", "--out", "run"]) == 2
    assert "VoxCeleb1" in capsys.readouterr().err and not (tmp_path / "run").exists()
    assert main(["evaluate", "--baseline", "--profile", "paper", "--protocol", "faceforensics"]) == 2
    assert "data/faceforensics" in capsys.readouterr().err


def test_a_prepared_dataset_must_match_the_profile_and_is_named_by_its_whole_meta(tmp_path):
    def dataset(name: str, clips: dict) -> Path:
        root = tmp_path / name
        root.mkdir()
        fmt.write_meta(root, {"source": "real", "resolution": 64, "clips": clips})
        return root

    data = replace(load_config("paper").data, root=str(dataset("a", {"x": 1})), resolution=64)
    assert catalog.prepared(data) == tmp_path / "a"
    with pytest.raises(fmt.DatasetError, match="--size 256"):
        catalog.prepared(replace(data, resolution=256))
    assert catalog.fingerprint(tmp_path / "a") != catalog.fingerprint(dataset("b", {"y": 1}))
    with pytest.raises(catalog.DatasetMissing, match="no .*meta.json"):
        catalog.prepared(replace(data, root=str(tmp_path / "none")))


@pytest.fixture(scope="module")
def miniature_voxceleb(tmp_path_factory):
    """The registry clips, 8 frames each at 64 px, prepared as a VoxCeleb-layout dataset (two test videos)."""
    if not any(REGISTRY_CLIPS.glob("*.mp4")):
        pytest.skip(f"no registry clips in {REGISTRY_CLIPS} (make test fetches them)")
    pytest.importorskip("mediapipe")
    from s2d.data.prepare import prepare

    return prepare(REGISTRY_CLIPS, tmp_path_factory.mktemp("real") / "voxceleb", size=64, max_frames=8,
                   test_fraction=0.5)


def test_reproduce_runs_the_paper_profile_on_real_video_to_its_tables_and_book(miniature_voxceleb, tmp_path,
                                                                              monkeypatch):
    repo = tmp_path / "repo"  # the run's own results beside a copy of the book, its pages replaced by this run's
    book = repo / "book"
    shutil.copytree(ROOT / "book", book, ignore=shutil.ignore_patterns("_build"))
    (repo / "results").mkdir()
    (repo / "results" / "cpu").symlink_to(ROOT / "results" / "cpu")  # the intro's figures
    monkeypatch.chdir(repo)
    root = str(miniature_voxceleb)
    args = ["reproduce", "--profile", str(MINIATURE), "--set", f"data.root={root}", "--set", f"data.ff_root={root}",
            "--results", "results", "--data", "synthtalk", "--runs", "runs", "--book", str(book / "results")]
    assert main(args) == 0
    out = repo / "results" / "paper-miniature"
    meta = json.loads((out / "run.json").read_text())
    assert (meta["dataset"], meta["ff_dataset"]) == ("voxceleb", "faceforensics")
    assert not (repo / "synthtalk").exists()  # no SynthTalk rendered in the real data's place
    trained = [name for name in meta["steps"] if name.startswith("train:")]
    assert "train:s2d-voxceleb-seed0" in trained and "train:s2d-faceforensics-seed0" in trained
    table1 = pd.read_csv(out / "table1.csv", index_col=0)
    assert np.isfinite(table1.loc["S2D (ours)", ["l1", "ssim", "akd"]].astype(float)).all()
    assert table1["akd_gt"].isna().all()  # needs SynthTalk's exact landmarks: n/a, with the reason
    assert "exact landmarks" in json.loads((out / "table1.json").read_text())["notes"]["akd_gt"]
    assert np.isfinite(pd.read_csv(out / "table3.csv", index_col=0)["l1_255"]).all()
    assert pd.read_csv(out / "table2.csv", index_col=0)["l1_gt"].isna().all()  # real video has no true answer
    assert len(pd.read_csv(out / "table4.csv", index_col=0)) == 7 and (out / "table5.csv").is_file()
    assert (book / "_build" / "html" / "results" / "table1.html").is_file()


def test_a_model_trains_under_ddp_in_two_gloo_processes(synth_vox, tmp_path):
    config = load_config("smoke", ["train.steps=4", "train.checkpoint_every=2"])
    ckpt, fresh = cache.trained(config, synth_vox, "ddp", tmp_path, progress=False, processes=2)
    record = json.loads((ckpt.parent / "train.json").read_text())
    assert fresh and record["processes"] == 2 and record["steps"] == 4
    again, fresh = cache.trained(config, synth_vox, "ddp", tmp_path, progress=False, processes=2)
    assert again == ckpt and not fresh  # a finished run is reused, not trained again


@pytest.mark.parametrize("profile", ["cpu", "paper"])
def test_every_model_finds_its_landmarks_with_the_profiles_one_detector(profile):
    """Table 3's S2D learns from the FaceForensics data, but its detector is every other model's (trained on the
    same-identity data): one FAN4+DSNT+SBR per profile, as Table 5 reports it."""
    config = load_config(profile)
    detected = [run for run in plan.model_runs(config) if run.detector]
    assert any(run.used_by == "Table 3" for run in detected)
    assert {(run.detector_data or run.config.data).dataset for run in detected} == {config.data.dataset}
