"""The S2D networks (Sec. 3, Fig. 1), one small file each.

- ``adain.py``: AdaIN driven by a landmark vector, and the Add_Motion layer (Sec. 3.2).
- ``hourglass.py``: the encoder-decoder both motion branches are made of.
- ``dense_motion.py``: the global branch, the three local branches and their fusion (Eq. (3)).
- ``generator.py``: warping (Eq. (1)) and the occlusion-aware image generator (Eq. (2)).
- ``discriminator.py``: the multi-scale patch discriminator with spectral norm.
- ``s2d.py``: the wrapper that owns the networks and animates a source image.

:func:`build_model` builds the network a config's ``model.architecture`` names: S2D's,
or a keypoint baseline of Tables 1-3 (:mod:`s2d.baselines`).
"""

from __future__ import annotations

from torch import nn

from s2d.config import Config
from s2d.models.s2d import S2DModel


def build_model(config: Config) -> nn.Module:
    """S2DModel for ``model.architecture: s2d``, KeypointAnimator for ``first-order`` and ``monkey-net``."""
    if config.model.architecture == "s2d":
        return S2DModel(config)
    from s2d.baselines.fomm import KeypointAnimator  # s2d.baselines builds on s2d.models: imported when needed

    return KeypointAnimator(config)
