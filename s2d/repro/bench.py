"""What ``make bench`` measures: speed, memory and cost of S2D against the first-order motion model, in one process.

Absolute times on shared machines are noisy, so the headline is the ratio of S2D to the
first-order model (FOMM) measured in the same run, beside a reference convolution of the
machine. What is measured (:func:`s2d.repro.bench_report.run` writes each as a table; every table also says
the device):

- ``latency.csv``: per-call and per-frame time and frames per second of each stage, at 64,
  128 and 256 px, batch 1 and 8, for the model as trained (``eager``) and the fast inference
  path (``fast``, :mod:`s2d.inference`; on CUDA in float16). S2D: the dense
  motion generator, the image generator (warp, Eq. (1), the
  generator and Eq. (2)), the model, the landmark detector (FAN + DSNT, :mod:`s2d.detector`),
  and end to end (detector + model: frames in, frames out); with MediaPipe installed, also
  end to end with MediaPipe's landmarks, what ``s2d animate`` runs. FOMM: its keypoint
  detector (on the driving frames; the source's keypoints are found once per video), dense
  motion, generator, and end to end. FLOPs per frame of each stage beside its time.
- ``compiled.csv`` (``--compile``): end to end at 256 px, batch 1, under ``torch.compile``
  (CUDA graphs on a GPU), for the profile's widths and the paper's.
- ``ratios.csv``: S2D's throughput over FOMM's, per stage that both have, size and batch.
- ``memory.csv``: how far memory rises while one end-to-end batch runs (CUDA: allocated
  memory; CPU: resident memory, Linux only).
- ``training.csv``: training steps per second (batch 8, the profile's losses).
- ``frames.csv``: time to animate a video of 1 to 64 frames, preparing the source included.
- ``machine.csv`` (a reference 3x3 convolution and the environment), ``models.csv``
  (parameters and FLOPs of each profile's models).

The networks have the ``cpu`` profile's widths at every size (random weights: the time does not
depend on them); the paper's widths, which need 256 px, are timed at 256 px (``widths`` column).
"""

from __future__ import annotations

import ctypes
import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.utils.benchmark as benchmark
from tqdm.auto import tqdm

from s2d.config import Config, load_config
from s2d.inference import InferenceOptions, KeypointFrames, S2DFrames, autocast, prepare

RESOLUTIONS = (64, 128, 256)
BATCHES = (1, 8)
CHANNELS = 64
WIDTHS = "cpu"  # the profile whose network widths are timed at every size
PAPER_SIZE = 256  # the paper's widths are timed here only (its motion hourglass needs 256 px)
FRAME_COUNTS = (1, 4, 16, 64)
S2D, FOMM = "S2D", "First-order"
END_TO_END = "end to end"


def conv_reference(device: torch.device, min_run_time: float = 0.5, resolutions=RESOLUTIONS) -> pd.DataFrame:
    """Time one 3x3 convolution forward at each resolution and batch size."""
    conv = torch.nn.Conv2d(CHANNELS, CHANNELS, 3, padding=1).to(device).eval()
    rows = []
    cases = [(r, b) for r in resolutions for b in BATCHES]
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


def model_cost(profile: str | Config, architecture: str = "s2d") -> dict[str, float]:
    """Parameters and forward FLOPs per generated frame of a profile's model (a profile's name or a loaded
    config): S2D, or the ``first-order`` or ``monkey-net`` baseline at the same widths. A baseline's frame
    counts one forward: the keypoints of the source and of the driving frame, the dense motion and the generator."""
    from dataclasses import replace

    from torch.utils.flop_counter import FlopCounterMode

    from s2d.models import build_model

    config = profile if isinstance(profile, Config) else load_config(profile)
    config = replace(config, model=replace(config.model, architecture=architecture))
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


# ----------------------------------------------------------------------------- the stages timed


