"""``s2d animate`` and ``s2d.animate()``: photo + driving video -> MP4, and every bad input's one-line error."""

from pathlib import Path

import cv2
import imageio.v2 as imageio
import numpy as np
import pandas as pd
import pytest
import torch

import s2d
from s2d import landmarks as lm
from s2d.animation import AnimateError, best_reference_frame, face_alpha, paste, paste_alpha
from s2d.cli import main
from s2d.config import load_config
from s2d.photo_metrics import motion_ratio, photo_measures
from s2d.data import format as fmt
from s2d.train import train

SHARED = Path(__file__).resolve().parents[2] / "shared" / "real-clips"


@pytest.fixture(scope="module")
def checkpoint(synth_vox, tmp_path_factory):
    config = load_config("smoke", ["train.steps=2"])
    return train(config, synth_vox, tmp_path_factory.mktemp("animate") / "run", progress=False)


@pytest.fixture(scope="module")
def inputs(synth_vox, tmp_path_factory):
    """A 'photo' (a SynthTalk face, enlarged, on a wider canvas) and a driving video of another person."""
    folder = tmp_path_factory.mktemp("inputs")
    videos = fmt.video_ids(synth_vox, "test")
    face = cv2.resize(fmt.read_frames(synth_vox, "test", videos[0], [0])[0], (256, 256),
                      interpolation=cv2.INTER_CUBIC)
    photo = np.full((320, 400, 3), 90, np.uint8)
    photo[40:296, 100:356] = face
    imageio.imwrite(folder / "photo.png", photo)
    frames = fmt.read_frames(synth_vox, "test", videos[-1])
    big = np.stack([cv2.resize(f, (192, 192), interpolation=cv2.INTER_CUBIC) for f in frames])
    imageio.mimwrite(folder / "driving.mp4", big, fps=20, macro_block_size=1)
    return {"photo": folder / "photo.png", "video": folder / "driving.mp4", "frames": len(frames),
            "folder": folder, "photo_pixels": photo}


def run(*args):
    return main(["animate", *map(str, args)])


