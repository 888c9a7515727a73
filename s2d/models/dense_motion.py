"""The dense motion generator: a global branch and three local branches, fused by Eq. (3).

Both readings of the paper's text are built here where it leaves a choice, each a documented interpretation:

- The global branch's hourglass (AdaIN + Add_Motion, Sec. 3.2) predicts the motion. With
  ``motion="candidates"`` (the default) its output is per-pixel softmax weights over
  motions fitted to the landmarks (identity, affine, thin-plate spline:
  :mod:`s2d.models.landmark_warps`) plus a small residual; with ``motion="offsets"`` (the
  paper-literal variant) it is the map's offsets directly. The weights' logits lie on the
  source image, the frame the hourglass sees: each candidate's logit is read where that
  candidate samples the source (:func:`logits_where_sampled`), so a driving pixel takes
  the head's motion when the head's motion brings it from the source's head. The residual
  moves a pixel only as far as it leaves the identity: where the map keeps the background
  still, the residual cannot move it.
- Each local branch's hourglass predicts its crop's motion map: with ``motion="spline"``
  (the default) as offsets added to the thin-plate spline through its region's landmarks,
  pupils included; with ``motion="offsets"`` (paper-literal) as offsets from the identity.
- The local masks make "the final motion map smoother at the boundary": each predicted
  mask is multiplied by a fixed window that is 1 over the crop's centre and falls
  smoothly to 0 at its border, and starts small (:data:`MASK_LOGIT_INIT`), so the
  fused map is continuous across every crop border; overlapping crops (the two eyes) are
  fused at once, in no order (:func:`fuse`).

Motion maps are backward warps in torch's normalised coordinates (:mod:`s2d.geometry`:
x, y in [-1, 1], ``align_corners=False``): for each pixel p of the driving frame, F(p) is where to
sample the source image. Landmarks are pixel coordinates of their frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from s2d import landmarks as lm
from s2d.config import GLOBAL_MOTIONS, LOCAL_MOTIONS
from s2d.geometry import identity_grid, to_normalised
from s2d.models.hourglass import LandmarkHourglass
from s2d.models.landmark_warps import CANDIDATES, candidate_offsets, spline_positions

REGION_ORDER = ("left_eye_brow", "right_eye_brow", "mouth")  # M_L1, M_L2, M_L3
# a local mask's first logit, by local motion. Offsets: sigmoid(-3) = 0.05 of its window, so the global map learns
# first. A spline map carries its landmarks home from the start: sigmoid(-1.5) = 0.18 (measured at cpu, 150 steps,
# seed 0, Table 4's full model on SynthTalk's landmarks, -3 / -1.5 / 0: pupil transfer 0.26 / 0.17 / 0.16 px
# (no local branches, foreground weight 0.2: 0.32), held-out L1 0.0161 / 0.0162 / 0.0163, mask on the crops'
# outer ring 0.011 / 0.025 / 0.035, jump at their borders 0.010 / 0.022 / 0.030 px)
MASK_LOGIT_INIT = {"spline": -1.5, "offsets": -3.0}
# a new global map is mostly the identity (weight 0.79): the background need not unlearn a motion first
# (measured at cpu, 150 steps, seed 0: the same L1 and head motion as uniform weights, less background flow;
# 4.0, weight 0.96, no better: L1 0.0165, background flow 0.34 px)
IDENTITY_LOGIT_INIT = 2.0
WINDOW_FLAT = 0.5  # the crop window is 1 within half the crop's half side of its centre, then falls to 0
# channels of the full-size convolutions that refine the candidates' upsampled logits from the source's own edges.
# Logits on the source read where each candidate samples it, with these edges, against logits on the driving frame
# (measured at cpu, 150 steps, Table 4's full model on SynthTalk's landmarks, seeds 0 / 1): held-out L1 0.0168 /
# 0.0168 vs 0.0172 / 0.0173, global-map landmark transfer 0.14 / 0.14 vs 0.20 / 0.18 px, background flow 0.30 /
# 0.29 vs 0.33 / 0.34 px; logits on the source without the edges (seed 0): L1 0.0169, transfer 0.15 px, background
# 0.34 px. The convolutions see the upsampled logits beside the image, and the residual is gated by the identity's
# weight (1 - w_id), against the edges of the image alone and an ungated residual (seeds 0 / 1, loss.foreground 3 /
# 1): L1 0.0155 / 0.0150 vs 0.0162 / 0.0162, background flow 0.16 / 0.15 vs 0.21 / 0.23 px, 0.011 / 0.009 vs
# 0.057 / 0.061 px away from the head, transfer 0.17 / 0.15 vs 0.17 / 0.15 px. Gating alone (seed 0, foreground 1):
# L1 0.0158, background 0.20 px, away from the head 0.015 px
EDGE_FEATURES = 16
EDGE_INIT_STD = 1e-3  # their last layer's initial weights: near 0, not 0, so every layer learns from the first step


@dataclass
class DenseMotion:
    """What the dense motion generator returns."""

    grid: torch.Tensor  # (B, H, W, 2) the fused dense motion map F^k (sampling positions in the source)
    global_grid: torch.Tensor  # (B, H, W, 2) f_G^k
    # (B, H, W) the identity candidate's weight in f_G^k: where the global branch keeps the background still;
    # None for the paper-literal offsets
    still_weight: torch.Tensor | None
    local_masks: torch.Tensor  # (B, 3, H, W) m_Li^k pasted into the image, windowed (zero outside r_Li^k)
    local_boxes: torch.Tensor  # (B, 3, 3) the driving-frame crop boxes: centre x, y and half side (normalised)
    local_grids: torch.Tensor  # (B, 3, H, W, 2) f^_Li^k: each local map in image coordinates (f_G where absent)


class GlobalBranch(nn.Module):
    """M_G: the whole image at ``motion_scale`` of its size, all its landmarks; a full-size motion map.

    ``motion="candidates"``: the hourglass's output is softmax weights over :data:`CANDIDATES`
    (fitted from the driving to the source landmarks, the 68 iBUG points: pupils and iris
    edges move with the gaze, not the head, and are the local branches' job) and a 2-channel
    residual; ``motion="offsets"``: the output is the offsets of f_G themselves.

    The candidates' logits are maps of the source: the hourglass's, upsampled to full size,
    plus three small full-size convolutions of the source image and those upsampled logits
    (``edge_logits``, near zero at first) that can put the head's edge on the image's own
    edge, which the hourglass at ``motion_scale`` cannot (:meth:`candidate_logits`). Each
    candidate's logit is read where it samples the source (:func:`logits_where_sampled`).
    The residual is multiplied by ``1 - w_id``, the weight the pixel gives the head's motions.
    """

    def __init__(self, size: int, num_landmarks: int, scale: float, block_expansion: int, max_features: int,
                 num_blocks: int, adain: bool, add_motion: bool, motion: str = "candidates", face_prior: float = 0.0):
        super().__init__()
        if motion not in GLOBAL_MOTIONS:
            raise ValueError(f"global motion must be one of {', '.join(GLOBAL_MOTIONS)}, got {motion!r}")
        if face_prior and motion != "candidates":
            raise ValueError("the face prior lowers the identity candidate's logit: it needs global motion "
                             f"'candidates', not {motion!r}")
        self.size, self.inner, self.motion, self.face_prior = size, int(round(size * scale)), motion, face_prior
        outputs = 2 if motion == "offsets" else len(CANDIDATES) + 2
        self.net = LandmarkHourglass(3, outputs, self.inner, 2 * num_landmarks, block_expansion, max_features,
                                     num_blocks, adain, add_motion)
        if motion == "candidates":
            with torch.no_grad():
                self.net.out.bias[CANDIDATES.index("identity")] = IDENTITY_LOGIT_INIT
                self.net.out.weight[len(CANDIDATES):] = 0  # the residual starts at 0: a new map is the candidates'
            self.edge_logits = nn.Sequential(
                nn.Conv2d(3 + len(CANDIDATES), EDGE_FEATURES, 3, padding=1), nn.ReLU(),  # the image and the logits
                nn.Conv2d(EDGE_FEATURES, EDGE_FEATURES, 3, padding=1), nn.ReLU(),
                nn.Conv2d(EDGE_FEATURES, len(CANDIDATES), 3, padding=1),
            )
            with torch.no_grad():  # they start near 0: a new branch's logits are the hourglass's
                self.edge_logits[-1].weight.normal_(0, EDGE_INIT_STD)
                self.edge_logits[-1].bias.zero_()

    def encode(self, source: torch.Tensor, source_lm: torch.Tensor) -> list[torch.Tensor]:
        """The hourglass encoder's maps of the source (they do not depend on the driving frame)."""
        small = F.interpolate(source, size=(self.inner, self.inner), mode="bilinear", align_corners=False,
                              antialias=True)
        return self.net.encode(small, to_normalised(source_lm, self.size, self.size).flatten(1))

    def forward(self, source: torch.Tensor, source_lm: torch.Tensor, driving_lm: torch.Tensor,
                code: list[torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """f_G (B, H, W, 2) and the identity candidate's weight (B, H, W; None for ``motion="offsets"``)."""
        s, d = to_normalised(source_lm, self.size, self.size), to_normalised(driving_lm, self.size, self.size)
        out = self.net.decode(self.encode(source, source_lm) if code is None else code, s.flatten(1), d.flatten(1))
        out = F.interpolate(out, size=(self.size, self.size), mode="bilinear", align_corners=False)
        still = identity_grid(len(out), self.size, self.size, source.device, source.dtype)
        if self.motion == "offsets":
            return still + out.permute(0, 2, 3, 1), None
        # the candidates and their softmax weights at full size: upsampled logits keep the head's edge sharp
        # (measured at cpu, 150 steps, seed 0, against the weighted offsets upsampled from 32 px: held-out L1
        # 0.0164 vs 0.0174, background flow 0.34 vs 0.43 px, 0.10 vs 0.14 px away from the head); the logits lie
        # on the source, with its edges added (measured at EDGE_FEATURES)
        ibug = slice(0, lm.NUM_IBUG)
        moves = candidate_offsets(d[:, ibug], s[:, ibug], still)  # (B, K, H, W, 2)
        logits = self.candidate_logits(source, out[:, : len(CANDIDATES)])
        if self.face_prior:  # the face moves unless the hourglass says otherwise
            identity = CANDIDATES.index("identity")
            prior = torch.zeros_like(logits)
            prior[:, identity] = self.face_prior * face_ellipse(s[:, ibug], still)
            logits = logits - prior
        weights = torch.softmax(logits_where_sampled(logits, still[:, None] + moves), dim=1)
        still_weight = weights[:, CANDIDATES.index("identity")]
        # the residual moves only what leaves the identity: the still background stays still
        residual = out[:, len(CANDIDATES):].permute(0, 2, 3, 1) * (1 - still_weight)[..., None]
        grid = still + (weights[..., None] * moves).sum(1) + residual
        return grid, still_weight

    def candidate_logits(self, source: torch.Tensor, upsampled: torch.Tensor) -> torch.Tensor:
        """(B, K, H, W) the candidates' logits on the source: the hourglass's (``upsampled`` to full size) refined
        by ``edge_logits`` from the source image and those logits."""
        return upsampled + self.edge_logits(torch.cat([source, upsampled], dim=1))


FACE_ELLIPSE_MARGIN = 0.05  # face_ellipse: grown by this fraction beyond the outline's farthest point
FACE_ELLIPSE_EDGE = 0.1  # and softened over this fraction of its radius


def face_ellipse(points: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """(B, H, W) in (0, 1): a soft ellipse over a face at the positions ``grid`` (B, H, W, 2), from its 68 iBUG
    ``points`` (B, 68, 2; the same normalised units). The ellipse has the second moments of the face's outline
    (the jaw, the brows, and the brows raised by the nose's height for the forehead) and passes
    :data:`FACE_ELLIPSE_MARGIN` beyond the outline's farthest point, so it holds the whole outline; it falls from
    1 to 0 over about :data:`FACE_ELLIPSE_EDGE` of its radius. A fixed function of the landmarks."""
    brows = points[:, list(lm.LEFT_BROW + lm.RIGHT_BROW)]
    up = points[:, lm.NOSE_BRIDGE[0]] - points[:, lm.NOSE_BASE[2]]
    outline = torch.cat([points[:, list(lm.JAW)], brows, brows + up[:, None]], dim=1).detach().float()
    centre = outline.mean(1, keepdim=True)
    spread = outline - centre
    covariance = spread.transpose(1, 2) @ spread / outline.shape[1] + 1e-6 * torch.eye(2, device=points.device)
    inverse = torch.linalg.inv(covariance)

    def radius(offset: torch.Tensor) -> torch.Tensor:  # Mahalanobis radius of (B, N, 2) offsets from the centre
        return (offset @ inverse * offset).sum(-1).clamp(min=0).sqrt()

    edge = radius(spread).amax(1, keepdim=True) * (1 + FACE_ELLIPSE_MARGIN)  # (B, 1)
    inside = torch.sigmoid((edge - radius(grid.flatten(1, 2).float() - centre)) / (FACE_ELLIPSE_EDGE * edge / 4))
    return inside.view(grid.shape[:3]).to(grid.dtype)


def logits_where_sampled(logits: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """(B, K, H, W): each candidate's logit map (B, K, H, W, on the source) read at the source position
    that candidate samples for each driving pixel (``positions``, B, K, H, W, 2, normalised). The identity
    candidate reads its own pixel; the head's motions read where they bring the pixel from."""
    batch, count, height, width = logits.shape
    read = F.grid_sample(logits.reshape(batch * count, 1, height, width),
                         positions.reshape(batch * count, height, width, 2).to(logits.dtype),
                         mode="bilinear", padding_mode="border", align_corners=False)
    return read.view(batch, count, height, width)


class LocalBranch(nn.Module):
    """M_Li: a crop of the source around its region, only that region's landmarks; a motion map and a mask.

    The crop is ``crop`` pixels square, centred on the region's landmark centre. The
    returned map is in the crop's own coordinates; :func:`paste_local` shifts and scales
    it into image coordinates. With ``motion="spline"`` (the default) the hourglass's
    offsets are added to the thin-plate spline fitted from the region's driving to its
    source landmarks (pupils included: the gaze), which carries every one of them home;
    with ``motion="offsets"`` (the paper-literal variant) they are added to the identity.
    """

    def __init__(self, region: str, crop: int, block_expansion: int, max_features: int, num_blocks: int,
                 adain: bool, add_motion: bool, num_landmarks: int = lm.NUM_LANDMARKS, motion: str = "spline"):
        super().__init__()
        if motion not in LOCAL_MOTIONS:
            raise ValueError(f"local motion must be one of {', '.join(LOCAL_MOTIONS)}, got {motion!r}")
        self.region = [i for i in lm.REGIONS[region] if i < num_landmarks]  # 68 points: no pupils, no iris
        self.crop, self.motion = crop, motion
        self.net = LandmarkHourglass(3, 3, crop, 2 * len(self.region), block_expansion, max_features,
                                     num_blocks, adain, add_motion)
        with torch.no_grad():
            self.net.out.bias[2] = MASK_LOGIT_INIT[motion]

    def _points(self, landmarks: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The region's centre (normalised image units) and its points relative to the crop, flattened."""
        half = self.crop / size  # half the crop side, in normalised image units
        points = to_normalised(landmarks[:, self.region], size, size)
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
        if self.motion == "spline":
            batch = len(out)
            local_grid = spline_positions(d_local.view(batch, -1, 2), s_local.view(batch, -1, 2), local_grid)
        local_grid = local_grid + out[:, :2].permute(0, 2, 3, 1)
        mask = torch.sigmoid(out[:, 2:3])
        return local_grid, mask, s_centre, d_centre, half


def _crop_grid(centre: torch.Tensor, half: float, crop: int) -> torch.Tensor:
    """Sampling grid of a crop x crop patch centred on ``centre`` (normalised), half side ``half``."""
    base = identity_grid(len(centre), crop, crop, centre.device, centre.dtype)
    return centre[:, None, None, :] + half * base


def crop_window(inside: torch.Tensor) -> torch.Tensor:
    """(B, H, W): the fixed window of a crop at positions ``inside`` (B, H, W, 2) in the crop's coordinates
    ([-1, 1] across it): 1 within :data:`WINDOW_FLAT` of its centre, a cos^2 fall to 0 at its border, 0 beyond.
    It is continuous everywhere, so a mask multiplied by it is zero on and outside the crop's border."""
    t = ((inside.abs() - WINDOW_FLAT) / (1 - WINDOW_FLAT)).clamp(0, 1)
    return torch.sin((1 - t) * (math.pi / 2)).pow(2).prod(-1)  # = cos^2(t pi / 2), exactly 0 at t = 1


def paste_local(local_grid: torch.Tensor, mask: torch.Tensor, s_centre: torch.Tensor, d_centre: torch.Tensor,
                half: float, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """f^_Li and the windowed m_Li in image coordinates: (B, H, W, 2) and (B, H, W).

    The local map is shifted and scaled into image coordinates (f^_L = s_centre + half * f_L)
    and placed at the driving crop r_Li (centred on d_centre, half side ``half``).
    """
    image = identity_grid(len(local_grid), height, width, local_grid.device, local_grid.dtype)
    inside = (image - d_centre[:, None, None, :]) / half  # where each image pixel falls in the driving crop
    shifted = s_centre[:, None, None, :] + half * local_grid  # f^_L: crop coordinates -> image coordinates
    local_in_image = F.grid_sample(shifted.permute(0, 3, 1, 2), inside, mode="bilinear", padding_mode="border",
                                   align_corners=False).permute(0, 2, 3, 1)
    m = F.grid_sample(mask, inside, mode="bilinear", padding_mode="border", align_corners=False)[:, 0]
    return local_in_image, m * crop_window(inside)


def fuse(global_grid: torch.Tensor, local_grids: list[torch.Tensor], masks: list[torch.Tensor]
         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. (3) for every crop at once: ``F = f_G (1 - sum_i m_i) + sum_i m_i f^_Li``; outside the crops F = f_G.

    With one crop this is Eq. (3) as written. Where crops overlap (the two eyes) and their
    masks add up to more than 1, each is divided by their sum, so F stays a convex
    combination and does not depend on the order of the branches. Returns F and the
    masks as used (B, R, H, W).
    """
    if not masks:
        return global_grid, global_grid.new_zeros(len(global_grid), 0, *global_grid.shape[1:3])
    m = torch.stack(masks, dim=1)  # (B, R, H, W)
    m = m / m.sum(1, keepdim=True).clamp(min=1)
    moves = torch.stack([local - global_grid for local in local_grids], dim=1)  # (B, R, H, W, 2)
    return global_grid + (m[..., None] * moves).sum(1), m


class DenseMotionGenerator(nn.Module):
    """F^k from (S_I, S_lm, D_lm): the global branch, optionally refined by the three local branches.

    Landmarks come in s2d's 74-point order; a generator built for ``num_landmarks=68`` reads
    the 68 iBUG points only (Table 5's models, trained on 68-point detectors).
    """

    def __init__(self, size: int, num_landmarks: int, block_expansion: int, max_features: int, motion_blocks: int,
                 motion_scale: float, local_crop: int, adain: bool, add_motion: bool, local_branches: bool,
                 global_motion: str = "candidates", local_motion: str = "spline", face_prior: float = 0.0):
        super().__init__()
        self.num_landmarks = num_landmarks
        self.global_branch = GlobalBranch(size, num_landmarks, motion_scale, block_expansion, max_features,
                                          motion_blocks, adain, add_motion, global_motion, face_prior)
        crop = max(8, round(local_crop * size / 256))
        local_blocks = max(1, min(3, crop.bit_length() - 4))  # 16 px -> 1 level, 64 px -> 3 levels
        self.local_branches = nn.ModuleList(
            LocalBranch(region, crop, max(8, block_expansion // 2), max_features // 2, local_blocks, adain,
                        add_motion, num_landmarks, local_motion)
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
        global_grid, still_weight = self.global_branch(source, source_lm, driving_lm, code[0])
        batch, (height, width) = len(driving_lm), source.shape[-2:]
        boxes = source.new_zeros(batch, len(REGION_ORDER), 3)
        local_grids, masks = [], []
        for i, branch in enumerate(self.local_branches or []):
            local_grid, mask, s_centre, d_centre, half = branch(source, source_lm, driving_lm, code[i + 1])
            pasted, m = paste_local(local_grid, mask, s_centre, d_centre, half, height, width)
            local_grids.append(pasted)
            masks.append(m)
            boxes[:, i, :2], boxes[:, i, 2] = d_centre, half
        grid, used = fuse(global_grid, local_grids, masks)
        pasted_masks = source.new_zeros(batch, len(REGION_ORDER), height, width)
        pasted_masks[:, : used.shape[1]] = used
        pasted_grids = torch.stack(local_grids or [global_grid] * len(REGION_ORDER), dim=1)
        return DenseMotion(grid=grid, global_grid=global_grid, still_weight=still_weight, local_masks=pasted_masks,
                           local_boxes=boxes, local_grids=pasted_grids)
