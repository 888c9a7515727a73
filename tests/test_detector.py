"""The landmark detector (Sec. 3.3, Table 5): FAN, argmax and DSNT decoding, SBR, training."""

import csv
import json

import cv2
import numpy as np
import pytest
import torch

from s2d import landmarks as lm
from s2d import metrics
from s2d.checkpoint import CheckpointError
from s2d.data import format as fmt
from s2d.data.loaders import to_tensor
from s2d.detector.decode import argmax_decode, dsnt, js_regulariser, softmax_heatmaps
from s2d.detector.fan import FAN, load_fan4_state
from s2d.detector.sbr import sbr_loss, track_batch, track_points
from s2d.config import DetectorConfig
from s2d.detector.train import Detector, build_detector, profile_config, train
from s2d.geometry import to_normalised, to_pixels

# ----------------------------------------------------------------------------- decoding


def _gaussian_logits(centres: np.ndarray, height: int, width: int, sigma: float) -> torch.Tensor:
    """Log of Gaussians at pixel ``centres`` (L, 2), written out here rather than by the code under test."""
    ys, xs = np.mgrid[0:height, 0:width]
    logits = [-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma**2) for cx, cy in centres]
    return torch.tensor(np.stack(logits)[None], dtype=torch.float64)


CENTRES = np.array([[10.3, 7.77], [5.5, 12.25], [8.0, 8.0], [14.91, 6.02]])  # >= 5 px from the borders


def test_dsnt_returns_gaussian_centres_off_the_grid():
    height, width = 20, 24
    coords = dsnt(softmax_heatmaps(_gaussian_logits(CENTRES, height, width, sigma=1.0)))
    assert coords.shape == (1, len(CENTRES), 2)
    np.testing.assert_allclose(to_pixels(coords, height, width)[0].numpy(), CENTRES, atol=1e-3)


def test_js_regulariser_is_zero_for_the_matching_gaussian_only():
    height, width, sigma = 20, 24, 1.5
    probabilities = softmax_heatmaps(_gaussian_logits(CENTRES, height, width, sigma))
    at_centres = torch.from_numpy(to_normalised(CENTRES, height, width))[None]
    shifted = torch.from_numpy(to_normalised(CENTRES + [2.0, -1.0], height, width))[None]
    matching = js_regulariser(probabilities, at_centres, sigma)
    assert matching.shape == (1, len(CENTRES))
    assert matching.abs().max() < 1e-6
    assert (js_regulariser(probabilities, shifted, sigma) > 0.05).all()
    assert (js_regulariser(probabilities, at_centres, 3 * sigma) > 0.01).all()  # too wide is penalised too


def test_argmax_decoding_returns_the_peak():
    heatmaps = torch.zeros(2, 3, 16, 16)
    peaks = [(3, 5), (12, 9), (0, 15)]  # (x, y); the last one on the border
    for i, (x, y) in enumerate(peaks):
        heatmaps[0, i, y, x] = 1.0
    heatmaps[1] = torch.exp(_gaussian_logits(np.array([[6.3, 7.8], [9.0, 4.0], [2.6, 11.4]]), 16, 16, 1.0))[0]
    pixels = to_pixels(argmax_decode(heatmaps), 16, 16).numpy()
    np.testing.assert_allclose(pixels[0], peaks)  # a symmetric peak: no sub-pixel shift
    # off-grid maxima: a quarter pixel from the arg max towards the true centre
    np.testing.assert_allclose(pixels[1], [[6.25, 7.75], [9.0, 4.0], [2.75, 11.25]])
    np.testing.assert_allclose(to_pixels(argmax_decode(heatmaps, subpixel=False), 16, 16).numpy()[1],
                               [[6, 8], [9, 4], [3, 11]])


def test_coordinate_conversions_invert_each_other_and_survive_resizing():
    points = np.array([[0.0, 0.0], [63.0, 31.5], [-0.5, 63.5]])
    norm = to_normalised(points, 64, 64)
    np.testing.assert_allclose(norm[2], [-1.0, 1.0])  # outer edges of the border pixels
    np.testing.assert_allclose(to_pixels(norm, 64, 64), points)
    np.testing.assert_allclose(to_pixels(norm, 128, 128), (points + 0.5) * 2 - 0.5)  # 2x upsampled frame


def test_gradients_flow_through_dsnt():
    logits = torch.randn(2, 4, 8, 8, requires_grad=True)
    dsnt(softmax_heatmaps(logits)).sum().backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


def test_decoders_reject_bad_shapes():
    with pytest.raises(ValueError, match=r"\(B, L, H, W\)"):
        dsnt(torch.rand(4, 8, 8))
    with pytest.raises(ValueError, match=r"\(B, L, H, W\)"):
        argmax_decode(torch.rand(8, 8))
    with pytest.raises(ValueError, match="do not match"):
        js_regulariser(softmax_heatmaps(torch.rand(1, 3, 8, 8)), torch.zeros(1, 2, 2), 1.0)
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        to_pixels(np.zeros((3, 3)), 8, 8)


