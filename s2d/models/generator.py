"""Warping (Eq. (1)) and the occlusion-aware image generator (Eq. (2)).

The generator has first-order-model's encoder-bottleneck-decoder shape: a 7x7 stem,
down blocks, residual blocks at the bottleneck, up blocks and a 7x7 head. It takes
the warped source E concatenated with the dense motion map (as offsets from the
identity warp) and returns a residual image R and a mask M.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from s2d.geometry import identity_grid


def warp(image: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Eq. (1): E = f_w^b(S, F), bilinear sampling of ``image`` at the motion map ``grid`` (B, H, W, 2)."""
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False)


def compose(warped: torch.Tensor, residual: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Eq. (2): T = E * (1 - M) + R * M."""
    return warped * (1 - mask) + residual * mask


class _Conv(nn.Sequential):
    def __init__(self, in_ch: int, out_ch: int, kernel: int = 3):
        super().__init__(nn.Conv2d(in_ch, out_ch, kernel, padding=kernel // 2), nn.BatchNorm2d(out_ch), nn.ReLU())


class _ResBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.body = nn.Sequential(nn.BatchNorm2d(ch), nn.ReLU(), nn.Conv2d(ch, ch, 3, padding=1),
                                  nn.BatchNorm2d(ch), nn.ReLU(), nn.Conv2d(ch, ch, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ImageGenerator(nn.Module):
    """(E, F) -> (R, M). With ``motion_to_generator=False`` it sees E only (the Table 4 setting)."""

    def __init__(self, block_expansion: int, max_features: int, num_down_blocks: int, num_bottleneck_blocks: int,
                 motion_to_generator: bool):
        super().__init__()
        self.motion_to_generator = motion_to_generator
        in_ch = 3 + (2 if motion_to_generator else 0)
        self.stem = _Conv(in_ch, block_expansion, 7)
        widths = [min(max_features, block_expansion * 2**i) for i in range(num_down_blocks + 1)]
        self.down = nn.ModuleList(_Conv(widths[i], widths[i + 1]) for i in range(num_down_blocks))
        self.bottleneck = nn.Sequential(*(_ResBlock(widths[-1]) for _ in range(num_bottleneck_blocks)))
        self.up = nn.ModuleList(_Conv(widths[i + 1], widths[i]) for i in reversed(range(num_down_blocks)))
        self.head = nn.Conv2d(block_expansion, 4, 7, padding=3)
        nn.init.constant_(self.head.bias[3], -3.0)  # start with M close to 0: T close to the warped source

    def forward(self, warped: torch.Tensor, grid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = warped
        if self.motion_to_generator:
            batch, height, width, _ = grid.shape
            offsets = grid - identity_grid(batch, height, width, grid.device, grid.dtype)
            x = torch.cat([warped, offsets.permute(0, 3, 1, 2)], dim=1)
        h = self.stem(x)
        for block in self.down:
            h = F.avg_pool2d(block(h), 2)
        h = self.bottleneck(h)
        for block in self.up:
            h = block(F.interpolate(h, scale_factor=2, mode="nearest"))
        out = self.head(h)
        return torch.sigmoid(out[:, :3]), torch.sigmoid(out[:, 3:4])
