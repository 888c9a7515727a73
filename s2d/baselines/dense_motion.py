"""FOMM's dense motion network (first-order-model ``modules/dense_motion.py``, Sec. 3.2 of Siarohin et al. 2019).

From the keypoints of the source and the driving frame it builds K+1 sparse motions,
each a backward warp from the driving frame to the source (s2d's grid convention):

- the background: the identity, z -> z;
- keypoint k, FOMM (first-order Taylor expansion around the keypoint):
  z -> kp_s + J_s J_d^{-1} (z - kp_d);
- keypoint k, Monkey-Net (zeroth order, a translation): z -> z - kp_d + kp_s.

An hourglass sees, at ``scale`` of the image size, the K+1 copies of the source deformed
by those motions and the differences of Gaussian heatmaps (variance 0.01) of the driving
and source keypoints (zero for the background), and predicts K+1 masks (softmax over
the K+1 channels): the dense motion is the masked sum of the sparse motions. FOMM also
predicts an occlusion map (sigmoid). The motion (as offsets from the identity) and the
occlusion map are upsampled to the full image size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from s2d.baselines.keypoints import FeatureHourglass, Keypoints, downscale, inverse_2x2
from s2d.geometry import gaussian_heatmaps_variance, identity_grid
from s2d.models.generator import warp

KP_VARIANCE = 0.01  # FOMM's kp_variance of the Gaussian heatmaps
OCCLUSION_BIAS = 3.0  # a new occlusion map is about 0.95 everywhere: the model starts near the warped source


@dataclass
class KeypointMotion:
    """What the dense motion network returns."""

    grid: torch.Tensor  # (B, H, W, 2) the dense motion, full size: where each driving pixel samples the source
    masks: torch.Tensor  # (B, K+1, h, w) the softmax masks over background + keypoints, at the motion scale
    occlusion: torch.Tensor | None  # (B, 1, H, W) in (0, 1), 1 = visible in the source (FOMM); None for Monkey-Net


def sparse_motions(kp_source: Keypoints, kp_driving: Keypoints, height: int, width: int) -> torch.Tensor:
    """The K+1 sparse backward warps (B, K+1, h, w, 2): identity, then one per keypoint.

    First order (FOMM) when both keypoint sets have Jacobians, otherwise zeroth order (Monkey-Net).
    """
    batch = kp_driving.value.shape[0]
    grid = identity_grid(1, height, width, kp_driving.value.device, kp_driving.value.dtype)  # (1, h, w, 2)
    rel = grid[:, None] - kp_driving.value[:, :, None, None]  # z - kp_d, (B, K, h, w, 2)
    if kp_source.jacobian is not None and kp_driving.jacobian is not None:
        jac = kp_source.jacobian @ inverse_2x2(kp_driving.jacobian)  # J_s J_d^{-1}, (B, K, 2, 2)
        rel = torch.einsum("bkij,bkhwj->bkhwi", jac, rel)
    motions = rel + kp_source.value[:, :, None, None]
    return torch.cat([grid[:, None].expand(batch, 1, height, width, 2), motions], dim=1)


class KeypointDenseMotion(nn.Module):
    """(source, source keypoints, driving keypoints) -> :class:`KeypointMotion`."""

    def __init__(self, size: int, num_keypoints: int, scale: float, block_expansion: int, max_features: int,
                 num_blocks: int, occlusion: bool, variance: float = KP_VARIANCE):
        super().__init__()
        self.size, self.inner, self.variance = size, int(round(size * scale)), variance
        self.hourglass = FeatureHourglass((num_keypoints + 1) * (3 + 1), self.inner, block_expansion, max_features,
                                          num_blocks)
        features = self.hourglass.out_channels
        self.mask = nn.Conv2d(features, num_keypoints + 1, 7, padding=3)
        self.occlusion = nn.Conv2d(features, 1, 7, padding=3) if occlusion else None
        if self.occlusion is not None:
            nn.init.constant_(self.occlusion.bias, OCCLUSION_BIAS)

    def forward(self, source: torch.Tensor, kp_source: Keypoints, kp_driving: Keypoints) -> KeypointMotion:
        small = downscale(source, self.inner)
        batch, channels, h, w = small.shape
        heatmaps = (gaussian_heatmaps_variance(kp_driving.value, h, w, self.variance)
                    - gaussian_heatmaps_variance(kp_source.value, h, w, self.variance))
        heatmaps = torch.cat([heatmaps.new_zeros(batch, 1, h, w), heatmaps], dim=1)  # background: zero
        motions = sparse_motions(kp_source, kp_driving, h, w)  # (B, K+1, h, w, 2)
        k1 = motions.shape[1]
        deformed = warp(small.repeat_interleave(k1, dim=0), motions.reshape(batch * k1, h, w, 2))
        deformed = deformed.view(batch, k1, channels, h, w)
        x = torch.cat([heatmaps[:, :, None], deformed], dim=2).view(batch, k1 * (channels + 1), h, w)
        features = self.hourglass(x)
        masks = F.softmax(self.mask(features), dim=1)
        dense = (motions * masks[..., None]).sum(dim=1)  # (B, h, w, 2)
        offsets = (dense - identity_grid(batch, h, w, source.device, source.dtype)).permute(0, 3, 1, 2)
        if (h, w) != (self.size, self.size):
            offsets = F.interpolate(offsets, size=(self.size, self.size), mode="bilinear", align_corners=False)
        grid = identity_grid(batch, self.size, self.size, source.device, source.dtype) + offsets.permute(0, 2, 3, 1)
        occlusion = None
        if self.occlusion is not None:
            occlusion = torch.sigmoid(self.occlusion(features))
            if (h, w) != (self.size, self.size):
                occlusion = F.interpolate(occlusion, size=(self.size, self.size), mode="bilinear",
                                          align_corners=False)
        return KeypointMotion(grid, masks, occlusion)