def face_frames(size: int, count: int) -> np.ndarray:
    """``count`` copies of a real face (scikit-image's astronaut, cropped to her face) at ``size`` px, uint8."""
    import cv2
    from skimage import data

    face = data.astronaut()[20:260, 100:340]
    return np.repeat(cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA)[None], count, axis=0)


def _mediapipe_landmarks() -> Callable[[np.ndarray], np.ndarray] | None:
    """MediaPipe's landmarks of each frame (tracking, as ``s2d animate``), or None when it is not installed."""
    try:
        from s2d.data.extractors import MediaPipeExtractor

        extractor = MediaPipeExtractor(video=True)
    except ImportError:
        return None
    return lambda frames: np.stack([extractor(frame) for frame in frames])


@dataclass
class Stage:
    model: str
    stage: str
    call: Callable[[], object]


@dataclass
class Setup:
    """S2D, FOMM and the landmark detector at one size and path (random weights), and their inputs."""

    device: torch.device
    options: InferenceOptions
    s2d: torch.nn.Module
    fomm: torch.nn.Module
    detector: object  # s2d.detector.train.Detector
    pixels: np.ndarray  # (1 + batch, S, S, 3) uint8: the source, then the driving frames
    source: torch.Tensor  # (1, 3, S, S)
    driving: torch.Tensor  # (batch, 3, S, S)

    @classmethod
    def build(cls, widths: str, size: int, batch: int, device: torch.device, options: InferenceOptions) -> Setup:
        from s2d.detector.train import Detector, build_detector, profile_config
        from s2d.models import build_model

        torch.manual_seed(0)
        s2d = prepare(build_model(load_config(widths, [f"data.resolution={size}"])), device, options)
        fomm = prepare(build_model(load_config(widths, [f"data.resolution={size}", "model.architecture=first-order"])),
                       device, options)
        detector_config = profile_config(widths, "FAN4+DSNT")
        detector = Detector(prepare(build_detector(detector_config), device, options), detector_config, device)
        pixels = face_frames(size, batch + 1)
        frames = torch.from_numpy(pixels).permute(0, 3, 1, 2).float().div(255).contiguous().to(device)
        return cls(device, options, s2d, fomm, detector, pixels, frames[:1], frames[1:])

    def landmarks(self, frames: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.detector(frames)).to(self.device)

    def end_to_end(self) -> dict[str, Callable[[], torch.Tensor]]:
        """Driving frames in, generated frames out: S2D with the detector's landmarks, FOMM with its keypoints
        (the source's found once, here)."""
        s2d_frames = S2DFrames(self.s2d, self.source, self.landmarks(self.source), self.options)
        fomm_frames = KeypointFrames(self.fomm, self.source, self.options)
        return {S2D: lambda: s2d_frames(self.landmarks(self.driving)), FOMM: lambda: fomm_frames(self.driving)}


