"""The fast inference path: what ``s2d animate`` and ``make bench`` run.

Training builds the networks as the paper describes them. At inference the same weights
run faster, with the same frames up to float rounding:

- ``torch.inference_mode``: no autograd bookkeeping;
- BatchNorm folded into the convolution before it (:func:`fuse_conv_batchnorm`): in eval
  mode a BatchNorm is a fixed per-channel affine map, so conv + BN is one conv;
- channels-last tensors, the layout of oneDNN's and cuDNN's fastest convolutions;
- on CUDA, float16 autocast (``half``; grid sampling and the norms stay in float32);
- optionally ``torch.compile`` of each network (``compile``: its mode).

One source face is animated by many driving frames, so what depends on the source alone
is computed once: for S2D the encoders of its motion networks (the global branch's and
the local branches' hourglass encoders read only the source and its landmarks; the
driving landmarks enter at the bottleneck and in the decoders), for the keypoint
baselines the source's keypoints (and the first driving frame's, for relative motion),
as first-order-model's demo does.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


@dataclass(frozen=True)
class InferenceOptions:
    """How to run a trained model; the defaults are the fast path."""

    fuse: bool = True  # fold BatchNorm into the convolution before it
    channels_last: bool = True
    half: bool | None = None  # float16 autocast; None: on CUDA only (CPU float16 convolutions are slow)
    compile: str | None = None  # torch.compile each network in this mode ("default", "reduce-overhead": CUDA
    # graphs, "max-autotune"); seconds to minutes of compiling first, so it pays off on long videos

    def on(self, device: torch.device) -> InferenceOptions:
        """These options with ``half`` decided for ``device``."""
        half = device.type == "cuda" if self.half is None else self.half
        if half and device.type != "cuda":
            raise ValueError("half precision inference needs a CUDA device")
        return replace(self, half=half)


NETWORKS = ("keypoint_detector", "dense_motion", "generator")  # the networks of S2D and the keypoint baselines
EAGER = InferenceOptions(fuse=False, channels_last=False, half=False)  # the model as trained (the baseline of the bench)


def fuse_conv_batchnorm(module: nn.Module) -> int:
    """Fold each eval-mode ``BatchNorm2d`` that directly follows a ``Conv2d`` in an ``nn.Sequential`` into that
    convolution, in place (the BatchNorm becomes an ``Identity``); the number folded."""
    folded = 0
    for sequence in [m for m in module.modules() if isinstance(m, nn.Sequential)]:
        names = list(sequence._modules)
        for first, second in zip(names, names[1:]):
            conv, norm = sequence._modules[first], sequence._modules[second]
            if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d) and not (conv.training or norm.training):
                sequence._modules[first] = fuse_conv_bn_eval(conv, norm)
                sequence._modules[second] = nn.Identity()
                folded += 1
    return folded


def prepare(model: nn.Module, device: torch.device, options: InferenceOptions = InferenceOptions()) -> nn.Module:
    """``model`` in eval mode on ``device``, changed in place for ``options`` (see the module docstring)."""
    model = model.eval().to(device)
    if options.fuse:
        fuse_conv_batchnorm(model)
    if options.channels_last:  # only where it pays: instance norms would copy channels-last maps back and forth
        for network in [getattr(model, name) for name in NETWORKS if hasattr(model, name)] or [model]:
            if not any(isinstance(m, nn.InstanceNorm2d) for m in network.modules()):
                network.to(memory_format=torch.channels_last)
    if options.compile:
        # the animators are called through their networks (S2D: motion, then generator; the keypoint models:
        # detect, then generate): each network is compiled; any other model is compiled whole
        parts = [name for name in NETWORKS if hasattr(model, name)]
        for name in parts:
            setattr(model, name, torch.compile(getattr(model, name), mode=options.compile, dynamic=False))
        if not parts:
            model = torch.compile(model, mode=options.compile, dynamic=False)
    return model


def autocast(device: torch.device, options: InferenceOptions) -> contextlib.AbstractContextManager:
    """float16 autocast on CUDA when ``options.half``; otherwise nothing."""
    return torch.autocast("cuda", dtype=torch.float16) if options.on(device).half else contextlib.nullcontext()


def _clone(kp):
    return type(kp)(kp.value.clone(), None if kp.jacobian is None else kp.jacobian.clone())


class S2DFrames:
    """S2D's frames of one source face: ``frames(driving_landmarks)`` -> (B, 3, H, W) float32 in [0, 1]. What the
    motion networks compute from the source alone (their encoders' maps, :meth:`S2DModel.encode`) is computed
    once, here."""

    @torch.inference_mode()
    def __init__(self, model: nn.Module, source: torch.Tensor, source_landmarks: torch.Tensor,
                 options: InferenceOptions = InferenceOptions()):
        self.model, self.options = model, options
        self.device = source.device
        self.source = source  # (1, 3, H, W)
        self.source_landmarks = source_landmarks  # (1, N, 2) pixels
        with autocast(self.device, options):
            self.code = model.encode(source, source_landmarks)

    @torch.inference_mode()
    def __call__(self, driving_landmarks: torch.Tensor) -> torch.Tensor:
        n = len(driving_landmarks)
        with autocast(self.device, self.options):
            out = self.model(self.source.expand(n, -1, -1, -1), self.source_landmarks.expand(n, -1, -1),
                             driving_landmarks, self.code)
        return out.prediction.float()


class KeypointFrames:
    """A keypoint baseline's frames of one source: its keypoints (and, for relative motion, the first driving
    frame's) found once; ``frames(driving)`` finds the driving frames' keypoints and generates."""

    @torch.inference_mode()
    def __init__(self, model: nn.Module, source: torch.Tensor, options: InferenceOptions = InferenceOptions(),
                 driving_first: torch.Tensor | None = None):
        self.model, self.options = model, options
        self.device = source.device
        self.source = source
        with autocast(self.device, options):  # kept across calls: cloned out of any CUDA graph's memory
            self.kp_source = _clone(model.detect(self.source)[0])
            self.kp_first = None if driving_first is None else _clone(model.detect(driving_first)[0])

    @torch.inference_mode()
    def __call__(self, driving: torch.Tensor) -> torch.Tensor:
        from s2d.baselines.fomm import relative_keypoints

        n = len(driving)
        with autocast(self.device, self.options):
            kp_driving = self.model.detect(driving)[0]
            if self.kp_first is not None:
                kp_driving = relative_keypoints(self.kp_source, kp_driving, self.kp_first)
            out = self.model.generate(self.source.expand(n, -1, -1, -1), self.kp_source.expand(n), kp_driving)
        return out.prediction.float()
