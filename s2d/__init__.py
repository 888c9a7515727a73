"""s2d: Sparse to Dense Motion Transfer for Face Image Animation (Zhao, Wu, Guo).

    >>> import s2d
    >>> result = s2d.animate("me.jpg", "talk.mp4", relative=True)  # doctest: +SKIP
    >>> result.frames.shape  # (T, H, W, 3): the photo with its face animated  # doctest: +SKIP
"""

from __future__ import annotations

__version__ = "0.1.0"


def animate(source, driving, checkpoint=None, **options):
    """:func:`s2d.animation.animate` (it imports torch when called, not at ``import s2d``). Without
    ``checkpoint``, the project's real-face model (:func:`s2d.repro.animate_model.default_checkpoint`: found in
    the run cache of the current folder, or built there on first use)."""
    from pathlib import Path

    from s2d.animation import AnimateError
    from s2d.animation import animate as animate_photo

    if checkpoint is None:
        from s2d.repro.animate_model import default_checkpoint

        for path in (source, driving):
            if not Path(path).exists():
                raise AnimateError(f"{path}: no such file or folder")
        checkpoint = default_checkpoint(progress=options.get("progress", True))
    return animate_photo(source, driving, checkpoint, **options)
