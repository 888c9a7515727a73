"""Pretrained landmark detectors to compare ours with (Sec. 4.3.2, Table 5), behind one call interface.

Every detector here is a :class:`s2d.data.extractors.LandmarkExtractor`, the interface
of the extractors that label real videos: one RGB uint8 frame in, s2d's 74 landmarks
(or None) out, ``estimated`` the points it does not find but estimates from the others.
:class:`FrameDetector` runs one as the trained :class:`s2d.detector.train.Detector` is
called: frames, float ``(B, 3, H, W)`` in [0, 1], to ``(B, 74, 2)`` float32 in pixels
of those frames (order in :mod:`s2d.landmarks`, pixel centres at integer
coordinates), with a row of NaN for each frame where no face is found. Each frame is
detected on its own: no tracking from frame to frame, so the temporal jitter a
detector has shows in SMS (Eq. (9)), as for the paper's Dlib and FAN4.

- :class:`DlibBaseline` (``"dlib"``): dlib's HOG face detector and its iBUG-trained
  68-point predictor (:class:`s2d.data.extractors.DlibExtractor`); pupils and iris
  edges estimated from the eye contours (:func:`s2d.data.extractors.estimate_pupils`);
  on face crops where HOG finds no face at its default threshold, its best large window
  at a lowered one (SynthTalk's rendered faces score low, see :class:`DlibBaseline`).
- :class:`MediaPipeBaseline` (``"mediapipe"``): MediaPipe FaceMesh with irises in
  static-image mode, mapped onto the 74 (:class:`s2d.data.extractors.MediaPipeExtractor`).
  Beyond the paper: it detects the pupils.
- :class:`Fan4Baseline` (``"fan4-pretrained"``): face-alignment's 2DFAN4 [Bulat and
  Tzimiropoulos 2017] with its released weights, pupils estimated as for dlib.

Dlib's HOG detector misses faces under about 80 px (40 px with its own 2x
upsampling) and MediaPipe's short-range detector is unreliable on small ones, so
frames whose shorter side is under :data:`MIN_SIDE` are enlarged (bicubic) to it
before detection, and the landmarks mapped back; SynthTalk's 64 px frames go in at
256 px. FAN4 crops and resizes the face to its 256 px input itself.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import torch

from s2d import landmarks as lm
from s2d import weights
from s2d.data.extractors import (
    DlibExtractor,
    LandmarkExtractor,
    dlib_models,
    get_extractor,
    with_estimated_pupils,
)

MIN_SIDE = 256
FALLBACK_THRESHOLD = -0.8  # dlib HOG score (its default threshold is 0)
FALLBACK_MIN_SIDE = 0.25


def frames_to_images(frames: torch.Tensor) -> np.ndarray:
    """Float frames ``(B, 3, H, W)`` in [0, 1] -> RGB uint8 images ``(B, H, W, 3)``."""
    if not isinstance(frames, torch.Tensor) or frames.ndim != 4 or frames.shape[1] != 3:
        shape = tuple(frames.shape) if hasattr(frames, "shape") else type(frames).__name__
        raise ValueError(f"expected frames as a tensor (B, 3, H, W) in [0, 1], got {shape}")
    images = frames.detach().float().cpu().clamp(0, 1).mul(255).round().to(torch.uint8)
    return np.ascontiguousarray(images.permute(0, 2, 3, 1).numpy())


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An RGB image resized to ``size`` (width, height): area averaging to shrink, bicubic to enlarge."""
    shrink = size[0] * size[1] < image.shape[0] * image.shape[1]
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def rescale_points(points: np.ndarray, size: tuple[int, int], to_size: tuple[int, int]) -> np.ndarray:
    """Pixel coordinates ``(..., 2)`` in an image of ``size`` (width, height) -> in it resized to ``to_size``.

    Pixel centres are at integer coordinates in both, so ``x -> (x + 0.5) * to_width / width - 0.5``.
    """
    factor = np.array([to_size[0] / size[0], to_size[1] / size[1]], np.float32)
    return ((np.asarray(points, np.float32) + 0.5) * factor - 0.5).astype(np.float32)


