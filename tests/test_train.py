"""The trainer: learning, logs and checkpoints, exact resume after a real kill, and two-process DDP."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from s2d.config import load_config
from s2d.data import format as fmt
from s2d.data.loaders import NO_AUGMENT, PairDataset
from s2d.losses import PerceptualPyramid
from s2d.checkpoint import CheckpointError, load_checkpoint
from s2d.train import build_models, train, train_step

SMOKE = ["train.num_workers=0"]


def _run_cli(args, **kwargs):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "s2d", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kwargs)


def test_overfitting_one_batch_makes_the_loss_fall(synth_vox):
    config = load_config("smoke", [*SMOKE, "train.lr_generator=1e-3"])
    torch.manual_seed(0)
    model, disc = build_models(config)
    perceptual = PerceptualPyramid(config.loss.perceptual_scales, config.loss.perceptual, "random",
                                   config.loss.perceptual_layers)
    pairs = PairDataset(synth_vox, augment=NO_AUGMENT)
    batch = torch.utils.data.default_collate([pairs[i] for i in range(4)])
    opt_g = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=2e-4, betas=(0.5, 0.999)) if disc else None
    losses = [train_step(config, model, disc, perceptual, opt_g, opt_d, batch) for _ in range(40)]
    first, last = losses[0], losses[-1]
    assert last["perceptual"] < 0.7 * first["perceptual"]
    assert last["l1"] < first["l1"]


def test_train_writes_checkpoint_log_and_metadata(synth_vox, tmp_path):
    config = load_config("smoke", [*SMOKE, "train.steps=4", "train.checkpoint_every=2"])
    path = train(config, synth_vox, tmp_path / "run", progress=False)
    state = load_checkpoint(path, config)
    assert state["step"] == 4 and state["config"]["profile"] == "smoke" and state["code"]["git_commit"]
    rows = list(csv.DictReader((tmp_path / "run" / "losses.csv").open()))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    assert all(float(r["total"]) > 0 for r in rows)
    with pytest.raises(CheckpointError, match="--resume"):
        train(config, synth_vox, tmp_path / "run", progress=False)
    other = load_config("smoke", [*SMOKE, "model.block_expansion=16"])
    with pytest.raises(CheckpointError, match="model.block_expansion"):
        train(other, synth_vox, tmp_path / "run", resume=True, progress=False)


def test_a_killed_run_resumes_to_the_same_weights(synth_vox, tmp_path):
    common = ["train", "--profile", "smoke", "--data", str(synth_vox), "--set", "train.steps=24",
              "--set", "train.checkpoint_every=4", "--set", "train.num_workers=0"]
    straight = _run_cli([*common, "--out", str(tmp_path / "straight")])
    assert straight.wait(timeout=300) == 0, straight.stdout.read()

    victim = _run_cli([*common, "--out", str(tmp_path / "killed")])
    ckpt = tmp_path / "killed" / "checkpoint.pt"
    deadline = time.time() + 240
    while not ckpt.exists() and time.time() < deadline:
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    assert victim.wait(timeout=60) == -signal.SIGKILL
    killed_at = torch.load(ckpt, weights_only=True)["step"]
    assert 4 <= killed_at < 24
    resumed = _run_cli([*common, "--out", str(tmp_path / "killed"), "--resume"])
    assert resumed.wait(timeout=300) == 0, resumed.stdout.read()

    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)
    b = torch.load(ckpt, weights_only=True)
    assert a["step"] == b["step"] == 24
    for key in ("model", "discriminator"):
        for name, tensor in a[key].items():
            assert torch.equal(tensor, b[key][name]), f"{key}.{name}"
    rows = list(csv.DictReader((tmp_path / "killed" / "losses.csv").open()))
    assert [int(r["step"]) for r in rows] == list(range(1, 25))


def test_two_gloo_processes_train_with_ddp(synth_vox, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "s2d",
         "train", "--profile", "smoke", "--data", str(synth_vox), "--out", str(out), "--set", "train.steps=3",
         "--set", "train.num_workers=0"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["step"] == 3
    import json

    assert json.loads((out / "train.json").read_text())["processes"] == 2


def test_checkpoint_errors_are_clear(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "none.pt")
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(CheckpointError, match="not of 's2d'"):
        load_checkpoint(foreign)
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a zip file at all")
    with pytest.raises(CheckpointError, match="not a readable"):
        load_checkpoint(broken)


def test_evaluate_cli_compares_a_trained_model_with_the_baseline(synth_vox, tmp_path, capsys):
    from s2d.cli import main

    config = load_config("smoke", [*SMOKE, "train.steps=2"])
    ckpt = train(config, synth_vox, tmp_path / "run", progress=False)
    assert main(["evaluate", "--checkpoint", str(ckpt), "--data", str(synth_vox), "--out",
                 str(tmp_path / "rows.csv")]) == 0
    out = capsys.readouterr().out
    assert "same-identity" in out and "l1" in out and "no landmark detector given" in out
    videos = len(fmt.video_ids(synth_vox, "test"))
    assert (tmp_path / "rows.csv").read_text().count("\n") == 1 + videos  # header + a row per test video
    assert main(["evaluate", "--baseline", "--profile", "smoke", "--data", str(synth_vox),
                 "--protocol", "faceforensics"]) == 0
    assert "l1_255" in capsys.readouterr().out
    assert main(["evaluate", "--checkpoint", str(tmp_path / "missing.pt")]) == 2


def test_train_and_evaluate_cli_run_a_baseline(synth_vox, tmp_path, capsys):
    from s2d.cli import main

    assert main(["train", "--profile", "smoke", "--model", "monkey-net", "--data", str(synth_vox),
                 "--out", str(tmp_path / "mn"), "--set", "train.steps=2"]) == 0
    assert json.loads((tmp_path / "mn" / "train.json").read_text())["architecture"] == "monkey-net"
    assert main(["evaluate", "--checkpoint", str(tmp_path / "mn" / "checkpoint.pt"), "--data", str(synth_vox)]) == 0
    assert "monkey-net (smoke)" in capsys.readouterr().out


def test_zero_landmark_motion_stays_near_the_identity_warp_after_training(synth_vox, tmp_path):
    from s2d.checkpoint import load_model
    from s2d.geometry import identity_grid

    config = load_config("smoke", [*SMOKE, "train.steps=10"])
    model, _ = load_model(train(config, synth_vox, tmp_path / "run", progress=False))
    pairs = PairDataset(synth_vox, "test", augment=NO_AUGMENT)
    batch = torch.utils.data.default_collate([pairs[i] for i in range(2)])
    with torch.inference_mode():
        out = model(batch["source"], batch["source_landmarks"], batch["source_landmarks"])
    offsets = out.motion.grid - identity_grid(2, 64, 64)
    assert offsets.abs().mean() < 0.02  # under a pixel on average (2/64 = one pixel)
    assert (out.prediction - batch["source"]).abs().mean() < 0.03


def test_eq8_weighs_each_term_by_its_loss_weight_and_refuses_an_unknown_one():
    from s2d.losses import total_loss

    loss = load_config("smoke").loss
    terms = {"perceptual": torch.tensor(2.0), "l1": torch.tensor(3.0), "parsing": torch.tensor(5.0)}
    assert float(total_loss(terms, loss)) == pytest.approx(2.0 + loss.l1 * 3.0 + loss.parsing * 5.0)
    assert float(total_loss({"perceptual": torch.tensor(2.0)}, loss)) == pytest.approx(2.0)  # a term not computed is off
    with pytest.raises(KeyError, match="Eq. \\(8\\) has no term style"):
        total_loss(terms | {"style": torch.tensor(1.0)}, loss)
