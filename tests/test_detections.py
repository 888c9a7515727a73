"""Table 5's right half: S2D on a detector's landmarks (68 points), the detections cache, and the
protocols fed with detected landmarks or with frames (the keypoint baselines)."""

import dataclasses
import functools
import json
import shutil

import numpy as np
import pytest
import torch

from s2d import evaluate, weights
from s2d import landmarks as lm
from s2d.config import EvalConfig, load_config
from s2d.data import detections
from s2d.data import format as fmt
from s2d.data.loaders import PairDataset
from s2d.models.s2d import S2DModel
from s2d.repro import plan

CPU = torch.device("cpu")
EVAL = EvalConfig(batch_size=4, max_test_frames=4)


@pytest.fixture(autouse=True)
def offline_torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(weights, "require", functools.partial(weights.require, download=False))


class ShiftedDetector:
    """The annotated landmarks shifted by ``shift`` px, found by matching the frame's pixels; NaN for
    the frames listed in ``blind`` (``(video, frame)``)."""

    def __init__(self, root, shift=1.5, blind=()):
        self.shift, self.table, self.blind = shift, {}, set(blind)
        for split in fmt.SPLITS:
            for video in fmt.video_ids(root, split):
                points = fmt.read_annotations(root, split, video)["landmarks"]
                for t, (frame, p) in enumerate(zip(fmt.read_frames(root, split, video), points)):
                    self.table[frame.tobytes()] = (video, t, p)

    def __call__(self, frames):
        pixels = (frames * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        out = []
        for f in pixels:
            video, t, p = self.table[f.tobytes()]
            out.append(np.full_like(p, np.nan) if (video, t) in self.blind else p + self.shift)
        return np.stack(out)


def test_fill_missing_takes_the_nearest_frame_then_the_fallback():
    points = np.arange(5, dtype=np.float32)[:, None, None] * np.ones((5, 74, 2), np.float32)
    points[[0, 2, 3]] = np.nan
    filled = detections.fill_missing(points, np.zeros((74, 2)))
    assert [float(f[0, 0]) for f in filled] == [1, 1, 1, 4, 4]  # frame 2 is nearer to 1, frame 3 to 4
    assert not np.isnan(filled).any()
    nothing = np.full((3, 74, 2), np.nan, np.float32)
    assert np.array_equal(detections.fill_missing(nothing, np.full((74, 2), 7.0)), np.full((3, 74, 2), 7.0))


def test_detect_dataset_writes_filled_landmarks_and_counts_the_misses(synth_vox, tmp_path):
    video = fmt.video_ids(synth_vox, "train")[0]
    detector = ShiftedDetector(synth_vox, blind=[(video, 0), (video, 1)])
    out = detections.detect_dataset(detector, synth_vox, tmp_path / "found", identity="shifted:1", progress=False)
    made = json.loads((out / "detections.json").read_text())
    assert made["splits"]["train"]["frames_without_face"] == 2
    assert made["splits"]["train"]["videos_without_face"] == 0
    truth = fmt.read_annotations(synth_vox, "train", video)["landmarks"]
    found = detections.read_landmarks(out, "train", video)
    assert np.allclose(found[2:], truth[2:] + 1.5)
    assert np.allclose(found[0], truth[2] + 1.5)  # the nearest frame with a face
    ann = detections.annotations(synth_vox, "train", video, out)
    assert np.array_equal(ann["landmarks"], found) and np.array_equal(ann["visible"],
                                                                      fmt.read_annotations(synth_vox, "train",
                                                                                           video)["visible"])
    # cached; another detector's folder is refused
    assert detections.detect_dataset(detector, synth_vox, out, identity="shifted:1", progress=False) == out
    with pytest.raises(fmt.DatasetError, match="holds the landmarks of 'shifted:1'"):
        detections.detect_dataset(detector, synth_vox, out, identity="other:2", progress=False)
    assert detections.fingerprint(out) == made["fingerprint"]


def test_a_single_threaded_detector_runs_in_forked_processes_with_the_same_landmarks(synth_vox, tmp_path):
    video = fmt.video_ids(synth_vox, "train")[0]
    serial = ShiftedDetector(synth_vox, blind=[(video, 0)])
    forked = ShiftedDetector(synth_vox, blind=[(video, 0)])
    forked.single_threaded = True  # as dlib: detect_dataset shares the videos among forked workers
    one = detections.detect_dataset(serial, synth_vox, tmp_path / "one", identity="s", progress=False)
    many = detections.detect_dataset(forked, synth_vox, tmp_path / "many", identity="s", progress=False)
    assert json.loads((one / "detections.json").read_text()) == json.loads((many / "detections.json").read_text())
    for split in fmt.SPLITS:
        for name in fmt.video_ids(synth_vox, split):
            assert np.array_equal(detections.read_landmarks(one, split, name), detections.read_landmarks(many, split, name))


def test_detections_of_the_wrong_shape_are_refused(synth_vox, tmp_path):
    with pytest.raises(ValueError, match="expected"):
        detections.detect_dataset(lambda frames: np.zeros((len(frames), 68, 2)), synth_vox, tmp_path / "bad",
                                  identity="x", progress=False)
    video = fmt.video_ids(synth_vox, "test")[0]
    (tmp_path / "nan" / "test").mkdir(parents=True)
    np.save(tmp_path / "nan" / "test" / f"{video}.npy", np.full((8, 74, 2), np.nan, np.float32))
    with pytest.raises(fmt.DatasetError, match="finite landmarks"):
        detections.read_landmarks(tmp_path / "nan", "test", video)
    with pytest.raises(fmt.DatasetError, match="no detected landmarks"):
        detections.read_landmarks(tmp_path / "nan", "train", video)


def test_pair_dataset_learns_from_the_detections(synth_vox, tmp_path):
    out = detections.detect_dataset(ShiftedDetector(synth_vox), synth_vox, tmp_path / "found", identity="s",
                                    progress=False)
    plain = PairDataset(synth_vox, "train", seed=3).item(1, 0)
    found = PairDataset(synth_vox, "train", seed=3, landmarks=out).item(1, 0)
    assert torch.equal(plain["source"], found["source"])
    assert not torch.allclose(plain["source_landmarks"], found["source_landmarks"])
    # a flip mirrors the shift too: compare through the pair's own landmark difference
    assert torch.allclose((found["driving_landmarks"] - found["source_landmarks"]),
                          (plain["driving_landmarks"] - plain["source_landmarks"]), atol=1e-4)


def test_a_68_point_model_ignores_the_pupils_and_iris(smoke_config):
    config = dataclasses.replace(smoke_config, model=dataclasses.replace(smoke_config.model, landmark_points=68))
    torch.manual_seed(0)
    model = S2DModel(config).eval()
    for branch in model.dense_motion.local_branches:
        assert max(branch.region) < 68
    source = torch.rand(2, 3, 64, 64)
    source_lm = 20 + 24 * torch.rand(2, 74, 2)
    driving_lm = source_lm + torch.randn(2, 74, 2)
    moved = driving_lm.clone()
    moved[:, 68:] += 5.0
    with torch.no_grad():
        assert torch.equal(model(source, source_lm, driving_lm).prediction, model(source, source_lm, moved).prediction)
    full = S2DModel(smoke_config).eval()
    with torch.no_grad():
        assert not torch.equal(full(source, source_lm, driving_lm).prediction,
                               full(source, source_lm, moved).prediction)
    with pytest.raises(ValueError, match="landmark_points"):
        S2DModel(dataclasses.replace(smoke_config, model=dataclasses.replace(smoke_config.model, landmark_points=70)))


class Recorder:
    """An animator that copies the source and keeps what it was given."""

    def __init__(self):
        self.given = []

    def __call__(self, source, source_landmarks, driving_landmarks):
        self.given.append(driving_landmarks.cpu().numpy())
        return source


def test_protocols_give_the_animator_the_detected_landmarks_and_score_against_the_truth(synth_vox, tmp_path):
    out = detections.detect_dataset(ShiftedDetector(synth_vox, shift=2.0), synth_vox, tmp_path / "found",
                                    identity="s", progress=False)
    perfect = ShiftedDetector(synth_vox, shift=0.0)
    plain, found = Recorder(), Recorder()
    a = evaluate.same_identity(synth_vox, plain, config=EVAL, detector=perfect, device=CPU, progress=False)
    b = evaluate.same_identity(synth_vox, found, config=EVAL, detector=perfect, landmarks=out, device=CPU,
                               progress=False)
    assert np.allclose(np.concatenate(found.given), np.concatenate(plain.given) + 2.0)
    assert a.mean["l1"] == b.mean["l1"]  # the copy baseline ignores them; the metrics use the real frames
    assert a.mean["akd_gt"] == b.mean["akd_gt"]  # against the annotations, not the detections


class FrameDriven:
    """A frame-driven animator (as the keypoint baselines): returns the driving frames themselves."""

    driven_by_frames = True

    def __init__(self):
        self.firsts = []

    def __call__(self, source, driving, driving_first):
        self.firsts.append(driving_first)
        return driving


def test_frame_driven_animators_get_the_driving_frames(synth_vox, tmp_path):
    synth_vox = shutil.copytree(synth_vox, tmp_path / "vox")  # the ground-truth cache goes into this copy
    animate = FrameDriven()
    result = evaluate.same_identity(synth_vox, animate, config=EVAL, device=CPU, progress=False)
    assert result.mean["l1"] == 0  # it returned the real frames
    assert all(first is None for first in animate.firsts)
    config = dataclasses.replace(EVAL, pose_threshold_deg=90, pair_threshold_deg=90)
    evaluate.cross_identity(synth_vox, animate, mode="relative", config=config, device=CPU, progress=False)
    assert animate.firsts[-1] is not None and animate.firsts[-1].shape[1:] == (3, 64, 64)


def test_table5_models_learn_68_points_with_the_perceptual_loss_only():
    config = load_config("cpu")
    runs = {run.detector: run for run in plan.model_runs(config) if run.detector}
    assert set(runs) == set(plan.TABLE5_DETECTORS)
    run = runs["FAN4+DSNT+SBR"]
    assert run.config.model.landmark_points == 68 and run.config.model == dataclasses.replace(
        config.model, landmark_points=68)
    assert (run.config.loss.l1, run.config.loss.gan, run.config.loss.parsing, run.config.loss.foreground) == (0, 0, 0, 0)
    assert run.config.loss.perceptual > 0
    with pytest.raises(KeyError, match="Table 5"):
        plan.detector_model_run(config, "fan4-pretrained")
    assert lm.NUM_IBUG == 68
