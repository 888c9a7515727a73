"""Machine reference timings for ``make bench``.

Absolute times on shared machines are noisy, so every benchmark of s2d is
reported beside reference numbers measured in the same process: here, a dense
3x3 convolution (64 -> 64 channels, the width of the paper's generators) at
the three resolutions the profiles use.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch
import torch.utils.benchmark as benchmark
from tqdm.auto import tqdm

from s2d.config import ARCHITECTURES, PROFILES, load_config
from s2d.io import atomic_path
from s2d.runtime import environment, pick_device

RESOLUTIONS = (64, 128, 256)
BATCHES = (1, 8)
CHANNELS = 64


def conv_reference(device: torch.device, min_run_time: float = 0.5) -> pd.DataFrame:
    """Time one 3x3 convolution forward at each resolution and batch size."""
    conv = torch.nn.Conv2d(CHANNELS, CHANNELS, 3, padding=1).to(device).eval()
    rows = []
    cases = [(r, b) for r in RESOLUTIONS for b in BATCHES]
    for resolution, batch in tqdm(cases, desc="conv reference"):
        x = torch.randn(batch, CHANNELS, resolution, resolution, device=device)
        with torch.inference_mode():
            timer = benchmark.Timer("conv(x)", globals={"conv": conv, "x": x})
            measurement = timer.blocked_autorange(min_run_time=min_run_time)
        flops = 2 * CHANNELS * CHANNELS * 9 * resolution * resolution * batch
        rows.append(
            {
                "benchmark": "conv3x3_64ch",
                "device": str(device),
                "resolution": resolution,
                "batch": batch,
                "median_ms": measurement.median * 1e3,
                "iqr_ms": measurement.iqr * 1e3,
                "gflops_per_s": flops / measurement.median / 1e9,
            }
        )
    return pd.DataFrame(rows)


def model_cost(profile: str, architecture: str = "s2d") -> dict[str, float]:
    """Parameters and forward FLOPs per generated frame of a profile's model: S2D, or the ``first-order`` or
    ``monkey-net`` baseline at the same widths. A baseline's frame counts one forward: the keypoints of
    the source and of the driving frame, the dense motion and the generator."""
    from torch.utils.flop_counter import FlopCounterMode

    from s2d.baselines import build_model

    config = load_config(profile, [f"model.architecture={architecture}"])
    model = build_model(config).eval()
    size = config.data.resolution
    image = torch.rand(1, 3, size, size)
    points = size * (0.3 + 0.4 * torch.rand(1, config.data.num_landmarks, 2))
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model(image, points, points) if architecture == "s2d" else model(image, torch.rand(1, 3, size, size))
    detector = getattr(model, "keypoint_detector", None)
    return {
        "model": architecture,
        "profile": profile,
        "resolution": size,
        "parameters": sum(p.numel() for p in model.parameters()),
        "keypoint_detector_parameters": sum(p.numel() for p in detector.parameters()) if detector is not None else 0,
        "dense_motion_parameters": sum(p.numel() for p in model.dense_motion.parameters()),
        "generator_parameters": sum(p.numel() for p in model.generator.parameters()),
        "gflops_per_frame": counter.get_total_flops() / 1e9,
    }


def animate_throughput(resolutions: tuple[int, ...] = RESOLUTIONS, frames: int = 32, batch: int = 16,
                       profile: str = "cpu", min_run_time: float = 1.0) -> pd.DataFrame:
    """Frames per second of S2D's generation (what ``s2d animate`` runs per driving frame) at each resolution.

    The ``profile``'s architecture at each resolution, random weights (the time does not depend on them),
    ``frames`` driving frames in batches of ``batch`` and of 1, under ``torch.inference_mode``.
    """
    from s2d.models.s2d import S2DModel

    device = pick_device()
    rows = []
    for size in tqdm(resolutions, desc="animate throughput"):
        config = load_config(profile, [f"data.resolution={size}"])
        torch.manual_seed(0)
        model = S2DModel(config).to(device).eval()
        source = torch.rand(1, 3, size, size, device=device)
        points = size * (0.3 + 0.4 * torch.rand(1, config.data.num_landmarks, 2, device=device))
        for per_call in (1, batch):
            def generate():
                for _ in range(frames // per_call):
                    model.animate(source.expand(per_call, -1, -1, -1), points.expand(per_call, -1, -1),
                                  points.expand(per_call, -1, -1) + 1.0)

            measurement = benchmark.Timer("generate()", globals={"generate": generate}).blocked_autorange(
                min_run_time=min_run_time)
            rows.append({"benchmark": "s2d_generate", "profile": profile, "device": str(device), "resolution": size,
                         "batch": per_call, "frames_per_s": frames // per_call * per_call / measurement.median})
    return pd.DataFrame(rows)


def run(out_dir: str | Path) -> list[Path]:
    """Write ``machine.csv`` (reference timings plus the environment), ``models.csv`` (parameters and FLOPs)
    and ``animate.csv`` (S2D's generation throughput) into ``out_dir``."""
    device = pick_device()
    table = conv_reference(device)
    for key, value in environment().items():
        table[key] = value
    machine = Path(out_dir) / "machine.csv"
    with atomic_path(machine) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4g")
    models = Path(out_dir) / "models.csv"
    with atomic_path(models) as tmp:
        rows = [model_cost(p, a) for p in PROFILES for a in ARCHITECTURES]
        pd.DataFrame(rows).to_csv(tmp, index=False, float_format="%.4g")
    animate = Path(out_dir) / "animate.csv"
    with atomic_path(animate) as tmp:
        animate_throughput().to_csv(tmp, index=False, float_format="%.4g")
    return [machine, models, animate]
