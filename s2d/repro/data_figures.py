"""Figures of a dataset: identities with landmarks and parsing overlaid, and animated clips."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import matplotlib.pyplot as plt
import numpy as np

from s2d import landmarks as lm
from s2d.data import format as fmt
from s2d.io import atomic_path

# one colour per parsing label (background is left transparent)
PARSING_COLOURS = np.array(
    [[0, 0, 0], [255, 205, 148], [120, 70, 20], [60, 40, 20], [255, 255, 255], [40, 120, 255],
     [255, 140, 0], [220, 20, 60], [90, 0, 90]], np.uint8,
)
REGION_COLOURS = {"left_eye_brow": "cyan", "right_eye_brow": "lime", "mouth": "magenta"}


def parsing_overlay(frame: np.ndarray, parsing: np.ndarray, alpha: float = 0.55) -> np.ndarray:
    """Blend the colour-coded parsing map over the frame (background untouched)."""
    colours = PARSING_COLOURS[parsing].astype(np.float32)
    mask = (parsing > 0)[..., None] * alpha
    return (frame * (1 - mask) + colours * mask).astype(np.uint8)


def draw_landmarks(ax, landmarks: np.ndarray, visible: np.ndarray | None = None, size: float = 3.0) -> None:
    """Scatter the 74 landmarks, coloured by local-branch region; hidden points hollow."""
    visible = np.ones(len(landmarks), bool) if visible is None else visible
    colours = np.array(["yellow"] * len(landmarks), dtype=object)
    for region, idx in lm.REGIONS.items():
        colours[list(idx)] = REGION_COLOURS[region]
    ax.scatter(*landmarks[visible].T, s=size, c=list(colours[visible]), linewidths=0)
    ax.scatter(*landmarks[~visible].T, s=size, facecolors="none", edgecolors=list(colours[~visible]),
               linewidths=0.4)


def identities_figure(root: str | Path, out: str | Path, identities: int = 16, frames: int = 4,
                  split: str = "train") -> Path:
    """Save a figure: rows of identities (pairs of frame + landmarks, parsing overlay) at ``frames`` times."""
    root = Path(root)
    ids = fmt.video_ids(root, split)
    seen, chosen = set(), []
    for vid in ids:
        who = str(fmt.read_annotations(root, split, vid)["identity"])
        if who not in seen:
            seen.add(who)
            chosen.append(vid)
        if len(chosen) == identities:
            break
    fig, axes = plt.subplots(len(chosen), 2 * frames, figsize=(2 * frames * 1.1, len(chosen) * 1.1), squeeze=False)
    for row, vid in zip(axes, chosen):
        ann = fmt.read_annotations(root, split, vid)
        n = len(ann["landmarks"])
        times = np.linspace(0, n - 1, frames).round().astype(int).tolist()
        images = fmt.read_frames(root, split, vid, times)
        parsing = fmt.read_parsing(root, split, vid, times)
        for k, t in enumerate(times):
            row[2 * k].imshow(images[k])
            draw_landmarks(row[2 * k], ann["landmarks"][t], ann["visible"][t], size=40 / len(chosen))
            row[2 * k + 1].imshow(images[k] if parsing is None else parsing_overlay(images[k], parsing[k]))
        row[0].set_ylabel(vid, fontsize=5)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.subplots_adjust(0.02, 0.01, 0.99, 0.99, wspace=0.03, hspace=0.03)
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=100, format=out.suffix.lstrip("."))
    plt.close(fig)
    return out


def clip_gif(root: str | Path, video_id: str, out: str | Path, split: str = "train", scale: int = 2) -> Path:
    """Save an animated GIF of one video beside its parsing map, enlarged ``scale`` times."""
    frames = fmt.read_frames(root, split, video_id)
    parsing = fmt.read_parsing(root, split, video_id)
    panels = frames if parsing is None else np.concatenate(
        [frames, np.stack([parsing_overlay(f, p) for f, p in zip(frames, parsing)])], axis=2)
    panels = panels.repeat(scale, axis=1).repeat(scale, axis=2)
    meta = fmt.read_meta(root)
    out = Path(out)
    with atomic_path(out) as tmp:
        iio.imwrite(tmp, panels, extension=".gif", duration=1000 / meta.get("fps", 25), loop=0)
    return out


MOTION_PANELS = (("pose", 0, "yaw (deg)"), ("pose", 1, "pitch (deg)"), ("pose", 2, "roll (deg)"),
                 ("gaze", 0, "gaze x"), ("gaze", 1, "gaze y"), ("blink", None, "blink"),
                 ("mouth_open", None, "mouth open"))


def motion_histograms(roots: dict[str, str | Path], out: str | Path, split: str = "train") -> Path:
    """Save histograms of the ground-truth motion over every ``split`` frame, one colour per dataset."""
    fig, axes = plt.subplots(1, len(MOTION_PANELS), figsize=(2.0 * len(MOTION_PANELS), 1.9))
    for name, root in roots.items():
        annotations = [fmt.read_annotations(root, split, v) for v in fmt.video_ids(root, split)]
        for ax, (key, column, label) in zip(axes, MOTION_PANELS):
            values = np.concatenate([a[key] if column is None else a[key][:, column] for a in annotations])
            ax.hist(values, bins=30, alpha=0.55, density=True, label=name)
            ax.set_xlabel(label, fontsize=8)
            ax.set_yticks([])
            ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7)
    fig.tight_layout(pad=0.3)
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=100, format=out.suffix.lstrip("."))
    plt.close(fig)
    return out
