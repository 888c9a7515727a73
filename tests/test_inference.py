"""The fast inference path (s2d.inference) gives the frames of the model as trained."""

import copy

import pytest
import torch

from s2d import inference
from s2d.config import load_config
from s2d.models import build_model


def _trained_like(model):
    """Non-trivial BatchNorm statistics and affine parameters, as training leaves them."""
    torch.manual_seed(1)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


@pytest.fixture(scope="module")
def inputs():
    torch.manual_seed(0)
    size = 64
    return {"source": torch.rand(1, 3, size, size), "driving": torch.rand(3, 3, size, size),
            "source_lm": size * (0.3 + 0.4 * torch.rand(1, 74, 2)), "driving_lm": size * (0.3 + 0.4 * torch.rand(3, 74, 2))}


def test_fusing_folds_the_generators_batchnorms_and_keeps_its_output(inputs):
    model = _trained_like(build_model(load_config("smoke")))
    fused = copy.deepcopy(model)
    assert inference.fuse_conv_batchnorm(fused) > 0
    grid = torch.rand(2, 64, 64, 2) * 2 - 1
    warped = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        expected, got = model.generator(warped, grid), fused.generator(warped, grid)
    for a, b in zip(expected, got):
        assert torch.allclose(a, b, atol=1e-5)
    # a model still training keeps its BatchNorms: their statistics are still moving
    assert inference.fuse_conv_batchnorm(build_model(load_config("smoke")).train()) == 0


def test_s2d_fast_path_gives_the_trained_models_frames(inputs):
    model = _trained_like(build_model(load_config("smoke")))
    expected = model.animate(inputs["source"].expand(3, -1, -1, -1), inputs["source_lm"].expand(3, -1, -1), inputs["driving_lm"])
    fast = inference.prepare(copy.deepcopy(model), torch.device("cpu"))
    frames = inference.S2DFrames(fast, inputs["source"], inputs["source_lm"])(inputs["driving_lm"])
    assert frames.shape == (3, 3, 64, 64)
    assert torch.allclose(frames, expected, atol=1e-4)


@pytest.mark.parametrize("relative", [False, True])
def test_keypoint_fast_path_finds_the_source_keypoints_once_and_gives_the_same_frames(inputs, relative):
    model = _trained_like(build_model(load_config("smoke", ["model.architecture=first-order"])))
    first = inputs["driving"][:1] if relative else None
    expected = model.animate(inputs["source"], inputs["driving"], first).prediction
    fast = inference.prepare(copy.deepcopy(model), torch.device("cpu"))
    frames = inference.KeypointFrames(fast, inputs["source"], driving_first=first)
    calls = []
    fast.keypoint_detector.register_forward_hook(lambda module, args, out: calls.append(len(args[0])))
    assert torch.allclose(frames(inputs["driving"]), expected, atol=1e-4)
    assert calls == [3]  # only the driving frames: the source's keypoints were kept


def test_half_precision_needs_cuda():
    with pytest.raises(ValueError, match="CUDA"):
        inference.InferenceOptions(half=True).on(torch.device("cpu"))
    assert inference.InferenceOptions().on(torch.device("cpu")).half is False
