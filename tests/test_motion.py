"""The dense motion map: landmark-fitted candidates, seamless Eq. (3), and a global branch that learns to move."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from s2d.checkpoint import load_model
from s2d.config import load_config
from s2d.geometry import identity_grid
from s2d.models.dense_motion import MASK_LOGIT_INIT, crop_window, fuse, logits_where_sampled, paste_local
from s2d.models.landmark_warps import CANDIDATES, affine_fit, candidate_offsets, tps_apply, tps_fit
from s2d.models.s2d import S2DModel
from s2d.train import train
from s2d.motion_diagnostics import crop_rings, frame_diagnostics, motion_diagnostics, transfer_error

TINY = ["model.block_expansion=8", "model.max_features=32", "model.num_bottleneck_blocks=1"]


def _model(resolution=64, *extra, seed=0):
    blocks = {64: 2, 128: 3, 256: 4}[resolution]
    torch.manual_seed(seed)
    config = load_config("smoke", [*TINY, f"data.resolution={resolution}", f"model.motion_blocks={blocks}", *extra])
    return S2DModel(config).eval()


def _face(resolution=64, batch=2, seed=0):
    """A smooth image and 74 landmarks spread like a face's (regions apart, crops inside the frame)."""
    g = torch.Generator().manual_seed(seed)
    image = F.interpolate(torch.rand(batch, 3, 6, 6, generator=g), size=(resolution, resolution), mode="bilinear")
    lm = resolution * (0.3 + 0.4 * torch.rand(batch, 74, 2, generator=g))
    return image, lm


def _stir(model, scale=0.05, seed=1):
    """Random weights that make every branch move something and open its mask."""
    g = torch.Generator().manual_seed(seed)
    for p in model.dense_motion.parameters():
        p.data.add_(scale * torch.randn(p.shape, generator=g))
    for branch in model.dense_motion.local_branches:
        branch.net.out.bias.data[2] = 3.0  # masks near 1 inside the window
    return model


def test_crop_window_is_one_inside_zero_on_and_beyond_the_border_and_continuous():
    t = torch.linspace(-1.5, 1.5, 3001)
    line = torch.stack([t, torch.zeros_like(t)], dim=-1)[None, None]  # across the crop through its centre
    w = crop_window(line)[0, 0]
    assert torch.all(w[t.abs() >= 1] == 0)
    assert torch.all(w[t.abs() <= 0.5] == 1)
    step = (t[1] - t[0]).item()
    assert (w[1:] - w[:-1]).abs().max() <= math.pi / 2 / 0.5 * step * 1.01  # Lipschitz: no jump anywhere


def test_affine_and_spline_fits_recover_what_made_the_points():
    g = torch.Generator().manual_seed(0)
    driving = torch.rand(3, 68, 2, generator=g) * 1.2 - 0.6
    a = torch.tensor([[0.9, 0.1], [-0.2, 1.1], [0.05, -0.03]]).expand(3, 3, 2)
    source = torch.cat([driving, torch.ones_like(driving[..., :1])], -1) @ a
    assert torch.allclose(affine_fit(driving, source), a, atol=1e-4)
    bent = source + 0.05 * torch.sin(3 * driving)
    spline = tps_apply(tps_fit(driving, bent, smoothing=1e-6), driving, driving)
    assert (spline - bent).abs().max() < 2e-3  # interpolates its control points
    assert (tps_apply(tps_fit(driving, source), driving, driving) - source).abs().max() < 1e-4  # affine: exact


def test_candidates_are_the_identity_when_driving_equals_source_and_a_shift_when_shifted():
    points = torch.rand(2, 68, 2) - 0.5
    grid = identity_grid(2, 16, 16)
    still = candidate_offsets(points, points, grid)
    assert still.abs().max() < 1e-4
    moved = candidate_offsets(points + 0.1, points, grid)  # driving = source moved right and down
    assert torch.allclose(moved[:, 1:], torch.full_like(moved[:, 1:], -0.1), atol=1e-3)


