"""Landmark detectors by name: the pretrained baselines and the variants of ours (Table 5).

``get_detector(name, checkpoint=None, device=None)`` builds any of :data:`DETECTORS`.
Every one maps frames ``(B, 3, H, W)`` float in [0, 1] to ``(B, 74, 2)`` pixels, NaN
rows where no face is found:

- ``"dlib"``, ``"mediapipe"``, ``"fan4-pretrained"``: :mod:`s2d.detector.baselines`, landmark
  extractors run on batches of frames by :class:`s2d.detector.baselines.FrameDetector` (no
  checkpoint; dlib and MediaPipe run on the CPU whatever ``device`` says).
- ``"FAN4"``, ``"FAN4+DSNT"``, ``"FAN4+DSNT+SBR"``: ours, trained by
  :mod:`s2d.detector.train` (heatmap argmax, DSNT regression, and DSNT fine-tuned
  with the registration loss SBR on videos); they need the ``checkpoint`` training wrote,
  of the variant named, and resize frames to their own input size.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from s2d.data.extractors import ExtractorError, LandmarkExtractor
from s2d.detector.baselines import DlibBaseline, Fan4Baseline, FrameDetector, MediaPipeBaseline
from s2d.runtime import pick_device

DETECTOR_BASELINES: dict[str, type[LandmarkExtractor]] = {
    "dlib": DlibBaseline,
    "mediapipe": MediaPipeBaseline,
    "fan4-pretrained": Fan4Baseline,
}
TRAINED = ("FAN4", "FAN4+DSNT", "FAN4+DSNT+SBR")
DETECTORS = (*DETECTOR_BASELINES, *TRAINED)


class DetectorError(ValueError):
    """A detector that cannot be built: unknown name, missing or superfluous checkpoint, missing package."""


def _unknown(name: str) -> DetectorError:
    close = difflib.get_close_matches(name, DETECTORS, n=1, cutoff=0.5)
    close = close or [d for d in DETECTORS if d.lower() == name.lower()]
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return DetectorError(f"unknown detector {name!r}{hint} (known: {', '.join(DETECTORS)})")


def get_detector(name: str, checkpoint: str | Path | None = None,
                 device: torch.device | str | None = None) -> Callable[[torch.Tensor], np.ndarray]:
    """Build detector ``name`` (one of :data:`DETECTORS`) on ``device`` (default: CUDA when present).

    Raises :class:`DetectorError` for an unknown name, a trained variant without
    ``checkpoint`` (or a baseline with one), a checkpoint file that does not exist or holds
    another variant, or a baseline whose package is missing (:class:`s2d.checkpoint.CheckpointError`
    for an unreadable checkpoint); :class:`s2d.weights.WeightsUnavailable` when
    ``"fan4-pretrained"``'s weights cannot be had.
    """
    if name not in DETECTORS:
        raise _unknown(name)
    device = pick_device() if device is None else torch.device(device)
    if name in DETECTOR_BASELINES:
        if checkpoint is not None:
            raise DetectorError(f"the {name} detector is pretrained and takes no checkpoint; "
                                f"checkpoints are for {', '.join(TRAINED)}")
        try:
            return FrameDetector(Fan4Baseline(device) if name == "fan4-pretrained" else DETECTOR_BASELINES[name]())
        except ExtractorError as err:
            raise DetectorError(str(err)) from None
    if checkpoint is None:
        raise DetectorError(f"the {name} detector is trained by s2d: give its checkpoint "
                            f"(--checkpoint / checkpoint=), e.g. one written by s2d.detector.train")
    if not Path(checkpoint).is_file():
        raise DetectorError(f"detector checkpoint not found: {checkpoint}")
    from s2d.detector.train import Detector

    detector = Detector.load(checkpoint, device=str(device))
    if detector.config.variant != name:
        raise DetectorError(f"{checkpoint} holds the {detector.config.variant} detector, not {name}")
    return detector
