"""From heatmaps to landmark coordinates: argmax (FAN4) and DSNT (Sec. 3.3, Table 5).

Coordinates are normalised as everywhere in s2d (:mod:`s2d.geometry`: (x, y) in
[-1, 1], pixel centres at ``(2 i + 1) / n - 1``), so heatmaps at 1/4 of the network
input, the network input and the original frame all share them;
:func:`s2d.geometry.to_pixels` maps them to the pixels of any of these.

- :func:`argmax_decode`: the heatmap maximum with face-alignment's quarter-pixel
  shift towards the larger neighbour, how FAN4 [2] reads its heatmaps (Table 5, FAN4).
- :func:`dsnt`: the differentiable spatial to numerical transform of Nibali et al.
  [34] ("Numerical coordinate regression with convolutional neural networks",
  2018): the expected coordinates under the softmax-normalised heatmap
  (Table 5, FAN4+DSNT). No parameters; gradients reach every heatmap pixel.
- :func:`js_regulariser`: Nibali et al.'s distribution regulariser, the
  Jensen-Shannon divergence between the normalised heatmap and a Gaussian
  centred at the target (sigma in heatmap pixels,
  :func:`s2d.geometry.gaussian_heatmaps_sigma_px`).
"""

from __future__ import annotations

import torch

from s2d.geometry import gaussian_heatmaps_sigma_px, pixel_centres, to_normalised

_EPS = 1e-24  # inside the logarithms of the divergence, as in Nibali et al.'s dsntnn


def _check_heatmaps(heatmaps: torch.Tensor) -> None:
    if heatmaps.ndim != 4:
        raise ValueError(f"expected heatmaps (B, L, H, W), got {tuple(heatmaps.shape)}")


def argmax_decode(heatmaps: torch.Tensor, subpixel: bool = True) -> torch.Tensor:
    """Normalised coordinates ``(B, L, 2)`` of each heatmap's maximum (FAN4's decoding, Table 5).

    With ``subpixel``, as face-alignment's ``get_preds_fromhm``: the maximum moves a
    quarter pixel along x (and along y) towards the larger of its two neighbours,
    when it is not on the heatmap's border. Not differentiable.
    """
    _check_heatmaps(heatmaps)
    b, n, h, w = heatmaps.shape
    flat = heatmaps.detach().reshape(b, n, h * w)
    index = flat.argmax(dim=-1)
    x, y = (index % w).to(heatmaps.dtype), (index // w).to(heatmaps.dtype)
    if subpixel:
        xi, yi = index % w, index // w

        def value(yy: torch.Tensor, xx: torch.Tensor) -> torch.Tensor:
            return flat.gather(-1, (yy * w + xx).unsqueeze(-1)).squeeze(-1)

        inner_x = ((xi > 0) & (xi < w - 1)).to(heatmaps.dtype)
        inner_y = ((yi > 0) & (yi < h - 1)).to(heatmaps.dtype)
        dx = value(yi, (xi + 1).clamp(max=w - 1)) - value(yi, (xi - 1).clamp(min=0))
        dy = value((yi + 1).clamp(max=h - 1), xi) - value((yi - 1).clamp(min=0), xi)
        x = x + 0.25 * torch.sign(dx) * inner_x
        y = y + 0.25 * torch.sign(dy) * inner_y
    return to_normalised(torch.stack([x, y], dim=-1), h, w)


def softmax_heatmaps(heatmaps: torch.Tensor) -> torch.Tensor:
    """Normalise each heatmap into a probability map with a spatial softmax (as Nibali et al.)."""
    _check_heatmaps(heatmaps)
    b, n, h, w = heatmaps.shape
    return heatmaps.reshape(b, n, h * w).softmax(dim=-1).reshape(b, n, h, w)


def dsnt(probabilities: torch.Tensor) -> torch.Tensor:
    """DSNT (Nibali et al. 2018): expected normalised (x, y) ``(B, L, 2)`` under each probability map.

    ``probabilities`` are non-negative and sum to 1 over each map, as
    :func:`softmax_heatmaps` makes them. Fully differentiable, no parameters.
    """
    _check_heatmaps(probabilities)
    h, w = probabilities.shape[-2:]
    x = (probabilities.sum(dim=-2) * pixel_centres(w, probabilities)).sum(dim=-1)
    y = (probabilities.sum(dim=-1) * pixel_centres(h, probabilities)).sum(dim=-1)
    return torch.stack([x, y], dim=-1)


def js_regulariser(probabilities: torch.Tensor, target: torch.Tensor, sigma: float) -> torch.Tensor:
    """Jensen-Shannon divergence ``(B, L)`` between each probability map and a Gaussian at ``target``.

    Nibali et al.'s distribution regulariser, in its Jensen-Shannon form:
    it pulls the heatmap towards a Gaussian of standard deviation ``sigma``
    (heatmap pixels) centred at the normalised target coordinates ``(B, L, 2)``.
    Zero when the map is that Gaussian; at most log 2.
    """
    _check_heatmaps(probabilities)
    if target.shape != probabilities.shape[:2] + (2,):
        raise ValueError(f"targets {tuple(target.shape)} do not match heatmaps {tuple(probabilities.shape)}")
    q = gaussian_heatmaps_sigma_px(target, *probabilities.shape[-2:], sigma=sigma, normalise=True)
    p = probabilities
    log_m = ((p + q) / 2 + _EPS).log()
    kl_pm = (p * ((p + _EPS).log() - log_m)).sum(dim=(-2, -1))
    kl_qm = (q * ((q + _EPS).log() - log_m)).sum(dim=(-2, -1))
    return (kl_pm + kl_qm) / 2