def stages(setup: Setup, mediapipe: bool = True) -> list[Stage]:
    """The stages of S2D and FOMM animating the setup's driving frames (see the module docstring)."""
    from s2d.models.generator import compose, warp

    s2d, fomm, device, options = setup.s2d, setup.fomm, setup.device, setup.options
    batch = len(setup.driving)
    sources, driving = setup.source.expand(batch, -1, -1, -1), setup.driving
    source_lm = setup.landmarks(setup.source).expand(batch, -1, -1)
    driving_lm = setup.landmarks(driving)
    s2d_frames = S2DFrames(s2d, setup.source, source_lm[:1], options)
    end_to_end = setup.end_to_end()
    with torch.inference_mode(), autocast(device, options):
        motion = s2d.dense_motion(sources, source_lm, driving_lm)
        kp_source = fomm.detect(setup.source)[0]
        kp_source = kp_source.expand(batch)
        kp_driving = fomm.detect(driving)[0]
        fomm_motion = fomm.dense_motion(sources, kp_source, kp_driving)

    def run(fn: Callable[[], object]) -> Callable[[], object]:
        def call():
            with torch.inference_mode(), autocast(device, options):
                return fn()
        return call

    def s2d_generate():
        warped = warp(sources, motion.grid)  # Eq. (1)
        return compose(warped, *s2d.generator(warped, motion.grid))  # Eq. (2)

    def fomm_generate():
        warped = warp(sources, fomm_motion.grid) * fomm_motion.occlusion
        return compose(warped, *fomm.generator(warped, fomm_motion.grid))

    found = [
        Stage(S2D, "dense motion", run(lambda: s2d.dense_motion(sources, source_lm, driving_lm))),
        Stage(S2D, "generator", run(s2d_generate)),
        Stage(S2D, "model", run(lambda: s2d_frames(driving_lm))),
        Stage(S2D, "landmark detector", run(lambda: setup.landmarks(driving))),
        Stage(S2D, END_TO_END, run(end_to_end[S2D])),
        Stage(FOMM, "keypoint detector", run(lambda: fomm.detect(driving))),
        Stage(FOMM, "dense motion", run(lambda: fomm.dense_motion(sources, kp_source, kp_driving))),
        Stage(FOMM, "generator", run(fomm_generate)),
        Stage(FOMM, END_TO_END, run(end_to_end[FOMM])),
    ]
    landmarks = _mediapipe_landmarks() if mediapipe else None
    if landmarks is not None:
        found.append(Stage(S2D, f"{END_TO_END} (MediaPipe)", run(
            lambda: s2d_frames(torch.from_numpy(landmarks(setup.pixels[1:])).to(device)))))
    return found


def interleaved(calls: list[Callable[[], object]], device: torch.device, min_time: float = 0.5,
                min_rounds: int = 3, max_rounds: int = 20, warmup: int = 1) -> list[list[float]]:
    """Seconds of each call, timed in rounds (each call once per round, in turn), after ``warmup`` rounds, until
    ``min_time`` per call has passed (``min_rounds`` to ``max_rounds`` rounds). Taking turns spreads a shared
    machine's slow spells over every call alike, so the ratios between them hold better than their times."""
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        for call in calls:
            call()
    sync()
    times: list[list[float]] = [[] for _ in calls]
    began = time.perf_counter()
    while len(times[0]) < min_rounds or (time.perf_counter() - began < min_time * len(calls)
                                         and len(times[0]) < max_rounds):
        for call, spent in zip(calls, times):
            start = time.perf_counter()
            call()
            sync()
            spent.append(time.perf_counter() - start)
    return times


def timed(call: Callable[[], object], device: torch.device, min_time: float = 0.5, max_calls: int = 20,
          warmup: int = 1) -> tuple[float, int]:
    """The median seconds of ``call`` (:func:`interleaved` alone: at least 2 calls) and how many were timed."""
    times = interleaved([call], device, min_time, min(2, max_calls), max_calls, warmup)[0]
    return statistics.median(times), len(times)


def gflops(call: Callable[[], object]) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        call()
    return counter.get_total_flops() / 1e9


def latency(device: torch.device, paths: dict[str, InferenceOptions], resolutions=RESOLUTIONS, batches=BATCHES,
            widths: str = WIDTHS, min_time: float = 0.5) -> pd.DataFrame:
    """Every stage at every size, batch and path (:func:`stages`); plus the paper's widths at 256 px, batch 1,
    end to end."""
    cases = [(widths, size, batch) for size in resolutions for batch in batches]
    if PAPER_SIZE in resolutions:
        cases.append(("paper", PAPER_SIZE, 1))
    rows = []
    for case_widths, size, batch in tqdm(cases, desc="latency"):
        timing = []  # (path, stage): every path's stages of one case take turns (interleaved)
        for path, options in paths.items():
            for stage in stages(Setup.build(case_widths, size, batch, device, options), mediapipe=device.type == "cpu"):
                if case_widths != "paper" or stage.stage == END_TO_END:
                    timing.append((path, stage))
        warmup = 2 if device.type == "cuda" else 1  # cuDNN tunes on the first call
        times = interleaved([stage.call for _, stage in timing], device, min_time, warmup=warmup)
        for (path, stage), spent in zip(timing, times):
            seconds = statistics.median(spent)
            rows.append({"widths": case_widths, "model": stage.model, "stage": stage.stage, "path": path,
                         "device": str(device), "resolution": size, "batch": batch, "ms_per_call": 1e3 * seconds,
                         "ms_per_frame": 1e3 * seconds / batch, "frames_per_s": batch / seconds, "calls": len(spent),
                         "gflops_per_frame": gflops(stage.call) if batch == 1 else np.nan})
    table = pd.DataFrame(rows)
    # FLOPs do not depend on the batch or the path: counted at batch 1, shared by the rest
    per_frame = table.dropna(subset=["gflops_per_frame"]).groupby(["widths", "model", "stage", "resolution"])[
        "gflops_per_frame"].first()
    key = pd.MultiIndex.from_frame(table[["widths", "model", "stage", "resolution"]])
    table["gflops_per_frame"] = per_frame.reindex(key).to_numpy()
    return table


