"""The landmark-conditioned encoder-decoder that each motion branch is made of.

Like first-order-model's dense motion hourglass (down blocks, up blocks, skip
connections), but every normalisation is an AdaIN driven by landmarks: the source
landmarks in the encoder, the driving landmarks in the decoder; Add_Motion injects
the landmark displacement at the bottleneck (Sec. 3.2).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from s2d.models.adain import AddMotion, LandmarkAdaIN


class _Block(nn.Module):
    """conv 3x3 -> AdaIN(landmarks) -> ReLU."""

    def __init__(self, in_ch: int, out_ch: int, landmark_dim: int, adain: bool):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.norm = LandmarkAdaIN(out_ch, landmark_dim, enabled=adain)

    def forward(self, x: torch.Tensor, landmarks: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(self.conv(x), landmarks))


class LandmarkHourglass(nn.Module):
    """Encoder-decoder from an image (and landmark vectors) to ``out_channels`` maps at its input size.

    ``size`` is the spatial size of the input; it must be divisible by ``2**num_blocks``.
    """

    def __init__(self, in_channels: int, out_channels: int, size: int, landmark_dim: int,
                 block_expansion: int, max_features: int, num_blocks: int, adain: bool, add_motion: bool):
        super().__init__()
        if size % 2**num_blocks:
            raise ValueError(f"hourglass input size {size} is not divisible by 2**{num_blocks}")
        widths = [min(max_features, block_expansion * 2**i) for i in range(num_blocks + 1)]
        self.down = nn.ModuleList()
        prev = in_channels
        for w in widths[1:]:
            self.down.append(_Block(prev, w, landmark_dim, adain))
            prev = w
        self.add_motion = AddMotion(landmark_dim, prev, size // 2**num_blocks) if add_motion else None
        self.up = nn.ModuleList()
        for i in reversed(range(num_blocks)):
            skip = widths[i] if i > 0 else in_channels
            self.up.append(_Block(prev, widths[max(i, 1)], landmark_dim, adain))
            prev = widths[max(i, 1)] + skip
        self.out = nn.Conv2d(prev, out_channels, 3, padding=1)
        nn.init.normal_(self.out.weight, std=1e-3)  # start near zero output: about the identity warp
        nn.init.zeros_(self.out.bias)

    def encode(self, image: torch.Tensor, source_lm: torch.Tensor | None) -> list[torch.Tensor]:
        """The encoder's maps, the input first and the bottleneck last: they depend on the source alone, so a
        video computes them once (:meth:`decode` takes them for any number of driving frames)."""
        skips = [image]
        for block in self.down:
            skips.append(F.avg_pool2d(block(skips[-1], source_lm), 2))
        return skips

    def decode(self, skips: list[torch.Tensor], source_lm: torch.Tensor | None,
               driving_lm: torch.Tensor | None) -> torch.Tensor:
        """The decoder on :meth:`encode`'s maps (batch 1 or the driving batch), driven by ``driving_lm``."""
        batch = skips[-1].shape[0] if driving_lm is None else len(driving_lm)
        skips = [skip.expand(batch, -1, -1, -1) for skip in skips]
        h = skips.pop()
        if self.add_motion is not None:
            h = self.add_motion(h, driving_lm - source_lm)
        for block in self.up:
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = torch.cat([block(h, driving_lm), skips.pop()], dim=1)
        return self.out(h)

    def forward(self, image: torch.Tensor, source_lm: torch.Tensor, driving_lm: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(image, source_lm), source_lm, driving_lm)
