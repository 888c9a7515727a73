"""Training losses (Sec. 3.4): perceptual pyramid (Eq. (4)), L1, least-squares GAN (Eqs. (5), (6)),
face-parsing prior (Eq. (7)), summed by Eq. (8) (:func:`total_loss`), plus one term of ours from the same
parsing maps, the foreground prior of the global branch (:func:`foreground_prior_loss`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from s2d import weights
from s2d.data.format import BACKGROUND, HAIR

VGG_SLICES = (2, 7, 12, 21, 30)  # VGG-19 features up to relu1_1, relu2_1, relu3_1, relu4_1, relu5_1
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RANDOM_BACKBONE_SEED = 0


class VGG19Features(nn.Module):
    """Frozen VGG-19 feature maps N_j at relu1_1 ... relu5_1, on ImageNet-normalised input.

    ``backbone="imagenet"`` loads torchvision's ImageNet weights through :mod:`s2d.weights`
    (offline without the file: one clear error). ``backbone="random"`` draws the weights
    from a fixed seed, so a run is identical on every machine, online or not. Only the
    convolutional layers are built (torchvision's VGG-19 ``features``, initialised as
    torchvision does): drawing the unused classifier's 120 M weights took 1.8 s a model.
    """

    def __init__(self, backbone: str = "imagenet", layers: int = len(VGG_SLICES)):
        super().__init__()
        if not 1 <= layers <= len(VGG_SLICES):
            raise ValueError(f"perceptual layers must be 1..{len(VGG_SLICES)}, got {layers}")
        if backbone not in ("imagenet", "random"):
            raise ValueError(f"perceptual backbone must be 'imagenet' or 'random', got {backbone!r}")
        self.backbone = backbone
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_BACKBONE_SEED)
            features = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["E"])
            for conv in (m for m in features if isinstance(m, nn.Conv2d)):
                nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(conv.bias)
        if backbone == "imagenet":
            state = torch.load(weights.require("vgg19"), map_location="cpu", weights_only=True)
            features.load_state_dict({k.removeprefix("features."): v for k, v in state.items()
                                      if k.startswith("features.")})
        bounds = (0, *VGG_SLICES[:layers])
        features = features[: bounds[-1]]
        self.slices = nn.ModuleList(features[a:b] for a, b in zip(bounds[:-1], bounds[1:]))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "VGG19Features":
        return super().train(False)  # always frozen

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        h = (image - self.mean) / self.std
        out = []
        for block in self.slices:
            h = block(h)
            out.append(h)
        return out


class PerceptualPyramid(nn.Module):
    """Eq. (4) at several image scales, as first-order-model: sum over scales and layers of
    ``weight * mean |N_j(D) - N_j(T)|``."""

    def __init__(self, scales: list[float], weight: float, backbone: str = "imagenet", layers: int = 5):
        super().__init__()
        self.scales, self.weight = list(scales), weight
        self.vgg = VGG19Features(backbone, layers)

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = prediction.new_zeros(())
        smallest = min(self.scales) * prediction.shape[-1]
        if smallest < 16:
            raise ValueError(f"perceptual scale {min(self.scales)} of a {prediction.shape[-1]} px image is "
                             f"{smallest:g} px; VGG-19 up to relu5_1 needs at least 16 px")
        for scale in self.scales:
            p, t = (x if scale == 1 else F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False,
                                                       antialias=True) for x in (prediction, target))
            for fp, ft in zip(self.vgg(p), self.vgg(t.detach())):
                total = total + self.weight * (fp - ft.detach()).abs().mean()
        return total


def l1_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (prediction - target).abs().mean()


def discriminator_loss(real_scores: list[torch.Tensor], fake_scores: list[torch.Tensor]) -> torch.Tensor:
    """Eq. (5), least squares: real patches pushed to 1, generated ones to 0, summed over scales."""
    return sum(((1 - r) ** 2).mean() + (f**2).mean() for r, f in zip(real_scores, fake_scores))


def generator_gan_loss(fake_scores: list[torch.Tensor]) -> torch.Tensor:
    """Eq. (6), least squares: the generator wants its patches scored 1."""
    return sum(((1 - f) ** 2).mean() for f in fake_scores)


def parsing_prior_loss(grid: torch.Tensor, source_parsing: torch.Tensor, driving_parsing: torch.Tensor,
                       num_labels: int) -> torch.Tensor:
    """Differentiable surrogate of Eq. (7): the expected label mismatch after warping.

    The one-hot source parsing is warped *bilinearly* by F (instead of Eq. (7)'s nearest
    warp, which has no gradient) and compared with the one-hot driving parsing:
    ``mean_p (1 - sum_c warped_c(p) * driving_c(p))``. With a nearest warp this is
    exactly Eq. (7)'s fraction of mismatched pixels (see :func:`parsing_mismatch_eq7`).
    """
    source = F.one_hot(source_parsing, num_labels).permute(0, 3, 1, 2).to(grid.dtype)
    driving = F.one_hot(driving_parsing, num_labels).permute(0, 3, 1, 2).to(grid.dtype)
    warped = F.grid_sample(source, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return (1 - (warped * driving).sum(dim=1)).mean()


NEAR_HEAD_PX = 4  # the band beside the head where only the foreground prior sees the global map's motion


def near_head(source_parsing: torch.Tensor, driving_parsing: torch.Tensor, pixels: int = NEAR_HEAD_PX) -> torch.Tensor:
    """(B, H, W) bool: the pixels within ``pixels`` (a square window) of the head in the source or driving frame."""
    heads = torch.stack([source_parsing != BACKGROUND, driving_parsing != BACKGROUND], dim=1).float()
    return F.max_pool2d(heads, 2 * pixels + 1, stride=1, padding=pixels).amax(1) > 0


def foreground_prior_loss(still_weight: torch.Tensor, source_parsing: torch.Tensor, driving_parsing: torch.Tensor,
                          near_head_weight: float = 0.0) -> torch.Tensor:
    """The global branch's choice between the background's stillness and the head's motion, taught by the
    parsing maps (beyond Eq. (8); S2D's candidate global branch only).

    ``still_weight`` (B, H, W) is the identity candidate's softmax weight in f_G: it should be 1 where both
    frames show the background (it stays still) and 0 where either frame shows the head (it moves). The loss is
    the cross-entropy ``-log w`` on the first and ``-log (1 - w)`` on the second, a weighted mean over both.
    Eq. (7) cannot teach this next to the head: there the backward warp samples background whether or not it
    moves. So the background within :data:`NEAR_HEAD_PX` of the head (:func:`near_head`) counts
    ``1 + near_head_weight`` times: the far background is easy, and an unweighted mean lets the band beside the
    head move with it. The strip the head uncovers (head in the source, background in the driving frame) counts
    as moving: there the identity samples the source's head, and the head's motion samples the background
    behind it.
    The background term needs parsing that labels the whole head: the approximate parsing drawn from the
    landmarks of real clips (:func:`s2d.data.face_geometry.parsing_map`) labels the face alone, and its
    "background" holds the hair, ears and neck, which move with the head. So a pair whose parsing shows no
    hair keeps only the head term.
    """
    whole_head = ((source_parsing == HAIR) | (driving_parsing == HAIR)).flatten(1).any(1)[:, None, None]
    still = ((source_parsing == BACKGROUND) & (driving_parsing == BACKGROUND) & whole_head).to(still_weight.dtype)
    if near_head_weight:
        still = still * (1 + near_head_weight * near_head(source_parsing, driving_parsing).to(still.dtype))
    head = ((driving_parsing != BACKGROUND) | (source_parsing != BACKGROUND)).to(still_weight.dtype)
    w = still_weight.clamp(1e-4, 1 - 1e-4)
    cross_entropy = -(still * w.log() + head * (1 - w).log())
    return cross_entropy.sum() / (still + head).sum().clamp(min=1)


def total_loss(terms: dict[str, torch.Tensor], loss) -> torch.Tensor:
    """Eq. (8): ``L_total = L_per + L_1 + L_gan + L_par``, each term weighted by ``loss`` (a
    :class:`s2d.config.LossConfig`: ``l1``, ``gan``, ``parsing``; the perceptual term carries its own
    per-layer weight, Eq. (4)). The keypoint baselines add first-order-model's equivariance terms
    (``equivariance_value``, ``equivariance_jacobian``) and have no parsing prior; S2D's candidate global
    branch adds ``foreground`` (:func:`foreground_prior_loss`, ours). ``terms`` holds the terms computed for
    this step; a term that was not computed is off."""
    weights = {"perceptual": 1.0, "l1": loss.l1, "gan": loss.gan, "parsing": loss.parsing,
               "foreground": loss.foreground, "equivariance_value": loss.equivariance_value,
               "equivariance_jacobian": loss.equivariance_jacobian}
    unknown = sorted(set(terms) - set(weights))
    if unknown:
        raise KeyError(f"Eq. (8) has no term {', '.join(unknown)}; its terms: {', '.join(weights)}")
    return sum(weights[name] * value for name, value in terms.items())


@torch.no_grad()
def parsing_mismatch_eq7(grid: torch.Tensor, source_parsing: torch.Tensor, driving_parsing: torch.Tensor) -> float:
    """Eq. (7) as written: the fraction of pixels whose nearest-warped source label differs from the driving one."""
    warped = F.grid_sample(source_parsing[:, None].to(grid.dtype), grid, mode="nearest", padding_mode="border",
                           align_corners=False)[:, 0].round().long()
    return (warped != driving_parsing).float().mean().item()