def ratios(table: pd.DataFrame) -> pd.DataFrame:
    """S2D's frames per second over FOMM's for each stage both have, per widths, path, size and batch."""
    keys = ["widths", "path", "device", "resolution", "batch", "stage"]
    pivot = table.pivot_table(index=keys, columns="model", values="frames_per_s").dropna()
    pivot = pivot.reset_index()
    pivot["s2d_over_first_order"] = pivot[S2D] / pivot[FOMM]
    return pivot.rename(columns={S2D: "s2d_frames_per_s", FOMM: "first_order_frames_per_s"})


def compiled(device: torch.device, size: int = PAPER_SIZE, min_time: float = 1.0) -> pd.DataFrame:
    """End to end and S2D's model alone at ``size`` px, batch 1, on the fast path under ``torch.compile`` (CUDA
    graphs on a GPU: batch-1 inference there waits on launching its many small kernels), for the profile's
    widths and the paper's. Each call begins a new CUDA-graph step, as a video's frames do."""
    mode = "reduce-overhead" if device.type == "cuda" else "default"
    options = InferenceOptions(compile=mode)
    rows = []
    for widths in (WIDTHS, "paper"):
        setup = Setup.build(widths, size, 1, device, options)
        calls = {(model, END_TO_END): call for model, call in setup.end_to_end().items()}
        s2d_frames = S2DFrames(setup.s2d, setup.source, setup.landmarks(setup.source), options)
        driving_lm = setup.landmarks(setup.driving)
        calls[(S2D, "model")] = lambda: s2d_frames(driving_lm)
        for (model, stage), call in tqdm(calls.items(), desc=f"compiled ({widths} widths)"):
            def step(call=call):
                torch.compiler.cudagraph_mark_step_begin()
                with torch.inference_mode():
                    return call()

            seconds, calls_timed = timed(step, device, min_time, max_calls=300, warmup=5)
            rows.append({"widths": widths, "model": model, "stage": stage, "path": f"fast+compile ({mode})",
                         "device": str(device), "resolution": size, "batch": 1, "ms_per_call": 1e3 * seconds,
                         "ms_per_frame": 1e3 * seconds, "frames_per_s": 1 / seconds, "calls": calls_timed})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- memory, training, video length


def _resident_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


