"""``make bench``: every measurement of :mod:`s2d.repro.bench` into CSV files (:func:`run`), and reading
them back for the book's benchmark page (:func:`load`, :func:`headline`, :func:`fast_path_speedup`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from s2d.config import ARCHITECTURES, PROFILES
from s2d.inference import EAGER, InferenceOptions
from s2d.io import atomic_path
from s2d.repro.bench import (
    END_TO_END,
    FOMM,
    BATCHES,
    FRAME_COUNTS,
    RESOLUTIONS,
    S2D,
    WIDTHS,
    compiled,
    conv_reference,
    latency,
    memory,
    model_cost,
    ratios,
    training,
    video_length,
)
from s2d.runtime import environment, pick_device


# ----------------------------------------------------------------------------- reading the results

BENCH_TABLES = ("machine", "models", "latency", "ratios", "memory", "training", "frames", "compiled")


def load(folder: str | Path) -> dict[str, pd.DataFrame]:
    """The CSV files of one ``make bench`` run (those present), by name."""
    folder = Path(folder)
    return {name: pd.read_csv(folder / f"{name}.csv") for name in BENCH_TABLES if (folder / f"{name}.csv").is_file()}


def headline(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """End to end, fast path: S2D's and FOMM's frames per second and their ratio per size and batch, with the
    compiled batch-1 rows when there are some."""
    ratio = tables["ratios"]
    rows = ratio[(ratio.stage == END_TO_END) & (ratio.path == "fast")].drop(columns="stage")
    if "compiled" in tables:
        compiled = tables["compiled"]
        compiled = compiled[compiled.stage == END_TO_END].pivot_table(
            index=["widths", "path", "device", "resolution", "batch"], columns="model", values="frames_per_s")
        compiled = compiled.rename(columns={S2D: "s2d_frames_per_s", FOMM: "first_order_frames_per_s"}).reset_index()
        compiled["s2d_over_first_order"] = compiled.s2d_frames_per_s / compiled.first_order_frames_per_s
        rows = pd.concat([rows, compiled], ignore_index=True)
    return rows.set_index(["widths", "path", "resolution", "batch"]).drop(columns="device")


def fast_path_speedup(latency: pd.DataFrame) -> pd.DataFrame:
    """Frames per second of the fast path over the model as trained (eager), end to end, per model, size, batch."""
    rows = latency[latency.stage == END_TO_END].pivot_table(index=["widths", "model", "resolution", "batch"],
                                                          columns="path", values="frames_per_s")
    return (rows["fast"] / rows["eager"]).rename("fast_over_eager").unstack("batch")


# ----------------------------------------------------------------------------- make bench


def _write(table: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.5g")
    return path


def run(out_dir: str | Path, device: str = "auto", compile: bool = False, quick: bool = False,
        widths: str = WIDTHS) -> list[Path]:
    """Every benchmark of the module docstring into ``out_dir`` (CSV files); ``quick``: 64 px only and fewer
    repetitions, to check that everything runs."""
    device = pick_device(device)
    out = Path(out_dir)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # for every path alike: cuDNN picks its fastest convolutions
    resolutions = (64,) if quick else RESOLUTIONS
    min_time = 0.05 if quick else 0.5
    paths = {"eager": EAGER, "fast": InferenceOptions()}
    written = []
    table = conv_reference(device, min_time, resolutions)
    for key, value in environment().items():
        table[key] = value
    written.append(_write(table, out / "machine.csv"))
    written.append(_write(pd.DataFrame([model_cost(p, a) for p in PROFILES for a in ARCHITECTURES]),
                          out / "models.csv"))
    times = latency(device, paths, resolutions, widths=widths, min_time=min_time)
    written.append(_write(times, out / "latency.csv"))
    written.append(_write(ratios(times), out / "ratios.csv"))
    written.append(_write(memory(device, resolutions, (1,) if quick else BATCHES, widths), out / "memory.csv"))
    written.append(_write(training(device, (64,) if quick else (64, 128), widths, steps=1 if quick else 3),
                          out / "training.csv"))
    written.append(_write(video_length(device, widths=widths, counts=(1, 4) if quick else FRAME_COUNTS),
                          out / "frames.csv"))
    if compile:
        written.append(_write(compiled(device, max(resolutions)), out / "compiled.csv"))
    return written
