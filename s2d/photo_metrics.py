"""How far ``s2d animate`` moves a photo's face as wanted, and whether it stays the same person (beyond the paper).

A photo driven by another person's video has no pixel ground truth, so two measures stand in for one:

- :func:`motion_ratio`: MediaPipe's landmarks found on each animated frame (the photo's crop, pasted back)
  against the landmarks the model was asked for (the photo's moved by the driving motion), divided by the
  same error of the unmoved photo. 1: nothing moved; 0: moved exactly as wanted (up to the detector's own
  noise). Given for all 68 iBUG points and for the face contour (points 0-16) alone, which only head motion
  moves, with both errors in pixels of the model's crop (:func:`motion_errors`), so that a study can also pool
  them over pairs.
- :func:`identity_distance`: the distance between dlib's face-recognition embedding (the ResNet of the
  ``face-recognition-models`` package, offline) of each animated frame and of the photo's face; dlib's usual
  same-person threshold is 0.6.

:func:`photo_measures` gives both, and the wall time of each stage, for one :class:`s2d.animation.PhotoAnimation`.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from s2d import landmarks as lm
from s2d.data.extractors import MediaPipeExtractor, dlib_models, face_recognition_model

SAME_PERSON = 0.6  # dlib's face-recognition threshold: embeddings closer than this are taken for one person
CONTOUR = lm.JAW  # points 0-16


def found_landmarks(frames: np.ndarray, box: tuple[int, int, int], size: int) -> np.ndarray:
    """MediaPipe's 74 landmarks on the crop ``box`` of each frame ``(T, H, W, 3)``, in the model's crop pixels
    at ``size`` (as the wanted ones are); NaN where no face is found."""
    x0, y0, side = box
    found = np.full((len(frames), lm.NUM_LANDMARKS, 2), np.nan, np.float32)
    with MediaPipeExtractor(video=True) as extractor:
        for t, frame in enumerate(frames):
            points = extractor(np.ascontiguousarray(frame[y0:y0 + side, x0:x0 + side]))
            if points is not None:
                found[t] = (points + 0.5) * size / side - 0.5
    return found


def motion_errors(found: np.ndarray, wanted: np.ndarray, source: np.ndarray,
                  points: tuple[int, ...] = tuple(range(lm.NUM_IBUG))) -> tuple[float, float]:
    """Mean error (px) of ``found`` ``(T, 74, 2)`` to ``wanted`` over ``points`` and the frames with a face, and
    the mean error of the unmoved ``source`` ``(74, 2)`` to ``wanted`` on the same frames (NaN without a face)."""
    seen = ~np.isnan(found).any(axis=(1, 2))
    if not seen.any():
        return float("nan"), float("nan")
    index = list(points)
    moved = np.linalg.norm(found[seen][:, index] - wanted[seen][:, index], axis=-1).mean()
    still = np.linalg.norm(source[None, index] - wanted[seen][:, index], axis=-1).mean()
    return float(moved), float(still)


def motion_ratio(found: np.ndarray, wanted: np.ndarray, source: np.ndarray,
                 points: tuple[int, ...] = tuple(range(lm.NUM_IBUG))) -> float:
    """:func:`motion_errors`' first divided by its second (NaN when the wanted landmarks do not move)."""
    moved, still = motion_errors(found, wanted, source, points)
    return moved / still if still > 0 else float("nan")


@functools.lru_cache(maxsize=1)
def _recogniser() -> Any:
    import dlib

    return dlib.face_recognition_model_v1(str(face_recognition_model("dlib_face_recognition_resnet_model_v1.dat",
                                                                     "identity distances")))


def embedding(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """dlib's 128-d face-recognition embedding of the face whose 68 iBUG ``points`` (pixels) ``image`` shows."""
    import dlib

    _, predictor = dlib_models()
    x0, y0 = np.floor(points[: lm.NUM_IBUG].min(axis=0)).astype(int)
    x1, y1 = np.ceil(points[: lm.NUM_IBUG].max(axis=0)).astype(int)
    image = np.ascontiguousarray(image)
    shape = predictor(image, dlib.rectangle(int(x0), int(y0), int(x1), int(y1)))
    return np.asarray(_recogniser().compute_face_descriptor(image, shape), np.float32)


def identity_distance(frames: np.ndarray, box: tuple[int, int, int], found: np.ndarray, size: int,
                      source: np.ndarray, source_points: np.ndarray) -> np.ndarray:
    """Per frame with a face, the embedding distance between its crop ``box`` and the ``source`` crop (at the
    same side), faces located by ``found`` and ``source_points`` (crop pixels at ``size``)."""
    x0, y0, side = box
    scale = side / size
    reference = embedding(source, (source_points + 0.5) * scale - 0.5)
    distances = [np.linalg.norm(embedding(frame[y0:y0 + side, x0:x0 + side], (points + 0.5) * scale - 0.5) - reference)
                 for frame, points in zip(frames, found) if not np.isnan(points).any()]
    return np.asarray(distances, np.float32)


def photo_measures(result, photo: np.ndarray, stride: int = 1) -> dict[str, float]:
    """Both measures of one :class:`s2d.animation.PhotoAnimation` of ``photo`` on every ``stride``-th frame,
    and its stage times (s)."""
    size = len(result.source_face)
    frames, wanted = result.frames[::stride], result.wanted[::stride]
    found = found_landmarks(frames, result.box, size)
    x0, y0, side = result.box
    distances = identity_distance(frames, result.box, found, size, photo[y0:y0 + side, x0:x0 + side],
                                  result.source_landmarks)
    errors = {name: motion_errors(found, wanted, result.source_landmarks, points)
              for name, points in (("68", tuple(range(lm.NUM_IBUG))), ("contour", CONTOUR))}
    return {
        **{f"motion_ratio_{name}": moved / still if still > 0 else float("nan")
           for name, (moved, still) in errors.items()},
        **{f"{kind}_{name}_px": value for name, pair in errors.items()
           for kind, value in zip(("error", "unmoved_error"), pair)},
        "identity_distance": float(distances.mean()) if len(distances) else float("nan"),
        "same_person_share": float((distances < SAME_PERSON).mean()) if len(distances) else float("nan"),
        "frames_with_a_face": float((~np.isnan(found).any(axis=(1, 2))).mean()),
        **{f"seconds_{stage}": seconds for stage, seconds in result.seconds.items()},
    }
