"""Qualitative figures of a trained model, like the paper's Fig. 2 and 5."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch

from s2d.data.loaders import VideoFrames
from s2d.io import atomic_path
from s2d.models.dense_motion import identity_grid

ROWS = ("driving", "generated", "warped source", "motion (flow)", "generator mask M", "local masks")


def _flow_colours(offsets: np.ndarray) -> np.ndarray:
    """Optical-flow colouring of (H, W, 2) offsets: hue = direction, brightness = magnitude."""
    magnitude = np.linalg.norm(offsets, axis=-1)
    angle = (np.arctan2(offsets[..., 1], offsets[..., 0]) + np.pi) / (2 * np.pi)
    value = np.clip(magnitude / max(float(magnitude.max()), 1e-6), 0, 1)
    hsv = np.stack([angle, np.ones_like(angle), value], axis=-1)
    return matplotlib.colors.hsv_to_rgb(hsv)


@torch.inference_mode()
def qualitative_grid(model, root: str | Path, video: str, split: str = "test", frames: int = 5,
                     out: str | Path | None = None):
    """Source, then for ``frames`` driving frames: the frame, the generated frame, the warped source,
    the dense motion map, the generator's mask and the local branches' masks. Returns the figure."""
    data = VideoFrames(root, split, video)
    times = np.linspace(0, len(data) - 1, frames + 1).round().astype(int)[1:].tolist()
    source = data[0]
    driving = [data[t] for t in times]
    n = len(driving)
    device = next(model.parameters()).device
    out_ = model(source["image"][None].expand(n, -1, -1, -1).to(device),
                 source["landmarks"][None].expand(n, -1, -1).to(device),
                 torch.stack([d["landmarks"] for d in driving]).to(device))
    size = source["image"].shape[-1]
    offsets = (out_.motion.grid - identity_grid(n, size, size, device)).cpu().numpy() * size / 2  # pixels
    images = {
        "driving": torch.stack([d["image"] for d in driving]).permute(0, 2, 3, 1).numpy(),
        "generated": out_.prediction.permute(0, 2, 3, 1).cpu().numpy(),
        "warped source": out_.warped.permute(0, 2, 3, 1).cpu().numpy(),
        "motion (flow)": np.stack([_flow_colours(o) for o in offsets]),
        "generator mask M": out_.mask[:, 0].cpu().numpy(),
        "local masks": out_.motion.local_masks.sum(dim=1).clamp(0, 1).cpu().numpy(),
    }
    fig, axes = plt.subplots(len(ROWS), n + 1, figsize=(1.6 * (n + 1), 1.6 * len(ROWS)), squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_frame_on(False)
    axes[0, 0].imshow(source["image"].permute(1, 2, 0).numpy())
    axes[0, 0].set_title("source", fontsize=8)
    for r, name in enumerate(ROWS):
        axes[r, 1].set_ylabel(name, fontsize=7)
        for c in range(n):
            picture = images[name][c]
            axes[r, c + 1].imshow(picture, cmap="gray" if picture.ndim == 2 else None, vmin=0, vmax=1)
            if r == 0:
                axes[r, c + 1].set_title(f"frame {times[c]}", fontsize=8)
    fig.tight_layout(pad=0.3)
    if out is not None:
        out = Path(out)
        with atomic_path(out) as tmp:
            fig.savefig(tmp, dpi=110)
    plt.close(fig)  # returned, not left open: a notebook shows it once, as the cell's value
    return fig