def test_animate_writes_the_photo_with_the_face_animated(checkpoint, inputs, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    assert run("--source", inputs["photo"], "--driving", inputs["video"], "--checkpoint", checkpoint,
               "--out", out, "--relative") == 0
    assert "frames/s" in capsys.readouterr().out
    with imageio.get_reader(out, format="FFMPEG") as reader:
        assert reader.get_meta_data()["fps"] == pytest.approx(20, abs=0.1)
        frames = np.stack([frame for frame in reader])  # len(reader) is inf: list() would try to preallocate
    assert frames.shape == (inputs["frames"], 320, 400, 3)
    # outside the face's crop the photo is untouched (up to the video codec)
    assert np.abs(frames[:, :, :30].astype(int) - inputs["photo_pixels"][None, :, :30]).mean() < 3


def test_without_a_checkpoint_animate_uses_the_default_model_once_the_inputs_are_known(checkpoint, inputs, tmp_path,
                                                                                      monkeypatch, capsys):
    from s2d.repro import animate_model

    calls = []
    monkeypatch.setattr(animate_model, "default_checkpoint", lambda **kw: calls.append(kw) or checkpoint)
    assert run("--source", tmp_path / "missing.png", "--driving", inputs["video"], "--out", tmp_path / "a.mp4") == 2
    assert calls == [] and "missing.png: no such file" in capsys.readouterr().err  # nothing built for a typo
    assert run("--source", inputs["photo"], "--driving", inputs["video"], "--out", tmp_path / "b.mp4") == 0
    assert len(calls) == 1 and (tmp_path / "b.mp4").is_file()
    assert len(s2d.animate(inputs["photo"], inputs["video"], progress=False).frames) == inputs["frames"]
    assert len(calls) == 2


def test_the_default_model_is_built_once_then_found_in_the_run_cache(synth_vox, synth_ff, tmp_path, monkeypatch):
    from s2d.repro import animate_model, cache, plan

    for module in (plan, cache):  # synth-ff plays the real clips
        monkeypatch.setattr(module, "real_data", lambda root=plan.REAL_ROOT: synth_ff)
    said = []
    first = animate_model.default_checkpoint("smoke", tmp_path / "data", tmp_path / "runs", False, said.append)
    assert first.is_file() and first.is_relative_to(tmp_path / "runs" / "smoke")
    assert [line for line in said if "training the default real-face model" in line]
    said.clear()
    assert animate_model.default_checkpoint("smoke", tmp_path / "data", tmp_path / "runs", False, said.append) == first
    assert said == []  # found in the cache: nothing trained, nothing announced


def test_python_api_returns_frames_and_takes_landmarks(checkpoint, inputs, tmp_path):
    result = s2d.animate(inputs["photo"], inputs["video"], checkpoint, relative=False, progress=False)
    assert result.frames.shape == (inputs["frames"], 320, 400, 3) and result.frames.dtype == np.uint8
    assert result.faces.shape == (inputs["frames"], 64, 64, 3) and result.fps == pytest.approx(20, abs=0.1)
    x0, y0, side = result.box
    assert 100 - side < x0 < 356 and side > 150  # the crop sits on the face
    from s2d.animation import driving_landmarks

    found, _, _ = driving_landmarks(inputs["video"], 192, progress=False)
    np.save(tmp_path / "driving.npy", found)
    from_file = s2d.animate(inputs["photo"], tmp_path / "driving.npy", checkpoint, progress=False)
    assert len(from_file.frames) == inputs["frames"] and any("25 frames per second" in n for n in from_file.notes)


def test_the_best_reference_frame_is_the_one_posed_like_the_source(synth_vox):
    videos = fmt.video_ids(synth_vox, "test")
    source = fmt.read_annotations(synth_vox, "test", videos[0])["landmarks"][0]
    driving = fmt.read_annotations(synth_vox, "test", videos[-1])["landmarks"].copy()
    posed_alike = 3 * source + np.array([40.0, -7.0])  # the source's face, three times larger, elsewhere
    driving[5] = posed_alike
    assert best_reference_frame(source, driving) == 5  # position and size do not count, pose and shape do
    driving[5] = posed_alike + np.random.default_rng(0).normal(0, 25, posed_alike.shape)  # now another face
    assert best_reference_frame(source, driving) != 5


def test_find_best_frame_measures_the_motion_from_that_frame(checkpoint, inputs, tmp_path):
    from s2d.animation import driving_landmarks, source_face

    photo = imageio.imread(inputs["photo"])
    _, source_lm, _, _ = source_face(photo, 64, "photo.png")
    found, _, _ = driving_landmarks(inputs["video"], 64, progress=False)
    found[2] = source_lm  # a driving frame posed exactly as the photo (in the driving crop's pixels)
    np.save(tmp_path / "driving.npy", found)
    result = s2d.animate(inputs["photo"], tmp_path / "driving.npy", checkpoint, relative=True, find_best_frame=True,
                         progress=False)
    assert any("driving frame 2" in note for note in result.notes)
    still = s2d.animate(inputs["photo"], tmp_path / "driving.npy", checkpoint, relative=True, progress=False)
    assert len(result.frames) == len(still.frames) and not np.array_equal(result.faces, still.faces)
    with pytest.raises(AnimateError, match="use it with relative motion"):
        s2d.animate(inputs["photo"], tmp_path / "driving.npy", checkpoint, find_best_frame=True, progress=False)


def test_the_motion_ratio_is_0_when_the_face_moves_as_wanted_and_1_when_it_stays_still():
    source = np.random.default_rng(0).uniform(10, 50, (lm.NUM_LANDMARKS, 2))
    wanted = np.stack([source + [t, -t / 2] for t in range(1, 6)])
    assert motion_ratio(wanted, wanted, source) == 0
    assert motion_ratio(np.repeat(source[None], 5, axis=0), wanted, source) == pytest.approx(1)
    halfway = (wanted + source) / 2
    assert motion_ratio(halfway, wanted, source, lm.JAW) == pytest.approx(0.5)
    halfway[2] = np.nan  # a frame without a face does not count
    assert motion_ratio(halfway, wanted, source) == pytest.approx(0.5)


def test_paste_blends_only_inside_the_box():
    photo = np.zeros((50, 60, 3), np.uint8)
    out = paste(photo, np.full((16, 16, 3), 255, np.uint8), (10, 5, 32))
    assert out[:5].max() == 0 and out[:, :10].max() == 0 and out[37:].max() == 0 and out[:, 42:].max() == 0
    assert out[21, 26].min() == 255  # the centre is the face itself
    assert out[5, 10].max() == 0 and out[36, 41].max() == 0  # the crop's corners stay the photo: no square


def test_paste_alpha_is_round_and_smooth():
    alpha = paste_alpha(64)[..., 0]
    assert alpha[32, 32] == 1 and alpha[0].max() < 0.01 and alpha[:, 0].max() < 0.01  # fades out at every edge
    assert np.abs(np.diff(alpha, axis=0)).max() < 0.2 and np.abs(np.diff(alpha, axis=1)).max() < 0.2  # no edge
    assert np.allclose(alpha, alpha.T) and np.allclose(alpha, alpha[::-1])


def test_face_alpha_covers_the_face_where_it_is_and_where_it_moves_and_nothing_else(synth_vox):
    source = fmt.read_annotations(synth_vox, "test", fmt.video_ids(synth_vox, "test")[0])["landmarks"][0]
    alpha = face_alpha(64, source)[..., 0]
    nose, chin = np.round(source[lm.NOSE_BASE[2]]).astype(int), np.round(source[8]).astype(int)
    assert alpha[nose[1], nose[0]] > 0.99 and alpha[chin[1] - 1, chin[0]] > 0.5  # the face is the generated one
    assert alpha[-1].max() == 0 and alpha[:, 0].max() == 0 and alpha[:, -1].max() == 0  # no crop border shows
    below_the_chin = alpha[min(63, chin[1] + 12):, :].max()
    assert below_the_chin < 0.05  # the neck, shoulders and background beyond the margin stay the photo's
    assert np.abs(np.diff(alpha, axis=0)).max() < 0.35 and np.abs(np.diff(alpha, axis=1)).max() < 0.35  # feathered
    moved = source + np.array([10.0, 0.0])  # the generated frame moves the head right: its face is pasted too
    wider = face_alpha(64, source, moved)[..., 0]
    right = np.round(moved[16]).astype(int)
    assert wider[right[1], right[0]] > 0.5 > alpha[right[1], right[0] + 4] and (wider >= alpha - 1e-6).all()


def test_paste_with_landmarks_keeps_the_photo_outside_the_face(synth_vox):
    source = fmt.read_annotations(synth_vox, "test", fmt.video_ids(synth_vox, "test")[0])["landmarks"][0]
    photo = np.zeros((100, 100, 3), np.uint8)
    out = paste(photo, np.full((64, 64, 3), 255, np.uint8), (0, 0, 96), landmarks=(source,))
    nose = np.round(source[lm.NOSE_BASE[2]] * 1.5).astype(int)
    assert out[nose[1], nose[0]].min() == 255 and out[95].max() == 0 and out[:, :4].max() == 0


def test_several_faces_use_the_largest_and_say_so(checkpoint, inputs, tmp_path, capsys):
    photo = imageio.imread(inputs["photo"])
    two = np.full((320, 700, 3), 90, np.uint8)
    two[:, :400] = photo
    two[100:228, 500:628] = cv2.resize(photo[40:296, 100:356], (128, 128), interpolation=cv2.INTER_AREA)
    imageio.imwrite(tmp_path / "two.png", two)
    assert run("--source", tmp_path / "two.png", "--driving", inputs["video"], "--checkpoint", checkpoint,
               "--out", tmp_path / "out.mp4") == 0
    assert "2 faces: animating the largest" in capsys.readouterr().err


# ----------------------------------------------------------------------------- bad input: one line, exit 2, no file


def bad(tmp_path, capsys, expected, **changes):
    out = Path(changes.pop("out", tmp_path / "out.mp4"))
    args = {"source": None, "driving": None, "checkpoint": None} | changes
    code = run("--source", args["source"], "--driving", args["driving"], "--checkpoint", args["checkpoint"],
               "--out", out)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert err and err[-1].startswith("s2d: error: ") and expected in err[-1], err
    assert not out.is_file() or out.stat().st_size == 0
    assert not list(out.parent.glob(f".{out.stem}.*tmp*"))  # no temporary file left behind


@pytest.fixture
def good(checkpoint, inputs):
    return {"source": inputs["photo"], "driving": inputs["video"], "checkpoint": checkpoint}


def test_source_that_is_not_an_image(good, tmp_path, capsys):
    (tmp_path / "notes.jpg").write_text("not a photo")
    bad(tmp_path, capsys, "is not an image", **good | {"source": tmp_path / "notes.jpg"})


def test_source_missing(good, tmp_path, capsys):
    bad(tmp_path, capsys, "no such file", **good | {"source": tmp_path / "missing.jpg"})


def test_source_without_a_face(good, tmp_path, capsys):
    imageio.imwrite(tmp_path / "wall.png", np.full((200, 200, 3), 128, np.uint8))
    bad(tmp_path, capsys, "no face found in wall.png", **good | {"source": tmp_path / "wall.png"})


def test_driving_video_without_frames(good, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    bad(tmp_path, capsys, "holds no frames", **good | {"driving": tmp_path / "empty"})


def test_driving_video_without_a_face(good, tmp_path, capsys):
    imageio.mimwrite(tmp_path / "wall.mp4", np.full((4, 64, 64, 3), 128, np.uint8), fps=10, macro_block_size=1)
    bad(tmp_path, capsys, "no face found in any frame", **good | {"driving": tmp_path / "wall.mp4"})


def test_driving_missing(good, tmp_path, capsys):
    bad(tmp_path, capsys, "no such file or folder", **good | {"driving": tmp_path / "missing.mp4"})


def test_landmarks_of_the_wrong_shape(good, tmp_path, capsys):
    np.save(tmp_path / "lm.npy", np.zeros((5, 68, 2), np.float32))
    bad(tmp_path, capsys, "expected landmarks of shape (frames, 74, 2)", **good | {"driving": tmp_path / "lm.npy"})


def test_landmarks_with_nan(good, tmp_path, capsys):
    points = np.full((5, lm.NUM_LANDMARKS, 2), 30.0, np.float32)
    points[2] = np.nan
    np.save(tmp_path / "lm.npy", points)
    bad(tmp_path, capsys, "1 frames have NaN", **good | {"driving": tmp_path / "lm.npy"})


def test_missing_checkpoint(good, tmp_path, capsys):
    bad(tmp_path, capsys, "checkpoint not found", **good | {"checkpoint": tmp_path / "none.pt"})


def test_checkpoint_of_another_model(good, tmp_path, capsys):
    torch.save({"model_name": "s2d-detector", "state_dict": {}}, tmp_path / "detector.pt")
    bad(tmp_path, capsys, "is a checkpoint of 's2d-detector'", **good | {"checkpoint": tmp_path / "detector.pt"})


def test_checkpoint_of_a_baseline(good, synth_vox, tmp_path, capsys):
    config = load_config("smoke", ["train.steps=1", "model.architecture=first-order"])
    ckpt = train(config, synth_vox, tmp_path / "fomm", progress=False)
    bad(tmp_path, capsys, "is a first-order baseline", **good | {"checkpoint": ckpt})


def test_checkpoint_of_another_resolution(good, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    code = run("--source", good["source"], "--driving", good["driving"], "--checkpoint", good["checkpoint"],
               "--out", out, "--size", "256")
    assert code == 2 and "animates 64 px faces (profile 'smoke'), not 256 px" in capsys.readouterr().err
    assert not out.exists()


def test_output_that_cannot_be_written(good, tmp_path, capsys):
    (tmp_path / "file").write_text("")
    bad(tmp_path, capsys, "is a file, not a folder", **good | {"out": tmp_path / "file" / "out.mp4"})
    bad(tmp_path, capsys, "give a name ending in .mp4", **good | {"out": tmp_path / "out.gif"})
    (tmp_path / "folder.mp4").mkdir()
    bad(tmp_path, capsys, "it is a folder", **good | {"out": tmp_path / "folder.mp4"})


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/real-clips is absent")
def test_real_photo_and_clip(checkpoint, tmp_path):
    photo = sorted(SHARED.glob("photo_s*.jpg"))[0]
    clip = sorted(SHARED.glob("talk_d*.mp4"))[0]
    frames = []
    with imageio.get_reader(clip, format="FFMPEG") as reader:
        for i, frame in enumerate(reader):
            if i == 12:
                break
            frames.append(frame)
    short = tmp_path / "short"
    short.mkdir()
    for i, frame in enumerate(frames):
        imageio.imwrite(short / f"{i:03d}.png", frame)
    result = s2d.animate(photo, short, checkpoint, relative=True, progress=False)
    assert result.frames.shape[0] == 12 and result.frames.shape[1:] == imageio.imread(photo).shape
    assert result.fps == 25  # a folder of frames has no frame rate of its own
    measures = photo_measures(result, imageio.imread(photo), stride=3)
    assert set(measures) >= {"motion_ratio_68", "motion_ratio_contour", "identity_distance", "seconds_generate"}
    assert 0 <= measures["frames_with_a_face"] <= 1


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/real-clips is absent")
def test_the_photo_measures_see_a_still_photo_as_unmoved_and_as_the_same_person():
    from dataclasses import replace

    from s2d.animation import PhotoAnimation, read_image, source_face

    photo = read_image(sorted(SHARED.glob("photo_s*.jpg"))[0])
    crop, points, box, _ = source_face(photo, 64)
    wanted = np.stack([points + [dx, 0] for dx in (2.0, 4.0, 6.0)])  # asked to move right; the frames stay still
    still = PhotoAnimation(np.stack([photo] * 3), np.stack([crop] * 3), crop, points, wanted, 25.0, box)
    measures = photo_measures(still, photo)
    assert measures["frames_with_a_face"] == 1
    assert measures["motion_ratio_contour"] == pytest.approx(1, abs=0.15)  # nothing moved
    assert measures["unmoved_error_68_px"] == pytest.approx(4.0, abs=1e-4)  # asked for 2, 4 and 6 px
    assert measures["motion_ratio_68"] == pytest.approx(measures["error_68_px"] / measures["unmoved_error_68_px"])
    assert measures["identity_distance"] < 0.2 and measures["same_person_share"] == 1  # the photo itself
    moved = replace(still, wanted=np.stack([points] * 3) + 0.0)  # asked for no motion: the ratio has no scale
    assert np.isnan(photo_measures(moved, photo)["motion_ratio_68"])


def test_the_photo_study_scores_every_photo_with_every_clip_as_animate_would(checkpoint, inputs, tmp_path):
    from s2d.repro.photo_study import main as study_main
    from s2d.repro.photo_study import REFERENCE, photo_study, summary

    pairs = photo_study(checkpoint, [inputs["photo"]], [inputs["video"]], max_frames=6, stride=2, progress=False)
    assert list(pairs[["photo", "clip", "frames"]].iloc[0]) == ["photo.png", "driving.mp4", 6]
    alone = s2d.animate(inputs["photo"], inputs["video"], checkpoint, relative=True, progress=False)
    assert np.abs(pairs["motion_ratio_68"].iloc[0]
                  - photo_measures(replace_frames(alone, 6), inputs["photo_pixels"], 2)["motion_ratio_68"]) < 1e-6
    assert summary(pairs).loc["s2d animate", ("pairs", "")] == 1
    both = photo_study(checkpoint, [inputs["photo"]], [inputs["video"]], max_frames=6, stride=2, reference=True,
                       progress=False)
    assert list(both["method"]) == ["s2d animate", REFERENCE]
    assert both["motion_ratio_68"].iloc[0] == pairs["motion_ratio_68"].iloc[0]
    assert both["motion_ratio_68"].iloc[1] < both["motion_ratio_68"].iloc[0]  # a perfect warp beats a smoke model
    table = summary(both)
    pooled = both["error_68_px"] / both["unmoved_error_68_px"]  # one pair: the pooled ratio is the pair's
    assert np.allclose(table[("motion_ratio_68", "pooled")].to_numpy(), pooled.to_numpy())
    out = tmp_path / "pairs.csv"
    study_main(["--photos", str(inputs["folder"]), "--clips", str(inputs["folder"]), "--checkpoint", str(checkpoint),
                "--max-frames", "4", "--out", str(out)])
    assert len(pd.read_csv(out)) == 1
    with pytest.raises(SystemExit):
        study_main(["--photos", str(tmp_path / "none"), "--clips", str(inputs["folder"])])


def replace_frames(result, count):
    """``result`` cut to its first ``count`` frames."""
    from dataclasses import replace

    return replace(result, frames=result.frames[:count], faces=result.faces[:count], wanted=result.wanted[:count])
