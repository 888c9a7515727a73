"""s2d.metrics: known answers, clear errors, and LPIPS/FID that are NaN-with-a-reason rather than a substitute."""

import functools

import numpy as np
import pytest
import torch

from s2d import landmarks as lm
from s2d import metrics, weights


@pytest.fixture
def images():
    g = torch.Generator().manual_seed(0)
    return torch.rand(2, 3, 32, 32, generator=g) * 0.8  # room for a +0.1 offset inside [0, 1]


@pytest.fixture
def offline_torch_home(tmp_path, monkeypatch):
    """An empty private weights cache, and no download attempts."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(weights, "require", functools.partial(weights.require, download=False))
    return tmp_path / "torch"


def _face(seed: int = 0) -> np.ndarray:
    """A (74, 2) landmark set with distinct points and a 20 px interocular distance."""
    points = np.random.default_rng(seed).uniform(10, 50, (lm.NUM_LANDMARKS, 2))
    points[36], points[45] = (20, 30), (40, 30)
    return points


# ----------------------------------------------------------------------------- pixels


def test_identical_images_give_the_perfect_scores(images):
    assert np.all(metrics.l1(images, images) == 0)
    assert np.all(metrics.mse(images, images) == 0)
    assert np.all(np.isposinf(metrics.psnr(images, images)))
    assert np.allclose(metrics.ssim(images, images), 1)
    assert np.allclose(metrics.ms_ssim(images, images), 1)
    assert np.isposinf(metrics.psnr_from_mse(0.0))


def test_a_known_offset_gives_a_known_l1_mse_and_psnr(images):
    shifted = images + 0.1
    assert np.allclose(metrics.l1(shifted, images), 0.1, atol=1e-6)
    assert np.allclose(metrics.l1(shifted, images, scale=255), 25.5, atol=1e-4)  # Table 3's 0-255 scale
    assert np.allclose(metrics.mse(shifted, images), 0.01, atol=1e-7)
    assert np.allclose(metrics.psnr(shifted, images), 20.0, atol=1e-4)  # 10 log10(1 / 0.01)
    assert np.allclose(metrics.psnr_from_mse(0.01), 20.0)


def test_single_images_and_numpy_arrays_are_accepted(images):
    assert metrics.l1(images[0], images[0].numpy()).shape == (1,)


def test_shape_mismatches_name_both_shapes(images):
    with pytest.raises(ValueError, match=r"\(2, 3, 32, 32\) vs \(2, 3, 16, 16\)"):
        metrics.ssim(images, images[..., :16, :16])
    with pytest.raises(ValueError, match=r"\(2, 1, 32, 32\)"):
        metrics.l1(images[:, :1], images[:, :1])


def test_ssim_and_ms_ssim_fall_as_noise_grows(images):
    g = torch.Generator().manual_seed(1)
    noise = torch.randn(images.shape, generator=g)
    scores = [(metrics.ssim(images + s * noise, images).mean(), metrics.ms_ssim(images + s * noise, images).mean())
              for s in (0.01, 0.05, 0.2)]
    assert scores[0][0] > scores[1][0] > scores[2][0]
    assert scores[0][1] > scores[1][1] > scores[2][1]


@pytest.mark.parametrize("side, scales", [(11, 1), (21, 1), (22, 2), (64, 3), (128, 4), (175, 4), (176, 5), (256, 5)])
def test_ms_ssim_uses_as_many_scales_as_fit(side, scales):
    assert metrics.ms_ssim_scales(side, side) == scales


def test_ms_ssim_on_small_images_renormalises_the_first_weights():
    w = metrics.ms_ssim_weights(3)
    assert np.isclose(sum(w), 1)
    assert np.allclose(np.array(w) / w[0], np.array(metrics.MS_SSIM_WEIGHTS[:3]) / metrics.MS_SSIM_WEIGHTS[0])
    assert metrics.ms_ssim_weights(5) == pytest.approx(metrics.MS_SSIM_WEIGHTS, rel=1e-3)
    with pytest.raises(ValueError, match="at least 11 px"):
        metrics.ms_ssim_scales(8, 64)
    with pytest.raises(ValueError, match="4 MS-SSIM scales need a side of at least 88 px"):
        metrics.ms_ssim(torch.zeros(1, 3, 64, 64), torch.zeros(1, 3, 64, 64), scales=4)


def test_single_scale_ms_ssim_is_scikit_image_ssim(images):
    noisy = (images + 0.05 * torch.randn(images.shape, generator=torch.Generator().manual_seed(2))).clamp(0, 1)
    assert np.allclose(metrics.ms_ssim(noisy, images, scales=1), metrics.ssim(noisy, images), atol=1e-10)


# ----------------------------------------------------------------------------- landmarks


def test_akd_is_zero_for_identical_landmarks_and_the_distance_otherwise():
    a = np.stack([_face(0), _face(1)])
    assert np.all(metrics.akd(a, a) == 0)
    assert np.allclose(metrics.akd(a + [3.0, 4.0], a), 5.0)
    with pytest.raises(ValueError, match=r"\(2, 74, 2\) vs \(74, 2\)"):
        metrics.akd(a, a[0])


def test_sms_of_a_linear_trajectory_is_zero():
    t = np.arange(6, dtype=float)[:, None, None]
    trajectory = np.broadcast_to(_face(), (6, 74, 2)) + t * [1.5, -0.5]
    assert metrics.sms(trajectory) == pytest.approx(0, abs=1e-12)


def test_sms_of_a_zig_zag_is_its_amplitude_averaged_over_points():
    # Point 0 moves right by 1 per frame while jumping between y = 0 and y = 2; point 1 stays still.
    # For every interior frame, the neighbours' midpoint of point 0 is 2 px above or below it and
    # point 1 deviates by 0, so Eq. (9) averaged over the 2 points and the 3 interior frames is 1.
    point0 = np.array([[0, 0], [1, 2], [2, 0], [3, 2], [4, 0]], dtype=float)
    point1 = np.full((5, 2), 7.0)
    assert metrics.sms(np.stack([point0, point1], axis=1)) == pytest.approx(1.0)


def test_sms_rejects_short_or_misshapen_trajectories():
    with pytest.raises(ValueError, match="at least 3 frames"):
        metrics.sms(np.zeros((2, 74, 2)))
    with pytest.raises(ValueError, match=r"\(T, N, 2\), got \(5, 74\)"):
        metrics.sms(np.zeros((5, 74)))


def test_gaze_error_measures_pupils_in_their_eyes_relative_to_face_size():
    face = _face()
    assert metrics.gaze_error(face, face) == 0
    assert metrics.gaze_error(face + [5.0, -3.0], face) == pytest.approx(0)  # head motion is not gaze
    looking = face.copy()
    looking[[lm.LEFT_PUPIL, lm.RIGHT_PUPIL]] += [2.0, 0.0]  # 0.1 interocular distances
    assert metrics.gaze_error(looking, face) == pytest.approx(0.1)
    with pytest.raises(ValueError, match=r"\(\.\.\., 74, 2\), got \(68, 2\)"):
        metrics.gaze_error(face[:68], face[:68])


def test_aperture_errors_are_the_differences_of_the_landmark_apertures():
    face = _face()
    face[48], face[54] = (20, 40), (40, 40)  # mouth 20 px wide
    face[62], face[66] = (30, 39), (30, 41)  # 2 px open
    opened = face.copy()
    opened[62], opened[66] = (30, 37), (30, 43)  # 6 px open
    assert metrics.mouth_aperture_error(opened, face) == pytest.approx(0.2)
    assert metrics.mouth_aperture_error(face, face) == 0
    closed = face.copy()
    for upper, lower in ((37, 41), (38, 40), (43, 47), (44, 46)):
        closed[upper] = closed[lower]
    expected = np.abs(lm.eye_aperture(face)).mean()  # closed lids have aperture 0
    assert metrics.eye_aperture_error(closed, face) == pytest.approx(expected)
    assert metrics.eye_aperture_error(face, face) == 0


def test_parsing_mismatch_is_the_fraction_of_differing_labels():
    a = np.zeros((2, 4, 4), dtype=np.uint8)
    b = a.copy()
    b[1, :2, :2] = 7  # 4 of 16 pixels
    assert np.allclose(metrics.parsing_mismatch(a, b), [0, 0.25])
    assert np.allclose(metrics.parsing_mismatch(torch.from_numpy(a), torch.from_numpy(b)), [0, 0.25])
    with pytest.raises(ValueError, match=r"\(2, 4, 4\) vs \(4, 4\)"):
        metrics.parsing_mismatch(a, b[0])


# ----------------------------------------------------------------------------- LPIPS and FID


def test_without_weights_lpips_and_fid_raise_the_reason(offline_torch_home, images):
    with pytest.raises(metrics.MetricUnavailable, match="weights unavailable offline: alexnet-owt-7be5be79.pth"):
        metrics.lpips(images, images)
    with pytest.raises(metrics.MetricUnavailable, match="weights unavailable offline: pt_inception"):
        metrics.inception_features(images)


def test_lpips_loads_its_backbone_from_the_torch_hub_cache(offline_torch_home, images):
    """Random AlexNet features under the expected name: LPIPS is built from that file, offline."""
    import torchvision

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        features = {k: v for k, v in torchvision.models.alexnet(weights=None).state_dict().items()
                    if k.startswith("features.")}
    weights.cache_dir().mkdir(parents=True)
    torch.save(features, weights.path_of("alexnet"))
    rng_before = torch.get_rng_state()
    net = metrics.lpips_network("cpu")
    assert torch.equal(torch.get_rng_state(), rng_before)  # building does not move the global RNG
    assert torch.equal(net.net.slice1[0].weight, features["features.0.weight"])
    assert metrics.lpips_network("cpu") is net  # built once
    assert np.allclose(metrics.lpips(images, images), 0, atol=1e-7)
    assert np.all(metrics.lpips(images + 0.1, images) > 0)


def test_fid_inception_is_loaded_from_the_torch_hub_cache(offline_torch_home, images):
    """A random Inception state dict under pytorch-fid's file name: FID is built from that file, offline."""
    import torchvision

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        state = torchvision.models.inception_v3(weights=None, aux_logits=False, num_classes=1008,
                                                init_weights=False).state_dict()
    weights.cache_dir().mkdir(parents=True)
    torch.save(state, weights.path_of("inception"))
    assert torch.equal(metrics.inception_network("cpu").blocks[0][0].conv.weight, state["Conv2d_1a_3x3.conv.weight"])
    features = metrics.inception_features(torch.stack([images[0], images[0].flip(-1)]))  # one forward pass: slow on CPU
    assert features.shape == (2, metrics.FID_DIMS) and not np.array_equal(features[0], features[1])


