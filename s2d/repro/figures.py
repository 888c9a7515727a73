"""Qualitative figures of a trained model: the paper's Fig. 1-style grid of what the model computes,
animated clips (GIF) of same- and cross-identity animation, and the gaze figure of Fig. 2 and 5; and the
figures of a run's numbers (the claims at a glance, the benchmarks)."""

from __future__ import annotations

import os
from pathlib import Path

import imageio.v3 as iio
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from s2d import landmarks as lm
from s2d.data.loaders import VideoFrames
from s2d.geometry import identity_grid
from s2d.io import atomic_path

ROWS = ("driving", "generated", "warped source", "motion (flow)", "generator mask M", "local masks")


BOOK_PAGES = Path("book/results")  # where make reproduce writes the executed notebooks


def _save(fig, out: str | Path) -> Path:
    """Write ``fig`` to ``out`` atomically and close it."""
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return out


def displayable(path: str | Path):
    """A saved figure for a notebook to display. Under ``results/`` (a ``make reproduce`` run, whose executed
    copies land in :data:`BOOK_PAGES`) it is linked, relative to the book's pages, so the page does not carry
    its bytes (animated clips run to megabytes); elsewhere it is embedded."""
    from IPython.display import Image, Markdown

    path = Path(path)
    if path.resolve().is_relative_to(Path("results").resolve()):
        return Markdown(f"![{path.stem}]({os.path.relpath(path.resolve(), BOOK_PAGES.resolve())})")
    return Image(filename=path)


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


