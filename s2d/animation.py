"""``s2d animate`` and ``s2d.animate()``: a face photo animated by a driving video (or its landmarks), pasted back into the photo.

The pipeline owns the I/O; the model (:func:`s2d.checkpoint.load_model`) only maps a
source crop and landmarks to frames:

1. **Source.** The photo's largest face (MediaPipe FaceMesh with iris; when there are
   several, the largest is used and a note says so) and a square crop around it, as
   ``s2d data prepare`` crops videos (:func:`s2d.data.face_geometry.crop_box`), resized to
   the checkpoint's resolution.
2. **Driving.** A video: MediaPipe's landmarks on every frame (tracking; frames without
   a face are interpolated from their neighbours and counted in the notes). Or a
   ``(T, 74, 2)`` ``.npy`` of landmarks in the driving video's pixels, as
   ``s2d landmarks`` writes. Either way the landmarks are mapped into one square crop
   around the driving face, at the model's resolution.
3. **Motion.** Relative (``relative=True``, first-order-model's demo and the paper's
   cross-identity protocol): the source's landmarks moved by the driving face's
   displacement since its first frame, scaled by the ratio of the two faces'
   interocular distances (:func:`s2d.evaluate.relative_landmarks`); with
   ``find_best_frame=True`` (first-order-model's option) the displacement is taken from
   the driving frame whose face is posed most like the photo's
   (:func:`best_reference_frame`) instead of the first. Absolute: the driving landmarks
   as they are (the source takes on the driving face's shape too).
4. **Generate** in batches (:mod:`s2d.inference`'s fast path), then **paste** each frame back into the photo: resized to the
   crop's side and blended with a face-shaped, smoothly feathered mask (:func:`face_alpha`: the face and
   forehead where the photo shows them and where the frame moves them to), so the photo outside the face
   is untouched and no crop border shows.
5. **Write** an MP4 (imageio-ffmpeg, H.264) at the driving video's frame rate, to a
   temporary file renamed into place: a failure never leaves a partial video.

Errors a user can cause raise :class:`AnimateError` with one line saying what to do.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from tqdm.auto import tqdm

from s2d import landmarks as lm
from s2d.checkpoint import CheckpointError, load_model
from s2d.data.format import DatasetError
from s2d.data.loaders import to_tensor
from s2d.evaluate import relative_landmarks
from s2d.inference import InferenceOptions, S2DFrames, prepare
from s2d.io import atomic_path
from s2d.runtime import pick_device

DEFAULT_FPS = 25.0  # for driving landmarks given without their video
FEATHER = 0.35  # the pasted crop fades out over this outer fraction of its half side (a round feather)
# paste: the face mask's side before it is resized to the crop's (4x a 64 px face's). A 128 px face on a 600 px crop of a
# 1024 px photo, 2 cores: 79 ms a frame with its mask at 512 px, 22 ms at 256
MASK_SIDE = 256
FACE_MARGIN = 0.15  # face_alpha: the face region grown by this fraction of the face's size, then feathered over it


class AnimateError(ValueError):
    """An input ``s2d animate`` cannot use: the message says which and why."""


@dataclass
class PhotoAnimation:
    """What :func:`animate` made."""

    frames: np.ndarray  # (T, H, W, 3) uint8: the photo with the animated face pasted in
    faces: np.ndarray  # (T, S, S, 3) uint8: the generated crops at the model's resolution
    source_face: np.ndarray  # (S, S, 3) uint8: the source crop the model saw
    source_landmarks: np.ndarray  # (74, 2): the photo's landmarks in the source crop's pixels
    wanted: np.ndarray  # (T, 74, 2): the landmarks each frame was generated for, in the same pixels
    fps: float
    box: tuple[int, int, int]  # the source crop in the photo: x0, y0, side
    notes: list[str] = field(default_factory=list)  # what the user should know (several faces, frames without one)
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per stage


def read_image(path: str | Path) -> np.ndarray:
    """An RGB uint8 photo; AnimateError when it is missing or not an image."""
    path = Path(path)
    if not path.is_file():
        raise AnimateError(f"{path}: no such file (the source must be a photo: png, jpg, ...)")
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError) as err:
        raise AnimateError(f"{path} is not an image the source can be read from ({err})") from None


def source_face(photo: np.ndarray, size: int, name: str = "the source photo") -> tuple[np.ndarray, np.ndarray,
                                                                                          tuple[int, int, int], list[str]]:
    """The crop ``(size, size, 3)`` of the photo's largest face, its 74 landmarks in the crop, the crop box and notes."""
    from s2d.data.extractors import MediaPipeExtractor
    from s2d.data.face_geometry import crop_box, crop_frame, to_crop

    with MediaPipeExtractor(video=False) as extractor:
        faces = extractor.faces(photo)
    if not faces:
        raise AnimateError(f"no face found in {name}: use a photo with a face turned towards the camera")
    notes = [f"{name} shows {len(faces)} faces: animating the largest"] if len(faces) > 1 else []
    box = crop_box(faces[0][None], *photo.shape[:2])
    return crop_frame(photo, box, size), to_crop(faces[0], box, size), box, notes