def test_each_candidates_logit_is_read_where_it_samples_the_source():
    """A disk of high logits on the source's head: the identity candidate reads it where it is, a candidate that
    samples the source 4 px to the left of each driving pixel reads it 4 px further right (the head moved right)."""
    size, shift = 32, 4
    y, x = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    disk = (((x - 12) ** 2 + (y - 16) ** 2) < 36).float() * 8 - 4  # +4 on the head, -4 elsewhere
    logits = disk.expand(1, 2, size, size)
    still = identity_grid(1, size, size)
    moved = still.clone()
    moved[..., 0] -= 2 * shift / size  # samples shift px to the left: normalised units are 2 / size per px
    read = logits_where_sampled(logits, torch.stack([still, moved], dim=1))
    assert torch.allclose(read[0, 0], disk, atol=1e-5)
    assert torch.allclose(read[0, 1, :, shift:], disk[:, :-shift], atol=1e-5)
    assert read[0, 1, 16, 12 + shift] == 4 and read[0, 1, 16, 12 - 5] == -4


def test_the_edge_logits_start_near_zero_and_receive_gradients():
    model = _model(64)
    branch = model.dense_motion.global_branch
    image, lm = _face()
    upsampled = torch.randn(len(image), len(CANDIDATES), *image.shape[-2:])
    # a new branch's logits are the hourglass's
    assert (branch.candidate_logits(image, upsampled) - upsampled).abs().max() < 0.01
    moved = lm.clone()
    moved[..., 0] += 3
    model.dense_motion(image, lm, moved).global_grid.sum().backward()
    assert branch.edge_logits[-1].weight.grad.abs().sum() > 0


def test_the_residual_cannot_move_what_the_global_branch_keeps_still():
    """The residual is gated by 1 - w_id: with the identity's weight near 1 everywhere, a large residual leaves the
    map the identity whatever the landmarks do; with it near 0, the residual moves the map."""
    model = _model(64)
    branch = model.dense_motion.global_branch
    image, lm = _face()
    moved = lm.clone()
    moved[..., 0] += 3
    still = identity_grid(len(image), 64, 64)
    identity = CANDIDATES.index("identity")
    with torch.no_grad():
        branch.net.out.bias[len(CANDIDATES):] = 0.3  # a residual of 0.3 normalised units (about 10 px) everywhere
        branch.net.out.bias[identity] = 50.0
        kept, weight = branch(image, lm, moved)
    assert weight.min() > 0.999 and (kept - still).abs().max() < 1e-3
    with torch.no_grad():
        branch.net.out.bias[identity] = -50.0
        moving, weight = branch(image, lm, moved)
    assert weight.max() < 1e-3 and (moving - still).abs().mean() > 0.2


def test_a_local_branch_starts_from_its_regions_spline_which_carries_the_pupil_home():
    """With its hourglass's offsets at zero, a local map is the spline through its region's landmarks: it sends each
    driving landmark, the pupil whose gaze moved included, to the source's; the literal branch does not."""
    from s2d import landmarks as lm

    image, source_lm = _face()
    region = list(lm.REGIONS["left_eye_brow"])
    g = torch.Generator().manual_seed(3)
    source_lm[:, region] = 28 + 10 * torch.rand(2, len(region), 2, generator=g)  # inside the 16 px crop
    driving = source_lm + torch.tensor([1.5, -1.0])  # the head moves...
    pupil = lm.PUPILS[0]
    driving[:, pupil] += torch.tensor([1.0, 0.5])  # ...and the gaze too
    errors = {}
    for motion in ("spline", "offsets"):
        model = _model(64, f"model.local_motion={motion}")
        branch = model.dense_motion.local_branches[0]  # the left eye and brow
        assert pupil in branch.region
        with torch.no_grad():
            branch.net.out.weight[:2] = 0
            branch.net.out.bias[:2] = 0
        local_grid, mask, s_centre, d_centre, half = branch(image, source_lm, driving)
        pasted, _ = paste_local(local_grid, mask, s_centre, d_centre, half, 64, 64)
        errors[motion] = transfer_error(pasted, source_lm[:, branch.region], driving[:, branch.region])
        errors[f"{motion} pupil"] = transfer_error(pasted, source_lm[:, [pupil]], driving[:, [pupil]])
    assert (errors["spline"] < 0.05).all() and (errors["spline pupil"] < 0.1).all(), errors  # pixels
    assert (errors["offsets pupil"] > 0.8).all(), errors  # the crop's shift alone misses the gaze (1.1 px)


