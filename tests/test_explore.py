"""s2d.explore (the explorer's controls), s2d.data.resize, and the real-face model's mixed training pairs."""

import dataclasses

import numpy as np
import pytest
import torch

from s2d import explore
from s2d import landmarks as lm
from s2d.config import load_config
from s2d.data import format as fmt
from s2d.data import synth
from s2d.data.loaders import PairDataset
from s2d.data.mix import mixed
from s2d.data.resize import resized
from s2d.models.s2d import S2DModel
from s2d.repro import cache, plan


@pytest.fixture
def face(synth_vox):
    video = fmt.video_ids(synth_vox, "test")[0]
    return fmt.read_annotations(synth_vox, "test", video)["landmarks"][0]


def test_zero_controls_leave_the_landmarks_as_they_are(face):
    assert np.allclose(explore.controlled_landmarks(face, explore.controls()), face, atol=1e-5)


def test_each_control_moves_what_it_names(face):
    def moved(**controls):
        return explore.controlled_landmarks(face, explore.controls(**controls)) - face

    right = moved(gaze_x=1.0)
    assert right[[lm.LEFT_PUPIL, lm.RIGHT_PUPIL], 0].min() > 0.3  # the pupils look to the image's right
    assert np.abs(right[: lm.NUM_IBUG - 20]).max() < 1e-6  # jaw, brows, nose stay
    opened = moved(mouth_open=1.0)
    assert opened[57, 1] > 1.0 and abs(opened[51, 1]) < 0.5 * opened[57, 1]  # the lower lip drops most
    closed = moved(blink=1.0)
    assert closed[37, 1] > 0.5 and closed[43, 1] > 0.5  # the upper lids come down
    turned = moved(yaw=20)
    assert turned[30, 0] > 1.0  # the nose tip moves to the image's right
    rolled = explore.controlled_landmarks(face, explore.controls(roll=15))
    def eye_line(points):
        return np.degrees(np.arctan2(*(points[45] - points[36])[::-1]))

    assert eye_line(rolled) - eye_line(face) > 10  # turned clockwise in the image, about 15 degrees
    with pytest.raises(ValueError, match="yaw must be in"):
        explore.controls(yaw=90)
    with pytest.raises(ValueError, match="shape"):
        explore.controlled_landmarks(face[:68], explore.controls())


def test_controls_grid_animates_a_face_per_value(face, synth_vox, smoke_config):
    torch.manual_seed(0)
    model = S2DModel(smoke_config).eval()
    video = fmt.video_ids(synth_vox, "test")[0]
    image = torch.from_numpy(fmt.read_frames(synth_vox, "test", video, [0])[0]).permute(2, 0, 1).float() / 255
    rows = explore.controls_grid(model.animate, image, face, steps=3)
    assert set(rows) == set(explore.SLIDER_RANGES)
    assert all(r.shape == (3, 64, 64, 3) and r.dtype == np.uint8 for r in rows.values())


def test_resized_copy_maps_landmarks_and_is_built_once(synth_vox, tmp_path):
    out = resized(synth_vox, 32, tmp_path / "small")
    video = fmt.video_ids(synth_vox, "train")[0]
    assert fmt.read_frames(out, "train", video).shape[1:] == (32, 32, 3)
    big = fmt.read_annotations(synth_vox, "train", video)["landmarks"]
    small = fmt.read_annotations(out, "train", video)["landmarks"]
    assert np.allclose((small + 0.5) * 2 - 0.5, big, atol=1e-4)
    assert fmt.read_parsing(out, "train", video).shape[1:] == (32, 32)
    stamp = (out / "meta.json").stat().st_mtime_ns
    assert resized(synth_vox, 32, tmp_path / "small") == out and (out / "meta.json").stat().st_mtime_ns == stamp


def test_mixed_links_both_datasets_and_repeats_the_extra_one(synth_vox, synth_ff, tmp_path):
    out = mixed(synth_vox, synth_ff, 3, tmp_path / "mix")
    base, extra = fmt.video_ids(synth_vox, "train"), fmt.video_ids(synth_ff, "train")
    assert len(fmt.video_ids(out, "train")) == len(base) + 3 * len(extra)
    assert fmt.video_ids(out, "test") == fmt.video_ids(synth_vox, "test")
    copy = f"real-{extra[0]}-r2"
    assert np.array_equal(fmt.read_frames(out, "train", copy), fmt.read_frames(synth_ff, "train", extra[0]))
    assert np.array_equal(fmt.read_annotations(out, "train", copy)["landmarks"],
                          fmt.read_annotations(synth_ff, "train", extra[0])["landmarks"])
    pairs = PairDataset(out, "train", seed=0)
    assert pairs.item(len(pairs) - 1, 0)["source"].shape == (3, 64, 64)
    fingerprint = synth.fingerprint(out)
    assert mixed(synth_vox, synth_ff, 3, tmp_path / "mix") == out and synth.fingerprint(out) == fingerprint
    assert synth.fingerprint(mixed(synth_vox, synth_ff, 2, tmp_path / "mix")) != fingerprint
    with pytest.raises(fmt.DatasetError, match="resize one first"):
        mixed(synth_vox, resized(synth_ff, 32, tmp_path / "small"), 1, tmp_path / "bad")


def test_the_real_face_model_learns_from_synthtalk_the_real_clips_and_photos(synth_vox, synth_ff, face_photos,
                                                                             monkeypatch):
    for module in (plan, cache):  # synth-ff plays the real clips, for the plan and for the data it trains on
        monkeypatch.setattr(module, "real_data", lambda root=plan.REAL_ROOT: synth_ff)
    monkeypatch.setattr(cache, "real_photos", lambda folder=plan.REAL_PHOTOS: [])
    config = load_config("cpu")
    small = dataclasses.replace(config, data=dataclasses.replace(config.data, resolution=64))
    with pytest.raises(FileNotFoundError, match="make data-real"):
        cache.with_real_clips(small, synth_vox)
    monkeypatch.setattr(cache, "real_photos", lambda folder=plan.REAL_PHOTOS: face_photos)
    run = plan.real_face_run(config)
    assert run.with_real and run.name not in {r.name for r in plan.model_runs(config)}  # make gallery trains it
    # the Table 1 model with the face prior, at the profile's real-face size
    assert run.config.model == dataclasses.replace(config.model, face_prior=plan.FACE_PRIOR)
    assert run.config.data.resolution == (config.data.real_face_resolution or config.data.resolution)
    out = cache.with_real_clips(small, synth_vox)
    n_synth, n_real = len(fmt.video_ids(synth_vox, "train")), len(fmt.video_ids(synth_ff, "train"))
    repeats = max(1, round(0.5 * n_synth / n_real))  # real : synthetic videos = 1 : 2 where it divides
    n_photo = len(face_photos) * round(n_synth / len(face_photos))  # about as many as the SynthTalk videos
    assert len(fmt.video_ids(out, "train")) == n_synth + repeats * n_real + n_photo
    assert sum(v.startswith("photo-") for v in fmt.video_ids(out, "train")) == n_photo
    assert {"real", "photo"} <= set(fmt.read_meta(out)["data_config"])  # the mix of a mix records both
