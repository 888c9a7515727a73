"""FOMM's keypoint detector (first-order-model ``modules/keypoint_detector.py``, Sec. 3.1 of Siarohin et al. 2019).

An hourglass looks at the image at ``scale`` of its size (FOMM: 0.25 at 256 px; here
``config.model.motion_scale``) and predicts K heatmaps; a softmax over each heatmap at
temperature 0.1 makes it a distribution, and the keypoint is its expected position.
Positions are torch's normalised coordinates (x, y in [-1, 1], pixel centres as
``grid_sample(align_corners=False)``, the convention of all of s2d's grids).

For FOMM a second head predicts, per keypoint, four maps that the heatmap averages into
the local Jacobian of the motion at that keypoint; it starts as the identity (zero
weight, bias [1, 0, 0, 1]), as in FOMM. Monkey-Net has no Jacobians.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from s2d.geometry import identity_grid
from s2d.models.hourglass import LandmarkHourglass

TEMPERATURE = 0.1  # FOMM vox-256 kp_detector_params.temperature


@dataclass
class Keypoints:
    """K keypoints of a batch of images."""

    value: torch.Tensor  # (B, K, 2) x, y in [-1, 1]
    jacobian: torch.Tensor | None = None  # (B, K, 2, 2) local Jacobians (FOMM); None for Monkey-Net
    heatmap: torch.Tensor | None = None  # (B, K, h, w) the softmax heatmaps, for pictures

    def __getitem__(self, index) -> "Keypoints":
        """The keypoints of some batch items (``kp[2:4]``)."""
        pick = (lambda t: None if t is None else t[index])
        return Keypoints(self.value[index], pick(self.jacobian), pick(self.heatmap))

    def expand(self, batch: int) -> "Keypoints":
        """The keypoints of one image repeated for a batch of ``batch`` (views, as ``Tensor.expand``)."""
        grow = (lambda t: None if t is None else t.expand(batch, *t.shape[1:]))
        return Keypoints(grow(self.value), grow(self.jacobian), grow(self.heatmap))


class FeatureHourglass(LandmarkHourglass):
    """s2d's hourglass without landmarks (instance norms, no AdaIN, no Add_Motion), returning its last
    feature maps: the input concatenated to the decoder's last block, as first-order-model's Hourglass."""

    def __init__(self, in_channels: int, size: int, block_expansion: int, max_features: int, num_blocks: int):
        super().__init__(in_channels, 1, size, 0, block_expansion, max_features, num_blocks, adain=False,
                         add_motion=False)
        self.out_channels = self.out.in_channels
        self.out = nn.Identity()

    def forward(self, image: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(image, None, None)


def downscale(image: torch.Tensor, size: int) -> torch.Tensor:
    """Anti-aliased bilinear resize to size x size (FOMM's AntiAliasInterpolation2d); a no-op at that size."""
    if image.shape[-1] == size and image.shape[-2] == size:
        return image
    return F.interpolate(image, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


def inverse_2x2(m: torch.Tensor) -> torch.Tensor:
    """Closed-form inverse of (..., 2, 2) matrices."""
    a, b, c, d = m[..., 0, 0], m[..., 0, 1], m[..., 1, 0], m[..., 1, 1]
    det = a * d - b * c
    return torch.stack([torch.stack([d, -b], -1), torch.stack([-c, a], -1)], -2) / det[..., None, None]


class KeypointDetector(nn.Module):
    """Image (B, 3, H, W) -> :class:`Keypoints`; ``jacobian=True`` for FOMM, False for Monkey-Net."""

    def __init__(self, size: int, num_keypoints: int, scale: float, block_expansion: int, max_features: int,
                 num_blocks: int, jacobian: bool, temperature: float = TEMPERATURE):
        super().__init__()
        self.inner = int(round(size * scale))
        self.num_keypoints, self.temperature = num_keypoints, temperature
        self.predictor = FeatureHourglass(3, self.inner, block_expansion, max_features, num_blocks)
        features = self.predictor.out_channels
        self.heatmap = nn.Conv2d(features, num_keypoints, 7, padding=3)
        self.jacobian = nn.Conv2d(features, 4 * num_keypoints, 7, padding=3) if jacobian else None
        if self.jacobian is not None:  # every Jacobian starts as the identity, as FOMM
            nn.init.zeros_(self.jacobian.weight)
            with torch.no_grad():
                self.jacobian.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 1.0]).repeat(num_keypoints))

    def forward(self, image: torch.Tensor) -> Keypoints:
        features = self.predictor(downscale(image, self.inner))
        logits = self.heatmap(features)
        batch, k, h, w = logits.shape
        heatmap = F.softmax(logits.flatten(2) / self.temperature, dim=2).view(batch, k, h, w)
        grid = identity_grid(1, h, w, image.device, image.dtype)  # (1, h, w, 2)
        value = (heatmap[..., None] * grid[:, None]).sum(dim=(2, 3))  # expected position, (B, K, 2)
        jacobian = None
        if self.jacobian is not None:
            maps = self.jacobian(features).view(batch, k, 4, h, w)
            jacobian = (heatmap[:, :, None] * maps).sum(dim=(3, 4)).view(batch, k, 2, 2)
        return Keypoints(value, jacobian, heatmap)
