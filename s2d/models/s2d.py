"""The S2D model: dense motion generation, warping and image generation (Fig. 1)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from s2d.config import Config
from s2d.models.dense_motion import DenseMotion, DenseMotionGenerator
from s2d.models.generator import ImageGenerator, compose, warp


@dataclass
class Animation:
    """One generated frame and everything that made it."""

    prediction: torch.Tensor  # T^k_I (B, 3, H, W)
    warped: torch.Tensor  # E^k_I, Eq. (1)
    residual: torch.Tensor  # R^k_I
    mask: torch.Tensor  # M^k (B, 1, H, W)
    motion: DenseMotion  # F^k and the local branches' masks and boxes


class S2DModel(nn.Module):
    """Animate a source image S_I with source landmarks S_lm to driving landmarks D_lm."""

    def __init__(self, config: Config):
        super().__init__()
        m, size = config.model, config.data.resolution
        if m.landmark_points not in (68, 74):
            raise ValueError(f"model.landmark_points must be 74 (s2d's landmarks) or 68 (iBUG only), "
                             f"got {m.landmark_points}")
        self.resolution = size
        self.dense_motion = DenseMotionGenerator(
            size, m.landmark_points, m.block_expansion, m.max_features, m.motion_blocks, m.motion_scale,
            m.local_crop, m.adain, m.add_motion, m.local_branches, m.global_motion, m.local_motion, m.face_prior,
        )
        self.generator = ImageGenerator(m.block_expansion, m.max_features, m.num_down_blocks,
                                        m.num_bottleneck_blocks, m.motion_to_generator)

    def encode(self, source: torch.Tensor, source_lm: torch.Tensor) -> list[list[torch.Tensor]]:
        """What the motion networks compute from the source alone (:meth:`DenseMotionGenerator.encode`): computed
        once per source face, it is passed as ``code`` with every batch of driving landmarks."""
        return self.dense_motion.encode(source, source_lm)

    def forward(self, source: torch.Tensor, source_lm: torch.Tensor, driving_lm: torch.Tensor,
                code: list[list[torch.Tensor]] | None = None) -> Animation:
        if source.shape[-2:] != (self.resolution, self.resolution):
            raise ValueError(f"source is {tuple(source.shape[-2:])}, the model was built for "
                             f"{self.resolution}x{self.resolution}")
        motion = self.dense_motion(source, source_lm, driving_lm, code)
        warped = warp(source, motion.grid)  # Eq. (1)
        residual, mask = self.generator(warped, motion.grid)
        return Animation(compose(warped, residual, mask), warped, residual, mask, motion)  # Eq. (2)

    @torch.inference_mode()
    def animate(self, source: torch.Tensor, source_landmarks: torch.Tensor,
                driving_landmarks: torch.Tensor) -> torch.Tensor:
        """The evaluation interface: generated frames only."""
        return self(source, source_landmarks, driving_landmarks).prediction
