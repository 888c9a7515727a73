"""s2d.evaluate: the protocols end to end on SynthTalk, pair selection, relative motion, and the tables' shape."""

import functools
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from s2d import evaluate, metrics, weights
from s2d import landmarks as lm
from s2d.config import EvalConfig
from s2d.data import format as fmt
from s2d.data.loaders import cross_identity_pairs, faceforensics_plan

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def offline_torch_home(tmp_path, monkeypatch):
    """No pretrained weights and no download attempts: LPIPS and FID must come back NaN with the reason."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(weights, "require", functools.partial(weights.require, download=False))


def lookup_detector(root):
    """A perfect 'detector' for real frames of ``root``: the annotated landmarks of the frame with these pixels."""
    table = {}
    for split in fmt.SPLITS:
        for video in fmt.video_ids(root, split):
            points = fmt.read_annotations(root, split, video)["landmarks"]
            for frame, p in zip(fmt.read_frames(root, split, video), points):
                table[frame.tobytes()] = p

    def detect(frames: torch.Tensor) -> np.ndarray:
        pixels = (frames.cpu() * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        return np.stack([table[f.tobytes()] for f in pixels])

    return detect


def assert_mean_row_is_the_mean_of_rows(result, metric_columns):
    for column in metric_columns:
        expected = result.rows[column].astype(float).mean()
        assert result.mean[column] == pytest.approx(expected, nan_ok=True), column
    assert result.mean["frames"] == result.rows["frames"].sum()


# ----------------------------------------------------------------------------- relative motion


def test_relative_motion_with_zero_displacement_returns_the_source_landmarks():
    rng = np.random.default_rng(0)
    source, first = rng.uniform(0, 64, (2, 74, 2)).astype(np.float32)
    driving = np.stack([first, first])
    out = evaluate.relative_landmarks(source, driving, first)
    assert out.shape == (2, 74, 2)
    assert np.array_equal(out, np.stack([source, source]))


def test_relative_motion_scales_the_displacement_by_face_size():
    rng = np.random.default_rng(1)
    first = rng.uniform(0, 32, (74, 2))
    source = 2 * first + 5  # the same face twice as large: interocular distance ratio 2
    driving = first + [1.0, -3.0]
    assert np.allclose(evaluate.relative_landmarks(source, driving, first), source + [2.0, -6.0])
    assert lm.interocular_distance(source) == pytest.approx(2 * lm.interocular_distance(first))


def test_relative_motion_names_bad_shapes():
    ok = np.zeros((74, 2))
    with pytest.raises(ValueError, match=r"driving_lm must be \(\.\.\., 74, 2\), got \(3, 68, 2\)"):
        evaluate.relative_landmarks(ok, np.zeros((3, 68, 2)), ok)
    with pytest.raises(ValueError, match=r"do not broadcast: source \(2, 74, 2\), driving \(3, 74, 2\)"):
        evaluate.relative_landmarks(np.zeros((2, 74, 2)), np.zeros((3, 74, 2)), ok)


# ----------------------------------------------------------------------------- cross-identity pair selection

# video: (identity, first-frame yaw/pitch/roll); later frames are turned far away (only first frames count)
POSE_TABLE = {
    "a": ("p1", (0.0, 0.0, 0.0)),
    "b": ("p2", (0.5, -0.5, 0.8)),   # within 1 deg of a and c
    "c": ("p1", (0.4, 0.3, 0.2)),    # a's identity: never paired with a
    "d": ("p3", (6.0, 0.0, 0.0)),    # not frontal
    "e": ("p4", (3.0, 3.0, -3.0)),   # frontal, but no pose within 1 deg
    "f": ("p5", (-0.5, 1.5, 0.0)),   # frontal, but pitch 1.5 deg from a and 0.9 from g with yaw 1.4
    "g": ("p2", (0.9, 0.6, 0.5)),    # b's identity; within 1 deg of a and c
}


@pytest.fixture
def pose_table_dataset(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "poses"
    with fmt.building(root) as build:
        for video, (identity, pose) in POSE_TABLE.items():
            points = rng.uniform(2, 14, (1, 74, 2)).repeat(2, axis=0).astype(np.float32)
            annotations = {
                "landmarks": points,
                "visible": np.ones((2, 74), dtype=bool),
                "pose": np.array([pose, (40.0, 0.0, 0.0)], dtype=np.float32),
                "identity": np.array(identity),
            }
            frames = rng.integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
            fmt.write_video(build, "test", video, frames, annotations)
        fmt.write_meta(build, {"source": "hand-built pose table"})
    return root


@pytest.mark.parametrize("config, expected", [
    (EvalConfig(), {("a", "b"), ("b", "c"), ("a", "g"), ("c", "g")}),
    (EvalConfig(pair_threshold_deg=0.6), {("c", "g")}),
    (EvalConfig(pose_threshold_deg=0.5), set()),  # only a is frontal within 0.5 deg
])
def test_cross_identity_evaluates_exactly_the_pose_matched_pairs(pose_table_dataset, config, expected):
    result = evaluate.cross_identity(pose_table_dataset, evaluate.copy_source, mode="absolute", config=config,
                                     device=CPU, progress=False)
    pairs = set(zip(result.rows["source_video"], result.rows["driving_video"]))
    assert pairs == expected | {(b, a) for a, b in expected}  # each video drives the other
    assert len(result.rows) == len(pairs)
    assert ("pairs" in result.mean.attrs["notes"]) == (not expected)


# ----------------------------------------------------------------------------- same identity (Table 1)


def test_same_identity_copy_source_is_imperfect_and_unavailable_metrics_say_why(synth_vox):
    result = evaluate.same_identity(synth_vox, evaluate.copy_source, device=CPU, progress=False)
    rows, mean = result
    columns = ["video", "source_frame", "frames", "l1", "psnr", "ssim", "ms_ssim", "lpips",
               "akd", "akd_gt", "gaze_error", "eye_aperture_error", "mouth_aperture_error"]
    assert list(rows.columns) == columns
    assert list(rows["video"]) == fmt.video_ids(synth_vox, "test")
    assert (rows["frames"] == 8).all() and (rows["source_frame"] == 0).all()
    assert (rows["l1"] > 0).all() and (rows["ssim"] < 1).all() and np.isfinite(rows["psnr"]).all()
    notes = rows.attrs["notes"]
    for name in ("lpips", "fid"):
        assert np.isnan(mean[name]) and notes[name].startswith("weights unavailable offline")
    assert rows["lpips"].isna().all()
    for name in evaluate.LANDMARK_METRICS:
        assert rows[name].isna().all() and notes[name] == evaluate.NO_DETECTOR
    assert notes["ms_ssim"].startswith("3 of 5 scales")  # 64 px frames
    assert mean.attrs["notes"] == notes and rows.attrs["protocol"] == "same_identity"
    assert mean["videos"] == len(rows) == len(fmt.video_ids(synth_vox, "test"))
    assert_mean_row_is_the_mean_of_rows(result, columns[3:])


def test_same_identity_oracle_is_perfect(synth_vox):
    detect = lookup_detector(synth_vox)
    rows, mean = evaluate.same_identity(synth_vox, evaluate.Oracle(synth_vox), detector=detect,
                                        device=CPU, progress=False)
    assert (rows["l1"] == 0).all() and np.isposinf(rows["psnr"]).all()
    assert np.allclose(rows["ssim"], 1) and np.allclose(rows["ms_ssim"], 1)
    for name in evaluate.LANDMARK_METRICS:
        assert (rows[name] == 0).all(), name
    assert mean["l1"] == 0


def test_same_identity_landmark_errors_of_copy_source_are_the_source_to_driving_distances(synth_vox):
    rows, _ = evaluate.same_identity(synth_vox, evaluate.copy_source, detector=lookup_detector(synth_vox),
                                     device=CPU, progress=False)
    for _, row in rows.iterrows():
        points = fmt.read_annotations(synth_vox, "test", row["video"])["landmarks"]
        source = np.broadcast_to(points[0], points.shape)
        assert row["akd_gt"] == pytest.approx(metrics.akd(source, points).mean())
        assert row["akd"] == pytest.approx(row["akd_gt"])  # a perfect detector on both sides
        assert row["gaze_error"] == pytest.approx(metrics.gaze_error(source, points).mean())
        assert row["akd"] > 0


def test_streaming_in_small_batches_changes_nothing_and_max_frames_caps(synth_vox):
    run = functools.partial(evaluate.same_identity, synth_vox, evaluate.copy_source, device=CPU, progress=False)
    whole, batched = run(config=EvalConfig(batch_size=16)), run(config=EvalConfig(batch_size=3))
    pd.testing.assert_frame_equal(whole.rows, batched.rows)
    capped = run(config=EvalConfig(max_test_frames=3))
    assert (capped.rows["frames"] == 3).all() and capped.mean["frames"] == 3 * len(capped.rows)
    strided = run(config=EvalConfig(frame_stride=3))  # 8 frames: 0, 3, 6
    assert (strided.rows["frames"] == 3).all()
    assert (run(config=EvalConfig(frame_stride=2, max_test_frames=3)).rows["frames"] == 3).all()
    with pytest.raises(ValueError, match="frame_stride must be at least 1"):
        run(config=EvalConfig(frame_stride=0))


def test_an_animator_of_the_wrong_size_is_named(synth_vox):
    def half(source, source_landmarks, driving_landmarks):
        return source[..., ::2, ::2]

    with pytest.raises(ValueError, match=r"shape \(8, 3, 32, 32\), expected \(8, 3, 64, 64\)"):
        evaluate.same_identity(synth_vox, half, device=CPU, progress=False)


# ----------------------------------------------------------------------------- FaceForensics (Table 3)


def test_faceforensics_drives_a_random_source_with_every_other_frame_on_the_255_scale(synth_ff):
    result = evaluate.faceforensics(synth_ff, evaluate.copy_source, seed=0, device=CPU, progress=False)
    rows = result.rows
    assert "l1_255" in rows.columns and "l1" not in rows.columns
    plan = faceforensics_plan(synth_ff, "test", seed=0)
    assert list(rows["source_frame"]) == [p.source_index for p in plan]
    assert (rows["frames"] == 7).all() and (rows["l1_255"] > 0).all()  # the source frame itself is not driven
    perfect = evaluate.faceforensics(synth_ff, evaluate.Oracle(synth_ff), seed=0, device=CPU, progress=False)
    assert (perfect.rows["l1_255"] == 0).all()
    assert_mean_row_is_the_mean_of_rows(result, ["l1_255", "psnr", "ssim", "ms_ssim"])


# ----------------------------------------------------------------------------- cross identity (Table 2)


@pytest.mark.parametrize("mode", evaluate.MODES)
def test_cross_identity_runs_on_synthtalk(synth_vox, mode, tmp_path):
    synth_vox = shutil.copytree(synth_vox, tmp_path / "vox")  # the ground-truth cache goes into this copy
    config = EvalConfig(pose_threshold_deg=90.0, pair_threshold_deg=90.0)  # the two test identities pair up
    result = evaluate.cross_identity(synth_vox, evaluate.copy_source, mode=mode, config=config,
                                     detector=lookup_detector(synth_vox), device=CPU, progress=False)
    rows, mean = result
    assert list(rows.columns) == ["source_video", "driving_video", "mode", "frames", *evaluate.CROSS_LANDMARK_METRICS,
                                  *evaluate.REENACTMENT_METRICS]
    pairs = cross_identity_pairs(synth_vox, "test", 90.0, 90.0)
    assert len(rows) == len(pairs) == 8 and (rows["mode"] == mode).all()  # 2 x 2 videos, each way round
    assert (rows["akd"] > 0).all() and np.isnan(mean["fid"]) and "fid" in mean.attrs["notes"]
    assert mean["pairs"] == len(pairs)
    assert_mean_row_is_the_mean_of_rows(result, evaluate.CROSS_LANDMARK_METRICS + evaluate.REENACTMENT_METRICS)


def test_cross_identity_without_pairs_is_empty_and_says_so(synth_vox):
    rows, mean = evaluate.cross_identity(synth_vox, evaluate.copy_source, device=CPU, progress=False)
    assert rows.empty and mean["pairs"] == 0 and np.isnan(mean["akd"])
    assert "no pose-matched pairs" in mean.attrs["notes"]["pairs"]


def test_cross_identity_rejects_an_unknown_mode(synth_vox):
    with pytest.raises(ValueError, match="mode must be one of"):
        evaluate.cross_identity(synth_vox, evaluate.copy_source, mode="sideways", progress=False)
