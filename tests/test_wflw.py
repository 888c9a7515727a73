"""s2d.detector.wflw: WFLW's 98 points mapped onto s2d's 74, its annotation files, crops and training."""

import json

import numpy as np
import pytest
from PIL import Image

from s2d import landmarks as lm
from s2d.detector import wflw
from s2d.detector.train import profile_config, train
from s2d.geometry import to_pixels


def fake_wflw(root, faces=3, seed=0):
    """A WFLW-layout folder: black images with a white dot at each of three chosen WFLW points."""
    rng = np.random.default_rng(seed)
    (root / wflw.ANNOTATIONS).mkdir(parents=True)
    lines = []
    for i in range(faces):
        points = rng.uniform(60, 140, (wflw.WFLW_POINTS, 2)).astype(np.float32)
        image = np.zeros((220, 260, 3), np.uint8)
        for k in (0, 60, 96):  # jaw start, an eye corner, the left pupil
            x, y = np.round(points[k]).astype(int)
            image[y - 1 : y + 2, x - 1 : x + 2] = 255
            points[k] = (x, y)
        name = f"0--Parade/face_{i}.jpg"
        (root / wflw.IMAGES / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(root / wflw.IMAGES / name, quality=100)
        box = [50, 50, 150, 150]
        lines.append(" ".join([*(f"{v:.3f}" for v in points.ravel()), *map(str, box), *"000000", name]))
    for split in ("train", "test"):
        (root / wflw.ANNOTATIONS / f"list_98pt_rect_attr_{split}.txt").write_text("\n".join(lines) + "\n")
    return root


def test_mapping_covers_ibug_and_pupils_but_not_the_iris_edges():
    points98 = np.arange(2 * wflw.WFLW_POINTS, dtype=np.float32).reshape(wflw.WFLW_POINTS, 2)
    ours, weights = wflw.to_s2d(points98)
    assert weights[: lm.NUM_IBUG].all() and weights[[lm.LEFT_PUPIL, lm.RIGHT_PUPIL]].all()
    assert not weights[list(lm.LEFT_IRIS_EDGE + lm.RIGHT_IRIS_EDGE)].any()
    assert np.isnan(ours[70:]).all() and not np.isnan(ours[:70]).any()
    assert ours[16, 0] == points98[32, 0] and ours[36, 0] == points98[60, 0] and ours[45, 0] == points98[72, 0]
    assert ours[lm.RIGHT_PUPIL, 0] == points98[97, 0] and ours[67, 0] == points98[95, 0]
    assert len(set(wflw.WFLW_TO_S2D.values())) == len(wflw.WFLW_TO_S2D)  # no WFLW point used twice
    with pytest.raises(ValueError, match="98"):
        wflw.to_s2d(np.zeros((68, 2)))


def test_annotation_files_are_read_and_checked(tmp_path):
    root = fake_wflw(tmp_path / "wflw")
    faces = wflw.read_annotations(root, "train")
    assert len(faces) == 3 and faces[0].box == (50.0, 50.0, 150.0, 150.0) and faces[0].image.is_file()
    assert wflw.is_wflw(root) and not wflw.is_wflw(tmp_path)
    with pytest.raises(ValueError, match="splits"):
        wflw.read_annotations(root, "val")
    bad = tmp_path / "bad"
    (bad / wflw.ANNOTATIONS).mkdir(parents=True)
    (bad / wflw.ANNOTATIONS / "list_98pt_rect_attr_train.txt").write_text("1 2 3 image.jpg\n")
    with pytest.raises(ValueError, match=":1: expected 207 fields"):
        wflw.read_annotations(bad, "train")
    with pytest.raises(FileNotFoundError, match="not a WFLW folder"):
        wflw.read_annotations(tmp_path, "train")


def test_crops_keep_the_landmarks_on_their_pixels(tmp_path):
    data = wflw.WFLWLabelled(fake_wflw(tmp_path / "wflw"), "train", size=64)
    for face in data.faces:
        patch, points = data.crop(face)
        assert patch.shape == (64, 64, 3)
        for ours in (0, 36, lm.LEFT_PUPIL):
            x, y = np.round(points[ours]).astype(int)
            if 1 <= x < 63 and 1 <= y < 63:
                assert patch[y - 1 : y + 2, x - 1 : x + 2].max() > 100, (ours, x, y)
    frames, targets, weights = data.batch(np.random.default_rng(0), 4, flip_prob=0.5)
    assert frames.shape == (4, 3, 64, 64) and targets.shape == (4, 74, 2) and weights.shape == (4, 74)
    assert (weights[:, 70:] == 0).all() and (weights[:, :70] == 1).all()
    assert np.isfinite(to_pixels(targets.numpy(), 64, 64)).all()


def test_a_detector_trains_with_wflw_as_its_labelled_real_frames(synth_vox, tmp_path):
    root = fake_wflw(tmp_path / "wflw")
    config = profile_config("smoke", "FAN4+DSNT", device="cpu", steps=3, real_share=0.5)
    train(config, synth_vox, tmp_path / "run", labelled_roots=(root,), progress=False)
    info = json.loads((tmp_path / "run" / "train.json").read_text())
    assert info["labelled_real_frames"] == 3


def test_train_detector_cli(synth_vox, tmp_path, capsys):
    from s2d.cli import main

    root = fake_wflw(tmp_path / "wflw")
    assert main(["train-detector", "--profile", "smoke", "--variant", "FAN4+DSNT", "--data", str(synth_vox),
                 "--labelled", str(root), "--out", str(tmp_path / "run")]) == 0
    assert (tmp_path / "run" / "checkpoint.pt").is_file()
    assert main(["train-detector", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "x")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
