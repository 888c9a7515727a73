"""The dense motion generator: a global branch and three local branches, fused by Eq. (3).

Motion maps are backward warps in torch's normalised coordinates (x, y in [-1, 1],
``align_corners=False``): for each pixel p of the driving frame, F(p) is where to
sample the source image. Landmarks are pixel coordinates of their frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from s2d import landmarks as lm
from s2d.models.hourglass import LandmarkHourglass

REGION_ORDER = ("left_eye_brow", "right_eye_brow", "mouth")  # M_L1, M_L2, M_L3


def identity_grid(batch: int, height: int, width: int, device=None, dtype=None) -> torch.Tensor:
    """The sampling grid of the identity warp, shape (B, H, W, 2)."""
    theta = torch.eye(2, 3, device=device, dtype=dtype).expand(batch, 2, 3)
    return F.affine_grid(theta, [batch, 1, height, width], align_corners=False)


def to_normalised(points: torch.Tensor, size: int) -> torch.Tensor:
    """Pixel coordinates (pixel centres at integers) of a size x size frame -> [-1, 1]."""
    return (2 * points + 1) / size - 1


@dataclass
class DenseMotion:
    """What the dense motion generator returns."""

    grid: torch.Tensor  # (B, H, W, 2) the fused dense motion map F^k (sampling positions in the source)
    global_grid: torch.Tensor  # (B, H, W, 2) f_G^k
    local_masks: torch.Tensor  # (B, 3, H, W) m_Li^k pasted into the image (zero outside r_Li^k)
    local_boxes: torch.Tensor  # (B, 3, 3) the driving-frame crop boxes: centre x, y and half side (normalised)


class GlobalBranch(nn.Module):
    """M_G: the whole image at ``motion_scale`` of its size, all its landmarks; a full-size motion map."""

    def __init__(self, size: int, num_landmarks: int, scale: float, block_expansion: int, max_features: int,
                 num_blocks: int, adain: bool, add_motion: bool):
        super().__init__()
        self.size, self.inner = size, int(round(size * scale))
        self.net = LandmarkHourglass(3, 2, self.inner, 2 * num_landmarks, block_expansion, max_features,
                                     num_blocks, adain, add_motion)

    def encode(self, source: torch.Tensor, source_lm: torch.Tensor) -> list[torch.Tensor]:
        """The hourglass encoder's maps of the source (they do not depend on the driving frame)."""
        small = F.interpolate(source, size=(self.inner, self.inner), mode="bilinear", align_corners=False,
                              antialias=True)
        return self.net.encode(small, to_normalised(source_lm, self.size).flatten(1))

    def forward(self, source: torch.Tensor, source_lm: torch.Tensor, driving_lm: torch.Tensor,
                code: list[torch.Tensor] | None = None) -> torch.Tensor:
        s = to_normalised(source_lm, self.size).flatten(1)
        d = to_normalised(driving_lm, self.size).flatten(1)
        offsets = self.net.decode(self.encode(source, source_lm) if code is None else code, s, d)
        offsets = F.interpolate(offsets, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return identity_grid(len(offsets), self.size, self.size, source.device, source.dtype) + offsets.permute(0, 2, 3, 1)


class LocalBranch(nn.Module):
    """M_Li: a crop of the source around its region, only that region's landmarks; a motion map and a mask.

    The crop is ``crop`` pixels square, centred on the region's landmark centre. The
    returned map is in the crop's own coordinates; :func:`fuse_local` shifts and scales
    it into image coordinates.
    """

    def __init__(self, region: str, crop: int, block_expansion: int, max_features: int, num_blocks: int,
                 adain: bool, add_motion: bool, num_landmarks: int = lm.NUM_LANDMARKS):
        super().__init__()
        self.region = [i for i in lm.REGIONS[region] if i < num_landmarks]  # 68 points: no pupils, no iris
        self.crop = crop
        self.net = LandmarkHourglass(3, 3, crop, 2 * len(self.region), block_expansion, max_features,
                                     num_blocks, adain, add_motion)

    def _points(self, landmarks: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The region's centre (normalised image units) and its points relative to the crop, flattened."""
        half = self.crop / size  # half the crop side, in normalised image units
        points = to_normalised(landmarks[:, self.region], size)
        centre = points.mean(1)
        return centre, ((points - centre[:, None]) / half).flatten(1)

    def encode(self, source: torch.Tensor, source_lm: torch.Tensor) -> list[torch.Tensor]:
        """The hourglass encoder's maps of the source's crop (they do not depend on the driving frame)."""
        size = source.shape[-1]
        s_centre, s_local = self._points(source_lm, size)
        patch = F.grid_sample(source, _crop_grid(s_centre, self.crop / size, self.crop), mode="bilinear",
                              padding_mode="border", align_corners=False)
        return self.net.encode(patch, s_local)

    def forward(self, source: torch.Tensor, source_lm: torch.Tensor, driving_lm: torch.Tensor,
                code: list[torch.Tensor] | None = None):
        size = source.shape[-1]
        half = self.crop / size
        (s_centre, s_local), (d_centre, d_local) = self._points(source_lm, size), self._points(driving_lm, size)
        out = self.net.decode(self.encode(source, source_lm) if code is None else code, s_local, d_local)
        local_grid = identity_grid(len(out), self.crop, self.crop, source.device, source.dtype)
        local_grid = local_grid + out[:, :2].permute(0, 2, 3, 1)
        mask = torch.sigmoid(out[:, 2:3])
        return local_grid, mask, s_centre, d_centre, half


def _crop_grid(centre: torch.Tensor, half: float, crop: int) -> torch.Tensor:
    """Sampling grid of a crop x crop patch centred on ``centre`` (normalised), half side ``half``."""
    base = identity_grid(len(centre), crop, crop, centre.device, centre.dtype)
    return centre[:, None, None, :] + half * base


def fuse_local(global_grid: torch.Tensor, local_grid: torch.Tensor, mask: torch.Tensor, s_centre: torch.Tensor,
               d_centre: torch.Tensor, half: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. (3): inside the driving crop r_Li, F = f_G (1 - m) + f^_L m; outside, F = f_G.

    The local map is shifted and scaled into image coordinates (f^_L = s_centre + half * f_L)
    and pasted at the driving crop (centred on d_centre); the mask is zero outside it.
    """
    batch, height, width, _ = global_grid.shape
    image = identity_grid(batch, height, width, global_grid.device, global_grid.dtype)
    inside = (image - d_centre[:, None, None, :]) / half  # where each image pixel falls in the driving crop
    shifted = s_centre[:, None, None, :] + half * local_grid  # f^_L: crop coordinates -> image coordinates
    local_in_image = F.grid_sample(shifted.permute(0, 3, 1, 2), inside, mode="bilinear", padding_mode="border",
                                   align_corners=False).permute(0, 2, 3, 1)
    in_region = (inside.abs() <= 1).all(dim=-1, keepdim=True).to(mask.dtype)  # r_Li
    m = F.grid_sample(mask, inside, mode="bilinear", padding_mode="zeros", align_corners=False)
    m = m.permute(0, 2, 3, 1) * in_region
    return global_grid * (1 - m) + local_in_image * m, m[..., 0]


class DenseMotionGenerator(nn.Module):
    """F^k from (S_I, S_lm, D_lm): the global branch, optionally refined by the three local branches.

    Landmarks come in s2d's 74-point order; a generator built for ``num_landmarks=68`` reads
    the 68 iBUG points only (Table 5's models, trained on 68-point detectors).
    """

    def __init__(self, size: int, num_landmarks: int, block_expansion: int, max_features: int, motion_blocks: int,
                 motion_scale: float, local_crop: int, adain: bool, add_motion: bool, local_branches: bool):
        super().__init__()
        self.num_landmarks = num_landmarks
        self.global_branch = GlobalBranch(size, num_landmarks, motion_scale, block_expansion, max_features,
                                          motion_blocks, adain, add_motion)
        crop = max(8, round(local_crop * size / 256))
        local_blocks = max(1, min(3, crop.bit_length() - 4))  # 16 px -> 1 level, 64 px -> 3 levels
        self.local_branches = nn.ModuleList(
            LocalBranch(region, crop, max(8, block_expansion // 2), max_features // 2, local_blocks, adain,
                        add_motion, num_landmarks)
            for region in REGION_ORDER
        ) if local_branches else None

    def encode(self, source: torch.Tensor, source_lm: torch.Tensor) -> list[list[torch.Tensor]]:
        """What the branches compute from the source alone (their encoders' maps, global branch first): a video
        computes it once and passes it as ``code`` for each batch of driving frames."""
        source_lm = source_lm[:, : self.num_landmarks]
        return [branch.encode(source, source_lm) for branch in [self.global_branch, *(self.local_branches or [])]]

    def forward(self, source: torch.Tensor, source_lm: torch.Tensor, driving_lm: torch.Tensor,
                code: list[list[torch.Tensor]] | None = None) -> DenseMotion:
        source_lm, driving_lm = source_lm[:, : self.num_landmarks], driving_lm[:, : self.num_landmarks]
        code = code if code is not None else [None] * (1 + len(self.local_branches or []))
        global_grid = self.global_branch(source, source_lm, driving_lm, code[0])
        grid = global_grid
        batch, (height, width) = len(driving_lm), source.shape[-2:]
        masks = source.new_zeros(batch, len(REGION_ORDER), height, width)
        boxes = source.new_zeros(batch, len(REGION_ORDER), 3)
        for i, branch in enumerate(self.local_branches or []):
            local_grid, mask, s_centre, d_centre, half = branch(source, source_lm, driving_lm, code[i + 1])
            grid, masks[:, i] = fuse_local(grid, local_grid, mask, s_centre, d_centre, half)
            boxes[:, i, :2], boxes[:, i, 2] = d_centre, half
        return DenseMotion(grid=grid, global_grid=global_grid, local_masks=masks, local_boxes=boxes)