def driving_landmarks(driving: str | Path, size: int, progress: bool = True) -> tuple[np.ndarray, float, list[str]]:
    """The driving face's landmarks ``(T, 74, 2)`` in its own crop at ``size`` px, the frame rate and notes.

    ``driving``: a video file or folder of frames (MediaPipe finds the landmarks), or a
    ``.npy`` of ``(T, 74, 2)`` landmarks in the driving frames' pixels.
    """
    from s2d.data.face_geometry import crop_box, interpolate_missing, to_crop
    from s2d.data.prepare import Source, iter_frames, video_fps

    path = Path(driving)
    if not path.exists():
        raise AnimateError(f"{path}: no such file or folder (the driving input is a video or a landmarks .npy)")
    notes: list[str] = []
    if path.suffix.lower() == ".npy":
        points = _read_landmarks(path)
        height = width = np.inf  # the frames are not known: the crop is not clamped to them
        fps = DEFAULT_FPS
        notes.append(f"driving landmarks without their video: written at {DEFAULT_FPS:g} frames per second")
    else:
        from s2d.data.extractors import MediaPipeExtractor

        source = Source(path.stem, path)
        found, shape = [], None
        try:
            with MediaPipeExtractor(video=True) as extractor:
                for frame in tqdm(iter_frames(source), desc="driving landmarks", unit="frame", disable=not progress):
                    shape = frame.shape[:2]
                    points = extractor(frame)
                    found.append(np.full((lm.NUM_LANDMARKS, 2), np.nan, np.float32) if points is None else points)
        except DatasetError as err:
            raise AnimateError(str(err)) from None
        if shape is None:
            raise AnimateError(f"{path} holds no frames")
        points = np.stack(found)
        missing = np.isnan(points).any(axis=(1, 2))
        if missing.all():
            raise AnimateError(f"no face found in any frame of {path}")
        if missing.any():
            notes.append(f"{int(missing.sum())} of {len(points)} driving frames show no face: their landmarks are "
                         "interpolated from the nearest frames with one")
            points = interpolate_missing(points)
        height, width = shape
        fps = video_fps(source) or DEFAULT_FPS
    box = crop_box(points, height, width)
    return to_crop(points, box, size), fps, notes


def _read_landmarks(path: Path) -> np.ndarray:
    try:
        points = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise AnimateError(f"{path} is not a readable .npy of landmarks ({err})") from None
    if points.ndim != 3 or points.shape[1:] != (lm.NUM_LANDMARKS, 2) or len(points) == 0:
        raise AnimateError(f"{path}: expected landmarks of shape (frames, {lm.NUM_LANDMARKS}, 2) as s2d landmarks "
                           f"writes, got {points.shape}")
    if not np.isfinite(points).all():
        bad = int((~np.isfinite(points)).any(axis=(1, 2)).sum())
        raise AnimateError(f"{path}: {bad} frames have NaN or infinite landmarks (frames without a face): "
                           "fill or drop them first")
    return points.astype(np.float32)


def _normalised(points: np.ndarray) -> np.ndarray:
    """The 68 iBUG points of ``(..., 74, 2)`` landmarks centred on their mean and divided by the interocular
    distance: the face's pose and expression without its position and size."""
    ibug = points[..., : lm.NUM_IBUG, :]
    centred = ibug - ibug.mean(axis=-2, keepdims=True)
    return centred / np.maximum(lm.interocular_distance(points), 1e-6)[..., None, None]


def best_reference_frame(source_lm: np.ndarray, driving_lm: np.ndarray) -> int:
    """The index of the driving frame whose normalised landmarks (:func:`_normalised`) are closest to the
    source's (mean distance over the 68 iBUG points): the reference of relative motion that makes the first
    generated frames move least from the photo when the video does not start in the photo's pose."""
    distance = np.linalg.norm(_normalised(driving_lm) - _normalised(source_lm)[None], axis=-1).mean(axis=-1)
    return int(np.argmin(distance))


