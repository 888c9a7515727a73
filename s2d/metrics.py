"""Evaluation metrics: the paper's (Sec. 4.1, Eq. (9)) and a few more where ground truth exists.

Image metrics take two batches of RGB images, float ``(B, 3, H, W)`` (or one
``(3, H, W)`` image) with values in [0, 1], and return one value per image as a
float64 array of shape ``(B,)``. Landmark metrics take arrays ``(..., N, 2)``
of (x, y) pixels and return one value per frame, shape ``(...)``.

- :func:`l1`: mean absolute difference (NumPy). ``scale=1`` for images in [0, 1],
  the L1 of Tables 1, 4 and 5; ``scale=255`` for the 0-255 L1 of Table 3 (FaceForensics).
- :func:`psnr`: peak signal-to-noise ratio in dB, data range 1 (scikit-image); for a
  whole video, :func:`psnr_from_mse` of the mean of the frames' :func:`mse`.
- :func:`ssim`: SSIM with an 11-tap Gaussian window, sigma 1.5 [Wang 2004] (scikit-image).
- :func:`ms_ssim`: MS-SSIM [Wang 2003], written here (no dependency provides it);
  small images use fewer scales, see :func:`ms_ssim_scales`.
- :func:`lpips`: LPIPS with the AlexNet backbone and v0.1 linear layers (``lpips`` package).
- :func:`fid`: Frechet distance of InceptionV3 pool3 features, 2048-d
  (:func:`inception_features`; ``pytorch-fid``).
- :func:`akd`: average keypoint distance in pixels (NumPy).
- :func:`sms`: temporal smoothness of a landmark trajectory, Eq. (9) (NumPy).
- Beyond the paper, against ground-truth landmarks: :func:`gaze_error`,
  :func:`eye_aperture_error` (blinks), :func:`mouth_aperture_error` (helpers of
  :mod:`s2d.landmarks`), and :func:`parsing_mismatch`, the pixel mismatch of Eq. (7).

LPIPS and FID need pretrained networks. Their files are resolved with
:func:`s2d.weights.require` before a network is built; when that fails the
functions raise :class:`MetricUnavailable` with the one-line reason, and the
evaluation protocols report the metric as NaN with that reason. Networks are
built lazily, once per process, file and device.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from unittest import mock
from urllib.parse import urlparse

import numpy as np
import torch
from scipy import ndimage
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

from s2d import landmarks as lm
from s2d import weights

# MS-SSIM [Wang, Simoncelli, Bovik 2003]: per-scale exponents, 11x11 Gaussian window, sigma 1.5.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
_SSIM_K1, _SSIM_K2 = 0.01, 0.03

FID_DIMS = 2048  # InceptionV3 pool3


class MetricUnavailable(RuntimeError):
    """A metric cannot be computed here (for example its pretrained weights are missing)."""


# ----------------------------------------------------------------------------- pixels


def _check_images(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Check two image batches of equal shape and return them as tensors ``(B, 3, H, W)``."""
    ta, tb = torch.as_tensor(a), torch.as_tensor(b)
    if ta.shape != tb.shape:
        raise ValueError(f"image shapes differ: {tuple(ta.shape)} vs {tuple(tb.shape)}")
    if ta.ndim == 3:
        ta, tb = ta[None], tb[None]
    if ta.ndim != 4 or ta.shape[1] != 3:
        raise ValueError(f"expected images (B, 3, H, W) or (3, H, W), got {tuple(ta.shape)}")
    return ta, tb


