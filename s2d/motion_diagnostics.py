"""Does the dense motion generator move the face? Measured on held-out videos.

Every quantity is in pixels of the model's frames unless it is a ratio, and every one
is computed for the same-identity protocol: the first frame of a test video is the
source, its later frames (every ``frame_stride``-th) give the driving landmarks.

- ``global_transfer_px`` / ``fused_transfer_px``: the landmark-transfer error of the
  global map f_G and of the fused map F (Eq. (3)): ``mean_j |f(D_j) - S_j|``, how far the
  point a map samples for each driving landmark D_j lands from the source landmark S_j
  it should sample. ``identity_transfer_px`` is the identity warp's error: the
  landmarks' own displacement ``mean_j |D_j - S_j|``. ``pupil_transfer_px``: the fused
  map's error on the two pupils alone (the gaze, Fig. 2 and 5), beside
  ``pupil_identity_px``, how far the pupils move; NaN for 68-point models.
- ``head_flow_ratio``: the mean displacement of f_G over the head (pixels that are not
  background in the driving frame's parsing map) divided by the landmarks' mean
  displacement: about 1 when the map moves the head as far as its landmarks move.
- ``background_flow_px``: the mean displacement of f_G where both the source and the
  driving frame show the (static) background; it should stay near 0.
  ``far_background_flow_px``: the same more than :data:`s2d.losses.NEAR_HEAD_PX` pixels from the
  head in both frames. Next to the head the backward warp samples background whether
  or not it moves (the head has moved away), so the losses hardly see motion there.
- ``uncovered_background``: on the strip the head uncovers (head in the source, background
  in the driving frame), the share of what the fused map F samples that is the source's
  background (its parsing, sampled bilinearly): 1 when the strip shows the background
  behind the source's head, as it should; lower where it samples the source's head, whose
  edge then stays in the frame where the head was (a ghost). ``covered_head``: the same on
  the strip the head moves onto (background in the source, head in the driving frame), the
  share that is the source's head: lower where the head's leading edge shows the source's
  background (the head cut by what stood behind it).
- ``mask_ring``: the local masks m_Li on each crop's outer ring (the image pixels within
  one pixel of a crop's border, inside it), averaged over the crops.
- ``border_jump_px``: on the same ring, what the crop adds to the fused map,
  ``m_Li |f^_Li - f_G|``. Just outside the crop it adds nothing (Eq. (3)), so this is the
  jump of the fused map across the crop's border (where the eye crops overlap, the other
  crop's share is not counted: it is continuous there).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from s2d import landmarks as lm
from s2d.data import format as fmt
from s2d.data.loaders import VideoFrames
from s2d.geometry import identity_grid, to_normalised, to_pixels
from s2d.losses import near_head
from s2d.models.dense_motion import DenseMotion

PUPILS = list(lm.PUPILS)  # a list: it indexes the landmark tensors
COLUMNS = ("identity_transfer_px", "global_transfer_px", "fused_transfer_px", "pupil_identity_px",
           "pupil_transfer_px", "head_flow_ratio", "background_flow_px", "far_background_flow_px",
           "uncovered_background", "covered_head", "mask_ring", "border_jump_px")


def sampled_at(grid: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """The map's sampling positions (pixels) at ``points`` (B, N, 2) in pixels of the driving frame."""
    size = grid.shape[1]
    where = to_normalised(points, size, size)[:, :, None, :]
    values = F.grid_sample(grid.permute(0, 3, 1, 2), where, mode="bilinear", padding_mode="border",
                           align_corners=False)  # (B, 2, N, 1)
    return to_pixels(values[..., 0].transpose(1, 2), size, size)


def transfer_error(grid: torch.Tensor, source_lm: torch.Tensor, driving_lm: torch.Tensor) -> torch.Tensor:
    """Per frame, ``mean_j |f(D_j) - S_j|`` in pixels: 0 when the map carries every landmark home."""
    return (sampled_at(grid, driving_lm) - source_lm).norm(dim=-1).mean(-1)


def displacement(grid: torch.Tensor) -> torch.Tensor:
    """(B, H, W): how far each pixel's sampling position is from the pixel itself, in pixels."""
    batch, height, width, _ = grid.shape
    still = identity_grid(batch, height, width, grid.device, grid.dtype)
    return (grid - still).norm(dim=-1) * width / 2


def crop_rings(boxes: torch.Tensor, size: int) -> torch.Tensor:
    """(B, R, H, W) bool: the image pixels inside each crop box (centre x, y, half side, normalised)
    within one pixel of its border."""
    batch = len(boxes)
    image = identity_grid(batch, size, size, boxes.device, boxes.dtype)  # (B, H, W, 2)
    offset = (image[:, None] - boxes[:, :, None, None, :2]).abs().amax(-1)  # (B, R, H, W), normalised
    half = boxes[:, :, 2, None, None]
    return (offset <= half) & (offset >= half - 2 / size)