def test_fid_of_equal_covariances_is_the_squared_mean_shift():
    # (FID over 2048-d features spends ~30 s of CPU in scipy's sqrtm, so known answers use 4-d ones.)
    x = np.random.default_rng(0).normal(size=(50, 4))
    assert metrics.fid(x, x) == pytest.approx(0, abs=1e-9)
    assert metrics.fid(x + [1.0, 2.0, 0.0, 0.0], x) == pytest.approx(5.0)


def test_fid_checks_its_inputs():
    with pytest.raises(ValueError, match=r"same D, got \(4, 8\) and \(4, 6\)"):
        metrics.fid(np.zeros((4, 8)), np.zeros((4, 6)))
    with pytest.raises(ValueError, match="at least 2 samples"):
        metrics.fid(np.zeros((1, 8)), np.zeros((4, 8)))


@pytest.mark.skipif(not weights.is_available("inception"),
                    reason=f"FID weights not cached ({weights.path_of('inception')}): run `make weights`")
def test_fid_of_a_set_against_itself_is_about_zero():
    g = torch.Generator().manual_seed(3)
    frames = torch.rand(6, 3, 64, 64, generator=g)
    features = metrics.inception_features(frames)
    assert metrics.fid(features, features) == pytest.approx(0, abs=1e-2)
    assert metrics.fid(features, metrics.inception_features(frames.flip(-1) * 0.5)) > 1


@pytest.mark.skipif(not weights.is_available("alexnet"),
                    reason=f"LPIPS weights not cached ({weights.path_of('alexnet')}): run `make weights`")
def test_lpips_of_identical_images_is_zero(images):
    assert np.allclose(metrics.lpips(images, images), 0, atol=1e-6)
    assert np.all(metrics.lpips(images, images.flip(-1)) > 0.01)
