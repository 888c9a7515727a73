"""The S2D networks: shapes, the identity warp, gradients, switches, Eq. (3) fusion, crop boxes."""

import pytest
import torch

from s2d.config import load_config
from s2d.losses import (
    NEAR_HEAD_PX,
    PerceptualPyramid,
    discriminator_loss,
    foreground_prior_loss,
    generator_gan_loss,
    near_head,
    parsing_mismatch_eq7,
    parsing_prior_loss,
)
from s2d.models.adain import AddMotion, LandmarkAdaIN
from s2d.geometry import identity_grid
from s2d.models.dense_motion import LocalBranch
from s2d.models.discriminator import MultiScaleDiscriminator
from s2d.models.s2d import S2DModel

TINY = ["model.block_expansion=8", "model.max_features=32", "model.num_bottleneck_blocks=1"]


def _config(resolution=64, *extra):
    blocks = {64: 2, 128: 3, 256: 4}[resolution]
    return load_config("smoke", [*TINY, f"data.resolution={resolution}", f"model.motion_blocks={blocks}", *extra])


def _inputs(resolution, batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(batch, 3, 6, 6, generator=g)  # a smooth image: sub-pixel shifts change it little
    image = torch.nn.functional.interpolate(coarse, size=(resolution, resolution), mode="bilinear")
    lm = resolution * (0.3 + 0.4 * torch.rand(batch, 74, 2, generator=g))
    return image, lm


def _count(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("resolution", [64, 128, 256])
def test_output_shapes(resolution):
    model = S2DModel(_config(resolution)).eval()
    image, lm = _inputs(resolution)
    out = model(image, lm, lm + 2)
    assert out.prediction.shape == out.warped.shape == out.residual.shape == (2, 3, resolution, resolution)
    assert out.mask.shape == (2, 1, resolution, resolution)
    assert out.motion.grid.shape == (2, resolution, resolution, 2)
    assert out.motion.local_masks.shape == (2, 3, resolution, resolution)
    assert out.prediction.min() >= 0 and out.prediction.max() <= 1


def test_a_new_model_starts_near_the_identity_warp():
    model = S2DModel(_config()).eval()
    image, lm = _inputs(64)
    out = model(image, lm, lm)
    assert (out.motion.grid - identity_grid(2, 64, 64)).abs().max() < 0.05
    assert (out.prediction - image).abs().mean() < 0.05


def test_gradients_reach_every_parameter_of_every_branch():
    config = _config()
    model = S2DModel(config)
    disc = MultiScaleDiscriminator([1.0, 0.5], 8, 32, 3)
    image, lm = _inputs(64)
    out = model(image, lm, lm + torch.randn_like(lm))
    parsing = torch.randint(0, 9, (2, 64, 64))
    loss = (out.prediction - image).abs().mean() + generator_gan_loss(disc(out.prediction)) \
        + parsing_prior_loss(out.motion.grid, parsing, parsing.roll(3, dims=2), 9)
    loss.backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, missing
    assert all(p.grad is not None for p in disc.parameters())
    branches = {name.split(".")[0] for name, _ in model.dense_motion.named_parameters()}
    assert branches == {"global_branch", "local_branches"}


def test_each_switch_removes_exactly_its_part():
    full = S2DModel(_config())
    add_motion = sum(_count(m) for m in full.modules() if isinstance(m, AddMotion))
    assert _count(S2DModel(_config(64, "model.add_motion=false"))) == _count(full) - add_motion
    local = _count(full.dense_motion.local_branches)
    assert _count(S2DModel(_config(64, "model.local_branches=false"))) == _count(full) - local
    adain = [m for m in full.modules() if isinstance(m, LandmarkAdaIN)]
    styles = sum(_count(m.style) for m in adain)
    affine = sum(2 * m.norm.num_features for m in adain)  # the plain instance norms keep a scale and bias
    assert _count(S2DModel(_config(64, "model.adain=false"))) == _count(full) - styles + affine
    stem = full.generator.stem[0]
    extra = 2 * stem.out_channels * stem.kernel_size[0] * stem.kernel_size[1]
    assert _count(S2DModel(_config(64, "model.motion_to_generator=false"))) == _count(full) - extra


def test_eq3_fusion_equals_the_global_map_outside_the_local_regions():
    model = S2DModel(_config()).eval()
    for p in model.dense_motion.parameters():  # make the local branches move something
        p.data.add_(0.05 * torch.randn_like(p))
    image, lm = _inputs(64)
    motion = model.dense_motion(image, lm, lm + 1.5)
    outside = motion.local_masks.sum(dim=1) == 0
    assert outside.float().mean() > 0.5
    assert torch.equal(motion.grid[outside], motion.global_grid[outside])
    assert not torch.allclose(motion.grid[~outside], motion.global_grid[~outside])


def test_local_crop_boxes_follow_the_driving_landmarks():
    model = S2DModel(_config()).eval()
    image, lm = _inputs(64)
    a = model.dense_motion(image, lm, lm).local_boxes
    b = model.dense_motion(image, lm, lm + torch.tensor([4.0, -2.0])).local_boxes
    shift = torch.tensor([4.0, -2.0]) * 2 / 64  # pixels -> normalised units
    assert torch.allclose(b[..., :2] - a[..., :2], shift.expand_as(a[..., :2]), atol=1e-6)
    assert torch.equal(a[..., 2], b[..., 2])


def test_local_branch_crop_scales_with_resolution():
    for resolution, crop in ((64, 16), (128, 32), (256, 64)):
        model = S2DModel(_config(resolution))
        assert all(isinstance(b, LocalBranch) and b.crop == crop for b in model.dense_motion.local_branches)


def test_losses_known_values():
    image, _ = _inputs(64)
    perceptual = PerceptualPyramid([1.0, 0.5], 10.0, "random", layers=2)
    assert perceptual(image, image).item() == 0
    assert perceptual(image, image.flip(-1)).item() > 0
    ones, zeros = [torch.ones(2, 1, 4, 4)], [torch.zeros(2, 1, 4, 4)]
    assert discriminator_loss(ones, zeros).item() == 0 and generator_gan_loss(ones).item() == 0
    grid = identity_grid(2, 64, 64)
    labels = torch.randint(0, 9, (2, 64, 64))
    other = labels.clone()
    other[:, :16] = (other[:, :16] + 1) % 9  # a quarter of the pixels differ
    assert parsing_mismatch_eq7(grid, labels, labels) == 0
    assert parsing_mismatch_eq7(grid, labels, other) == pytest.approx(0.25)
    assert parsing_prior_loss(grid, labels, other, 9).item() == pytest.approx(0.25, abs=1e-5)


def test_perceptual_refuses_scales_below_what_vgg_can_see():
    with pytest.raises(ValueError, match="16 px"):
        PerceptualPyramid([1.0, 0.125], 10.0, "random")(*_inputs(64)[:1] * 2)


def test_imagenet_backbone_offline_is_one_clear_error(tmp_path, monkeypatch):
    from dataclasses import replace

    from s2d import weights

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setitem(weights.WEIGHTS, "vgg19", replace(weights.WEIGHTS["vgg19"], url="http://127.0.0.1:9/x.pth"))
    with pytest.raises(weights.WeightsUnavailable, match="vgg19-dcbb9e9d.pth.*make weights"):
        PerceptualPyramid([1.0], 10.0, "imagenet")


def test_imagenet_backbone_takes_the_features_of_torchvision_s_vgg19_state_dict(tmp_path, monkeypatch):
    """The ImageNet file holds the whole VGG-19 (features and classifier); the backbone keeps the convolutions of
    its first layers, and its feature maps are those of torchvision's VGG-19 with the same weights."""
    import torchvision

    from s2d import weights
    from s2d.losses import IMAGENET_MEAN, IMAGENET_STD, VGG19Features

    torch.manual_seed(3)
    vgg = torchvision.models.vgg19(weights=None).eval()
    state = {k: v for k, v in vgg.state_dict().items() if k.startswith("features.")}  # the classifier: unused
    state["classifier.0.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "vgg19.pth")
    monkeypatch.setattr(weights, "require", lambda name: tmp_path / "vgg19.pth")
    backbone = VGG19Features("imagenet", layers=2)
    image = torch.rand(1, 3, 32, 32)
    normalised = (image - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        relu1_1, relu2_1 = backbone(image)
        assert torch.allclose(relu2_1, vgg.features[:7](normalised), atol=1e-5)
        assert torch.allclose(relu1_1, vgg.features[:2](normalised), atol=1e-5)
    assert not any(p.requires_grad for p in backbone.parameters())


def test_qualitative_grid_draws_every_row_for_every_frame(synth_vox, tmp_path):
    from s2d.data.format import video_ids
    from s2d.repro.figures import ROWS, qualitative_grid

    model = S2DModel(load_config("smoke")).eval()
    out = tmp_path / "fig.png"
    fig = qualitative_grid(model, synth_vox, video_ids(synth_vox, "test")[0], frames=3, out=out)
    assert len(fig.axes) == len(ROWS) * 4
    assert sum(bool(ax.images) for ax in fig.axes) == 1 + len(ROWS) * 3  # the source, then every panel
    assert out.stat().st_size > 10_000


def test_source_code_computed_once_gives_the_same_frames():
    """S2DModel.encode: the motion networks' encoders see the source alone, so their maps computed once (batch 1)
    give every driving frame of a batch what the full forward gives it."""
    config = load_config("smoke")
    torch.manual_seed(0)
    model = S2DModel(config).eval()
    size = config.data.resolution
    source = torch.rand(1, 3, size, size)
    source_lm = size * (0.3 + 0.4 * torch.rand(1, 74, 2))
    driving_lm = source_lm + 2 * torch.randn(3, 74, 2)
    with torch.no_grad():
        code = model.encode(source, source_lm)
        cached = model(source.expand(3, -1, -1, -1), source_lm.expand(3, -1, -1), driving_lm, code)
        full = model(source.expand(3, -1, -1, -1), source_lm.expand(3, -1, -1), driving_lm)
    assert len(code) == 1 + len(model.dense_motion.local_branches)
    assert all(len(skip) == 1 for branch in code for skip in branch)  # batch 1: computed once for the video
    assert torch.allclose(cached.prediction, full.prediction, atol=1e-5)
    assert torch.allclose(cached.motion.grid, full.motion.grid, atol=1e-5)


def test_the_foreground_prior_weighs_the_band_beside_the_head():
    """The background within NEAR_HEAD_PX of the head (in either frame) pulls (1 + near_head_weight) times as hard
    as the far background; without the weight both pull alike."""
    source = torch.zeros(1, 24, 24, dtype=torch.long)
    source[:, 8:16, 8:14] = 1
    source[:, 8, 8:14] = 2  # hair: the background term is on
    driving = source.roll(2, dims=2)
    band = near_head(source, driving)
    assert band[0, 12, 14 + 2 + NEAR_HEAD_PX - 1] and not band[0, 12, 14 + 2 + NEAR_HEAD_PX]  # 4 px right of the head
    assert band[0, 8 - NEAR_HEAD_PX, 10] and not band[0, 8 - NEAR_HEAD_PX - 1, 10]
    still = (source == 0) & (driving == 0)
    for weight in (0.0, 4.0):
        half = torch.full((1, 24, 24), 0.5, requires_grad=True)
        foreground_prior_loss(half, source, driving, weight).backward()
        near, far = half.grad[still & band], half.grad[still & ~band]
        assert (near < 0).all() and (far < 0).all()
        assert torch.allclose(near, torch.full_like(near, float(far[0]) * (1 + weight)))


def test_the_foreground_prior_wants_the_background_still_and_the_head_moving():
    """A head (skin and hair) that moves 4 px right: the identity weight is right at 1 on the background of both
    frames and 0 wherever either frame shows the head, the strip the head uncovers (head in the source only)
    included: there the head's motion samples the background behind the head, the identity the head's edge."""
    source = torch.zeros(1, 16, 16, dtype=torch.long)
    source[:, 4:12, 2:8] = 1
    source[:, 4, 2:8] = 2  # hair: the parsing labels the whole head
    driving = source.roll(4, dims=2)
    both_background = (source == 0) & (driving == 0)
    right = both_background.float()
    loss_right = foreground_prior_loss(right, source, driving)
    assert loss_right < 1e-3
    assert foreground_prior_loss(1 - right, source, driving) > 5  # -log(1e-4) = 9.2 on every counted pixel
    uncovered = (source > 0) & (driving == 0)
    assert uncovered.sum() == 4 * 8
    assert foreground_prior_loss(torch.where(uncovered, 0.5, right), source, driving) > loss_right + 0.05
    half = torch.full_like(right, 0.5, requires_grad=True)
    foreground_prior_loss(half, source, driving).backward()
    assert (half.grad[both_background] < 0).all() and (half.grad[driving == 1] > 0).all()
    assert torch.allclose(half.grad[uncovered], half.grad[driving == 1][0].expand(int(uncovered.sum())))
    face_only = torch.where(source == 2, 1, source), torch.where(driving == 2, 1, driving)  # drawn from landmarks
    half.grad = None
    foreground_prior_loss(half, *face_only).backward()
    assert (half.grad[both_background] == 0).all() and (half.grad[driving > 0] > 0).all()  # the head term only
