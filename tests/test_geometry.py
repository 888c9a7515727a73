"""s2d.geometry: normalised coordinates, the identity grid and the two Gaussian heatmaps."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from s2d.geometry import (
    gaussian_heatmaps_sigma_px,
    gaussian_heatmaps_variance,
    identity_grid,
    pixel_centres,
    to_normalised,
    to_pixels,
)


def test_identity_grid_is_the_identity_affine_grid_at_the_pixel_centres():
    grid = identity_grid(2, 6, 10)
    theta = torch.eye(2, 3).expand(2, 2, 3)
    assert torch.equal(grid, F.affine_grid(theta, [2, 1, 6, 10], align_corners=False))
    torch.testing.assert_close(grid[0, 0, :, 0], pixel_centres(10, grid))
    torch.testing.assert_close(grid[0, :, 0, 1], pixel_centres(6, grid))
    image = torch.rand(2, 3, 6, 10)
    torch.testing.assert_close(F.grid_sample(image, grid, align_corners=False), image)


def test_pixel_centres_and_normalised_coordinates_agree():
    torch.testing.assert_close(pixel_centres(4, torch.zeros(())), torch.tensor([-0.75, -0.25, 0.25, 0.75]))
    points = np.array([[0.0, 0.0], [9.0, 5.0], [2.5, 1.25]])
    norm = to_normalised(points, 6, 10)
    np.testing.assert_allclose(norm[:2], [[-0.9, -5 / 6], [0.9, 5 / 6]])
    np.testing.assert_allclose(to_pixels(norm, 6, 10), points, atol=1e-12)
    torch.testing.assert_close(to_normalised(torch.from_numpy(points), 6, 10), torch.from_numpy(norm))


@pytest.mark.parametrize("heatmaps", [
    lambda c, h, w: gaussian_heatmaps_sigma_px(c, h, w, sigma=1.5),
    lambda c, h, w: gaussian_heatmaps_variance(c, h, w, variance=0.01),
], ids=["sigma_px", "variance"])
def test_a_gaussian_heatmap_peaks_at_its_point(heatmaps):
    pixels = torch.tensor([[[3.0, 7.0], [12.0, 1.0]]])  # (x, y) at pixel centres of a 10 x 16 map
    maps = heatmaps(to_normalised(pixels, 10, 16), 10, 16)
    assert maps.shape == (1, 2, 10, 16)
    for k, (x, y) in enumerate(pixels[0].long().tolist()):
        assert maps[0, k].argmax() == y * 16 + x
        torch.testing.assert_close(maps[0, k, y, x], torch.tensor(1.0))


def test_the_two_conventions_of_the_gaussian_width():
    centre = torch.zeros(1, 1, 2)
    sigma_px = gaussian_heatmaps_sigma_px(centre + 0.05, 20, 20, sigma=2.0)  # centred on pixel (10, 10)
    assert sigma_px[0, 0, 10, 12] == pytest.approx(np.exp(-0.5))  # one sigma: 2 pixels away
    normalised = gaussian_heatmaps_sigma_px(centre, 16, 24, sigma=1.0, normalise=True)
    torch.testing.assert_close(normalised.sum(), torch.tensor(1.0))
    variance = gaussian_heatmaps_variance(centre + 0.05, 20, 20, variance=0.04)
    assert variance[0, 0, 10, 12] == pytest.approx(np.exp(-0.5))  # one standard deviation: 0.2 normalised


def test_coordinates_must_be_pairs():
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        to_pixels(np.zeros((3, 3)), 8, 8)
    with pytest.raises(ValueError, match="sigma must be positive"):
        gaussian_heatmaps_sigma_px(torch.zeros(1, 1, 2), 8, 8, sigma=0.0)