def _image_pair(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`_check_images`, as CPU float64 tensors."""
    ta, tb = _check_images(a, b)
    return ta.detach().cpu().double(), tb.detach().cpu().double()


def l1(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Mean absolute pixel difference per image, times ``scale``.

    With images in [0, 1], ``scale=1`` gives the L1 of Tables 1, 4 and 5 (e.g. 0.0437)
    and ``scale=255`` the 0-255 L1 of the FaceForensics table, Table 3 (e.g. 10.05).
    """
    ta, tb = _image_pair(a, b)
    return (ta - tb).abs().mean(dim=(1, 2, 3)).numpy() * scale


def mse(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> np.ndarray:
    """Mean squared pixel difference per image. scikit-image."""
    ta, tb = _image_pair(a, b)
    return np.array([mean_squared_error(x, y) for x, y in zip(ta.numpy(), tb.numpy())])


def psnr(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> np.ndarray:
    """PSNR in dB per image (data range 1; ``inf`` for identical images). scikit-image."""
    ta, tb = _image_pair(a, b)
    with np.errstate(divide="ignore"):
        return np.array([peak_signal_noise_ratio(x, y, data_range=1.0) for x, y in zip(ta.numpy(), tb.numpy())])


def psnr_from_mse(mse_value: float | np.ndarray) -> float | np.ndarray:
    """PSNR in dB (data range 1) of a mean squared error, e.g. the MSE over all frames of a video."""
    with np.errstate(divide="ignore"):
        return 10 * np.log10(1.0 / np.asarray(mse_value, dtype=np.float64))


def ssim(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> np.ndarray:
    """SSIM per image: Gaussian window (sigma 1.5, 11 taps), the mean over RGB channels. scikit-image."""
    ta, tb = _image_pair(a, b)
    return np.array([
        structural_similarity(x, y, channel_axis=0, data_range=1.0, gaussian_weights=True,
                              sigma=SSIM_SIGMA, use_sample_covariance=False)
        for x, y in zip(ta.numpy(), tb.numpy())
    ])


def ms_ssim_scales(height: int, width: int) -> int:
    """How many MS-SSIM scales fit an image: at most 5, while the coarsest side is >= 11 px.

    Each scale halves the image (2x2 average pooling) and the 11x11 window is applied
    without padding, so the full 5 scales need a side of at least 11 * 2**4 = 176 px.
    64 px frames get 3 scales, 128 px 4, 256 px all 5.
    """
    side = min(height, width)
    if side < SSIM_WINDOW:
        raise ValueError(f"MS-SSIM needs images of at least {SSIM_WINDOW} px, got {height}x{width}")
    scales = 1
    while scales < len(MS_SSIM_WEIGHTS) and side // 2**scales >= SSIM_WINDOW:
        scales += 1
    return scales


def ms_ssim_weights(scales: int) -> tuple[float, ...]:
    """MS-SSIM exponents for ``scales`` scales: the first ``scales`` of Wang et al.'s five, renormalised to sum 1."""
    if not 1 <= scales <= len(MS_SSIM_WEIGHTS):
        raise ValueError(f"scales must be 1..{len(MS_SSIM_WEIGHTS)}, got {scales}")
    kept = MS_SSIM_WEIGHTS[:scales]
    return tuple(w / sum(kept) for w in kept)


def ms_ssim(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray, scales: int | None = None) -> np.ndarray:
    """Multi-scale SSIM per image [Wang, Simoncelli, Bovik 2003].

    The product over scales j of ``cs_j ** w_j`` (contrast-structure terms of the
    finer scales) and ``ssim_M ** w_M`` (full SSIM at the coarsest scale), with an
    11x11 Gaussian window (sigma 1.5, no padding), 2x2 average pooling between
    scales, and negative terms clamped at 0 before the power (as torchmetrics'
    ``normalize="relu"``). ``scales`` defaults to :func:`ms_ssim_scales` of the
    image size: the standard 5 from 176 px on; smaller images use fewer scales
    with :func:`ms_ssim_weights` (renormalised), which evaluation tables state in
    their notes. With ``scales=1`` this is SSIM (:func:`ssim`).

    Written here because none of s2d's dependencies provides MS-SSIM. Checked against
    torchmetrics 1.9 (same weights, ``normalize="relu"``): equal to 1e-8 once its
    coarsest-scale SSIM is also averaged over the valid region only; torchmetrics
    averages that term over a reflection-padded image instead, which moves the score
    by up to ~0.007 at 64 px and ~0.001 at 256 px.
    """
    ta, tb = _image_pair(a, b)
    fitting = ms_ssim_scales(*ta.shape[-2:])
    scales = fitting if scales is None else scales
    if scales > fitting:
        raise ValueError(f"{scales} MS-SSIM scales need a side of at least {SSIM_WINDOW * 2 ** (scales - 1)} px, "
                         f"got {tuple(ta.shape[-2:])}")
    x, y = ta.numpy(), tb.numpy()
    terms = []
    for j in range(scales):
        if j:
            x, y = _halve(x), _halve(y)
        luminance, contrast_structure = _ssim_terms(x, y)
        term = contrast_structure if j < scales - 1 else luminance * contrast_structure
        terms.append(np.maximum(term.mean(axis=(1, 2, 3)), 0))
    return np.prod(np.stack(terms, axis=1) ** np.array(ms_ssim_weights(scales)), axis=1)


def _halve(x: np.ndarray) -> np.ndarray:
    """2x2 average pooling of ``(..., H, W)`` (an odd last row or column is dropped)."""
    h, w = x.shape[-2] // 2, x.shape[-1] // 2
    return x[..., : 2 * h, : 2 * w].reshape(*x.shape[:-2], h, 2, w, 2).mean(axis=(-3, -1))


def _gaussian_blur(x: np.ndarray) -> np.ndarray:
    """Separable 11-tap Gaussian filter (sigma 1.5) over the last two axes, keeping the 'valid' region only."""
    taps = np.arange(SSIM_WINDOW) - (SSIM_WINDOW - 1) / 2
    g = np.exp(-(taps**2) / (2 * SSIM_SIGMA**2))
    g /= g.sum()
    r = (SSIM_WINDOW - 1) // 2
    x = ndimage.correlate1d(x, g, axis=-1)[..., r:-r]
    return ndimage.correlate1d(x, g, axis=-2)[..., r:-r, :]


def _ssim_terms(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Luminance and contrast-structure maps of SSIM (data range 1) of image batches ``(B, C, H, W)``."""
    c1, c2 = _SSIM_K1**2, _SSIM_K2**2
    mu_a, mu_b, aa, bb, ab = np.split(_gaussian_blur(np.concatenate([a, b, a * a, b * b, a * b])), 5)
    var_a, var_b, cov = aa - mu_a**2, bb - mu_b**2, ab - mu_a * mu_b
    luminance = (2 * mu_a * mu_b + c1) / (mu_a**2 + mu_b**2 + c1)
    contrast_structure = (2 * cov + c2) / (var_a + var_b + c2)
    return luminance, contrast_structure


# ----------------------------------------------------------------------------- pretrained networks

_NETWORKS: dict[tuple[str, Path, str], torch.nn.Module] = {}


def _require(name: str) -> Path:
    try:
        return weights.require(name)
    except weights.WeightsUnavailable as err:
        raise MetricUnavailable(str(err)) from None


def lpips_network(device: torch.device | str = "cpu") -> torch.nn.Module:
    """The LPIPS (AlexNet) network on ``device``, built once per process; raises :class:`MetricUnavailable`.

    The AlexNet backbone is loaded from the file :func:`s2d.weights.require` resolves
    (``weights_only=True``, never downloaded by lpips itself); the linear layers are the
    v0.1 weights that ship inside the ``lpips`` package.
    """
    path = _require("alexnet")
    key = ("lpips", path, str(torch.device(device)))
    if key not in _NETWORKS:
        import lpips as lpips_package

        with warnings.catch_warnings(), torch.random.fork_rng(devices=[]):  # random init must not move the global RNG
            warnings.filterwarnings("ignore", message=".*(pretrained|weight enum).*", category=UserWarning)
            net = lpips_package.LPIPS(net="alex", pnet_rand=True, verbose=False)
        state = torch.load(path, map_location="cpu", weights_only=True)
        backbone = net.net  # slices whose submodules keep torchvision's feature indices: slice1.0 = features.0
        backbone.load_state_dict({k: state["features." + k.split(".", 1)[1]] for k in backbone.state_dict()})
        _NETWORKS[key] = net.eval().requires_grad_(False).to(device)
    return _NETWORKS[key]


def lpips(a: torch.Tensor, b: torch.Tensor, device: torch.device | str | None = None) -> np.ndarray:
    """LPIPS distance per image (AlexNet, images in [0, 1]); raises :class:`MetricUnavailable` without weights."""
    ta, tb = _check_images(a, b)
    device = ta.device if device is None else torch.device(device)
    net = lpips_network(device)
    with torch.inference_mode():
        out = net(ta.to(device, torch.float32), tb.to(device, torch.float32), normalize=True)
    return out.flatten().double().cpu().numpy()


def inception_network(device: torch.device | str = "cpu") -> torch.nn.Module:
    """pytorch-fid's InceptionV3 (pool3 output) on ``device``, built once per process.

    Raises :class:`MetricUnavailable` when the weights are missing. pytorch-fid would
    fetch its weights with ``load_state_dict_from_url``; while building, that call is
    routed to the file :func:`s2d.weights.require` resolved (``weights_only=True``),
    so nothing is ever downloaded here and exactly that file is used.
    """
    path = _require("inception")
    key = ("inception", path, str(torch.device(device)))
    if key not in _NETWORKS:
        from pytorch_fid import inception as fid_inception

        def load_resolved(url: str, *args: object, **kwargs: object) -> dict[str, torch.Tensor]:
            if Path(urlparse(url).path).name != path.name:
                raise RuntimeError(f"pytorch-fid asked for {url}, but s2d resolved {path}")
            return torch.load(path, map_location="cpu", weights_only=True)

        with mock.patch.object(fid_inception, "load_state_dict_from_url", load_resolved), \
                torch.random.fork_rng(devices=[]):
            net = fid_inception.InceptionV3([fid_inception.InceptionV3.BLOCK_INDEX_BY_DIM[FID_DIMS]])
        _NETWORKS[key] = net.eval().requires_grad_(False).to(device)
    return _NETWORKS[key]


def inception_features(images: torch.Tensor, device: torch.device | str | None = None) -> np.ndarray:
    """InceptionV3 pool3 features ``(B, 2048)`` float64 of images in [0, 1] (resized to 299 px by pytorch-fid)."""
    images = torch.as_tensor(images)
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected images (B, 3, H, W), got {tuple(images.shape)}")
    device = images.device if device is None else torch.device(device)
    net = inception_network(device)
    with torch.inference_mode():
        (pool3,) = net(images.to(device, torch.float32))
    return pool3.flatten(1).double().cpu().numpy()


def fid(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Frechet distance between two feature sets ``(N, D)`` (Gaussian fits), by pytorch-fid.

    Computed once over all generated and all real frames of a protocol. With fewer
    frames than feature dimensions (2048) the covariances are singular and FID is
    biased upwards, so compare values over sets of equal size only. pytorch-fid's
    matrix square root of 2048 x 2048 covariances takes ~30 s on two CPU cores.
    """
    from pytorch_fid.fid_score import calculate_frechet_distance

    fa, fb = np.asarray(features_a, dtype=np.float64), np.asarray(features_b, dtype=np.float64)
    if fa.ndim != 2 or fb.ndim != 2 or fa.shape[1] != fb.shape[1]:
        raise ValueError(f"expected feature sets (N, D) with the same D, got {fa.shape} and {fb.shape}")
    if min(len(fa), len(fb)) < 2:
        raise ValueError(f"FID needs at least 2 samples per set, got {len(fa)} and {len(fb)}")
    return float(calculate_frechet_distance(fa.mean(0), np.cov(fa, rowvar=False),
                                            fb.mean(0), np.cov(fb, rowvar=False)))


# ----------------------------------------------------------------------------- landmarks


def _landmark_pair(a: np.ndarray, b: np.ndarray, full: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Check two landmark arrays ``(..., N, 2)`` (``N == 74`` when ``full``) and return them as float64."""
    na, nb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if na.shape != nb.shape:
        raise ValueError(f"landmark shapes differ: {na.shape} vs {nb.shape}")
    if na.ndim < 2 or na.shape[-1] != 2 or (full and na.shape[-2] != lm.NUM_LANDMARKS):
        points = lm.NUM_LANDMARKS if full else "N"
        raise ValueError(f"expected landmarks (..., {points}, 2), got {na.shape}")
    return na, nb


def akd(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Average keypoint distance: the mean over points of the Euclidean distance (pixels), per frame."""
    na, nb = _landmark_pair(a, b)
    return np.linalg.norm(na - nb, axis=-1).mean(axis=-1)


def sms(landmarks: np.ndarray) -> float:
    """Temporal smoothness of a landmark trajectory ``(T, N, 2)``, Eq. (9); lower is smoother.

    Eq. (9) reads ``1/T sum_t |(D[t-1] + D[t+1]) / 2 - D[t]|``. Its neighbours exist
    only for the interior frames t = 1 .. T-2 (0-based), so the sum runs over those
    and is divided by their number, T - 2; ``|.|`` is the Euclidean norm of each
    point's 2-D deviation from the midpoint of its neighbours, averaged over the N
    points. A trajectory moving at constant velocity scores 0. The result is in
    pixels per point; a sum over points (which the magnitudes of the paper's Table 5
    may reflect) is N times larger.
    """
    d = np.asarray(landmarks, dtype=np.float64)
    if d.ndim != 3 or d.shape[-1] != 2:
        raise ValueError(f"expected a trajectory (T, N, 2), got {d.shape}")
    if len(d) < 3:
        raise ValueError(f"SMS needs at least 3 frames, got {len(d)}")
    deviation = (d[:-2] + d[2:]) / 2 - d[1:-1]
    return float(np.linalg.norm(deviation, axis=-1).mean())


def _pupil_offsets(landmarks: np.ndarray) -> np.ndarray:
    """Each pupil relative to the centre of its eye's six contour points, shape ``(..., 2, 2)`` (left, right eye)."""
    centres = np.stack([landmarks[..., list(eye), :].mean(-2) for eye in (lm.LEFT_EYE, lm.RIGHT_EYE)], -2)
    return landmarks[..., [lm.LEFT_PUPIL, lm.RIGHT_PUPIL], :] - centres


def gaze_error(predicted: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Gaze error per frame: the pupil's offset from its eye's centre, predicted vs reference.

    The Euclidean error of the offset, averaged over both eyes, divided by the
    reference's interocular distance (outer eye corners), so head motion does not
    count and faces of any size compare. Landmarks ``(..., 74, 2)``.
    """
    p, r = _landmark_pair(predicted, reference, full=True)
    error = np.linalg.norm(_pupil_offsets(p) - _pupil_offsets(r), axis=-1).mean(-1)
    return error / np.maximum(lm.interocular_distance(r), 1e-6)


def eye_aperture_error(predicted: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Blink error per frame: ``|eye_aperture(predicted) - eye_aperture(reference)|`` averaged over both eyes."""
    p, r = _landmark_pair(predicted, reference, full=True)
    return np.abs(lm.eye_aperture(p) - lm.eye_aperture(r)).mean(-1)


def mouth_aperture_error(predicted: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Mouth-opening error per frame: ``|mouth_aperture(predicted) - mouth_aperture(reference)|``."""
    p, r = _landmark_pair(predicted, reference, full=True)
    return np.abs(lm.mouth_aperture(p) - lm.mouth_aperture(r))


# ----------------------------------------------------------------------------- parsing


def parsing_mismatch(labels_a: np.ndarray | torch.Tensor, labels_b: np.ndarray | torch.Tensor) -> np.ndarray:
    """Fraction of pixels whose parsing labels differ, per map ``(..., H, W) -> (...)``: Eq. (7).

    Eq. (7) is ``L_par = 1 - |f_eq(f_w^n(S_P, F), D_P)|``, one minus the fraction of
    equal labels; pass the nearest-warped source parsing and the driving parsing
    (labels as in ``s2d.data.format.PARSING_LABELS``).
    """
    a = labels_a.detach().cpu().numpy() if isinstance(labels_a, torch.Tensor) else np.asarray(labels_a)
    b = labels_b.detach().cpu().numpy() if isinstance(labels_b, torch.Tensor) else np.asarray(labels_b)
    if a.shape != b.shape:
        raise ValueError(f"label map shapes differ: {a.shape} vs {b.shape}")
    if a.ndim < 2:
        raise ValueError(f"expected label maps (..., H, W), got {a.shape}")
    return (a != b).mean(axis=(-2, -1))