def load_animator(checkpoint: str | Path, size: int | None, device: torch.device):
    """The S2D model of ``checkpoint`` and its resolution; AnimateError for a checkpoint animate cannot use."""
    try:
        model, config = load_model(checkpoint, device)
    except CheckpointError as err:
        raise AnimateError(str(err)) from None
    if config.model.architecture != "s2d":
        raise AnimateError(f"{checkpoint} is a {config.model.architecture} baseline; s2d animate runs S2D "
                           "checkpoints (landmark-driven)")
    resolution = config.data.resolution
    if size is not None and size != resolution:
        raise AnimateError(f"{checkpoint} animates {resolution} px faces (profile '{config.profile}'), not {size} px: "
                           f"drop --size or give a checkpoint trained at {size} px")
    return model, resolution


def paste_alpha(side: int, feather: float = FEATHER) -> np.ndarray:
    """(side, side, 1): how much of the generated face a pasted crop shows: 1 over a central disc, then a
    cos^2 fall to 0 over the outer ``feather`` of the crop's half side, 0 at the crop's border and in its
    corners. It is round and smooth, so no square edge shows where the generated background and the
    photo's differ (the 64 px face is upsampled, hence blurrier than the photo)."""
    u = (np.arange(side) + 0.5) / side * 2 - 1
    r = np.hypot(u[:, None], u[None, :])
    t = np.clip((r - (1 - feather)) / feather, 0, 1)
    return (np.cos(t * np.pi / 2) ** 2)[..., None]


def face_outline(points: np.ndarray) -> np.ndarray:
    """The outline of a face with its forehead, ``(N, 2)``: the jaw and brows of 74 landmarks, and the brows
    raised by the height of the nose (brow to nose tip), for the forehead the landmarks do not reach."""
    ibug = points[: lm.NUM_IBUG]
    brows = ibug[list(lm.LEFT_BROW + lm.RIGHT_BROW)]
    up = ibug[lm.NOSE_BRIDGE[0]] - ibug[lm.NOSE_BASE[2]]
    return np.concatenate([ibug[list(lm.JAW)], brows, brows + up])


def face_alpha(side: int, *faces: np.ndarray, margin: float = FACE_MARGIN, feather: float = FEATHER) -> np.ndarray:
    """(side, side, 1): how much of the generated face a pasted crop shows: 1 over the union of the
    :func:`face_outline` of each of ``faces`` (landmarks in the crop's pixels: the photo's and the
    generated frame's), grown by ``margin`` of the face's size and faded out smoothly over as much again;
    times :func:`paste_alpha`, so it is 0 at the crop's border whatever the landmarks. The photo outside
    the face (hair, shoulders, background) stays the photo's, sharper than the upsampled generated crop."""
    region = np.zeros((side, side), np.uint8)
    size = 0.0
    for points in faces:
        outline = face_outline(points)
        size = max(size, float(np.ptp(outline, axis=0).max()))
        cv2.fillConvexPoly(region, cv2.convexHull(np.round(outline).astype(np.int32)), 1)
    grow = max(1, int(round(margin * size)))
    region = cv2.dilate(region, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    soft = cv2.GaussianBlur(region.astype(np.float32), (0, 0), sigmaX=grow / 2)
    return np.clip(soft, 0, 1)[..., None] * paste_alpha(side, feather)


def paste(photo: np.ndarray, face: np.ndarray, box: tuple[int, int, int], feather: float = FEATHER,
          landmarks: tuple[np.ndarray, ...] = ()) -> np.ndarray:
    """``face`` resized onto the crop ``box`` of ``photo``, blended by :func:`face_alpha` of ``landmarks``
    (each ``(74, 2)`` in ``face``'s pixels), or by the round :func:`paste_alpha` without them."""
    x0, y0, side = box
    patch = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC if side > len(face) else cv2.INTER_AREA)
    if landmarks:  # the mask drawn at MASK_SIDE px (a smooth outline at a fixed cost), then resized to the crop
        fine = max(MASK_SIDE, len(face))
        scale = fine / len(face)
        small = face_alpha(fine, *((points + 0.5) * scale - 0.5 for points in landmarks), feather=feather)
        alpha = cv2.resize(small, (side, side), interpolation=cv2.INTER_LINEAR)[..., None]
    else:
        alpha = paste_alpha(side, feather)
    out = photo.copy()
    region = out[y0:y0 + side, x0:x0 + side].astype(np.float32)
    out[y0:y0 + side, x0:x0 + side] = np.round(alpha * patch + (1 - alpha) * region).astype(np.uint8)
    return out


