"""s2d: Sparse to Dense Motion Transfer for Face Image Animation (Zhao, Wu, Guo).

    >>> import s2d
    >>> result = s2d.animate("me.jpg", "talk.mp4", "runs/real/checkpoint.pt")  # doctest: +SKIP
    >>> result.frames.shape  # (T, H, W, 3): the photo with its face animated  # doctest: +SKIP
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "animate":  # s2d.animate(...) without importing torch at ``import s2d``
        from s2d.animation import animate

        return animate
    raise AttributeError(f"module 's2d' has no attribute {name!r}")
