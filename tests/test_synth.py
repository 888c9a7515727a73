"""SynthTalk: geometry, expressions, ground truth, determinism and splits."""

import filecmp
import json

import cv2
import numpy as np
import pytest

from s2d import landmarks as lm
from s2d.config import load_config
from s2d.data import format as fmt
from s2d.data import synth
from s2d.data.identity import background, sample_identity
from s2d.data.motion import STYLES, sample_motion
from s2d.data.render import FrameParams, Renderer
from s2d.data.template import deform


@pytest.fixture(scope="module")
def renderer():
    rng = np.random.default_rng(7)
    return Renderer(sample_identity(rng, "t"), background(rng, 256), size=128)


def _inside(poly, point):
    return cv2.pointPolygonTest(poly.astype(np.float32), tuple(map(float, point)), False) >= 0


def test_two_builds_are_byte_identical(synth_vox, tmp_path, smoke_config):
    again = synth.build("synth-vox", smoke_config, seed=0, out=tmp_path / "again", workers=1, progress=False)
    comparison = filecmp.dircmp(synth_vox, again)
    files = [p.relative_to(synth_vox) for p in synth_vox.rglob("*") if p.is_file()]
    assert len(files) > 50
    for rel in files:
        assert (synth_vox / rel).read_bytes() == (again / rel).read_bytes(), rel
    assert not comparison.left_only and not comparison.right_only


def test_another_seed_gives_other_data(synth_vox, tmp_path, smoke_config):
    other = synth.build("synth-vox", smoke_config, seed=1, out=tmp_path / "other", workers=1, progress=False)
    vid = fmt.video_ids(synth_vox, "train")[0]
    assert not np.array_equal(fmt.read_frames(synth_vox, "train", vid), fmt.read_frames(other, "train", vid))


def test_stored_landmarks_equal_the_projected_template(synth_vox):
    meta = fmt.read_meta(synth_vox)
    spec = synth.VideoSpec(**meta["plan"][0])
    ann = fmt.read_annotations(synth_vox, spec.split, spec.video_id)
    style, stream = synth.VARIANTS[spec.variant]
    ident = sample_identity(np.random.default_rng([spec.seed, stream, 1, spec.identity]), "x")
    video_rng = np.random.default_rng([spec.seed, stream, 2, spec.index])
    r = Renderer(ident, background(video_rng, 256), size=256)
    motion = sample_motion(video_rng, spec.frames, style)
    for t in (0, spec.frames - 1):
        p = FrameParams(yaw=motion["yaw"][t], pitch=motion["pitch"][t], roll=motion["roll"][t],
                        tx=motion["tx"][t], ty=motion["ty"][t], scale=motion["scale"][t],
                        gaze_x=motion["gaze"][t, 0], gaze_y=motion["gaze"][t, 1], blink=motion["blink"][t],
                        mouth_open=motion["mouth_open"][t], smile=motion["smile"][t],
                        brow_raise=motion["brow_raise"][t])
        points = deform(ident.points, np.array([p.gaze_x, p.gaze_y]), p.blink, p.mouth_open, p.smile, p.brow_raise)
        screen, _, _ = r.project(points[: lm.NUM_LANDMARKS], p)
        at_256 = (screen + 0.5) / 2 - 0.5
        expected = (at_256 + 0.5) * spec.resolution / 256 - 0.5
        np.testing.assert_allclose(ann["landmarks"][t], expected, atol=1e-4)
        np.testing.assert_allclose(ann["pose"][t], [p.yaw, p.pitch, p.roll], atol=1e-4)


def test_annotations_have_documented_shapes(synth_vox):
    meta = fmt.read_meta(synth_vox)
    assert meta["num_landmarks"] == 74 and meta["resolution"] == 64
    vid = fmt.video_ids(synth_vox, "test")[0]
    ann = fmt.read_annotations(synth_vox, "test", vid)
    t = meta["frames_per_video"]
    assert ann["landmarks"].shape == (t, 74, 2) and ann["landmarks"].dtype == np.float32
    assert ann["visible"].shape == (t, 74) and ann["visible"].dtype == bool
    assert ann["pose"].shape == (t, 3) and ann["gaze"].shape == (t, 2)
    for key in ("blink", "mouth_open", "smile", "brow_raise"):
        assert ann[key].shape == (t,)
    frames = fmt.read_frames(synth_vox, "test", vid)
    parsing = fmt.read_parsing(synth_vox, "test", vid)
    assert frames.shape == (t, 64, 64, 3) and frames.dtype == np.uint8
    assert parsing.shape == (t, 64, 64) and parsing.max() < len(fmt.PARSING_LABELS)


def test_parsing_labels_cover_the_face_regions(synth_vox):
    hair, skin = fmt.PARSING_LABELS.index("hair"), fmt.PARSING_LABELS.index("skin")
    fractions = []
    for vid in fmt.video_ids(synth_vox, "train"):
        parsing = fmt.read_parsing(synth_vox, "train", vid, [0])[0]
        fractions.append([(parsing == label).mean() for label in range(len(fmt.PARSING_LABELS))])
    fractions = np.array(fractions)
    assert np.all(fractions[:, 0] > 0.3) and np.all(fractions[:, skin] > 0.1)  # background, skin
    assert np.median(fractions[:, hair]) > 0.03  # hair (a bald identity may have none)
    for label in ("brows", "sclera", "nose", "lips"):
        assert np.all(fractions[:, fmt.PARSING_LABELS.index(label)] > 0), label


