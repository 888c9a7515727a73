"""Landmark-driven feature modulation (Sec. 3.2): AdaIN and Add_Motion.

Landmarks enter the networks as flat vectors of normalised coordinates (x and y in
[-1, 1] of the frame or crop they belong to), never rasterised.
"""

from __future__ import annotations

import torch
from torch import nn


class LandmarkAdaIN(nn.Module):
    """Adaptive instance normalisation whose scale and bias come from a landmark vector.

    ``AdaIN(h, l) = (1 + gamma(l)) * (h - mean(h)) / std(h) + beta(l)``, per channel,
    with ``gamma, beta`` a fully connected map of the flattened landmark vector ``l``.
    The source landmarks drive the encoder's AdaIN layers, the driving landmarks the
    decoder's, so both geometries are encoded in the dense motion generator.

    With ``enabled=False`` it is a plain affine instance norm (the "no AdaIN" ablation),
    keeping the rest of the code path the same.
    """

    def __init__(self, channels: int, landmark_dim: int, enabled: bool = True):
        super().__init__()
        self.enabled = enabled
        self.norm = nn.InstanceNorm2d(channels, affine=not enabled)
        if enabled:
            self.style = nn.Linear(landmark_dim, 2 * channels)
            nn.init.zeros_(self.style.weight)
            nn.init.zeros_(self.style.bias)

    def forward(self, h: torch.Tensor, landmarks: torch.Tensor) -> torch.Tensor:
        h = self.norm(h)
        if not self.enabled:
            return h
        gamma, beta = self.style(landmarks).chunk(2, dim=1)
        return h * (1 + gamma[..., None, None]) + beta[..., None, None]


class AddMotion(nn.Module):
    """Add_Motion: ``(D_lm - S_lm)`` through a fully connected layer, added to a hidden map.

    The fully connected layer produces a full ``channels x size x size`` map, not one
    value per channel, so sparse landmark motion can say *where* things move; the
    decoder that follows spreads it into dense pixel motion (Sec. 3.2).
    """

    def __init__(self, landmark_dim: int, channels: int, size: int):
        super().__init__()
        self.shape = (channels, size, size)
        self.fc = nn.Linear(landmark_dim, channels * size * size)
        nn.init.normal_(self.fc.weight, std=0.01)
        nn.init.zeros_(self.fc.bias)

    def forward(self, h: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        return h + self.fc(motion).view(-1, *self.shape)