# ----------------------------------------------------------------------------- SBR


def _texture(size: int = 96, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).uniform(0, 255, (size, size)).astype(np.float32)
    return np.clip(cv2.GaussianBlur(noise, (0, 0), 2.0) * 4 - 384, 0, 255).astype(np.uint8)


SHIFT = np.array([3.0, -2.0])  # (x, y) pixels


def _shifted_pair() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    frame_a = _texture()
    frame_b = np.roll(frame_a, shift=(int(SHIFT[1]), int(SHIFT[0])), axis=(0, 1))
    points = np.stack(np.meshgrid(np.arange(20, 76, 8.0), np.arange(20, 76, 8.0)), -1).reshape(-1, 2)
    return frame_a, frame_b, points + 0.37  # off the pixel grid


def test_sbr_loss_is_zero_for_perfect_tracks_and_grows_with_jitter():
    frame_a, frame_b, points = _shifted_pair()
    tracked, valid = track_points(frame_a, frame_b, points, window=15, levels=2)
    assert valid.all()
    truth = torch.from_numpy(points + SHIFT).float()[None]
    tracked, valid = torch.from_numpy(tracked)[None], torch.from_numpy(valid)[None]
    assert sbr_loss(truth, tracked, valid) < 0.05  # pixels
    direction = torch.nn.functional.normalize(torch.randn(truth.shape, generator=torch.Generator().manual_seed(0)),
                                              dim=-1)
    losses = [float(sbr_loss(truth + level * direction, tracked, valid)) for level in (0.5, 1.0, 2.0)]
    assert losses[0] > 0.3 and losses[0] < losses[1] < losses[2]


def test_forward_backward_check_masks_failed_tracks():
    frame_a, frame_b, points = _shifted_pair()
    flat_a, flat_b = frame_a.copy(), frame_b.copy()
    flat_a[:, 48:] = flat_b[:, 48:] = 128  # the right half has nothing to track
    in_flat = points[:, 0] > 60
    _, valid = track_points(flat_a, flat_b, points, window=15, levels=2)
    assert in_flat.any() and not valid[in_flat].any()
    assert valid[points[:, 0] < 36].all()
    leaving = np.array([[94.0, 50.0], [50.0, 0.5]])  # the shift carries these out of the frame
    _, valid = track_points(frame_a, frame_b, leaving, window=15, levels=2)
    assert not valid.any()


def test_track_batch_and_sbr_gradients():
    frame_a, frame_b, points = _shifted_pair()
    frames_t = to_tensor(np.repeat(frame_a[None, ..., None], 3, -1)).repeat(2, 1, 1, 1)
    frames_next = to_tensor(np.repeat(frame_b[None, ..., None], 3, -1)).repeat(2, 1, 1, 1)
    points_t = torch.from_numpy(points).float()[None].repeat(2, 1, 1)
    points_t[1, 0] = torch.tensor([200.0, 10.0])  # outside the frame: never valid
    tracked, valid = track_batch(frames_t, frames_next, points_t)
    assert tracked.shape == points_t.shape and valid.shape == points_t.shape[:2]
    assert valid[0].all() and not valid[1, 0] and valid[1, 1:].all()
    detections = (points_t + torch.from_numpy(SHIFT).float() + 0.5).requires_grad_(True)
    target = tracked.clone().requires_grad_(True)
    sbr_loss(detections, target, valid).backward()
    assert detections.grad[valid].abs().sum() > 0 and detections.grad[~valid].abs().sum() == 0
    assert target.grad is None  # the tracked points are fixed targets
    with pytest.raises(ValueError, match="valid must be"):
        sbr_loss(detections, tracked, valid[:, :3])
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        track_batch(frames_t[:, :1], frames_next[:, :1], points_t)


# ----------------------------------------------------------------------------- network


def test_fan_heatmaps_at_a_quarter_of_the_input():
    model = FAN(stacks=2, num_landmarks=74, features=32, depth=2)
    outputs = model(torch.rand(2, 3, 64, 64))
    assert len(outputs) == 2 and all(o.shape == (2, 74, 16, 16) for o in outputs)
    with pytest.raises(ValueError, match="multiples of 16"):
        model(torch.rand(1, 3, 72, 72))
    with pytest.raises(ValueError, match="multiple of 16"):
        FAN(features=40)


def test_fan4_weights_fill_the_first_68_heatmaps():
    torch.manual_seed(0)
    fan68 = FAN(stacks=2, num_landmarks=68, features=32, depth=2).eval()
    fan74 = FAN(stacks=1, num_landmarks=74, features=32, depth=2).eval()
    load_fan4_state(fan74, fan68.state_dict())
    x = torch.rand(1, 3, 64, 64)
    new, old = fan74(x)[0], fan68(x)[0]
    torch.testing.assert_close(new[:, :68], old)
    assert not torch.allclose(new[:, 68:], old[:, :6])
    with pytest.raises(ValueError, match="lacks"):
        load_fan4_state(FAN(stacks=3, features=32, depth=2), fan68.state_dict())