def _uint8(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [0, 1] -> (B, H, W, 3) uint8."""
    return (images.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()


@torch.inference_mode()
def driven_clip(animate, root: str | Path, source_video: str, driving_video: str, split: str = "test",
          batch: int = 16) -> dict[str, np.ndarray]:
    """The first frame of ``source_video`` animated by every frame of ``driving_video`` (uint8 frames).

    The same video drives itself with its own landmarks (Table 1); another person's
    video drives it by relative motion (Table 2, :func:`s2d.evaluate.relative_landmarks`).
    A frame-driven animator (the keypoint baselines, :func:`s2d.baselines.animator`) gets the
    driving frames instead, and the first of them for relative motion.
    Returns ``source`` (H, W, 3), ``driving`` and ``generated`` (T, H, W, 3).
    """
    from s2d.evaluate import relative_landmarks

    source = VideoFrames(root, split, source_video)
    driving = VideoFrames(root, split, driving_video)
    first = source[0]
    real = torch.stack([driving[i]["image"] for i in range(len(driving))])
    wanted = driving.annotations["landmarks"]
    relative = source_video != driving_video
    if relative:
        wanted = relative_landmarks(source.annotations["landmarks"][0], wanted, wanted[0])
    wanted = torch.as_tensor(wanted, dtype=torch.float32)
    generated = []
    with torch.inference_mode():
        for start in range(0, len(wanted), batch):
            targets = wanted[start:start + batch]
            n = len(targets)
            image = first["image"][None].expand(n, -1, -1, -1)
            if getattr(animate, "driven_by_frames", False):
                out = animate(image, real[start:start + batch], real[:1].expand(n, -1, -1, -1) if relative else None)
            else:
                out = animate(image, first["landmarks"][None].expand(n, -1, -1), targets)
            generated.append(_uint8(out))
    return {"source": _uint8(first["image"][None])[0], "driving": _uint8(real), "generated": np.concatenate(generated)}


def animation_gif(panels: list[np.ndarray], out: str | Path, fps: float = 25, scale: int = 2,
                  stride: int = 1) -> Path:
    """Write panels side by side as an animated GIF; a panel is (T, H, W, 3) or one still (H, W, 3).

    ``stride`` keeps every stride-th frame at fps / stride, the same duration in a smaller file.
    """
    frames = max(len(p) for p in panels if p.ndim == 4)
    row = np.concatenate([p if p.ndim == 4 else np.repeat(p[None], frames, axis=0) for p in panels], axis=2)
    row = row[::stride].repeat(scale, axis=1).repeat(scale, axis=2)
    out = Path(out)
    with atomic_path(out) as tmp:
        iio.imwrite(tmp, row, extension=".gif", duration=1000 * stride / fps, loop=0)
    return out


def _eye_box(landmarks: np.ndarray, size: int, pad: float = 0.35) -> tuple[slice, slice]:
    points = landmarks[list(lm.LEFT_EYE_BROW + lm.RIGHT_EYE_BROW)]
    (x0, y0), (x1, y1) = points.min(0), points.max(0)
    px, py = pad * (x1 - x0), pad * (y1 - y0) + 2
    clip = lambda v: int(np.clip(round(v), 0, size))  # noqa: E731
    return slice(clip(y0 - py), clip(y1 + py)), slice(clip(x0 - px), clip(x1 + px))


@torch.inference_mode()
def annotated_gaze(annotations: dict[str, np.ndarray]) -> np.ndarray:
    """(T, 2) gaze of a video's frames: SynthTalk's ground truth, or, on real video, the pupils' mean offset from
    their eye's centre (between its corners) in eye widths, from the annotated landmarks."""
    if "gaze" in annotations:
        return annotations["gaze"]
    points = annotations["landmarks"]
    offsets = []
    for pupil, eye in ((lm.LEFT_PUPIL, lm.LEFT_EYE), (lm.RIGHT_PUPIL, lm.RIGHT_EYE)):
        outer, inner = eye[0], eye[3]  # the corners (iBUG 36, 39 and 42, 45)
        centre = (points[:, outer] + points[:, inner]) / 2
        width = np.linalg.norm(points[:, inner] - points[:, outer], axis=-1, keepdims=True)
        offsets.append((points[:, pupil] - centre) / np.maximum(width, 1e-6))
    return np.mean(offsets, axis=0)


def gaze_figure(models: dict[str, object], root: str | Path, split: str = "test", frames: int = 4,
                out: str | Path | None = None):
    """Like the paper's Fig. 2 and 5: driving frames with the largest gaze changes, and each model's result.

    The video and frames are chosen from the gaze (:func:`annotated_gaze`): the test
    video whose gaze moves most, and the frames at its gaze extremes. Each image is
    shown whole and, below it, its eye region enlarged. ``models`` maps a row label
    to an animator (``model.animate``).
    """
    from s2d.data import format as fmt

    videos = fmt.video_ids(root, split)
    gazes = {v: annotated_gaze(fmt.read_annotations(root, split, v)) for v in videos}
    video = max(videos, key=lambda v: float(np.ptp(gazes[v], axis=0).sum()))
    gaze = gazes[video]
    picks = {int(np.argmin(gaze[:, 0])), int(np.argmax(gaze[:, 0])), int(np.argmin(gaze[:, 1])),
             int(np.argmax(gaze[:, 1]))}
    times = sorted(picks)[:frames]
    data = VideoFrames(root, split, video, times)
    source, driving = VideoFrames(root, split, video)[0], [data[i] for i in range(len(data))]
    n = len(driving)
    targets = torch.stack([d["landmarks"] for d in driving])
    rows = {"driving": _uint8(torch.stack([d["image"] for d in driving]))}
    for label, animate in models.items():
        rows[label] = _uint8(animate(source["image"][None].expand(n, -1, -1, -1),
                                     source["landmarks"][None].expand(n, -1, -1), targets))
    size = source["image"].shape[-1]
    fig, axes = plt.subplots(2 * len(rows), n + 1, figsize=(1.5 * (n + 1), 1.5 * len(rows) * 1.45),
                             squeeze=False, gridspec_kw={"height_ratios": [1, 0.45] * len(rows)})
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_frame_on(False)
    axes[0, 0].imshow(_uint8(source["image"][None])[0])
    axes[0, 0].set_title("source", fontsize=8)
    for r, (label, images) in enumerate(rows.items()):
        axes[2 * r, 1].set_ylabel(label, fontsize=7)
        for c in range(n):
            box = _eye_box(driving[c]["landmarks"].numpy(), size)
            axes[2 * r, c + 1].imshow(images[c])
            axes[2 * r + 1, c + 1].imshow(images[c][box], interpolation="nearest")
            if r == 0:
                g = gaze[times[c]]
                axes[0, c + 1].set_title(f"frame {times[c]}\ngaze ({g[0]:+.2f}, {g[1]:+.2f})", fontsize=7)
    fig.tight_layout(pad=0.3)
    if out is not None:
        out = Path(out)
        with atomic_path(out) as tmp:
            fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return fig


def controls_figure(rows: dict[str, np.ndarray], out: str | Path, labels: dict[str, list[str]] | None = None) -> Path:
    """A grid: one row per control (:func:`s2d.explore.controls_grid`), the face at each value of its sweep."""
    names = list(rows)
    columns = max(len(r) for r in rows.values())
    # at least 2.2 in tall: a single row's label ("large pose and mouth") was clipped at 1.3 in
    fig, axes = plt.subplots(len(names), columns, figsize=(1.3 * columns + 1, max(1.3 * len(names), 2.2)),
                             squeeze=False)
    for i, name in enumerate(names):
        for j in range(columns):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j < len(rows[name]):
                ax.imshow(rows[name][j])
                if labels and name in labels:
                    ax.set_title(labels[name][j], fontsize=7)
        axes[i, 0].set_ylabel(name.replace("_", " "), fontsize=8)
    fig.tight_layout()
    return _save(fig, out)


def gallery_figure(animations: dict[str, object], out: str | Path, moments: int = 3) -> Path:
    """Photos animated by :func:`s2d.animate`: per row, the photo's face crop as the model saw it, then the
    photo with its animated face at ``moments`` evenly spaced frames (zoomed on the face's crop)."""
    fig, axes = plt.subplots(len(animations), moments + 1, figsize=(2.2 * (moments + 1), 2.3 * len(animations)),
                             squeeze=False)
    for row, (name, result) in zip(axes, animations.items()):
        x0, y0, side = result.box
        picks = np.linspace(0, len(result.frames) - 1, moments + 2).round().astype(int)[1:-1]
        panels = [result.source_face] + [result.frames[t][y0:y0 + side, x0:x0 + side] for t in picks]
        titles = [f"{name}: source face"] + [f"frame {t}" for t in picks]
        for ax, panel, title in zip(row, panels, titles):
            ax.imshow(panel)
            ax.set_title(title, fontsize=8)
            ax.axis("off")
    fig.tight_layout()
    return _save(fig, out)


def bench_figure(tables: dict, out: str | Path) -> Path:
    """``make bench``'s results (:func:`s2d.repro.bench_report.load`) in three panels: end-to-end frames per second against
    resolution (fast path, batch 1 and 8), the stages' time per frame at the largest size (batch 1), and
    frames per second against the length of the video."""
    latency, frames = tables["latency"], tables.get("frames")
    fast = latency[(latency.path == "fast") & (latency.widths == latency.widths.iloc[0])]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    colours = {"S2D": "tab:blue", "First-order": "tab:orange"}
    for (model, batch), rows in fast[fast.stage == "end to end"].groupby(["model", "batch"]):
        axes[0].plot(rows.resolution, rows.frames_per_s, "o-" if batch == 1 else "s--", color=colours[model],
                     label=f"{model}, batch {batch}")
    axes[0].set_xscale("log", base=2)
    axes[0].set(yscale="log", xlabel="resolution (px)", ylabel="frames / s", title="end to end, fast path")
    axes[0].set_xticks(sorted(fast.resolution.unique()), [str(r) for r in sorted(fast.resolution.unique())])
    axes[0].minorticks_off()
    axes[0].legend(fontsize=7)
    largest = fast[(fast.resolution == fast.resolution.max()) & (fast.batch == 1) & (fast.stage != "end to end")
                   & ~fast.stage.str.startswith("end to end")]
    labels = [f"{m}: {s}" for m, s in zip(largest.model, largest.stage)]
    axes[1].barh(labels, largest.ms_per_frame, color=[colours[m] for m in largest.model])
    axes[1].invert_yaxis()
    axes[1].set(xlabel="ms per frame", title=f"stages at {fast.resolution.max()} px, batch 1")
    axes[1].tick_params(axis="y", labelsize=7)
    if frames is not None:
        for model, rows in frames.groupby("model"):
            axes[2].plot(rows.frames, rows.frames_per_s, "o-", color=colours[model], label=model)
        axes[2].set(xscale="log", xlabel="frames in the video", ylabel="frames / s",
                    title=f"video length ({frames.resolution.iloc[0]} px)")
        axes[2].legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, out)


