"""The S2D networks (Sec. 3, Fig. 1), one small file each.

- ``adain.py``: AdaIN driven by a landmark vector, and the Add_Motion layer (Sec. 3.2).
- ``hourglass.py``: the encoder-decoder both motion branches are made of.
- ``dense_motion.py``: the global branch, the three local branches and their fusion (Eq. 3).
- ``generator.py``: warping (Eq. 1) and the occlusion-aware image generator (Eq. 2).
- ``discriminator.py``: the multi-scale patch discriminator with spectral norm.
- ``s2d.py``: the wrapper that owns the networks and animates a source image.
"""