def animate(source: str | Path, driving: str | Path, checkpoint: str | Path, *, relative: bool = False,
            find_best_frame: bool = False, size: int | None = None, batch_size: int = 16,
            device: str | torch.device | None = None, progress: bool = True,
            options: InferenceOptions = InferenceOptions()) -> PhotoAnimation:
    """Animate the face of the photo ``source`` by ``driving`` (video or landmarks .npy) with an S2D checkpoint.

    ``find_best_frame`` (with ``relative``): the driving motion is measured from the frame posed most like the
    photo (:func:`best_reference_frame`), not from the first. Returns the frames with the face pasted back
    (:class:`PhotoAnimation`); nothing is written. The model runs the fast inference path
    (:mod:`s2d.inference`; ``options``), in batches of ``batch_size`` frames.
    """
    if find_best_frame and not relative:
        raise AnimateError("find_best_frame picks the reference frame of relative motion: use it with relative "
                           "motion (--relative)")
    device = pick_device() if device is None else torch.device(device)
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    model, resolution = load_animator(checkpoint, size, device)
    photo = read_image(source)
    crop, source_lm, box, notes = source_face(photo, resolution, f"{Path(source).name}")
    seconds["source"] = time.perf_counter() - start
    start = time.perf_counter()
    driving_lm, fps, driving_notes = driving_landmarks(driving, resolution, progress)
    seconds["driving"] = time.perf_counter() - start
    result = drive(model, device, photo, (crop, source_lm, box), driving_lm, fps, relative=relative,
                   find_best_frame=find_best_frame, batch_size=batch_size, progress=progress, options=options)
    result.notes[:0] = notes + driving_notes
    result.seconds = seconds | result.seconds
    return result


def drive(model, device: torch.device, photo: np.ndarray, source: tuple[np.ndarray, np.ndarray, tuple[int, int, int]],
          driving_lm: np.ndarray, fps: float, *, relative: bool = False, find_best_frame: bool = False,
          batch_size: int = 16, progress: bool = True, options: InferenceOptions = InferenceOptions()) -> PhotoAnimation:
    """Steps 3 and 4 of :func:`animate` for a photo whose face was found (``source``: its crop, landmarks and box,
    as :func:`source_face` returns them) and driving landmarks already in their crop (:func:`driving_landmarks`):
    one photo driven by many videos, or one video driving many photos, finds each face once."""
    crop, source_lm, box = source
    notes: list[str] = []
    reference = best_reference_frame(source_lm, driving_lm) if find_best_frame else 0
    if find_best_frame:
        notes.append(f"relative motion from driving frame {reference}, the one posed most like the photo")
    wanted = relative_landmarks(source_lm, driving_lm, driving_lm[reference]) if relative else driving_lm
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    generate = S2DFrames(prepare(model, device, options), to_tensor(crop)[None].to(device),
                         torch.from_numpy(source_lm)[None].to(device), options)
    faces = []
    for first in tqdm(range(0, len(wanted), batch_size), desc="animate", unit="batch", disable=not progress):
        out = generate(torch.from_numpy(np.ascontiguousarray(wanted[first:first + batch_size], np.float32)).to(device))
        faces.append((out.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy())
    faces = np.concatenate(faces)
    seconds["generate"] = time.perf_counter() - start
    start = time.perf_counter()
    frames = np.stack([paste(photo, face, box, landmarks=(source_lm, points)) for face, points in zip(faces, wanted)])
    seconds["paste"] = time.perf_counter() - start
    return PhotoAnimation(frames, faces, crop, source_lm, wanted, fps, box, notes, seconds)


def write_mp4(frames: np.ndarray, out: str | Path, fps: float) -> Path:
    """Write ``frames`` as an H.264 MP4 at ``fps``, atomically (cropped to even sides, as yuv420p needs)."""
    import imageio.v2 as imageio

    height, width = (s // 2 * 2 for s in frames.shape[1:3])
    out = Path(out)
    with atomic_path(out) as tmp:
        with imageio.get_writer(tmp, format="FFMPEG", mode="I", fps=fps, codec="libx264", quality=8,
                                macro_block_size=1, output_params=["-pix_fmt", "yuv420p"]) as writer:
            for frame in frames:
                writer.append_data(np.ascontiguousarray(frame[:height, :width]))
    return out