def test_pupils_stay_inside_open_eyes(renderer):
    rng = np.random.default_rng(0)
    for _ in range(30):
        gaze = rng.uniform(-1, 1, 2)
        p = FrameParams(yaw=rng.uniform(-30, 30), pitch=rng.uniform(-25, 25), roll=rng.uniform(-15, 15),
                        gaze_x=gaze[0], gaze_y=gaze[1], blink=rng.uniform(0, 0.3))
        f = renderer.render(p)
        for eye, pupil in ((lm.LEFT_EYE, lm.LEFT_PUPIL), (lm.RIGHT_EYE, lm.RIGHT_PUPIL)):
            assert _inside(f.landmarks[list(eye)], f.landmarks[pupil])


def test_gaze_moves_pupils_inside_a_still_head(renderer):
    left = renderer.render(FrameParams(yaw=10, gaze_x=-1)).landmarks
    right = renderer.render(FrameParams(yaw=10, gaze_x=1)).landmarks
    np.testing.assert_allclose(left[:68], right[:68])  # the head did not move
    assert right[lm.LEFT_PUPIL, 0] - left[lm.LEFT_PUPIL, 0] > 2  # the pupils did (pixels at 128 px)
    assert right[lm.RIGHT_PUPIL, 0] - left[lm.RIGHT_PUPIL, 0] > 2


def test_a_blink_closes_the_eyes_and_hides_the_pupils(renderer):
    open_ = renderer.render(FrameParams())
    shut = renderer.render(FrameParams(blink=1.0))
    assert np.all(lm.eye_aperture(shut.landmarks) < 0.15 * lm.eye_aperture(open_.landmarks))
    assert open_.visible[lm.LEFT_PUPIL] and not shut.visible[lm.LEFT_PUPIL]
    iris = fmt.PARSING_LABELS.index("iris")
    assert (open_.parsing == iris).sum() > 10 and (shut.parsing == iris).sum() < (open_.parsing == iris).sum() / 5


def test_mouth_opening_opens_the_inner_lips(renderer):
    closed = renderer.render(FrameParams()).landmarks
    opened = renderer.render(FrameParams(mouth_open=1.0))
    assert lm.mouth_aperture(opened.landmarks) > lm.mouth_aperture(closed) + 0.3
    assert (opened.parsing == fmt.PARSING_LABELS.index("mouth_interior")).sum() > 20


def test_yaw_foreshortens_and_the_face_hides_its_far_side(renderer):
    frontal = renderer.render(FrameParams())
    turned = renderer.render(FrameParams(yaw=30))
    assert frontal.visible[:68].all()
    assert lm.interocular_distance(turned.landmarks) < 0.95 * lm.interocular_distance(frontal.landmarks)
    far = renderer.render(FrameParams(yaw=45)).visible
    hidden = set(np.flatnonzero(~far[:68]).tolist())
    far_side = set(range(9, 17)) | set(lm.RIGHT_BROW) | set(lm.RIGHT_EYE) | set(range(30, 36)) | set(range(51, 58))
    assert hidden and hidden <= far_side | set(range(62, 67))
    assert far[list(range(0, 8))].all()  # the near side stays visible
    # the nose tip moves to the image's right relative to the eyes (yaw > 0 turns right)
    nose_offset = lambda f: f.landmarks[30, 0] - f.landmarks[[36, 45], 0].mean()  # noqa: E731
    assert nose_offset(turned) > nose_offset(frontal) + 2


def test_background_is_static_and_the_face_moves(synth_vox):
    vid = fmt.video_ids(synth_vox, "train")[0]
    frames = fmt.read_frames(synth_vox, "train", vid).astype(int)
    parsing = fmt.read_parsing(synth_vox, "train", vid)
    a, b = 0, len(frames) - 1
    kernel = np.ones((5, 5), np.uint8)
    far_from_face = [cv2.erode((p == 0).astype(np.uint8), kernel) > 0 for p in (parsing[a], parsing[b])]
    both = far_from_face[0] & far_from_face[1]
    assert both.sum() > 500
    assert np.array_equal(frames[a][both], frames[b][both])
    assert np.abs(frames[a] - frames[b]).max() > 30  # something moved


def test_motion_ranges_per_style():
    rng = np.random.default_rng(3)
    for style, limits in STYLES.items():
        m = sample_motion(rng, 500, style)
        assert np.abs(m["yaw"]).max() <= limits.yaw and np.abs(m["roll"]).max() <= limits.roll
        assert m["blink"].max() > 0.9  # blinks happen in 20 s
        assert np.abs(m["gaze"]).max() <= 1
        assert np.abs(np.diff(m["gaze"][:, 0])).max() > 0.2  # saccades are fast
        assert np.median(np.abs(np.diff(m["yaw"]))) < 1.0  # head motion is smooth
    vox, ff = (np.abs(sample_motion(np.random.default_rng(s), 300, st)["yaw"]).max()
               for s, st in ((1, "vox"), (1, "ff")))
    assert vox > ff


def test_vox_splits_by_identity_and_ff_splits_videos(synth_vox, synth_ff):
    def identities(root, split):
        return {str(fmt.read_annotations(root, split, v)["identity"]) for v in fmt.video_ids(root, split)}

    assert not identities(synth_vox, "train") & identities(synth_vox, "test")
    meta = json.loads((synth_ff / "meta.json").read_text())
    total = meta["videos"]["train"] + meta["videos"]["test"]
    assert meta["videos"]["test"] == round(0.25 * total)


def test_unknown_variant_and_upsampling_are_refused(smoke_config):
    with pytest.raises(ValueError, match="synth-vox"):
        synth.plan("synth-vx", smoke_config, 0)
    big = load_config("smoke", ["data.resolution=512"])
    with pytest.raises(ValueError, match="upsample"):
        synth.render_video(synth.plan("synth-vox", big, 0)[0])
