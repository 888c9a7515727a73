"""Normalised coordinates, the identity grid and Gaussian heatmaps: the geometry every network shares.

Coordinates are ``(x, y)`` normalised to [-1, 1] over the image, with pixel
*centres* at ``(2 i + 1) / n - 1`` for pixel ``i`` of ``n`` (torch's
``align_corners=False``, the convention of ``grid_sample`` and of DSNT): -1 and 1
are the outer edges of the border pixels. Normalised coordinates do not change when
an image is resized, so heatmaps at 1/4 of a network's input, the input and the
original frame all share them. Pixel coordinates have pixel centres at integers, as
in :mod:`s2d.landmarks`.

- :func:`to_normalised` and :func:`to_pixels`: from pixel to normalised coordinates
  and back.
- :func:`pixel_centres`: the normalised coordinates of the pixel centres along one axis.
- :func:`identity_grid`: the sampling grid of the identity warp, from which motion maps
  (backward warps, Eq. (1)) are offsets.
- Gaussian heatmaps in two conventions: :func:`gaussian_heatmaps_sigma_px`, the
  standard deviation in heatmap pixels (the detector's heatmap targets and DSNT's
  regulariser), and :func:`gaussian_heatmaps_variance`, the variance in normalised
  units (FOMM's keypoint heatmaps).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def to_pixels(coords: torch.Tensor | np.ndarray, height: int, width: int) -> torch.Tensor | np.ndarray:
    """Normalised ``(..., 2)`` (x, y) coordinates -> pixel coordinates of a ``height x width`` image."""
    scale = _xy_scale(coords, height, width)
    return (coords + 1) * scale / 2 - 0.5


def to_normalised(points: torch.Tensor | np.ndarray, height: int, width: int) -> torch.Tensor | np.ndarray:
    """Pixel ``(..., 2)`` (x, y) coordinates of a ``height x width`` image -> normalised coordinates."""
    scale = _xy_scale(points, height, width)
    return (2 * points + 1) / scale - 1


def _xy_scale(coords: torch.Tensor | np.ndarray, height: int, width: int) -> torch.Tensor | np.ndarray:
    if coords.shape[-1] != 2:
        raise ValueError(f"expected coordinates (..., 2), got {tuple(coords.shape)}")
    if isinstance(coords, torch.Tensor):
        return torch.tensor([width, height], dtype=coords.dtype, device=coords.device)
    return np.array([width, height], dtype=np.result_type(coords, np.float32))


def pixel_centres(n: int, like: torch.Tensor) -> torch.Tensor:
    """Normalised coordinates ``(n,)`` of the ``n`` pixel centres along one axis (dtype and device of ``like``)."""
    return (2 * torch.arange(n, dtype=like.dtype, device=like.device) + 1) / n - 1


def identity_grid(batch: int, height: int, width: int, device=None, dtype=None) -> torch.Tensor:
    """The sampling grid of the identity warp, shape (B, H, W, 2): each pixel centre's normalised (x, y)."""
    theta = torch.eye(2, 3, device=device, dtype=dtype).expand(batch, 2, 3)
    return F.affine_grid(theta, [batch, 1, height, width], align_corners=False)


def gaussian_heatmaps_sigma_px(coords: torch.Tensor, height: int, width: int, sigma: float,
                               normalise: bool = False) -> torch.Tensor:
    """Gaussians ``(B, L, height, width)`` centred at normalised ``coords`` ``(B, L, 2)``.

    ``sigma`` is in heatmap pixels (along each axis, whatever the aspect ratio). The peak
    value is 1 (FAN's heatmap regression targets), or with ``normalise`` each map sums
    to 1 (DSNT's regulariser targets).
    """
    if coords.ndim != 3 or coords.shape[-1] != 2:
        raise ValueError(f"expected coordinates (B, L, 2), got {tuple(coords.shape)}")
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    dx = (pixel_centres(width, coords) - coords[..., :1]) * (width / 2)  # (B, L, W), in pixels
    dy = (pixel_centres(height, coords) - coords[..., 1:]) * (height / 2)  # (B, L, H)
    gauss = torch.exp(-(dy.unsqueeze(-1) ** 2 + dx.unsqueeze(-2) ** 2) / (2 * sigma**2))
    if normalise:
        gauss = gauss / gauss.sum(dim=(-2, -1), keepdim=True)
    return gauss


def gaussian_heatmaps_variance(points: torch.Tensor, height: int, width: int, variance: float) -> torch.Tensor:
    """``exp(-|z - p|^2 / (2 variance))`` for each point p of (B, K, 2) at the normalised pixel centres z of
    the h x w grid: (B, K, h, w), peak 1. ``variance`` is in normalised units squared, the same along x and
    y (FOMM's ``kp2gaussian``)."""
    grid = identity_grid(1, height, width, points.device, points.dtype)  # (1, h, w, 2)
    d2 = (grid[:, None] - points[:, :, None, None]).pow(2).sum(-1)
    return torch.exp(-0.5 * d2 / variance)