def _peak_memory_mb(call: Callable[[], object], device: torch.device) -> float:
    """How far memory rises above what it was while ``call`` runs once (MB). CUDA: allocated memory. CPU: resident
    memory, its peak reset first (``/proc/self/clear_refs``, Linux) after handing freed memory back to the system;
    NaN where that cannot be done."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        call()
        torch.cuda.synchronize(device)
        return (torch.cuda.max_memory_allocated(device) - before) / 2**20
    try:
        gc.collect()
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # resets the peak resident size (VmHWM) to the current one
        before = _resident_kb("VmRSS")
        call()
        return (_resident_kb("VmHWM") - before) / 1024
    except (OSError, StopIteration):
        return float("nan")


def memory(device: torch.device, resolutions=RESOLUTIONS, batches=BATCHES, widths: str = WIDTHS) -> pd.DataFrame:
    """Peak memory of one end-to-end batch (after a first, warm-up batch) per model, size and batch."""
    rows = []
    for size in tqdm(resolutions, desc="memory"):
        for batch in batches:
            end_to_end = Setup.build(widths, size, batch, device, InferenceOptions()).end_to_end()
            for model, call in end_to_end.items():
                call()
                rows.append({"widths": widths, "model": model, "device": str(device), "resolution": size,
                             "batch": batch, "peak_mb": _peak_memory_mb(call, device),
                             "measure": "allocated" if device.type == "cuda" else "resident"})
    return pd.DataFrame(rows)


def training(device: torch.device, resolutions=(64, 128), widths: str = WIDTHS, steps: int = 3) -> pd.DataFrame:
    """Training steps per second of S2D and FOMM (batch 8, the ``widths`` profile's losses) on random pairs."""
    from s2d.losses import PerceptualPyramid
    from s2d.train import train_step, build_models, generator_lr

    rows = []
    for size in resolutions:
        for model_name, architecture in ((S2D, "s2d"), (FOMM, "first-order")):
            config = load_config(widths, [f"data.resolution={size}", f"model.architecture={architecture}"])
            torch.manual_seed(0)
            net, disc = build_models(config)
            net, disc = net.to(device), None if disc is None else disc.to(device)
            w = config.loss
            perceptual = PerceptualPyramid(w.perceptual_scales, w.perceptual, w.perceptual_backbone,
                                           w.perceptual_layers).to(device)
            opt_g = torch.optim.Adam(net.parameters(), lr=generator_lr(config))
            opt_d = None if disc is None else torch.optim.Adam(disc.parameters(), lr=config.train.lr_discriminator)
            b = config.train.batch_size
            batch = {"source": torch.rand(b, 3, size, size), "driving": torch.rand(b, 3, size, size),
                     "source_landmarks": size * (0.3 + 0.4 * torch.rand(b, 74, 2)),
                     "driving_landmarks": size * (0.3 + 0.4 * torch.rand(b, 74, 2)),
                     "source_parsing": torch.randint(0, 4, (b, size, size)),
                     "driving_parsing": torch.randint(0, 4, (b, size, size))}
            batch = {k: v.to(device) for k, v in batch.items()}

            def step():
                train_step(config, net, disc, perceptual, opt_g, opt_d, batch)

            seconds, calls = timed(step, device, min_time=0, max_calls=steps)
            rows.append({"widths": widths, "model": model_name, "device": str(device), "resolution": size,
                         "batch": b, "s_per_step": seconds, "steps_per_s": 1 / seconds, "steps_timed": calls})
    return pd.DataFrame(rows)


def video_length(device: torch.device, size: int = 64, batch: int = 8, widths: str = WIDTHS,
                 counts=FRAME_COUNTS) -> pd.DataFrame:
    """Seconds to animate a video of each length end to end (fast path, in batches of ``batch``), preparing the
    source (S2D: its landmarks; FOMM: its keypoints) included."""
    options = InferenceOptions()
    setup = Setup.build(widths, size, max(counts), device, options)

    def animate(model: str, count: int) -> None:
        calls = Setup(device, options, setup.s2d, setup.fomm, setup.detector, setup.pixels, setup.source,
                      setup.driving[:min(batch, count)])
        generate = calls.end_to_end()[model]  # prepares the source
        for _ in range(0, count, batch):
            generate()

    rows = []
    for count in counts:
        for model in (S2D, FOMM):
            seconds, _ = timed(lambda: animate(model, count), device, min_time=0.3, max_calls=5)
            rows.append({"widths": widths, "model": model, "device": str(device), "resolution": size,
                         "batch": batch, "frames": count, "seconds": seconds, "frames_per_s": count / seconds})
    return pd.DataFrame(rows)