VERDICT_COLOURS = {"reproduced": "tab:green", "contradicted": "tab:red", "cannot tell": "tab:gray"}


def claims_figure(claims: pd.DataFrame, out: str | Path) -> Path:
    """The paper's claims at a glance (:mod:`s2d.repro.claims`): per claim, how much better the paper found its better
    row (diamond, relative to the other row) and how much better ours is (dot with its 95% paired interval,
    coloured by the verdict); right of 0 is the paper's direction. Claims we could not compute show the paper's
    diamond and "n/a"."""
    rows = claims.reset_index(drop=True)
    labels = [f"Table {t}, {m}: {c}" for t, m, c in zip(rows["table"], rows["metric"], rows["claim"])]
    fig, ax = plt.subplots(figsize=(10, 0.3 * len(rows) + 1.4))
    y = np.arange(len(rows))
    finite = rows[["gain_low", "gain_high", "paper_gain"]].to_numpy(float)
    reach = np.nanmax(np.abs(finite)) if np.isfinite(finite).any() else 0.1
    limit = 100 * min(max(reach * 1.1, 0.05), 1.0)  # percent; a gain beyond +-100% is clipped at the edge
    for i, row in rows.iterrows():
        ax.plot(np.clip(100 * row["paper_gain"], -limit, limit), i, "D", color="black", markersize=4)
        if np.isfinite(row["gain"]):
            low, high = (np.clip(100 * row[k], -limit, limit) for k in ("gain_low", "gain_high"))
            colour = VERDICT_COLOURS[row["verdict"]]
            ax.plot([low, high], [i, i], "-", color=colour, linewidth=2)
            ax.plot(np.clip(100 * row["gain"], -limit, limit), i, "o", color=colour, markersize=5)
        else:
            ax.text(-limit * 0.97, i, "n/a", va="center", fontsize=7, color="tab:gray")
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(y, labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(-limit, limit)
    ax.set_xlabel("better row's gain over the other, % of the other's value (right: the paper's direction)")
    handles = [plt.Line2D([], [], marker="D", color="black", linestyle="", label="paper")]
    handles += [plt.Line2D([], [], marker="o", color=c, label=f"ours: {v}") for v, c in VERDICT_COLOURS.items()]
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title("The paper's claims at a glance: ours with 95% paired intervals", fontsize=9)
    fig.tight_layout()
    return _save(fig, out)


def learning_curves_figure(curves: pd.DataFrame, out: str | Path, reference: str | None = None) -> Path:
    """Held-out L1 and AKD against training steps (:func:`s2d.repro.tables.learning_curves`), one line per method;
    ``reference`` (the copy baseline, which does not train) dashed."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    for ax, column, label in zip(axes, ("l1", "akd"), ("held-out L1", "held-out AKD (px)")):
        for method, curve in curves.groupby("method", sort=False):
            curve = curve.sort_values("step")
            style = dict(linestyle="--", color="black", linewidth=1) if method == reference else dict(marker="o",
                                                                                                     markersize=3)
            ax.plot(curve["step"], curve[column], label=method, **style)
        ax.set_xlabel("training step")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle("Learning curves: the same runs at the steps they kept (first seed, fixed subset of test videos)",
                 fontsize=9)
    fig.tight_layout()
    return _save(fig, out)
