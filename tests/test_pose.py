"""Head pose from 2D landmarks: recovery of known rotations and the sign conventions."""

import numpy as np
import pytest

from s2d import landmarks as lm
from s2d.data.pose import angles_from_matrix, camera_matrix, estimate_pose, rotation_matrix
from s2d.data.template import LANDMARKS_3D

H, W = 240, 320


def project(yaw: float, pitch: float, roll: float, shift=(0.1, -0.05), distance: float = 3.0) -> np.ndarray:
    """The template's 74 points seen by the pinhole camera pose.py assumes (focal = image width)."""
    cam = camera_matrix(H, W)
    turned = LANDMARKS_3D @ rotation_matrix(yaw, pitch, roll).T
    depth = distance - turned[:, 2]  # z points towards the camera
    xy = turned[:, :2] + np.array(shift)
    return (cam[0, 0] * xy / depth[:, None] + cam[:2, 2]).astype(np.float32)


def test_rotation_matrix_signs():
    nose, left_eye, right_eye = 30, 36, 45
    frontal = project(0, 0, 0)
    assert project(20, 0, 0)[nose, 0] > frontal[nose, 0] + 5  # yaw > 0: the nose moves to the image's right
    assert project(0, 20, 0)[nose, 1] < frontal[nose, 1] - 5  # pitch > 0: the face looks up
    rolled = project(0, 0, 20)  # roll > 0: clockwise in the image, so the image-right eye drops
    assert rolled[right_eye, 1] > rolled[left_eye, 1] + 5


@pytest.mark.parametrize("angles", [(0, 0, 0), (30, 0, 0), (-25, 0, 0), (0, 20, 0), (0, -20, 0),
                                    (0, 0, 15), (0, 0, -15), (40, -25, 20), (-35, 15, -10), (55, 10, 5)])
def test_pose_recovered_from_a_projection(angles):
    est = estimate_pose(project(*angles), H, W)
    assert est.dtype == np.float32 and est.shape == (3,)
    np.testing.assert_allclose(est, angles, atol=1.0)


def test_pose_is_robust_to_pixel_noise_and_takes_batches():
    rng = np.random.default_rng(0)
    truth = np.array([[10, 5, -3], [-20, -10, 8], [0, 15, 0]], np.float32)
    points = np.stack([project(*a) for a in truth]) + rng.normal(0, 0.3, (3, lm.NUM_LANDMARKS, 2))
    est = estimate_pose(points, H, W)
    assert est.shape == (3, 3)
    np.testing.assert_allclose(est, truth, atol=1.5)


def test_mirrored_face_has_mirrored_pose():
    points = project(25, 10, 12)
    mirrored = lm.flip_horizontal(points, W)
    yaw, pitch, roll = estimate_pose(mirrored, H, W)
    # The camera's principal point sits at the image centre, so the mirror image is exact.
    np.testing.assert_allclose([yaw, pitch, roll], [-25, 10, -12], atol=1.0)


def test_angles_from_matrix_inverts_rotation_matrix():
    rng = np.random.default_rng(1)
    for angles in rng.uniform([-80, -60, -80], [80, 60, 80], size=(50, 3)):
        np.testing.assert_allclose(angles_from_matrix(rotation_matrix(*angles)), angles, atol=1e-6)
