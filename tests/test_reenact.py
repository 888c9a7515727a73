"""s2d.data.reenact: exact reenactment ground truth on SynthTalk, its cache, and the cross-identity pixel metrics."""

import functools
import shutil

import numpy as np
import pytest
import torch

from s2d import evaluate, weights
from s2d.config import EvalConfig
from s2d.data import format as fmt
from s2d.data import reenact, synth
from s2d.data.loaders import cross_identity_pairs
from s2d.data.motion import STYLES, sample_motion

CPU = torch.device("cpu")
LOOSE = EvalConfig(pose_threshold_deg=90, pair_threshold_deg=90)  # the smoke profile's few test videos pair up


@pytest.fixture(autouse=True)
def offline_torch_home(tmp_path, monkeypatch):
    """No pretrained weights and no download attempts (FID comes back NaN)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(weights, "require", functools.partial(weights.require, download=False))


@pytest.fixture
def vox_copy(synth_vox, tmp_path):
    """A private copy of the smoke synth-vox dataset: the cache writes into it, not into the shared one."""
    return shutil.copytree(synth_vox, tmp_path / "vox")


def cross_pair(root):
    pairs = cross_identity_pairs(root, "test", LOOSE.pose_threshold_deg, LOOSE.pair_threshold_deg)
    assert pairs, "the smoke synth-vox test identities should pair up at loose thresholds"
    return pairs[0].source_video, pairs[0].driving_video


# ----------------------------------------------------------------------------- rendering


@pytest.mark.parametrize("dataset", ["synth_vox", "synth_ff"])
def test_a_video_reenacting_itself_reproduces_its_stored_frames(dataset, request):
    root = request.getfixturevalue(dataset)
    for split in fmt.SPLITS:
        video = fmt.video_ids(root, split)[0]
        stored = fmt.read_frames(root, split, video)
        landmarks = fmt.read_annotations(root, split, video)["landmarks"]
        absolute = reenact.render(root, split, video, video, "absolute")
        assert np.array_equal(absolute["frames"], stored)
        assert np.array_equal(absolute["landmarks"], landmarks)
        # relative: frame 0 + (frame t - frame 0) is frame t up to float rounding
        relative = reenact.render(root, split, video, video, "relative")
        assert np.abs(relative["frames"].astype(int) - stored).max() <= 1


def test_relative_reenactment_starts_from_the_source_frame_and_follows_the_driving(synth_vox):
    source, driving = cross_pair(synth_vox)
    relative = reenact.render(synth_vox, "test", source, driving, "relative")
    absolute = reenact.render(synth_vox, "test", source, driving, "absolute")
    source_frames = fmt.read_frames(synth_vox, "test", source)
    assert relative["frames"].dtype == np.uint8 and relative["frames"].shape == source_frames.shape
    assert relative["landmarks"].shape == (len(source_frames), 74, 2)
    assert np.array_equal(relative["frames"][0], source_frames[0])  # no driving motion yet: the source frame
    assert not np.array_equal(relative["frames"][-1], source_frames[0])  # then it moves
    assert not np.array_equal(absolute["frames"][0], source_frames[0])  # absolute: the driving's first pose
    assert not np.array_equal(absolute["frames"][0], fmt.read_frames(synth_vox, "test", driving)[0])  # another face


def test_relative_motion_adds_the_driving_change_and_stays_in_the_sampler_ranges():
    style = "vox"
    source = sample_motion(np.random.default_rng(0), 60, style)
    driving = sample_motion(np.random.default_rng(1), 60, style)
    still = {name: np.repeat(values[:1], 60, axis=0) for name, values in driving.items()}
    unmoved = reenact.relative_motion(source, still, style)
    for name, values in unmoved.items():
        assert np.array_equal(values, np.repeat(source[name][:1], 60, axis=0)), name
    moved = reenact.relative_motion(source, driving, style)
    s = STYLES[style]
    assert np.allclose(moved["smile"], np.clip(source["smile"][0] + driving["smile"] - driving["smile"][0], 0, 1))
    for name, limit in (("yaw", s.yaw), ("pitch", s.pitch), ("roll", s.roll), ("tx", s.translation)):
        assert np.abs(moved[name]).max() <= limit, name
    assert np.abs(moved["scale"] - 1).max() <= s.scale
    assert np.linalg.norm(moved["gaze"], axis=1).max() <= 1 + 1e-12
    for name in ("blink", "mouth_open", "smile", "brow_raise"):
        assert moved[name].min() >= 0 and moved[name].max() <= 1, name
    # extreme source poses push the sum out of range: clipped, not passed through
    pushed = reenact.relative_motion({**source, "yaw": np.full(60, s.yaw)}, driving, style)
    assert pushed["yaw"].max() == s.yaw


def test_only_synthtalk_videos_of_the_split_and_known_modes_are_rendered(synth_vox, tmp_path):
    source, driving = cross_pair(synth_vox)
    with pytest.raises(ValueError, match="mode must be one of"):
        reenact.render(synth_vox, "test", source, driving, "sideways")
    with pytest.raises(fmt.DatasetError, match="is not a video of"):
        reenact.render(synth_vox, "train", source, driving, "absolute")
    real = tmp_path / "real"
    shutil.copytree(synth_vox, real)
    fmt.write_meta(real, {"source": "real"})
    assert reenact.is_synthtalk(synth_vox) and not reenact.is_synthtalk(real)
    with pytest.raises(fmt.DatasetError, match="not a SynthTalk dataset"):
        reenact.render(real, "test", source, driving, "absolute")


# ----------------------------------------------------------------------------- cache


def test_ground_truth_is_cached_in_the_dataset_and_read_back(vox_copy):
    source, driving = cross_pair(vox_copy)
    path = vox_copy / "reenactment" / "test" / "relative" / f"{source}__{driving}.npz"
    assert not path.exists()
    reenact.prepare(vox_copy, "test", [(source, driving), (driving, source)], "relative", workers=2)
    assert path.is_file() and path.with_name(f"{driving}__{source}.npz").is_file()
    assert not list(path.parent.glob(".*"))  # no temporary files left behind
    rendered = reenact.render(vox_copy, "test", source, driving, "relative")
    cached = reenact.ground_truth(vox_copy, "test", source, driving, "relative")
    for key in ("frames", "landmarks"):
        assert np.array_equal(cached[key], rendered[key]), key
    # what is read is the file: a changed file is returned as it is
    np.savez_compressed(path, frames=np.zeros_like(rendered["frames"]), landmarks=rendered["landmarks"])
    assert not reenact.ground_truth(vox_copy, "test", source, driving, "relative")["frames"].any()


def test_a_rebuilt_dataset_drops_its_cache(vox_copy, smoke_config):
    source, driving = cross_pair(vox_copy)
    reenact.ground_truth(vox_copy, "test", source, driving, "absolute")
    assert (vox_copy / "reenactment").is_dir()
    synth.build("synth-vox", smoke_config, seed=1, out=vox_copy, workers=1, overwrite=True, progress=False)
    assert not (vox_copy / "reenactment").exists()


# ----------------------------------------------------------------------------- cross identity


class GroundTruthAnimator:
    """Returns the reenactment ground truth of the (source, driving frame) it is asked for (tests only)."""

    def __init__(self, root, mode, config):
        self.table = {}
        for item in cross_identity_pairs(root, "test", config.pose_threshold_deg, config.pair_threshold_deg):
            source_frame = fmt.read_frames(root, "test", item.source_video, [item.source_index])[0]
            source_lm = fmt.read_annotations(root, "test", item.source_video)["landmarks"][item.source_index]
            driving_lm = fmt.read_annotations(root, "test", item.driving_video)["landmarks"]
            wanted = driving_lm if mode == "absolute" else evaluate.relative_landmarks(source_lm, driving_lm,
                                                                                       driving_lm[0])
            truth = reenact.ground_truth(root, "test", item.source_video, item.driving_video, mode)["frames"]
            for points, frame in zip(np.asarray(wanted, dtype=np.float32), truth):
                self.table[source_frame.tobytes(), points.tobytes()] = frame

    def __call__(self, source, source_landmarks, driving_landmarks):
        pixels = (source.cpu() * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        frames = [self.table[s.tobytes(), d.tobytes()] for s, d in zip(pixels, driving_landmarks.cpu().numpy())]
        return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float().div(255)


@pytest.mark.parametrize("mode", evaluate.MODES)
def test_cross_identity_scores_against_the_reenactment_ground_truth(vox_copy, mode):
    config = EvalConfig(pose_threshold_deg=90, pair_threshold_deg=90, batch_size=3)  # batches split the videos
    run = functools.partial(evaluate.cross_identity, vox_copy, mode=mode, config=config, device=CPU, progress=False)
    copy, copy_mean = run(evaluate.copy_source)
    assert len(copy) == len(cross_identity_pairs(vox_copy, "test", 90, 90)) > 0 and list(copy.columns[-3:]) == list(evaluate.REENACTMENT_METRICS)
    for name in evaluate.REENACTMENT_METRICS:
        assert np.isfinite(copy[name]).all() and name not in copy.attrs["notes"], name
        assert copy_mean[name] == pytest.approx(copy[name].mean()), name
    perfect, _ = run(GroundTruthAnimator(vox_copy, mode, config))
    assert (perfect["l1_gt"] == 0).all() and np.isposinf(perfect["psnr_gt"]).all()
    assert np.allclose(perfect["ssim_gt"], 1)
    assert (copy["l1_gt"] > 0).all() and (copy["ssim_gt"] < 1).all()
    # the metrics are those of the frames: recompute copy_source's L1 by hand
    for _, row in copy.iterrows():
        source = fmt.read_frames(vox_copy, "test", row["source_video"], [0])[0].astype(float)
        truth = reenact.ground_truth(vox_copy, "test", row["source_video"], row["driving_video"], mode)["frames"]
        assert row["l1_gt"] == pytest.approx(np.abs(truth - source).mean() / 255, rel=1e-5)


def test_cross_identity_without_synthtalk_has_no_ground_truth_and_says_so(synth_vox, tmp_path):
    real = tmp_path / "real"
    shutil.copytree(synth_vox, real)
    fmt.write_meta(real, {"source": "real"})
    rows, mean = evaluate.cross_identity(real, evaluate.copy_source, config=LOOSE, device=CPU, progress=False)
    assert len(rows) == len(cross_identity_pairs(real, "test", 90, 90)) > 0
    for name in evaluate.REENACTMENT_METRICS:
        assert rows[name].isna().all() and np.isnan(mean[name]), name
        assert mean.attrs["notes"][name] == evaluate.NO_GROUND_TRUTH
    assert not (real / "reenactment").exists()
