"""The keypoint baselines (FOMM, Monkey-Net): shapes, the identity warp, gradients, what Monkey-Net lacks,
relative animation, the equivariance transform and losses, keypoints that learn to follow the image,
and training with s2d's own trainer."""

import csv
import json

import pytest
import torch

from s2d.baselines.equivariance import RandomTransform, equivariance_losses
from s2d.baselines.fomm import KeypointAnimator, hull_area, relative_keypoints
from s2d.baselines.keypoints import KeypointDetector, Keypoints
from s2d.config import ConfigError, load_config
from s2d.geometry import identity_grid
from s2d.models import build_model

ARCHS = ["first-order", "monkey-net"]
SMOKE = ["train.num_workers=0"]


def _config(arch, *extra):
    return load_config("smoke", [*SMOKE, f"model.architecture={arch}", *extra])


def _images(batch=2, seed=0, size=64):
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(batch, 3, 6, 6, generator=g)
    return torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear")


def _count(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("arch", ARCHS)
def test_output_shapes_at_64_px(arch):
    config = _config(arch)
    model = build_model(config).eval()
    assert isinstance(model, KeypointAnimator) and model.first_order == (arch == "first-order")
    source, driving = _images(2, 0), _images(2, 1)
    out = model(source, driving)
    k = config.model.num_keypoints
    assert out.prediction.shape == out.warped.shape == out.residual.shape == (2, 3, 64, 64)
    assert out.mask.shape == (2, 1, 64, 64) and out.grid.shape == (2, 64, 64, 2)
    assert out.prediction.min() >= 0 and out.prediction.max() <= 1
    for kp in (out.source_keypoints, out.driving_keypoints):
        assert kp.value.shape == (2, k, 2) and kp.value.abs().max() <= 1
    inner = round(64 * config.model.motion_scale)
    assert out.motion.masks.shape == (2, k + 1, inner, inner)
    assert torch.allclose(out.motion.masks.sum(1), torch.ones(2, inner, inner), atol=1e-5)
    if arch == "first-order":
        assert out.driving_keypoints.jacobian.shape == (2, k, 2, 2)
        assert out.occlusion.shape == (2, 1, 64, 64)
    else:
        assert out.driving_keypoints.jacobian is None and out.occlusion is None
    with pytest.raises(ValueError, match="built for 64x64"):
        model(_images(1, size=32), _images(1, size=32))


@pytest.mark.parametrize("arch", ARCHS)
def test_zero_motion_is_the_identity_warp_at_initialisation(arch):
    torch.manual_seed(0)
    model = build_model(_config(arch)).eval()
    image = _images(2)
    out = model(image, image)
    assert (out.grid - identity_grid(2, 64, 64)).abs().max() < 1e-5
    assert torch.allclose(out.source_keypoints.value, out.driving_keypoints.value, atol=1e-6)
    assert (out.prediction - image).abs().mean() < 0.06  # mask ~0.05, occlusion ~0.95: near the source


@pytest.mark.parametrize("arch", ARCHS)
def test_gradients_reach_every_parameter(arch):
    torch.manual_seed(0)
    model = build_model(_config(arch))
    source, driving = _images(2, 0), _images(2, 1)
    transform = RandomTransform(2, generator=torch.Generator().manual_seed(0))
    out = model(source, driving, transform)
    value, jacobian = equivariance_losses(out.driving_keypoints, out.transformed_keypoints, transform)
    loss = (out.prediction - driving).abs().mean() + value + (jacobian if jacobian is not None else 0)
    loss.backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, missing
    assert {name.split(".")[0] for name, _ in model.named_parameters()} == {
        "keypoint_detector", "dense_motion", "generator"}


def test_monkey_net_has_no_jacobian_and_no_occlusion_parameters():
    fomm, monkey = KeypointAnimator(_config("first-order")), KeypointAnimator(_config("monkey-net"))
    assert monkey.keypoint_detector.jacobian is None and monkey.dense_motion.occlusion is None
    assert fomm.keypoint_detector.jacobian is not None and fomm.dense_motion.occlusion is not None
    extra = _count(fomm.keypoint_detector.jacobian) + _count(fomm.dense_motion.occlusion)
    assert _count(fomm) == _count(monkey) + extra
    assert not any("jacobian" in n or "occlusion" in n for n, _ in monkey.named_parameters())
    assert KeypointAnimator(_config("monkey-net"), first_order=True).first_order  # explicit wins
    with pytest.raises(ValueError, match="not a keypoint model"):
        KeypointAnimator(load_config("smoke"))


def test_sparse_motions_are_first_order_with_jacobians_and_translations_without():
    from s2d.baselines.dense_motion import sparse_motions

    kp_d, kp_s = torch.tensor([[[0.2, -0.1]]]), torch.tensor([[[-0.3, 0.25]]])
    a = torch.tensor([[[[1.1, 0.2], [-0.1, 0.9]]]])
    z = identity_grid(1, 8, 8)
    first = sparse_motions(Keypoints(kp_s, a), Keypoints(kp_d, torch.eye(2).expand(1, 1, 2, 2)), 8, 8)
    assert first.shape == (1, 2, 8, 8, 2) and torch.equal(first[:, 0], z)  # the background: identity
    expected = kp_s[:, :, None, None] + torch.einsum("ij,bhwj->bhwi", a[0, 0], z - kp_d[:, 0, None, None])
    assert torch.allclose(first[:, 1], expected[:, 0], atol=1e-6)  # kp_s + J_s J_d^-1 (z - kp_d)
    both = sparse_motions(Keypoints(kp_s, a), Keypoints(kp_d, a), 8, 8)  # J_s J_d^-1 = I: a translation
    zeroth = sparse_motions(Keypoints(kp_s), Keypoints(kp_d), 8, 8)
    assert torch.allclose(both, zeroth, atol=1e-6)
    assert torch.allclose(zeroth[:, 1], z - kp_d[:, 0, None, None] + kp_s[:, 0, None, None])


def test_jacobians_start_as_the_identity():
    detector = KeypointAnimator(_config("first-order")).keypoint_detector
    jac = detector(_images(3)).jacobian
    assert torch.allclose(jac, torch.eye(2).expand_as(jac), atol=1e-6)


@pytest.mark.parametrize("arch", ARCHS)
def test_relative_animation_with_the_first_frame_as_driving_keeps_the_source_keypoints(arch):
    torch.manual_seed(0)
    model = KeypointAnimator(_config(arch)).eval()
    with torch.no_grad():  # Jacobians away from the identity, so that the check means something
        for p in model.keypoint_detector.parameters():
            p.add_(0.05 * torch.randn_like(p))
    source, driving = _images(1, 0), _images(3, 1)
    kp_source = model.detect(source)[0]
    out = model.animate(source, driving, driving_first=driving)
    assert out.prediction.shape == (3, 3, 64, 64)
    assert torch.allclose(out.driving_keypoints.value, kp_source.value.expand(3, -1, -1), atol=1e-5)
    if arch == "first-order":
        assert not torch.allclose(kp_source.jacobian, torch.eye(2).expand_as(kp_source.jacobian), atol=1e-2)
        assert torch.allclose(out.driving_keypoints.jacobian, kp_source.jacobian.expand(3, -1, -1, -1), atol=1e-4)
    absolute = model.animate(source, driving)  # absolute motion: the detected driving keypoints
    assert torch.allclose(absolute.driving_keypoints.value, model.detect(driving)[0].value, atol=1e-5)


def test_relative_keypoints_scale_the_movement_by_the_hull_areas():
    square = torch.tensor([[[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5], [0.0, 0.0]]])
    assert hull_area(square).item() == pytest.approx(1.0)
    assert hull_area(torch.zeros(1, 4, 2)).item() == 0
    step = torch.tensor([0.1, -0.05])
    first = Keypoints(square / 2)  # a quarter of the source's area: movements are doubled
    moved = relative_keypoints(Keypoints(square), Keypoints(square / 2 + step), first)
    assert torch.allclose(moved.value, square + 2 * step, atol=1e-6)
    plain = relative_keypoints(Keypoints(square), Keypoints(square / 2 + step), first, adapt_scale=False)
    assert torch.allclose(plain.value, square + step, atol=1e-6)
    flat = Keypoints(torch.zeros(1, 5, 2))  # a degenerate first frame: scale 1, not a NaN
    assert torch.allclose(relative_keypoints(Keypoints(square), Keypoints(step.expand(1, 5, 2)), flat).value,
                          square + step)


def test_the_transform_is_the_identity_at_sigma_zero():
    transform = RandomTransform(2, sigma_affine=0.0, sigma_tps=0.0, generator=torch.Generator().manual_seed(0))
    points = torch.rand(2, 7, 2) * 2 - 1
    assert torch.allclose(transform.warp_coordinates(points), points, atol=1e-7)
    assert torch.allclose(transform.jacobian(points), torch.eye(2).expand(2, 7, 2, 2))
    frame = _images(2)
    assert torch.allclose(transform.transform_frame(frame), frame, atol=1e-5)


def test_the_transform_is_drawn_from_its_generator():
    a, b = (RandomTransform(3, generator=torch.Generator().manual_seed(5)) for _ in range(2))
    c = RandomTransform(3, generator=torch.Generator().manual_seed(6))
    assert torch.equal(a.theta, b.theta) and torch.equal(a.control_params, b.control_params)
    assert not torch.equal(a.theta, c.theta)
    assert (a.theta - torch.eye(2, 3)).std() == pytest.approx(0.05, rel=0.6)


def test_the_analytic_jacobian_matches_finite_differences():
    transform = RandomTransform(3, sigma_affine=0.1, sigma_tps=0.05, generator=torch.Generator().manual_seed(1),
                                dtype=torch.float64)
    g = torch.Generator().manual_seed(2)
    points = torch.rand(3, 40, 2, generator=g, dtype=torch.float64) * 1.9 - 0.95
    lines = torch.linspace(-1, 1, 5, dtype=torch.float64)  # |z - p|_1 has kinks on the control lines
    points = points[:, ((points[..., None] - lines).abs().amin(-1) > 1e-3).all(0).all(-1)]
    assert points.shape[1] > 20
    eps = 1e-6
    numeric = torch.stack([
        (transform.warp_coordinates(points + eps * e) - transform.warp_coordinates(points - eps * e)) / (2 * eps)
        for e in torch.eye(2, dtype=torch.float64)
    ], dim=-1)  # (B, N, 2 outputs, 2 inputs)
    analytic = transform.jacobian(points)
    assert torch.allclose(analytic, numeric, atol=1e-6)
    assert (analytic - transform.theta[:, None, :, :2]).abs().max() > 1e-3  # the TPS term is in it


def test_equivariance_losses_vanish_for_keypoints_that_follow_the_transform():
    transform = RandomTransform(2, sigma_affine=0.1, sigma_tps=0.02, generator=torch.Generator().manual_seed(3))
    kp_t = Keypoints(torch.rand(2, 10, 2) - 0.5, torch.eye(2) + 0.1 * torch.randn(2, 10, 2, 2))
    kp_d = Keypoints(transform.warp_coordinates(kp_t.value), transform.jacobian(kp_t.value) @ kp_t.jacobian)
    value, jacobian = equivariance_losses(kp_d, kp_t, transform)
    assert value.item() < 1e-6 and jacobian.item() < 1e-5
    value, jacobian = equivariance_losses(Keypoints(kp_d.value + 0.1), Keypoints(kp_t.value), transform)
    assert value.item() == pytest.approx(0.1, abs=1e-5) and jacobian is None


def test_keypoints_learn_to_follow_an_affine_transform_of_the_image(synth_vox):
    """The detector alone, trained a few steps on the equivariance losses of one frame: its keypoints on
    a known affine transform of the frame, mapped back, land on its keypoints of the frame, far better
    than at initialisation (and without collapsing to one point)."""
    from s2d.data.loaders import NO_AUGMENT, PairDataset

    frame = PairDataset(synth_vox, augment=NO_AUGMENT)[0]["source"][None]
    m = load_config("smoke").model
    torch.manual_seed(0)
    detector = KeypointDetector(64, m.num_keypoints, m.motion_scale, m.block_expansion, m.max_features,
                                m.motion_blocks, jacobian=True)
    known = RandomTransform.affine(torch.tensor([[[0.95, -0.12, 0.1], [0.12, 0.95, -0.08]]]))

    def error():
        with torch.no_grad():
            a, b = detector(frame), detector(known.transform_frame(frame))
        return (a.value - known.warp_coordinates(b.value)).abs().mean().item(), a.value.std(1).mean().item()

    before, _ = error()
    opt = torch.optim.Adam(detector.parameters(), lr=1e-3)
    g, batch = torch.Generator().manual_seed(0), 4
    x = frame.expand(batch, -1, -1, -1)
    for _ in range(30):
        transform = RandomTransform(batch, generator=g)
        kp = detector(torch.cat([x, transform.transform_frame(x)]))
        value, jacobian = equivariance_losses(kp[:batch], kp[batch:], transform)
        opt.zero_grad()
        (value + jacobian).backward()
        opt.step()
    after, spread = error()
    assert after < 0.25 * before and after < 0.06, (before, after)
    assert spread > 0.1  # the keypoints did not collapse


@pytest.mark.parametrize("arch", ARCHS)
def test_smoke_training_of_a_baseline_lowers_its_loss(arch, synth_vox, tmp_path):
    from s2d.checkpoint import load_model
    from s2d.train import train

    config = _config(arch, "train.steps=24", "train.checkpoint_every=12")
    path = train(config, synth_vox, tmp_path / "run", progress=False)
    rows = list(csv.DictReader((tmp_path / "run" / "losses.csv").open()))
    assert [int(r["step"]) for r in rows] == list(range(1, 25))
    total = [float(r["total"]) for r in rows]
    assert sum(total[-6:]) < 0.9 * sum(total[:6]), total
    assert all(float(r["equivariance_value"]) > 0 for r in rows) and not any(r["parsing"] for r in rows)
    assert all(bool(r["equivariance_jacobian"]) == (arch == "first-order") for r in rows)
    assert json.loads((tmp_path / "run" / "train.json").read_text())["architecture"] == arch
    model, loaded = load_model(path)
    assert isinstance(model, KeypointAnimator) and model.first_order == (arch == "first-order")
    assert loaded.model.architecture == arch and not model.training


def test_architecture_is_validated_and_defaults_are_fomms():
    config = load_config("paper")
    assert config.model.architecture == "s2d" and config.model.num_keypoints == 10
    assert config.loss.equivariance_value == config.loss.equivariance_jacobian == 10.0
    with pytest.raises(ConfigError, match=r"model.architecture.*s2d, first-order, monkey-net.*mean 'first-order'"):
        load_config("smoke", ["model.architecture=first_order"])


def test_model_cost_reports_each_architecture():
    from s2d.repro.bench import model_cost

    rows = {a: model_cost("smoke", a) for a in ("s2d", *ARCHS)}
    assert all(r["model"] == a and r["gflops_per_frame"] > 0 for a, r in rows.items())
    assert rows["s2d"]["keypoint_detector_parameters"] == 0
    assert rows["first-order"]["parameters"] > rows["monkey-net"]["parameters"] > 0


def test_an_interrupted_baseline_run_resumes_to_the_same_weights(synth_vox, tmp_path, monkeypatch):
    """The equivariance transforms are a function of (seed, step), so resuming replays them exactly."""
    import s2d.train as trainer

    config = _config("first-order", "train.steps=4", "train.checkpoint_every=2")
    trainer.train(config, synth_vox, tmp_path / "straight", progress=False)
    save = trainer._save

    def interrupt_after_step_2(path, cfg, step, *args):
        save(path, cfg, step, *args)
        if step == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "_save", interrupt_after_step_2)
    with pytest.raises(KeyboardInterrupt):
        trainer.train(config, synth_vox, tmp_path / "resumed", progress=False)
    monkeypatch.setattr(trainer, "_save", save)
    torch.manual_seed(123)  # whatever the global RNG holds now
    trainer.train(config, synth_vox, tmp_path / "resumed", resume=True, progress=False)
    a, b = (torch.load(tmp_path / d / "checkpoint.pt", weights_only=True) for d in ("straight", "resumed"))
    assert a["step"] == b["step"] == 4
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name


def test_the_protocols_run_a_baseline_through_its_animator(synth_vox, smoke_config):
    import dataclasses

    from s2d import evaluate
    from s2d.baselines import FrameDrivenAnimator, animator
    from s2d.config import EvalConfig

    config = dataclasses.replace(smoke_config, model=dataclasses.replace(smoke_config.model, architecture="first-order"))
    model = build_model(config).eval()
    animate = animator(model)
    assert isinstance(animate, FrameDrivenAnimator) and animate.driven_by_frames
    assert not getattr(animator(build_model(smoke_config)), "driven_by_frames", False)
    result = evaluate.same_identity(synth_vox, animate, config=EvalConfig(batch_size=4, max_test_frames=4),
                                    device="cpu", progress=False)
    assert 0 < result.mean["l1"] < 1
