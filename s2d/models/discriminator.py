"""Multi-scale patch discriminator with spectral normalisation (for Eqs. (5), (6))."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


class PatchDiscriminator(nn.Module):
    """Down blocks (4x4 conv, spectral norm, leaky ReLU, pooling) ending in a 1-channel patch score map."""

    def __init__(self, block_expansion: int, max_features: int, num_blocks: int):
        super().__init__()
        layers, prev = [], 3
        for i in range(num_blocks):
            out = min(max_features, block_expansion * 2**i)
            layers += [spectral_norm(nn.Conv2d(prev, out, 4, padding=1)), nn.LeakyReLU(0.2)]
            if i < num_blocks - 1:
                layers.append(nn.AvgPool2d(2))
            prev = out
        layers.append(spectral_norm(nn.Conv2d(prev, 1, 1)))
        self.net = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image)


class MultiScaleDiscriminator(nn.Module):
    """One patch discriminator per image scale (1 = full size, 0.5 = half, ...)."""

    def __init__(self, scales: list[float], block_expansion: int, max_features: int, num_blocks: int):
        super().__init__()
        self.scales = list(scales)
        self.nets = nn.ModuleList(PatchDiscriminator(block_expansion, max_features, num_blocks) for _ in scales)

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for scale, net in zip(self.scales, self.nets):
            x = image if scale == 1 else F.interpolate(image, scale_factor=scale, mode="bilinear",
                                                       align_corners=False, antialias=True)
            outs.append(net(x))
        return outs
