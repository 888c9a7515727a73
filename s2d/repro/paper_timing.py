"""What the ``paper`` profile costs on a GPU: steps/s and peak memory of its models, measured at reduced steps.

For S2D, the first-order model, Monkey-Net and the FAN4+DSNT+SBR detector at the paper's settings (256 px,
batch 40; the detector at batch 16), each is trained twice, for a few steps and for more, on a
prepared dataset; the difference of the two wall times over the difference of the steps is the
time per step without start-up. The paper's schedule (227,100 steps; the detector's 20,000) then
gives the hours per model. The perceptual loss uses the random-weight VGG-19 when ImageNet's
weights cannot be downloaded (it costs the same). The README's GPU estimates come from the record
this writes (``results/paper/timing.json``)::

    python -m s2d.repro.paper_timing --data data/real --out results/paper/timing.json
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from s2d.config import load_config
from s2d.io import write_json
from s2d.runtime import pick_device

DEFAULT_OVERRIDES = ["loss.perceptual_backbone=random", "train.num_workers=8"]
MODELS = {"s2d": [], "first_order": ["model.architecture=first-order"], "monkey_net": ["model.architecture=monkey-net"]}


def _peak_gb(device: torch.device) -> float:
    return round(torch.cuda.max_memory_allocated(device) / 1e9, 2) if device.type == "cuda" else float("nan")


def _timed(run, steps: tuple[int, int], device: torch.device) -> tuple[float, float]:
    """Seconds per step (without start-up) and start-up seconds of ``run(steps)``, and the peak memory."""
    seconds = []
    for count in steps:
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        start = time.perf_counter()
        run(count)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds.append(time.perf_counter() - start)
    per_step = (seconds[1] - seconds[0]) / (steps[1] - steps[0])
    return per_step, seconds[0] - steps[0] * per_step


def model_timing(name: str, data: Path, runs: Path, steps: tuple[int, int], overrides: list[str]) -> dict:
    from s2d.train import train

    paper = load_config("paper")
    device = pick_device(paper.device)

    def run(count: int) -> None:
        config = load_config("paper", [*MODELS[name], *overrides, f"train.steps={count}",
                                       "train.checkpoint_every=1000000"])
        train(config, data, runs / f"{name}-{count}", progress=False)

    per_step, startup = _timed(run, steps, device)
    config = load_config("paper", [*MODELS[name], *overrides])
    return {"batch": config.train.batch_size, "resolution": config.data.resolution, "steps_per_s": round(1 / per_step, 3),
            "startup_s": round(startup, 1), "peak_gpu_memory_gb": _peak_gb(device),
            "paper_steps": paper.train.steps, "paper_hours": round(paper.train.steps * per_step / 3600, 1)}


def detector_timing(data: Path, runs: Path, steps: tuple[int, int]) -> dict:
    from s2d.detector.train import train as train_detector

    paper = load_config("paper").detector
    device = pick_device()
    per_step, startup = _timed(lambda count: train_detector(replace(paper, steps=count), data,
                                                            runs / f"detector-{count}", progress=False), steps, device)
    return {"variant": paper.variant, "batch": paper.batch_size, "input": paper.input_size,
            "steps_per_s": round(1 / per_step, 3), "startup_s": round(startup, 1), "peak_gpu_memory_gb": _peak_gb(device),
            "paper_steps": paper.steps, "paper_hours": round(paper.steps * per_step / 3600, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m s2d.repro.paper_timing", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="a prepared dataset at 256 px (s2d data prepare --size 256)")
    parser.add_argument("--out", default="results/paper/timing.json", help="the record to write")
    parser.add_argument("--steps", type=int, nargs=2, default=(5, 25), metavar=("FEW", "MORE"),
                        help="the two step counts each model trains for (default: 5 25; the detector 2x as many)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a paper-profile override for the models (default: "
                             f"{' '.join(DEFAULT_OVERRIDES)}: the random-weight VGG-19, as offline, and 8 loaders)")
    args = parser.parse_args(argv)
    overrides = args.overrides or DEFAULT_OVERRIDES
    data, few, more = Path(args.data), *args.steps
    device = pick_device()
    record = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
              "torch": torch.__version__, "data": str(data), "overrides": overrides}
    with tempfile.TemporaryDirectory() as runs:
        for name in MODELS:
            record[name] = model_timing(name, data, Path(runs), (few, more), overrides)
            print(name, record[name], flush=True)
        record["detector"] = detector_timing(data, Path(runs), (2 * few, 2 * more + 10))
        print("detector", record["detector"], flush=True)
    write_json(args.out, record)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
