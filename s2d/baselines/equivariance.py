"""FOMM's equivariance constraints (first-order-model ``modules/model.py``: Transform and the
equivariance part of GeneratorFullModel; Sec. 3.3 of Siarohin et al. 2019).

A random transform T (an affine map plus FOMM's thin-plate-spline term, drawn from a
``torch.Generator``) deforms the driving frame: ``D'(z) = D(T(z))``. Keypoints that
follow the image satisfy ``kp(D) = T(kp(D'))`` (the value loss) and, for the local
Jacobians, ``J(D) = dT/dz(kp(D')) J(D')``, measured as ``|I - J(D)^{-1} dT/dz J(D')|``
(the Jacobian loss). Both are means of absolute values, as FOMM's.

The transform is FOMM's, quirks included: its TPS term uses the L1 distance to the
5 x 5 control points, ``U(r) = r^2 log r``, and adds one scalar displacement to both
coordinates. Its Jacobian is computed here in closed form (FOMM uses autograd).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from s2d.baselines.keypoints import Keypoints, inverse_2x2
from s2d.geometry import identity_grid

SIGMA_AFFINE = 0.05  # FOMM vox-256 transform_params
SIGMA_TPS = 0.005
POINTS_TPS = 5
_EPS = 1e-6  # inside FOMM's log


class RandomTransform:
    """A batch of random transforms T: z -> A z + t + s(z) [1, 1], s(z) = sum_p c_p U(|z - p|_1)."""

    def __init__(self, batch: int, sigma_affine: float = SIGMA_AFFINE, sigma_tps: float = SIGMA_TPS,
                 points_tps: int = POINTS_TPS, generator: torch.Generator | None = None, device=None,
                 dtype: torch.dtype = torch.float32):
        draw_on = generator.device if generator is not None else torch.device("cpu")
        noise = torch.randn(batch, 2, 3, generator=generator, device=draw_on) * sigma_affine
        params = torch.randn(batch, points_tps**2, generator=generator, device=draw_on) * sigma_tps
        self.theta = (noise.to(device, dtype) + torch.eye(2, 3, device=device, dtype=dtype))  # (B, 2, 3)
        lin = torch.linspace(-1, 1, points_tps, device=device, dtype=dtype)
        ys, xs = torch.meshgrid(lin, lin, indexing="ij")
        self.control_points = torch.stack([xs, ys], dim=-1).view(-1, 2)  # (P, 2), x, y
        self.control_params = params.to(device, dtype)  # (B, P)

    @classmethod
    def affine(cls, theta: torch.Tensor) -> "RandomTransform":
        """A known affine transform z -> theta[:, :, :2] z + theta[:, :, 2] (no TPS term)."""
        out = cls(len(theta), 0.0, 0.0, generator=torch.Generator(), device=theta.device, dtype=theta.dtype)
        out.theta = theta.clone()
        return out

    @property
    def batch(self) -> int:
        return len(self.theta)

    def _tps(self, coords: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """U(r_p) and dU/dr(r_p) sign(z - p) for each point and control point: (B, N, P), (B, N, P, 2)."""
        diff = coords[:, :, None] - self.control_points  # (B, N, P, 2)
        r = diff.abs().sum(-1)
        log = torch.log(r + _EPS)
        u = r.pow(2) * log
        du = 2 * r * log + r.pow(2) / (r + _EPS)
        return u, du[..., None] * torch.sign(diff)

    def warp_coordinates(self, coords: torch.Tensor) -> torch.Tensor:
        """T(z) for (B, N, 2) points."""
        a, t = self.theta[:, None, :, :2], self.theta[:, None, :, 2]
        out = (a @ coords[..., None])[..., 0] + t
        u, _ = self._tps(coords)
        return out + (u * self.control_params[:, None]).sum(-1, keepdim=True)

    def jacobian(self, coords: torch.Tensor) -> torch.Tensor:
        """dT/dz at (B, N, 2) points: (B, N, 2, 2), rows the output coordinates."""
        _, grad_u = self._tps(coords)
        grad_s = (grad_u * self.control_params[:, None, :, None]).sum(2)  # (B, N, 2)
        return self.theta[:, None, :, :2] + grad_s[:, :, None, :]  # the same ds/dz added to both rows

    def transform_frame(self, frame: torch.Tensor) -> torch.Tensor:
        """D'(z) = D(T(z)), bilinear with reflection at the borders (as FOMM)."""
        batch, _, h, w = frame.shape
        grid = identity_grid(batch, h, w, frame.device, frame.dtype).view(batch, h * w, 2)
        grid = self.warp_coordinates(grid).view(batch, h, w, 2)
        return F.grid_sample(frame, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def equivariance_losses(kp_driving: Keypoints, kp_transformed: Keypoints,
                        transform: RandomTransform) -> tuple[torch.Tensor, torch.Tensor | None]:
    """FOMM's value loss ``mean |kp_d - T(kp_t)|`` and, when both have Jacobians, the Jacobian loss
    ``mean |I - J_d^{-1} (dT/dz(kp_t) J_t)|`` (None without Jacobians, as Monkey-Net)."""
    value = (kp_driving.value - transform.warp_coordinates(kp_transformed.value)).abs().mean()
    if kp_driving.jacobian is None or kp_transformed.jacobian is None:
        return value, None
    mapped = transform.jacobian(kp_transformed.value) @ kp_transformed.jacobian
    product = inverse_2x2(kp_driving.jacobian) @ mapped
    eye = torch.eye(2, device=product.device, dtype=product.dtype)
    return value, (eye - product).abs().mean()