def frame_diagnostics(motion: DenseMotion, source_lm: torch.Tensor, driving_lm: torch.Tensor,
                      source_parsing: torch.Tensor | None = None,
                      driving_parsing: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Per-frame sums behind :data:`COLUMNS` for one batch of driving frames (see the module's text)."""
    size = motion.grid.shape[1]
    out = {
        "identity_transfer_px": (driving_lm - source_lm).norm(dim=-1).mean(-1),
        "global_transfer_px": transfer_error(motion.global_grid, source_lm, driving_lm),
        "fused_transfer_px": transfer_error(motion.grid, source_lm, driving_lm),
    }
    if source_lm.shape[1] > max(PUPILS):
        out["pupil_identity_px"] = (driving_lm[:, PUPILS] - source_lm[:, PUPILS]).norm(dim=-1).mean(-1)
        out["pupil_transfer_px"] = transfer_error(motion.grid, source_lm[:, PUPILS], driving_lm[:, PUPILS])
    moved = displacement(motion.global_grid)
    if driving_parsing is not None:
        head = driving_parsing != fmt.BACKGROUND
        out["head_flow_px"] = (moved * head).sum((1, 2)) / head.sum((1, 2)).clamp(min=1)
        if source_parsing is not None:
            still = ~head & (source_parsing == fmt.BACKGROUND)
            far = ~near_head(source_parsing, driving_parsing)
            for key, where in (("background_flow_px", still), ("far_background_flow_px", far)):
                out[key] = (moved * where).sum((1, 2)) / where.sum((1, 2)).clamp(min=1)
            uncovered = ~head & (source_parsing != fmt.BACKGROUND)
            background = (source_parsing == fmt.BACKGROUND).to(motion.grid.dtype)[:, None]
            shown = F.grid_sample(background, motion.grid, mode="bilinear", padding_mode="border",
                                  align_corners=False)[:, 0]
            covered = head & (source_parsing == fmt.BACKGROUND)
            for key, strip, share in (("uncovered", uncovered, shown), ("covered", covered, 1 - shown)):
                out[f"{key}_share_sum"], out[f"{key}_pixels"] = (share * strip).sum((1, 2)), strip.sum((1, 2))
    if motion.local_boxes[..., 2].gt(0).any():  # the model has local branches (their boxes have a size)
        ring = crop_rings(motion.local_boxes, size)  # (B, R, H, W)
        count = ring.sum((2, 3)).clamp(min=1)
        out["mask_ring"] = ((motion.local_masks * ring).sum((2, 3)) / count).mean(1)
        jump = motion.local_masks * (motion.local_grids - motion.global_grid[:, None]).norm(dim=-1) * size / 2
        out["border_jump_px"] = ((jump * ring).sum((2, 3)) / count).mean(1)
    return out


@torch.inference_mode()
def video_diagnostics(model, root: str | Path, video: str, split: str = "test", frame_stride: int = 1,
                      batch_size: int = 16, device: torch.device | str = "cpu") -> dict[str, float]:
    """:data:`COLUMNS` for one held-out video: its first frame driven by every ``frame_stride``-th later frame."""
    frames = VideoFrames(root, split, video)
    indices = list(range(1, len(frames), frame_stride))
    source = frames[0]
    image = source["image"][None].to(device)
    source_lm = source["landmarks"][None].to(device)
    code = model.encode(image, source_lm)
    sums: dict[str, list[torch.Tensor]] = {}
    for start in range(0, len(indices), batch_size):
        chunk = [frames[i] for i in indices[start:start + batch_size]]
        driving_lm = torch.stack([c["landmarks"] for c in chunk]).to(device)
        n = len(chunk)
        motion = model.dense_motion(image.expand(n, -1, -1, -1), source_lm.expand(n, -1, -1), driving_lm, code)
        parsing = [c.get("parsing") for c in chunk]
        driving_parsing = torch.stack(parsing).to(device) if all(p is not None for p in parsing) else None
        source_parsing = source.get("parsing")
        source_parsing = None if source_parsing is None else source_parsing[None].to(device).expand(n, -1, -1)
        points = model.dense_motion.num_landmarks
        for key, value in frame_diagnostics(motion, source_lm[:, :points].expand(n, -1, -1), driving_lm[:, :points],
                                            source_parsing, driving_parsing).items():
            sums.setdefault(key, []).append(value.float().cpu())
    values = {key: torch.cat(v) for key, v in sums.items()}
    row = {key: float(values[key].mean()) for key in COLUMNS if key in values and key != "head_flow_ratio"}
    if "head_flow_px" in values:  # a ratio of means: the frames that barely move do not blow it up
        row["head_flow_ratio"] = float(values["head_flow_px"].mean() / values["identity_transfer_px"].mean())
    for key, strip in (("uncovered_background", "uncovered"), ("covered_head", "covered")):  # over the strip's pixels
        if f"{strip}_pixels" in values and values[f"{strip}_pixels"].sum() > 0:
            row[key] = float(values[f"{strip}_share_sum"].sum() / values[f"{strip}_pixels"].sum())
    return {key: row.get(key, np.nan) for key in COLUMNS}


def motion_diagnostics(model, root: str | Path, split: str = "test", videos: int = 0, frame_stride: int = 1,
                       batch_size: int = 16, device: torch.device | str = "cpu") -> pd.DataFrame:
    """:data:`COLUMNS` per held-out video (the first ``videos``; 0 = all), one row each."""
    model = model.to(device).eval()
    ids = fmt.video_ids(root, split)
    ids = ids[:videos] if videos else ids
    rows = {video: video_diagnostics(model, root, video, split, frame_stride, batch_size, device) for video in ids}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("video")