@pytest.mark.parametrize("motion, local, tolerance", [("candidates", "spline", 0.002), ("offsets", "offsets", 0.05)])
def test_zero_landmark_motion_gives_the_identity_warp(motion, local, tolerance):
    """A new model (normalised units; 0.002 is 0.06 px at 64 px): the candidates and the local splines are
    exactly the identity and the residual starts at zero; the literal offsets start near zero."""
    model = _model(64, f"model.global_motion={motion}", f"model.local_motion={local}")
    image, lm = _face()
    out = model.dense_motion(image, lm, lm)
    assert (out.global_grid - identity_grid(2, 64, 64)).abs().max() < tolerance
    assert (out.grid - identity_grid(2, 64, 64)).abs().max() < max(tolerance, 0.01)
    assert out.local_masks.max() < torch.sigmoid(torch.tensor(MASK_LOGIT_INIT[local])) + 0.01


def test_fusion_does_not_depend_on_the_order_of_the_crops():
    g = torch.Generator().manual_seed(0)
    base = identity_grid(2, 32, 32)
    grids = [base + 0.1 * torch.randn(2, 32, 32, 2, generator=g) for _ in range(3)]
    masks = [torch.rand(2, 32, 32, generator=g) for _ in range(3)]  # overlapping, summing past 1
    a, ma = fuse(base, grids, masks)
    b, mb = fuse(base, grids[::-1], masks[::-1])
    assert torch.allclose(a, b, atol=1e-6) and torch.allclose(ma, mb.flip(1), atol=1e-6)
    assert torch.all(ma.sum(1) <= 1 + 1e-6)


def _fused_on_a_fine_grid(model, image, lm, driving, fine):
    """Eq. (3) of ``model`` evaluated on a ``fine`` x ``fine`` grid of image positions: F, f_G (upsampled) and the
    crop boxes, so the border can be approached closer than the model's own pixels."""
    dm = model.dense_motion
    size = image.shape[-1]
    global_grid, _ = dm.global_branch(image, lm, driving)
    offsets = (global_grid - identity_grid(len(image), size, size)).permute(0, 3, 1, 2)
    global_fine = identity_grid(len(image), fine, fine) + F.interpolate(
        offsets, size=(fine, fine), mode="bilinear", align_corners=False).permute(0, 2, 3, 1)
    grids, masks, boxes = [], [], []
    for branch in dm.local_branches:
        local_grid, mask, s_centre, d_centre, half = branch(image, lm, driving)
        pasted, m = paste_local(local_grid, mask, s_centre, d_centre, half, fine, fine)
        grids.append(pasted)
        masks.append(m)
        boxes.append(torch.cat([d_centre, torch.full_like(d_centre[:, :1], half)], dim=1))
    fused, used = fuse(global_fine, grids, masks)
    return fused, global_fine, used, torch.stack(grids, dim=1), torch.stack(boxes, dim=1)


@pytest.mark.parametrize("stirred", [False, True])
def test_the_fused_map_is_continuous_across_crop_borders(stirred):
    """With driving landmarks unlike the source's, at initialisation and with every branch moving (weights
    stirred, masks near 1 inside): what each crop adds to F, m_i |f^_i - f_G|, on a ring ever closer to the
    crop's border (just outside it the crop adds nothing) shrinks to 0 as the grid gets finer. A jump would
    stay the same size."""
    model = _model(64)
    if stirred:
        _stir(model)
    image, lm = _face(64)
    driving = lm + torch.tensor([3.0, -2.0]) + torch.randn_like(lm)
    jumps = []
    for fine in (64, 256, 1024):
        fused, global_fine, masks, grids, boxes = _fused_on_a_fine_grid(model, image, lm, driving, fine)
        ring = crop_rings(boxes, fine)  # (B, 3, H, W): the pixels within one pixel of the border, inside
        jump = masks * (grids - global_fine[:, None]).norm(dim=-1) * 32  # pixels of the 64 px frame
        jumps.append(jump[ring].max().item())
        if fine == 64:
            if stirred:
                assert masks.amax((2, 3)).min() > 0.3  # the masks do open inside their crops
            else:
                start = torch.sigmoid(torch.tensor(MASK_LOGIT_INIT["spline"]))
                # masks start small: on the coarse ring a fifth of a pixel at most, with landmarks this noisy
                assert masks.max() < start + 0.01 and jumps[-1] < 0.2
    assert jumps[2] < 0.1 and jumps[2] < 0.1 * jumps[0] + 1e-3, jumps