def test_fan_modules_carry_face_alignment_names():
    fan_module = pytest.importorskip("face_alignment.models.fan")
    theirs = fan_module.FAN(4).state_dict()
    ours = FAN().state_dict()
    assert ours.keys() == theirs.keys()
    differing = {k for k in ours if ours[k].shape != theirs[k].shape}
    assert differing == {f"l{i}.{p}" for i in range(4) for p in ("weight", "bias")} | {f"al{i}.weight" for i in range(3)}


# ----------------------------------------------------------------------------- training


def _nme(detector: Detector, root) -> float:
    """Mean landmark error over the training frames, divided by the interocular distance."""
    errors = []
    for video in fmt.video_ids(root, "train"):
        truth = fmt.read_annotations(root, "train", video)["landmarks"]
        predicted = detector(to_tensor(fmt.read_frames(root, "train", video)))
        errors.append(metrics.akd(predicted, truth) / lm.interocular_distance(truth))
    return float(np.concatenate(errors).mean())


def test_detector_learns_on_synthtalk(synth_vox, tmp_path):
    config = profile_config("smoke", "FAN4+DSNT", device="cpu")
    torch.manual_seed(config.seed)
    before = _nme(Detector(build_detector(config), config), synth_vox)
    ckpt = train(config, synth_vox, tmp_path, progress=False)
    detector = Detector.load(ckpt, device="cpu")
    after = _nme(detector, synth_vox)
    assert after < 0.7 * before, (before, after)
    info = json.loads((tmp_path / "train.json").read_text())
    assert info["variant"] == "FAN4+DSNT" and info["steps"] == config.steps and not info["pretrained"]
    assert info["start"].startswith("random start")
    with (tmp_path / "losses.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == config.steps and float(rows[-1]["coords"]) < float(rows[0]["coords"])
    frames = to_tensor(fmt.read_frames(synth_vox, "test", fmt.video_ids(synth_vox, "test")[0], [0, 1]))
    assert detector(frames).shape == (2, 74, 2)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        detector(frames[0])


@pytest.mark.parametrize("variant", ["FAN4", "FAN4+DSNT+SBR"])
def test_other_variants_train_deterministically(synth_vox, tmp_path, variant):
    config = profile_config("smoke", variant, device="cpu", steps=4, sbr_start=0.5)
    states = [torch.load(train(config, synth_vox, tmp_path / str(run), progress=False), weights_only=True)
              for run in range(2)]
    for key, value in states[0]["state_dict"].items():
        assert torch.equal(value, states[1]["state_dict"][key]), key
    with (tmp_path / "0" / "losses.csv").open() as f:
        rows = list(csv.DictReader(f))
    if variant == "FAN4":
        assert all(float(r["heatmap"]) > 0 and r["sbr"] == "" for r in rows)
    else:  # SBR only in the second half of the run
        assert [r["sbr"] != "" for r in rows] == [False, False, True, True]
        assert 0 < float(rows[-1]["sbr_valid"]) <= 1
    detector = Detector.load(tmp_path / "0" / "checkpoint.pt", device="cpu")
    assert detector.config.variant == variant


def test_real_frames_join_each_batch_at_their_share(synth_vox, synth_ff, tmp_path):
    """The labelled real frames (here synth-ff standing in for them) fill real_share of every batch."""
    config = profile_config("smoke", "FAN4+DSNT+SBR", device="cpu", steps=4, sbr_start=0.5, real_share=0.5)
    train(config, synth_vox, tmp_path / "with", labelled_roots=(synth_ff,), unlabelled_roots=(synth_ff,),
          progress=False)
    info = json.loads((tmp_path / "with" / "train.json").read_text())
    assert info["labelled_real"] == [str(synth_ff)] and info["labelled_real_frames"] > 0
    train(config, synth_vox, tmp_path / "without", progress=False)
    a, b = (torch.load(tmp_path / run / "checkpoint.pt", weights_only=True)["state_dict"] for run in ("with", "without"))
    assert any(not torch.equal(a[k], b[k]) for k in a)  # the real frames changed what was learnt
    with pytest.raises(ValueError, match="real_share"):
        DetectorConfig(real_share=1.5)


def test_config_rejects_bad_settings():
    with pytest.raises(ValueError, match="detector.variant' must be one of FAN4, FAN4\+DSNT, FAN4\+DSNT\+SBR"):
        DetectorConfig(variant="FAN4+SBR")
    with pytest.raises(ValueError, match="multiple of 64"):
        DetectorConfig(input_size=200)


def test_detector_checkpoint_errors_are_clear(tmp_path):
    with pytest.raises(CheckpointError, match="s2d-detector checkpoint not found"):
        Detector.load(tmp_path / "none.pt")
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a zip file at all")
    with pytest.raises(CheckpointError, match="not a readable s2d-detector checkpoint"):
        Detector.load(broken)
    generator = tmp_path / "generator.pt"
    torch.save({"model_name": "s2d", "model": {}}, generator)
    with pytest.raises(CheckpointError, match="is a checkpoint of 's2d', not of 's2d-detector'"):
        Detector.load(generator)
