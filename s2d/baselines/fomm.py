"""The image-driven baselines of Tables 1-3: the first-order motion model (FOMM, Siarohin et al.
2019, first-order-model ``modules/generator.py`` + ``modules/model.py``) and Monkey-Net.

Both are :class:`KeypointAnimator`: self-supervised keypoints of the source and the driving
*frame* (:mod:`s2d.baselines.keypoints`), a dense motion from them
(:mod:`s2d.baselines.dense_motion`), then the same generator family as S2D: the source is
warped by the dense motion (Eq. (1), :func:`s2d.models.generator.warp`), multiplied by the
occlusion map when there is one, and s2d's :class:`~s2d.models.generator.ImageGenerator`
(without the motion map as input) gives a residual and a mask, composed by Eq. (2). So the
only difference from S2D is the motion model. Training adds FOMM's equivariance losses
(:mod:`s2d.baselines.equivariance`).

Where FOMM differs from ours: FOMM warps the generator's encoder *features* and multiplies
them by the occlusion map, then decodes the image; ours warps the image and lets the
generator paint a residual through a mask (Eq. (2)), with the occluded warped source as the
warped image. Its keypoint detector is half the width of its dense motion network (32 vs
64 channels, max 1024); ours use the profile's ``block_expansion``, ``max_features`` and
``motion_blocks`` for both, so the compute is comparable with S2D's.

Monkey-Net (Siarohin et al., CVPR 2019) originally feeds keypoint heatmap differences to a
motion network that predicts the dense motion, and a generator that also takes keypoint
heatmaps; it has no occlusion map and no Jacobians. Ours is FOMM at zeroth order
(``first_order=False``): the same detector without the Jacobian head, sparse motions that
are translations (z -> z - kp_d + kp_s), no occlusion map, the equivariance value loss
only, and the same generator as FOMM and S2D.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from s2d.baselines.dense_motion import KeypointDenseMotion, KeypointMotion
from s2d.baselines.equivariance import RandomTransform
from s2d.baselines.keypoints import KeypointDetector, Keypoints, inverse_2x2
from s2d.config import Config
from s2d.models.generator import ImageGenerator, compose, warp

KEYPOINT_ARCHITECTURES = {"first-order": True, "monkey-net": False}  # architecture -> first order


@dataclass
class KeypointAnimation:
    """One generated frame of a keypoint model and everything that made it."""

    prediction: torch.Tensor  # (B, 3, H, W), Eq. (2)
    warped: torch.Tensor  # the warped source, times the occlusion map when there is one
    residual: torch.Tensor
    mask: torch.Tensor  # (B, 1, H, W)
    grid: torch.Tensor  # (B, H, W, 2) the dense motion
    occlusion: torch.Tensor | None  # (B, 1, H, W) FOMM; None for Monkey-Net
    source_keypoints: Keypoints
    driving_keypoints: Keypoints  # those that drove the frame (relative ones in relative animation)
    motion: KeypointMotion
    transformed_keypoints: Keypoints | None = None  # of the transformed driving frame, when training


class KeypointAnimator(nn.Module):
    """FOMM (``first_order=True``) or Monkey-Net (False); by default from ``config.model.architecture``."""

    def __init__(self, config: Config, first_order: bool | None = None):
        super().__init__()
        m, size = config.model, config.data.resolution
        if first_order is None:
            if m.architecture not in KEYPOINT_ARCHITECTURES:
                raise ValueError(f"model.architecture is '{m.architecture}', not a keypoint model "
                                 f"({', '.join(KEYPOINT_ARCHITECTURES)})")
            first_order = KEYPOINT_ARCHITECTURES[m.architecture]
        self.first_order, self.resolution = first_order, size
        self.keypoint_detector = KeypointDetector(size, m.num_keypoints, m.motion_scale, m.block_expansion,
                                                  m.max_features, m.motion_blocks, jacobian=first_order)
        self.dense_motion = KeypointDenseMotion(size, m.num_keypoints, m.motion_scale, m.block_expansion,
                                                m.max_features, m.motion_blocks, occlusion=first_order)
        self.generator = ImageGenerator(m.block_expansion, m.max_features, m.num_down_blocks,
                                        m.num_bottleneck_blocks, motion_to_generator=False)

    def detect(self, *images: torch.Tensor) -> list[Keypoints]:
        """Keypoints of each batch of images, in one pass of the detector (its norms are per image)."""
        for image in images:
            if image.shape[-2:] != (self.resolution, self.resolution):
                raise ValueError(f"image is {tuple(image.shape[-2:])}, the model was built for "
                                 f"{self.resolution}x{self.resolution}")
        kp = self.keypoint_detector(torch.cat(images))
        bounds = torch.tensor([0, *(len(i) for i in images)]).cumsum(0).tolist()
        return [kp[a:b] for a, b in zip(bounds[:-1], bounds[1:])]

    def generate(self, source: torch.Tensor, kp_source: Keypoints, kp_driving: Keypoints) -> KeypointAnimation:
        """The frame of ``source`` moved from its keypoints to ``kp_driving``."""
        motion = self.dense_motion(source, kp_source, kp_driving)
        warped = warp(source, motion.grid)  # Eq. (1)
        if motion.occlusion is not None:
            warped = warped * motion.occlusion
        residual, mask = self.generator(warped, motion.grid)
        return KeypointAnimation(compose(warped, residual, mask), warped, residual, mask, motion.grid,
                                 motion.occlusion, kp_source, kp_driving, motion)

    def forward(self, source: torch.Tensor, driving: torch.Tensor,
                transform: RandomTransform | None = None) -> KeypointAnimation:
        """Reconstruct ``driving`` from ``source``; with ``transform``, also detect the keypoints of the
        transformed driving frame (for the equivariance losses) in the same pass."""
        images = (source, driving) if transform is None else (source, driving, transform.transform_frame(driving))
        kp = self.detect(*images)
        out = self.generate(source, kp[0], kp[1])
        out.transformed_keypoints = kp[2] if transform is not None else None
        return out

    @torch.inference_mode()
    def animate(self, source: torch.Tensor, driving: torch.Tensor, driving_first: torch.Tensor | None = None,
                adapt_scale: bool = True) -> KeypointAnimation:
        """Animate ``source`` (B or 1 images) by ``driving`` frames (B).

        Without ``driving_first``: absolute motion, the driving keypoints as detected. With it
        (the video's first driving frame, B or 1): relative motion as first-order-model's
        demo, :func:`relative_keypoints`. The generated frames are ``.prediction``.
        """
        batch = len(driving)
        images = (source, driving) if driving_first is None else (source, driving, driving_first)
        kp = self.detect(*images)
        kp_source, kp_driving = kp[0], kp[1]
        if driving_first is not None:
            kp_driving = relative_keypoints(kp_source, kp_driving, kp[2], adapt_scale)
        source = source.expand(batch, -1, -1, -1)
        return self.generate(source, kp_source.expand(batch), kp_driving.expand(batch))


def relative_keypoints(kp_source: Keypoints, kp_driving: Keypoints, kp_driving_first: Keypoints,
                       adapt_scale: bool = True) -> Keypoints:
    """first-order-model's relative motion (``normalize_kp``): the source keypoints moved by the driving
    keypoints' displacement since the first driving frame,

        kp = kp_source + (kp_driving - kp_driving_first) * s,   J = J_driving J_driving_first^{-1} J_source,

    with the movement scale ``s = sqrt(area(hull(kp_source)) / area(hull(kp_driving_first)))`` (1 without
    ``adapt_scale``). Batches of 1 broadcast against batches of B.
    """
    scale = torch.ones(1, dtype=kp_source.value.dtype, device=kp_source.value.device)
    if adapt_scale:
        scale = (hull_area(kp_source.value) / hull_area(kp_driving_first.value)).sqrt()
        scale = torch.nan_to_num(scale, nan=1.0, posinf=1.0)  # a degenerate first frame: no rescaling
    value = kp_source.value + (kp_driving.value - kp_driving_first.value) * scale[:, None, None]
    jacobian = None
    if kp_source.jacobian is not None and kp_driving.jacobian is not None and kp_driving_first.jacobian is not None:
        jacobian = kp_driving.jacobian @ inverse_2x2(kp_driving_first.jacobian) @ kp_source.jacobian
    return Keypoints(value, jacobian)


def hull_area(points: torch.Tensor) -> torch.Tensor:
    """Area of the convex hull of each item's points (B, K, 2) -> (B,) (Andrew's monotone chain)."""
    areas = []
    for item in points.detach().double().cpu().tolist():
        pts = sorted(map(tuple, item))

        def cross(o, a, b):
            return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

        lower, upper = [], []
        for p in pts:
            while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
                lower.pop()
            lower.append(p)
        for p in reversed(pts):
            while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
                upper.pop()
            upper.append(p)
        hull = lower[:-1] + upper[:-1]
        area = 0.5 * abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(hull, hull[1:] + hull[:1])))
        areas.append(area if math.isfinite(area) else 0.0)
    return torch.tensor(areas, dtype=points.dtype, device=points.device)
