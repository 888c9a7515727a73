"""s2d.landmarks: the 74-point order, regions and the horizontal flip."""

import numpy as np

from s2d import landmarks as lm
from s2d.data.template import LANDMARKS_3D


def test_counts_and_regions():
    assert lm.NUM_LANDMARKS == 74
    assert len(lm.LEFT_EYE_BROW) == len(lm.RIGHT_EYE_BROW) == 5 + 6 + 1 + 2
    assert len(lm.MOUTH) == 20
    every = [i for idx in lm.REGIONS.values() for i in idx]
    assert len(every) == len(set(every))


def test_flip_permutation_is_an_involution_that_swaps_sides():
    perm = lm.FLIP_PERMUTATION
    assert sorted(perm) == list(range(74))
    assert np.array_equal(perm[perm], np.arange(74))
    assert sorted(perm[list(lm.LEFT_EYE_BROW)]) == sorted(lm.RIGHT_EYE_BROW)
    assert sorted(perm[list(lm.MOUTH)]) == sorted(lm.MOUTH)
    assert perm[lm.LEFT_PUPIL] == lm.RIGHT_PUPIL


def test_flipping_the_symmetric_template_gives_it_back():
    # the template is left-right symmetric about x = 0: in an image of width w centred on it,
    # a correct flip (mirror + index swap) must reproduce every point
    width = 101
    points = LANDMARKS_3D[:, :2] * 40 + (width - 1) / 2
    assert np.allclose(lm.flip_horizontal(points, width), points, atol=1e-9)
    shuffled = lm.flip_horizontal(points, width)
    shuffled[[36, 45]] = shuffled[[45, 36]]
    assert not np.allclose(shuffled, points)


def test_apertures_on_the_template():
    points = LANDMARKS_3D[:, :2]
    assert np.all(lm.eye_aperture(points) > 0.2)
    assert lm.mouth_aperture(points) < 0.05
    assert np.isclose(lm.interocular_distance(points), 0.62)
