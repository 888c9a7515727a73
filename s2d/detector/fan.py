"""FAN: the stacked-hourglass heatmap network of the landmark detector (Sec. 3.3).

The paper's detector starts from FAN4, the 4-stack Face Alignment Network of
Bulat and Tzimiropoulos [2] ("How far are we from solving the 2D & 3D face
alignment problem?", ICCV 2017), and predicts 74 heatmaps instead of 68: the
iBUG-300W points plus the pupils and iris edges (order in :mod:`s2d.landmarks`).

face-alignment's ``FAN`` class fixes 68 heatmaps and 256 features, so this is a
re-implementation with those configurable. Its modules carry face-alignment's
names (``conv1``, ``m0.b1_4``, ``top_m_0``, ``l0``, ``al0``, ...), so the
pretrained 2DFAN4 weights load by name: :func:`from_pretrained_fan4` copies them
and, as the paper does, copies the 68 heatmap channels of each stack's output
layer into the first 68 of the 74, leaving the 6 new ones randomly initialised.

A stack's heatmaps are at 1/4 of the input size (a stride-2 convolution and an
average pooling in the stem): 256 px input gives 64 x 64 heatmaps.
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import nn

from s2d import weights

FAN4_STACKS = 4
FAN4_FEATURES = 256
FAN4_DEPTH = 4
FAN4_LANDMARKS = 68
HEATMAP_STRIDE = 4


class ConvBlock(nn.Module):
    """Bulat's hierarchical, parallel, multi-scale residual block (pre-activation).

    Three 3x3 convolutions with ``out/2``, ``out/4`` and ``out/4`` channels, each
    after BatchNorm and ReLU, concatenated and added to the (projected) input.
    """

    def __init__(self, in_planes: int, out_planes: int):
        super().__init__()
        half, quarter = out_planes // 2, out_planes // 4
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, half, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(half)
        self.conv2 = nn.Conv2d(half, quarter, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(quarter)
        self.conv3 = nn.Conv2d(quarter, quarter, 3, padding=1, bias=False)
        self.downsample = None
        if in_planes != out_planes:
            self.downsample = nn.Sequential(
                nn.BatchNorm2d(in_planes), nn.ReLU(True), nn.Conv2d(in_planes, out_planes, 1, bias=False)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out1 = self.conv1(F.relu(self.bn1(x)))
        out2 = self.conv2(F.relu(self.bn2(out1)))
        out3 = self.conv3(F.relu(self.bn3(out2)))
        residual = x if self.downsample is None else self.downsample(x)
        return torch.cat([out1, out2, out3], dim=1) + residual


class HourGlass(nn.Module):
    """A recursive hourglass of ``depth`` levels; each level halves the resolution (average pooling)."""

    def __init__(self, depth: int, features: int):
        super().__init__()
        self.depth = depth
        for level in range(depth, 0, -1):
            for name in (f"b1_{level}", f"b2_{level}", f"b3_{level}"):
                self.add_module(name, ConvBlock(features, features))
        self.add_module("b2_plus_1", ConvBlock(features, features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._level(self.depth, x)

    def _level(self, level: int, x: torch.Tensor) -> torch.Tensor:
        up = self._modules[f"b1_{level}"](x)
        low = self._modules[f"b2_{level}"](F.avg_pool2d(x, 2, stride=2))
        low = self._level(level - 1, low) if level > 1 else self._modules["b2_plus_1"](low)
        low = self._modules[f"b3_{level}"](low)
        return up + F.interpolate(low, scale_factor=2, mode="nearest")


class FAN(nn.Module):
    """Stacked hourglass network: images ``(B, 3, S, S)`` in [0, 1] -> one heatmap batch per stack.

    ``stacks`` hourglasses (4 in FAN4), ``num_landmarks`` heatmaps (74 in the
    paper), ``features`` channels (256 in FAN4; a multiple of 16) and hourglass
    ``depth`` (4 in FAN4). Each stack's heatmaps ``(B, num_landmarks, S/4, S/4)``
    are returned, for intermediate supervision; the last one is the prediction.
    Heatmaps are raw activations: decode them with :mod:`s2d.detector.decode`.
    """

    def __init__(self, stacks: int = FAN4_STACKS, num_landmarks: int = 74, features: int = FAN4_FEATURES,
                 depth: int = FAN4_DEPTH):
        super().__init__()
        if stacks < 1 or depth < 1 or num_landmarks < 1:
            raise ValueError(f"FAN needs stacks, depth and num_landmarks >= 1, got {stacks}, {depth}, {num_landmarks}")
        if features % 16:
            raise ValueError(f"FAN features must be a multiple of 16, got {features}")
        self.stacks, self.num_landmarks, self.features, self.depth = stacks, num_landmarks, features, depth
        # stem: FAN4's 64, 128, 128, 256 channels, scaled with ``features``
        self.conv1 = nn.Conv2d(3, features // 4, kernel_size=7, stride=2, padding=3)
        self.bn1 = nn.BatchNorm2d(features // 4)
        self.conv2 = ConvBlock(features // 4, features // 2)
        self.conv3 = ConvBlock(features // 2, features // 2)
        self.conv4 = ConvBlock(features // 2, features)
        for i in range(stacks):
            self.add_module(f"m{i}", HourGlass(depth, features))
            self.add_module(f"top_m_{i}", ConvBlock(features, features))
            self.add_module(f"conv_last{i}", nn.Conv2d(features, features, 1))
            self.add_module(f"bn_end{i}", nn.BatchNorm2d(features))
            self.add_module(f"l{i}", nn.Conv2d(features, num_landmarks, 1))
            if i < stacks - 1:
                self.add_module(f"bl{i}", nn.Conv2d(features, features, 1))
                self.add_module(f"al{i}", nn.Conv2d(num_landmarks, features, 1))

    @property
    def input_multiple(self) -> int:
        """Input sides must be multiples of this: the stem's stride 4 times the hourglass's ``2**depth``."""
        return HEATMAP_STRIDE * 2**self.depth

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"FAN expects images (B, 3, H, W), got {tuple(x.shape)}")
        if x.shape[-2] % self.input_multiple or x.shape[-1] % self.input_multiple:
            raise ValueError(f"FAN input sides must be multiples of {self.input_multiple} "
                             f"(stride {HEATMAP_STRIDE} x 2**depth {self.depth}), got {tuple(x.shape[-2:])}")
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.avg_pool2d(self.conv2(x), 2, stride=2)
        previous = self.conv4(self.conv3(x))
        outputs = []
        for i in range(self.stacks):
            ll = self._modules[f"top_m_{i}"](self._modules[f"m{i}"](previous))
            ll = F.relu(self._modules[f"bn_end{i}"](self._modules[f"conv_last{i}"](ll)))
            heatmaps = self._modules[f"l{i}"](ll)
            outputs.append(heatmaps)
            if i < self.stacks - 1:
                previous = previous + self._modules[f"bl{i}"](ll) + self._modules[f"al{i}"](heatmaps)
        return outputs


_HEATMAP_OUT = re.compile(r"^l\d+\.(weight|bias)$")  # stack output layers: heatmaps are their output channels
_HEATMAP_IN = re.compile(r"^al\d+\.weight$")  # heatmap re-injection layers: heatmaps are their input channels


def load_fan4_state(model: FAN, state: dict[str, torch.Tensor]) -> None:
    """Copy a FAN state dict with fewer heatmaps (2DFAN4's 68) into ``model``.

    Every tensor is copied by name. Those of the layers that output heatmaps
    (``l<i>``) or read them back (``al<i>``) get the old heatmaps' channels in
    their leading slice; the channels of the extra heatmaps keep ``model``'s random
    initialisation (Sec. 3.3). Stacks the state has beyond ``model``'s are ignored.
    """
    merged = model.state_dict()
    for key, ours in merged.items():
        if key not in state:
            if key.endswith("num_batches_tracked"):  # absent from checkpoints of older PyTorch
                continue
            raise ValueError(f"the pretrained FAN state lacks '{key}' (model: {model.stacks} stacks, "
                             f"{model.features} features, depth {model.depth})")
        theirs = state[key].to(ours.dtype)
        if theirs.shape == ours.shape:
            merged[key] = theirs
        elif _HEATMAP_OUT.match(key) and theirs.shape[1:] == ours.shape[1:] and len(theirs) <= len(ours):
            merged[key] = ours.clone()
            merged[key][: len(theirs)] = theirs
        elif (_HEATMAP_IN.match(key) and theirs.shape[0] == ours.shape[0] and theirs.shape[2:] == ours.shape[2:]
              and theirs.shape[1] <= ours.shape[1]):
            merged[key] = ours.clone()
            merged[key][:, : theirs.shape[1]] = theirs
        else:
            raise ValueError(f"pretrained '{key}' has shape {tuple(theirs.shape)}, the model {tuple(ours.shape)}")
    model.load_state_dict(merged)


def from_pretrained_fan4(model: FAN) -> bool:
    """Initialise ``model`` from face-alignment's pretrained 2DFAN4 when its file is available (Sec. 3.3).

    Returns True when the weights were copied (see :func:`load_fan4_state`), False
    when :func:`s2d.weights.require` cannot provide them (offline without the
    file): ``model`` keeps its random initialisation, and the caller records a
    random start. Raises ValueError when ``model`` does not have 2DFAN4's shape
    (256 features, hourglass depth 4, at most 4 stacks).
    """
    if model.features != FAN4_FEATURES or model.depth != FAN4_DEPTH or model.stacks > FAN4_STACKS:
        raise ValueError(
            f"2DFAN4 weights need {FAN4_FEATURES} features, depth {FAN4_DEPTH} and at most {FAN4_STACKS} stacks; "
            f"the model has {model.features} features, depth {model.depth}, {model.stacks} stacks"
        )
    try:
        path = weights.require("fan4")
    except weights.WeightsUnavailable:
        return False
    state = torch.load(path, map_location="cpu", weights_only=True)
    load_fan4_state(model, {key.removeprefix("module."): value for key, value in state.items()})
    return True