def test_a_hard_box_would_fail_the_continuity_check():
    """The check can fail: the same motion with the window replaced by the crop's box jumps at the border."""
    model = _stir(_model(64))
    image, lm = _face(64)
    driving = lm + 3.0
    motion = model.dense_motion(image, lm, driving)
    boxed = motion.local_masks.clone()
    boxed[boxed > 0] = 0.9  # a solid mask over each whole crop, as before the window
    grids = [motion.global_grid + 0.1 for _ in range(3)]  # each local map 3.2 px from the global one
    fused, used = fuse(motion.global_grid, grids, list(boxed.unbind(1)))
    motion.grid, motion.local_masks, motion.local_grids = fused, used, torch.stack(grids, dim=1)
    assert frame_diagnostics(motion, lm, driving)["border_jump_px"].min() > 1.0


def test_the_uncovered_strip_shows_the_source_head_under_the_identity_and_the_background_under_the_heads_shift():
    """A head that moves 4 px right uncovers a 4 px strip on its left and covers one on its right: the identity
    samples the source's head on the first (a ghost of its edge) and the background on the second (the head cut
    short); the head's shift samples the background behind the head on the first and the head on the second."""
    model = _model(64)
    image, lm = _face(64, batch=1)
    driving_lm = lm + torch.tensor([4.0, 0.0])
    motion = model.dense_motion(image, lm, driving_lm)
    source = torch.zeros(1, 64, 64, dtype=torch.long)
    source[:, 20:44, 20:40] = 1
    driving = source.roll(4, dims=2)
    for shift, background in ((0.0, 0.0), (4.0, 1.0), (2.0, 0.5)):  # 2 px: the strip's outer half
        motion.grid = identity_grid(1, 64, 64) - torch.tensor([shift, 0.0]) * 2 / 64
        out = frame_diagnostics(motion, lm, driving_lm, source, driving)
        assert out["uncovered_pixels"].item() == out["covered_pixels"].item() == 24 * 4
        assert out["uncovered_share_sum"].item() / 96 == pytest.approx(background, abs=1e-3), shift
        assert out["covered_share_sum"].item() / 96 == pytest.approx(background, abs=1e-3), shift  # the leading edge


def test_transfer_error_of_the_identity_is_the_landmark_displacement():
    lm = 10 + 40 * torch.rand(2, 74, 2)
    driving = lm + torch.tensor([2.0, 1.0])
    grid = identity_grid(2, 64, 64)
    assert torch.allclose(transfer_error(grid, lm, driving), torch.full((2,), math.sqrt(5)), atol=1e-4)
    shifted = grid + torch.tensor([-2.0, -1.0]) * 2 / 64  # sample 2 px left, 1 px up: the exact answer
    assert transfer_error(shifted, lm, driving).max() < 1e-4


def _global_only(tmp_path, data, motion="candidates"):
    """The global branch alone (no local branches), trained by the trainer on smoke pairs (L1 only)."""
    config = load_config("smoke", [*TINY, "model.local_branches=false", f"model.global_motion={motion}",
                                   "loss.perceptual=0", "loss.gan=0", "loss.parsing=0", "loss.l1=1",
                                   "train.steps=150", "train.batch_size=4", "train.checkpoint_every=150"])
    checkpoint = train(config, data, tmp_path / motion, progress=False)
    return load_model(checkpoint)[0]


