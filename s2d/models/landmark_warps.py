"""Candidate motions fitted to the landmarks: what the global branch chooses among.

The global branch's default parameterisation (``model.global_motion: candidates``, see
:class:`s2d.models.dense_motion.GlobalBranch`) predicts, per pixel, softmax weights over
a few backward warps that the landmarks alone define, plus a small residual, the way
first-order-model and the thin-plate-spline motion model assemble their flows from
keypoint-derived motions. Each candidate maps a driving-frame position to the source
position to sample:

- the identity (the static background);
- the affine map fitted by least squares from the driving landmarks to the source's
  (the rigid part of the head motion: translation, rotation, scale, shear);
- the thin-plate spline through the same pairs, regularised by ``smoothing`` (the face's
  non-rigid motion: jaw, lips, brows).

Points are in torch's normalised coordinates ([-1, 1], ``align_corners=False``).
"""

from __future__ import annotations

import torch

CANDIDATES = ("identity", "affine", "thin-plate spline")
TPS_SMOOTHING = 1e-3  # lambda of the regularised spline (normalised units): coincident points stay solvable


def _homogeneous(points: torch.Tensor) -> torch.Tensor:
    return torch.cat([points, torch.ones_like(points[..., :1])], dim=-1)


def affine_fit(driving: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """(B, 3, 2): the least-squares affine map ``[d, 1] @ A ~ s`` from driving to source points (B, N, 2)."""
    x = _homogeneous(driving)
    gram = x.transpose(1, 2) @ x + 1e-6 * torch.eye(3, dtype=x.dtype, device=x.device)
    return torch.linalg.solve(gram, x.transpose(1, 2) @ source)


def _tps_kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """U(r) = r^2 log r^2 between every point of ``a`` (B, P, 2) and of ``b`` (B, N, 2)."""
    r2 = torch.cdist(a, b).pow(2)
    return r2 * torch.log(r2.clamp(min=1e-12))


def tps_fit(driving: torch.Tensor, source: torch.Tensor, smoothing: float = TPS_SMOOTHING) -> torch.Tensor:
    """(B, N + 3, 2): the regularised thin-plate spline's weights (N) and affine part (3) from driving to source."""
    batch, n, _ = driving.shape
    kernel = _tps_kernel(driving, driving) + smoothing * torch.eye(n, dtype=driving.dtype, device=driving.device)
    p = _homogeneous(driving)
    system = driving.new_zeros(batch, n + 3, n + 3)
    system[:, :n, :n], system[:, :n, n:], system[:, n:, :n] = kernel, p, p.transpose(1, 2)
    rhs = torch.cat([source, source.new_zeros(batch, 3, 2)], dim=1)
    return torch.linalg.solve(system, rhs)


def tps_apply(coefficients: torch.Tensor, driving: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """The fitted spline at ``points`` (B, P, 2)."""
    n = driving.shape[1]
    return _tps_kernel(points, driving) @ coefficients[:, :n] + _homogeneous(points) @ coefficients[:, n:]


def spline_positions(driving: torch.Tensor, source: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """(B, H, W, 2): the regularised thin-plate spline fitted from ``driving`` to ``source`` (matching points,
    B, N, 2, normalised), evaluated at the positions ``grid`` (B, H, W, 2). No gradient: a fixed function of
    the points, solved in float32 (also under float16 autocast)."""
    batch, height, width, _ = grid.shape
    points = grid.reshape(batch, -1, 2).float()
    driving, source = driving.float(), source.float()
    with torch.no_grad(), torch.autocast(points.device.type, enabled=False):
        spline = tps_apply(tps_fit(driving, source), driving, points)
    return spline.view(batch, height, width, 2).to(grid.dtype)


def candidate_offsets(driving: torch.Tensor, source: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """(B, K, H, W, 2): each of :data:`CANDIDATES` at the positions ``grid`` (B, H, W, 2), as offsets from them.

    ``driving`` and ``source`` are matching landmarks (B, N, 2), normalised. They carry no
    gradient: the candidates are fixed functions of the landmarks.
    """
    batch, height, width, _ = grid.shape
    points = grid.reshape(batch, -1, 2).float()
    with torch.no_grad(), torch.autocast(points.device.type, enabled=False):
        affine = _homogeneous(points) @ affine_fit(driving.float(), source.float())
    affine = affine.view(batch, height, width, 2).to(grid.dtype)
    return torch.stack([torch.zeros_like(grid), affine - grid, spline_positions(driving, source, grid) - grid], dim=1)
