"""Supervision-by-registration (SBR) for the landmark detector (Sec. 3.3, Table 5: FAN4+DSNT+SBR).

Dong et al. [12] ("Supervision-by-Registration: An Unsupervised Approach to
Improve the Precision of Facial Landmark Detectors", CVPR 2018) fine-tune a
detector on unlabelled video with a registration loss: the detections of frame
t, tracked into frame t+1 by Lucas-Kanade optical flow, should agree with the
detections of frame t+1. Points whose track is unreliable, judged by a
forward-backward check (track t -> t+1 -> t and measure the round-trip error),
are left out.

Here the tracker is OpenCV's pyramidal Lucas-Kanade (``cv2.calcOpticalFlowPyrLK``,
Bouguet's implementation), which is not differentiable: the tracked points are
fixed targets and gradients reach the network through the detections of frame
t+1 only (Dong et al. also back-propagate through the tracker into frame t).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

LK_CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01)


def _gray_uint8(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 3 and frame.shape[-1] == 3:
        frame = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    if frame.ndim != 2 or frame.dtype != np.uint8:
        raise ValueError(f"expected a uint8 frame (H, W) or (H, W, 3), got {frame.dtype} {frame.shape}")
    return frame


def track_points(frame_a: np.ndarray, frame_b: np.ndarray, points: np.ndarray, window: int = 15,
                 levels: int = 2, fb_threshold: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Track pixel ``points`` ``(N, 2)`` (x, y) from ``frame_a`` into ``frame_b`` with pyramidal Lucas-Kanade.

    Frames are uint8 RGB ``(H, W, 3)`` or grey ``(H, W)`` of the same size.
    ``window`` is the side of LK's search window and ``levels`` the number of
    pyramid levels above the image, both in pixels of these frames. Returns the
    tracked points ``(N, 2)`` float32 and ``valid`` ``(N,)`` bool: a point is
    valid when it starts and ends inside the frame, LK converged both ways, and
    tracking it back into ``frame_a`` lands within ``fb_threshold`` pixels of
    where it started (the forward-backward check).
    """
    a, b = _gray_uint8(frame_a), _gray_uint8(frame_b)
    if a.shape != b.shape:
        raise ValueError(f"frames differ in size: {a.shape} vs {b.shape}")
    pts = np.asarray(points, dtype=np.float32)
    if pts.ndim != 2 or pts.shape[-1] != 2:
        raise ValueError(f"expected points (N, 2), got {pts.shape}")
    if window < 3 or levels < 0 or fb_threshold <= 0:
        raise ValueError(f"need window >= 3, levels >= 0, fb_threshold > 0; got {window}, {levels}, {fb_threshold}")
    lk = dict(winSize=(window, window), maxLevel=levels, criteria=LK_CRITERIA)
    start = np.ascontiguousarray(pts.reshape(-1, 1, 2))
    forward, status_f, _ = cv2.calcOpticalFlowPyrLK(a, b, start, None, **lk)
    backward, status_b, _ = cv2.calcOpticalFlowPyrLK(b, a, forward, None, **lk)
    tracked = forward.reshape(-1, 2)
    round_trip = np.linalg.norm(backward.reshape(-1, 2) - pts, axis=-1)
    height, width = a.shape
    valid = (
        status_f.ravel().astype(bool) & status_b.ravel().astype(bool)
        & (round_trip <= fb_threshold)
        & _inside(pts, height, width) & _inside(tracked, height, width)
    )
    return tracked, valid


def _inside(points: np.ndarray, height: int, width: int) -> np.ndarray:
    return ((points[:, 0] >= 0) & (points[:, 0] <= width - 1)
            & (points[:, 1] >= 0) & (points[:, 1] <= height - 1))


def track_batch(frames_t: torch.Tensor, frames_next: torch.Tensor, points_t: torch.Tensor, window: int = 15,
                levels: int = 2, fb_threshold: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """SBR targets of a batch of consecutive frame pairs: :func:`track_points` for each pair.

    ``frames_t``, ``frames_next``: ``(B, 3, H, W)`` RGB in [0, 1]; ``points_t``:
    ``(B, L, 2)`` pixel (x, y) detections in ``frames_t``. Returns the tracked
    points ``(B, L, 2)`` (no gradient, on ``points_t``'s device and dtype) and
    ``valid`` ``(B, L)`` bool.
    """
    if frames_t.shape != frames_next.shape or frames_t.ndim != 4 or frames_t.shape[1] != 3:
        raise ValueError(f"expected two frame batches (B, 3, H, W) of one shape, "
                         f"got {tuple(frames_t.shape)} and {tuple(frames_next.shape)}")
    if points_t.ndim != 3 or points_t.shape[0] != frames_t.shape[0] or points_t.shape[-1] != 2:
        raise ValueError(f"expected points (B, L, 2) for {frames_t.shape[0]} frames, got {tuple(points_t.shape)}")

    def to_uint8(frames: torch.Tensor) -> np.ndarray:
        return frames.detach().mul(255).round().clamp(0, 255).byte().permute(0, 2, 3, 1).cpu().numpy()

    a, b = to_uint8(frames_t), to_uint8(frames_next)
    pts = points_t.detach().cpu().numpy()
    results = [track_points(a[i], b[i], pts[i], window, levels, fb_threshold) for i in range(len(a))]
    tracked = torch.from_numpy(np.stack([r[0] for r in results])).to(points_t.device, points_t.dtype)
    valid = torch.from_numpy(np.stack([r[1] for r in results])).to(points_t.device)
    return tracked, valid


def sbr_loss(detections: torch.Tensor, tracked: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """The registration loss: mean Euclidean distance of the detections of frame t+1 to the tracked points.

    ``detections`` and ``tracked`` are ``(B, L, 2)`` in the same coordinates,
    ``valid`` ``(B, L)`` bool (from the forward-backward check). ``tracked`` is a
    fixed target (detached); gradients flow through ``detections``. The mean runs
    over valid points; with none, the loss is 0 (still connected to ``detections``).
    """
    if detections.shape != tracked.shape or detections.ndim != 3 or detections.shape[-1] != 2:
        raise ValueError(f"expected detections and tracked points (B, L, 2) of one shape, "
                         f"got {tuple(detections.shape)} and {tuple(tracked.shape)}")
    if valid.shape != detections.shape[:2]:
        raise ValueError(f"valid must be (B, L) = {tuple(detections.shape[:2])}, got {tuple(valid.shape)}")
    distance = torch.linalg.vector_norm(detections - tracked.detach(), dim=-1)
    weight = valid.to(distance.dtype)
    return (distance * weight).sum() / weight.sum().clamp(min=1)