def test_the_global_branch_alone_learns_the_head_motion(tmp_path, synth_vox):
    """150 steps on smoke pairs (the head moves over a static background): on the held-out videos the global
    map carries the landmarks home far better than the identity warp, and moves the head, not the background."""
    table = motion_diagnostics(_global_only(tmp_path, synth_vox), synth_vox).mean()
    assert table["global_transfer_px"] < 0.5 * table["identity_transfer_px"], table.to_dict()
    assert 0.5 < table["head_flow_ratio"] < 1.5 and table["far_background_flow_px"] < 0.5, table.to_dict()


def test_the_fused_map_stays_continuous_after_training(tmp_path, synth_vox, smoke_config):
    """The smoke profile's full model (every loss, 20 steps) on the held-out videos: its masks are still ~0 on
    the crops' outer rings and the fused map does not jump across the crop borders."""
    model = load_model(train(smoke_config, synth_vox, tmp_path / "full", progress=False))[0]
    table = motion_diagnostics(model, synth_vox)
    assert (table["mask_ring"] < 0.05).all() and (table["border_jump_px"] < 0.1).all(), table
    assert table["identity_transfer_px"].mean() > 0.5  # the driving landmarks do move


def test_motion_diagnostics_of_a_model_on_held_out_videos(synth_vox):
    table = motion_diagnostics(_model(64), synth_vox, videos=2)
    assert len(table) == 2
    assert np.all(np.isfinite(table.to_numpy()))
    assert (table["mask_ring"] < 0.05).all() and (table["border_jump_px"] < 0.1).all()
    assert (table["identity_transfer_px"] > 0).all()


NOSE_TIP = 30  # iBUG: the last point of the nose bridge


def _synth_face(root, resolution=64):
    from s2d.data import format as fmt

    video = fmt.video_ids(root, "test")[0]
    image = torch.from_numpy(fmt.read_frames(root, "test", video, [0])[0]).permute(2, 0, 1)[None].float() / 255
    points = torch.from_numpy(fmt.read_annotations(root, "test", video)["landmarks"][:1]).float()
    return image, points


def test_the_face_ellipse_covers_the_face_and_not_the_frame_corners(synth_vox):
    from s2d.geometry import to_normalised
    from s2d.models.dense_motion import face_ellipse

    image, points = _synth_face(synth_vox)
    size = image.shape[-1]
    ellipse = face_ellipse(to_normalised(points[:, :68], size, size), identity_grid(1, size, size))[0]
    x, y = points[0, NOSE_TIP].round().long()
    assert ellipse[y, x] > 0.99
    assert ellipse[[0, 0, -1, -1], [0, -1, 0, -1]].max() < 0.01
    jaw = points[0, :17].round().long().clamp(0, size - 1)
    assert ellipse[jaw[:, 1], jaw[:, 0]].min() > 0.5  # the whole outline lies inside the ellipse


def test_the_face_prior_lowers_the_identity_weight_on_the_face_only_and_is_off_at_zero(synth_vox):
    image, points = _synth_face(synth_vox)
    moved = points.clone()
    moved[..., 0] += 2
    plain, prior = _model(64), _model(64, "model.face_prior=4.0")
    prior.load_state_dict(plain.state_dict())  # the same weights: the prior adds no parameter
    with torch.no_grad():
        without, with_prior = plain.dense_motion(image, points, moved), prior.dense_motion(image, points, moved)
    x, y = points[0, NOSE_TIP].round().long()
    assert with_prior.still_weight[0, y, x] < without.still_weight[0, y, x] - 0.3  # the face moves
    assert (with_prior.still_weight[0, :3, :3] - without.still_weight[0, :3, :3]).abs().max() < 1e-3  # the corner
    zero = _model(64, "model.face_prior=0")
    zero.load_state_dict(plain.state_dict())
    with torch.no_grad():
        assert torch.equal(zero.dense_motion(image, points, moved).grid, without.grid)
    with pytest.raises(ValueError, match="face prior"):
        _model(64, "model.face_prior=4.0", "model.global_motion=offsets")
