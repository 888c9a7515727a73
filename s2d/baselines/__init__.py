"""The image-driven baselines of Tables 1-3, trainable by s2d's own trainer (issue 8).

One small file per network, as first-order-model's ``modules/``:

- ``keypoints.py``: the self-supervised keypoint detector (FOMM's KPDetector), with local
  Jacobians for FOMM.
- ``dense_motion.py``: FOMM's dense motion network: K+1 sparse motions, masks, occlusion.
- ``equivariance.py``: FOMM's random TPS transform and the equivariance losses.
- ``fomm.py``: :class:`KeypointAnimator`, the first-order motion model and our Monkey-Net
  (FOMM at zeroth order), with S2D's generator; relative animation.

:func:`s2d.models.build_model` builds whichever model a config's ``model.architecture`` names;
:func:`animator` wraps any of them as the evaluation protocols call it (:class:`s2d.evaluate.Animator`).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn


class FrameDrivenAnimator:
    """A keypoint model as the protocols call it: driven by the driving frames themselves (and, for
    relative motion, the driving video's first frame), returning the generated frames."""

    driven_by_frames = True

    def __init__(self, model: nn.Module):
        self.model = model

    def __call__(self, source: torch.Tensor, driving: torch.Tensor,
                 driving_first: torch.Tensor | None = None) -> torch.Tensor:
        return self.model.animate(source, driving, driving_first).prediction


def animator(model: nn.Module) -> Callable[..., torch.Tensor]:
    """The evaluation interface of a trained model: S2D's ``animate`` (landmark-driven), or a
    :class:`FrameDrivenAnimator` for the keypoint baselines."""
    from s2d.baselines.fomm import KeypointAnimator

    return FrameDrivenAnimator(model) if isinstance(model, KeypointAnimator) else model.animate
