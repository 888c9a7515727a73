"""Real face photos moved by SynthTalk's motion (s2d.data.photo_motion): the warp, the eyes, the margin and
the dataset they make."""

from __future__ import annotations

import numpy as np
import pytest

from s2d import landmarks as lm
from s2d.data import format as fmt
from s2d.data import photo_motion
from s2d.data.loaders import PairDataset


def _face_points(size: int) -> np.ndarray:
    """74 distinct points spread over the middle of a ``size`` px crop (not a face: the warp does not care)."""
    rng = np.random.default_rng(0)
    return rng.uniform(0.3 * size, 0.7 * size, (lm.NUM_LANDMARKS, 2)).astype(np.float32)


def test_border_points_lie_on_the_border_once_each():
    points = photo_motion.border_points(64)
    assert len(points) == 4 * photo_motion.BORDER_POINTS - 4 == len(np.unique(points, axis=0))
    on_edge = (points == 0) | (points == 63)
    assert on_edge.any(axis=1).all()


def test_unmoved_landmarks_give_the_photo_back():
    rng = np.random.default_rng(1)
    crop = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    points = _face_points(64)
    frames = photo_motion.warp_photo(crop, points, np.stack([points, points]))
    assert frames.shape == (2, 64, 64, 3) and frames.dtype == np.uint8
    assert np.abs(frames.astype(int) - crop).max() <= 1


def test_moved_landmarks_move_what_lies_under_them_and_hold_the_border():
    crop = np.zeros((64, 64, 3), np.uint8)
    crop[28:36, 20:28] = 255  # a bright square inside the landmarks' reach
    points = _face_points(64)
    frame = photo_motion.warp_photo(crop, points, (points + [4.0, 0.0])[None])[0]
    ys, xs = np.nonzero(frame[..., 0] > 127)
    assert xs.mean() == pytest.approx(23.5 + 4, abs=1.0) and ys.mean() == pytest.approx(31.5, abs=1.0)
    assert (frame[0] == 0).all() and (frame[:, -1] == 0).all()  # the border did not move


def test_rigid_eyes_keep_each_eye_open_and_looking_ahead_while_the_face_moves():
    points = _face_points(64)
    closing = points + [3.0, -2.0]  # the whole face moves
    for upper, lower in ((37, 41), (38, 40), (43, 47), (44, 46)):  # and the lids close
        closing[upper, 1] = closing[lower, 1] = (closing[upper, 1] + closing[lower, 1]) / 2
    closing[lm.LEFT_PUPIL] += [2.0, 0.0]  # and the gaze turns
    eyes = [*lm.LEFT_EYE, *lm.RIGHT_EYE, *lm.PUPILS, *lm.LEFT_IRIS_EDGE, *lm.RIGHT_IRIS_EDGE]
    rigid = photo_motion.rigid_eyes(points, closing)
    assert np.allclose(rigid[eyes], points[eyes] + [3.0, -2.0], atol=1e-4)
    others = [i for i in range(lm.NUM_LANDMARKS) if i not in eyes]
    assert np.allclose(rigid[others], closing[others], atol=1e-5)


def test_a_tight_photo_gets_a_blurred_margin_that_fades_in():
    rng = np.random.default_rng(2)
    photo = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    padded = photo_motion.with_margin(photo, margin=0.5, feather=0.1)
    assert padded.shape == (100, 120, 3) and padded.dtype == np.uint8
    assert np.array_equal(padded[30 + 4:30 + 36, 30 + 4:30 + 56], photo[4:36, 4:56])  # untouched inside the fade
    assert np.abs(np.diff(padded[:20].astype(int), axis=1)).mean() < np.abs(np.diff(photo.astype(int), axis=1)).mean() / 4


def test_photos_become_training_videos_with_exact_landmarks(synth_vox, face_photos, tmp_path):
    out = photo_motion.build(face_photos, synth_vox, tmp_path / "moved", seed=0, per_photo=2, progress=False)
    videos = fmt.video_ids(out, "train")
    assert len(videos) == 4 and fmt.video_ids(out, "test") == []
    meta = fmt.read_meta(out)
    assert meta["resolution"] == fmt.read_meta(synth_vox)["resolution"] and meta["identities"]["train"] == 2
    for video in videos:
        annotations = fmt.read_annotations(out, "train", video)
        motion = fmt.read_annotations(synth_vox, "train", meta["clips"][video]["motion"])["landmarks"]
        frames = fmt.read_frames(out, "train", video)
        assert len(frames) == len(motion) == len(annotations["landmarks"]) == len(annotations["pose"])
        assert annotations["detected"].all() and str(annotations["identity"]) == video.split("__")[0]
        moved = annotations["landmarks"] - annotations["landmarks"][0]
        driving = (motion - motion[0]) * (lm.interocular_distance(annotations["landmarks"][0])
                                          / lm.interocular_distance(motion[0]))
        mouth = list(lm.MOUTH)  # the eyes move rigidly; the rest as the driving face moves
        assert np.allclose(moved[:, mouth], driving[:, mouth], atol=1e-3)
        assert fmt.read_parsing(out, "train", video).shape == frames.shape[:3]
    assert PairDataset(out, "train", seed=0).item(0, 0)["source"].shape[0] == 3
    stamp = (out / "meta.json").stat().st_mtime_ns  # built once per photos, motions and settings
    assert photo_motion.build(face_photos, synth_vox, out, seed=0, per_photo=2, progress=False) == out
    assert (out / "meta.json").stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match="per_photo"):
        photo_motion.build(face_photos, synth_vox, tmp_path / "bad", per_photo=10_000, progress=False)
