"""Loaders: shapes, dtypes, determinism, consistent flips, and the evaluation protocols."""

import numpy as np
import pytest
import torch

from s2d import landmarks as lm
from s2d.data import format as fmt
from s2d.data.loaders import (
    NO_AUGMENT,
    Augment,
    PairDataset,
    VideoFrames,
    cross_identity_pairs,
    faceforensics_plan,
    same_identity_plan,
)


def test_pairs_have_documented_shapes_and_dtypes(synth_vox):
    ds = PairDataset(synth_vox, "train", repeats=3)
    assert len(ds) == 3 * len(fmt.video_ids(synth_vox, "train"))
    item = ds[0]
    assert item["source"].shape == item["driving"].shape == (3, 64, 64)
    assert item["source"].dtype == torch.float32 and 0 <= item["source"].min() and item["source"].max() <= 1
    assert item["source_landmarks"].shape == (74, 2) and item["source_landmarks"].dtype == torch.float32
    assert item["source_visible"].dtype == torch.bool
    assert item["source_parsing"].shape == (64, 64) and item["source_parsing"].dtype == torch.int64
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    assert batch["driving"].shape == (4, 3, 64, 64)


def test_pairs_are_deterministic_and_change_with_the_epoch(synth_vox):
    a, b = PairDataset(synth_vox, seed=3), PairDataset(synth_vox, seed=3)
    assert all(torch.equal(a[1][k], b[1][k]) for k in a[1])
    before = a[1]["driving"]
    differs = False
    for epoch in range(1, 6):
        a.set_epoch(epoch)
        differs |= not torch.equal(a[1]["driving"], before)
    assert differs


def test_flip_mirrors_images_and_swaps_landmark_sides(synth_vox):
    plain = PairDataset(synth_vox, augment=NO_AUGMENT)[2]
    flipped = PairDataset(synth_vox, augment=Augment(flip_prob=1.0, time_flip_prob=0.0, jitter=(0, 0, 0, 0)))[2]
    assert torch.equal(flipped["source"], plain["source"].flip(-1))
    assert torch.equal(flipped["source_parsing"], plain["source_parsing"].flip(-1))
    expected = lm.flip_horizontal(plain["source_landmarks"].numpy(), 64)
    assert np.allclose(flipped["source_landmarks"].numpy(), expected)
    # after the flip the "left" eye is still the one on the image's left
    pts = flipped["source_landmarks"].numpy()
    assert pts[list(lm.LEFT_EYE), 0].mean() < pts[list(lm.RIGHT_EYE), 0].mean()
    assert pts[lm.LEFT_PUPIL, 0] < pts[lm.RIGHT_PUPIL, 0]


def test_time_flip_swaps_source_and_driving(synth_vox):
    plain = PairDataset(synth_vox, augment=NO_AUGMENT)[0]
    swapped = PairDataset(synth_vox, augment=Augment(flip_prob=0.0, time_flip_prob=1.0, jitter=(0, 0, 0, 0)))[0]
    assert torch.equal(swapped["source"], plain["driving"]) and torch.equal(swapped["driving"], plain["source"])


def test_jitter_changes_colours_equally_for_both_frames(synth_vox):
    plain = PairDataset(synth_vox, augment=NO_AUGMENT)[0]
    jittered = PairDataset(synth_vox, augment=Augment(flip_prob=0.0, time_flip_prob=0.0,
                                                      jitter=(0.3, 0.0, 0.0, 0.0)))[0]
    ratio_s = jittered["source"].mean() / plain["source"].mean()
    ratio_d = jittered["driving"].mean() / plain["driving"].mean()
    assert abs(ratio_s - 1) > 0.01 and abs(ratio_s - ratio_d) < 0.02


def test_same_identity_and_faceforensics_protocols(synth_vox):
    plans = same_identity_plan(synth_vox, "test")
    assert len(plans) == len(fmt.video_ids(synth_vox, "test"))
    p = plans[0]
    assert p.source_index == 0 and p.source_video == p.driving_video and p.driving_indices == tuple(range(8))
    ff = faceforensics_plan(synth_vox, "test", seed=1)
    assert all(q.source_index not in q.driving_indices and len(q.driving_indices) == 7 for q in ff)
    assert ff == faceforensics_plan(synth_vox, "test", seed=1)


def test_cross_identity_pairs_are_frontal_pose_matched_and_of_different_people(synth_vox):
    pairs = cross_identity_pairs(synth_vox, "train", frontal_deg=5.0, pair_deg=5.0)
    for pair in pairs:
        a = fmt.read_annotations(synth_vox, "train", pair.source_video)
        b = fmt.read_annotations(synth_vox, "train", pair.driving_video)
        assert str(a["identity"]) != str(b["identity"])
        assert np.all(np.abs(a["pose"][0]) < 5) and np.all(np.abs(a["pose"][0] - b["pose"][0]) <= 5)
    assert len(cross_identity_pairs(synth_vox, "train", pair_deg=0.0)) <= len(pairs)


def test_video_frames_stream_in_batches(synth_vox):
    vid = fmt.video_ids(synth_vox, "test")[0]
    frames = VideoFrames(synth_vox, "test", vid, indices=(1, 3, 5))
    batch = next(iter(torch.utils.data.DataLoader(frames, batch_size=2)))
    assert batch["image"].shape == (2, 3, 64, 64) and batch["index"].tolist() == [1, 3]


def test_not_a_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(fmt.DatasetError, match="meta.json"):
        fmt.read_meta(tmp_path)
    with pytest.raises(fmt.DatasetError, match=str(tmp_path / "train")):
        PairDataset(tmp_path)


def test_failed_build_leaves_nothing_behind(tmp_path):
    out = tmp_path / "ds"
    with pytest.raises(RuntimeError):
        with fmt.building(out) as tmp:
            (tmp / "half").write_text("x")
            raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []
    out.mkdir()
    with pytest.raises(fmt.DatasetError, match="already exists"):
        with fmt.building(out):
            pass