class FrameDetector:
    """A landmark extractor on batches of frames: ``(B, 3, H, W)`` in [0, 1] -> ``(B, 74, 2)`` pixels, each
    frame on its own, a NaN row where no face is found. ``name`` and ``estimated`` are the extractor's."""

    def __init__(self, extractor: LandmarkExtractor):
        self.extractor = extractor
        self.name, self.estimated = extractor.name, extractor.estimated
        self.single_threaded = extractor.single_threaded

    def __call__(self, frames: torch.Tensor) -> np.ndarray:
        images = frames_to_images(frames)
        out = np.full((len(images), lm.NUM_LANDMARKS, 2), np.nan, np.float32)
        for i, image in enumerate(images):
            points = self.extractor(image)
            if points is not None:
                out[i] = points
        return out

    def close(self) -> None:
        self.extractor.close()

    def __enter__(self) -> FrameDetector:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _ExtractorBaseline(LandmarkExtractor):
    """A :mod:`s2d.data.extractors` extractor on frames enlarged to at least :data:`MIN_SIDE` px (``_find``)."""

    _video: bool  # the extractor's video mode (must not track: see the module docstring)

    def __init__(self) -> None:
        self._extractor: LandmarkExtractor = get_extractor(self.name, video=self._video)
        self.num_points, self.estimated = self._extractor.num_points, self._extractor.estimated
        self.single_threaded = self._extractor.single_threaded

    def __call__(self, image: np.ndarray) -> np.ndarray | None:
        height, width = image.shape[:2]
        scale = max(1.0, MIN_SIDE / min(height, width))
        size = (round(width * scale), round(height * scale))
        points = self._find(resize_image(image, size) if scale > 1 else image)
        return None if points is None else rescale_points(points, size, (width, height))

    def _find(self, image: np.ndarray) -> np.ndarray | None:
        """The extractor's 74 landmarks on the (enlarged) image, or None."""
        return self._extractor(image)

    def close(self) -> None:
        self._extractor.close()


class DlibBaseline(_ExtractorBaseline):
    """dlib's HOG detector and 68-point predictor; pupils and iris edges estimated.

    dlib's HOG detector scores SynthTalk's rendered faces low: at its default
    threshold it finds them on under a third of the test frames even at 256 px. When
    it finds no face there, the best-scoring window above :data:`FALLBACK_THRESHOLD`
    whose sides are at least :data:`FALLBACK_MIN_SIDE` of the frame's shorter side (a
    face filling a face crop) is taken instead; frames without such a window stay NaN.
    """

    name = "dlib"
    _video = True  # stateless: only skips dlib's second (2x) scale when the first finds a face

    def _find(self, image: np.ndarray) -> np.ndarray | None:
        points = self._extractor(image)
        if points is not None:
            return points
        detector, predictor = dlib_models()
        rects, scores, _ = detector.run(image, 0, FALLBACK_THRESHOLD)
        least = FALLBACK_MIN_SIDE * min(image.shape[:2])
        windows = [(score, rect) for score, rect in zip(scores, rects) if min(rect.width(), rect.height()) >= least]
        if not windows:
            return None
        shape = predictor(image, max(windows, key=lambda window: window[0])[1])
        return with_estimated_pupils(np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64))


class MediaPipeBaseline(_ExtractorBaseline):
    """MediaPipe FaceMesh with irises, every frame on its own (static-image mode)."""

    name = "mediapipe"
    _video = False  # video mode would track the mesh from frame to frame


class Fan4Baseline(LandmarkExtractor):
    """face-alignment's pretrained 2DFAN4 (68 points) with the whole frame as the face box; pupils estimated.

    The frames must be face crops (SynthTalk, ``s2d data prepare``'s datasets):
    face-alignment's box-file detector ("folder") stands in for a face detector,
    so no face-detector weights are needed. Raises
    :class:`s2d.weights.WeightsUnavailable` when the 2DFAN4 weights cannot be had.
    """

    name = "fan4-pretrained"
    num_points = lm.NUM_IBUG
    estimated = DlibExtractor.estimated  # estimated from the eye contours, as for dlib

    def __init__(self, device: torch.device | str = "cpu"):
        weights.require("fan4")  # into the torch hub cache, where face-alignment loads it from
        import face_alignment

        self._model = face_alignment.FaceAlignment(face_alignment.LandmarksType.TWO_D, device=str(device),
                                                   face_detector="folder", compile=False)

    def __call__(self, image: np.ndarray) -> np.ndarray | None:
        height, width = image.shape[:2]
        box = np.array([0.0, 0.0, width - 1.0, height - 1.0])
        found = self._model.get_landmarks_from_image(image, detected_faces=[box])
        if not found:
            return None
        return with_estimated_pupils(np.asarray(found[0], dtype=np.float64)[:, :2])
