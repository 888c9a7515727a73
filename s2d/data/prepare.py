"""Real talking-head videos -> s2d's on-disk dataset (format.py), what ``s2d data prepare`` runs.

Input is a folder of videos (mp4, avi, mov, mkv, webm; read with imageio's
ffmpeg plugin) and/or of frame folders (png, jpg; one folder per video, frames in
name order), or first-order-model's preprocessed layout: a folder whose ``train/``
and ``test/`` folders each hold such videos. Each becomes one video of the dataset,
named after its file or folder less a video suffix (first-order-model's VoxCeleb
frame folders are named ``<video>.mp4``). Its ``identity`` is the speaker id that
starts VoxCeleb's names, the part before the first '#' (``id10001`` of
``id10001#7w0IBEWc9Qw#000993#001143``), else the whole name (who is in it is not
known); Table 2 pairs videos of different identities.

Per video:

1. Landmarks on every frame with a tracking extractor (``extractors.py``). Frames
   where no face is found get landmarks interpolated from the nearest frames
   with one, all marked not visible, and ``detected`` False in the annotations;
   a video with a face on fewer than half its frames is an error.
2. One square crop for the whole video around every frame's face
   (:func:`s2d.data.face_geometry.crop_box`); frames are cut to it and resized to
   ``size``, landmarks mapped into it exactly.
3. Head pose per frame (``pose.py``, solvePnP on the uncropped frame).
4. ``visible``: not turned away from the camera, pupils inside open eyes
   (:func:`s2d.data.face_geometry.visibility`).
5. Approximate face parsing maps rasterised from the landmarks
   (:func:`s2d.data.face_geometry.parsing_map`).

Videos are split into train and test as the input's ``train/`` and ``test/`` folders
split them, else by video at random with ``seed`` (at least one test video when there
are two or more). The dataset is built in a temporary folder and renamed into place
when complete (``format.building``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from s2d import landmarks as lm
from s2d.data import format as fmt
from s2d.data.extractors import LandmarkExtractor, get_extractor
from s2d.data.face_geometry import CROP_SCALE, crop_box, crop_frame, interpolate_missing, parsing_map, to_crop, visibility
from s2d.data.pose import estimate_pose

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MIN_DETECTED = 0.5  # the least fraction of a video's frames that must show a face


@dataclasses.dataclass(frozen=True)
class Source:
    """One input video: a video file or a folder of frames, and the split the input put it in (None: none)."""

    video_id: str
    path: Path
    split: str | None = None

    @property
    def is_video(self) -> bool:
        return self.path.is_file()

    @property
    def identity(self) -> str:
        """Who is in the video: VoxCeleb's speaker id (the name before its first '#'), else the whole name."""
        return self.video_id.split("#", 1)[0] or self.video_id


def find_sources(videos_dir: str | Path) -> list[Source]:
    """The videos and frame folders in ``videos_dir``, sorted by name; when it holds ``train/`` and ``test/``
    folders (first-order-model's layout), those of each, with their split."""
    folder = Path(videos_dir)
    if not folder.is_dir():
        raise fmt.DatasetError(f"{folder} is not a folder of videos")
    if all((folder / split).is_dir() for split in fmt.SPLITS):
        found = [source for split in fmt.SPLITS for source in _sources_in(folder / split, split)]
    else:
        found = _sources_in(folder, None)
    sources: dict[str, Source] = {}
    for source in found:
        if source.video_id in sources:
            raise fmt.DatasetError(f"{sources[source.video_id].path} and {source.path} would both be video "
                                   f"{source.video_id!r}: rename one")
        sources[source.video_id] = source
    return list(sources.values())


def _sources_in(folder: Path, split: str | None) -> list[Source]:
    """The videos and frame folders directly in ``folder``, sorted by name; DatasetError when there are none."""
    found = []
    for path in sorted(folder.iterdir()):
        is_video = path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES
        is_frames = path.is_dir() and any(_frame_files(path))
        if is_video or is_frames:
            video_id = path.stem if path.suffix.lower() in VIDEO_SUFFIXES else path.name
            found.append(Source(video_id, path, split))
    if not found:
        raise fmt.DatasetError(f"{folder} holds no videos ({', '.join(VIDEO_SUFFIXES)}) and no folders of "
                               f"frames ({', '.join(IMAGE_SUFFIXES)})")
    return found


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
    landmarks = interpolate_missing(raw)
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
        "identity": np.array(source.identity),
        "detected": detected,
    }
    info = {"source": source.path.name, "identity": source.identity, "frames": len(frames),
            "frame_size": [height, width], "crop_box": list(box), "fps": video_fps(source),
            "detected_fraction": round(float(detected.mean()), 4)}
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

    ``max_frames`` keeps only the first frames of each video. ``test_fraction`` and
    ``seed`` split the videos unless ``videos_dir`` holds ``train/`` and ``test/``,
    whose split is kept. Raises DatasetError naming the file for unusable input,
    ExtractorError when the detector is missing.
    """
    from s2d import __version__

    if size < 1 or (max_frames is not None and max_frames < 1):
        raise ValueError(f"size and max_frames must be positive, got {size} and {max_frames}")
    sources = find_sources(videos_dir)
    for source in sources:  # fail before any long work on unreadable input or a missing detector
        check_source(source, max_frames)
    get_extractor(detector).close()
    given = sources[0].split is not None  # find_sources gives every source a split, or none
    if given:
        splits = {s.video_id: s.split for s in sources}
    else:
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
            "split": "given: the input's train/ and test/" if given else "random by video",
            "seed": None if given else seed,
            "test_fraction": None if given else test_fraction,
            "resolution": size,
            "crop_scale": crop_scale,
            "max_frames": max_frames,
            "num_landmarks": lm.NUM_LANDMARKS,
            "parsing_labels": list(fmt.PARSING_LABELS),
            "parsing": "approximate, rasterised from landmarks",
            "videos": {split: sum(c["split"] == split for c in clips.values()) for split in fmt.SPLITS},
            "identities": {split: len({c["identity"] for c in clips.values() if c["split"] == split})
                           for split in fmt.SPLITS},
            "clips": clips,
        })
    return Path(out_dir)
