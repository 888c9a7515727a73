"""Two datasets of the same resolution as one, by symbolic links (the real-face model's training data).

The mixed folder links every video of ``base`` (both splits) and ``repeats`` copies of
each training video of ``extra`` (named ``<tag>-<video>-r<k>``), with their
annotations and parsing maps, so any loader reads it as one dataset and nothing is
copied. Its ``meta.json`` is ``base``'s with ``variant`` ``<base variant>+<tag>``
and, in ``data_config[tag]``, the hash of ``extra``'s ``meta.json`` and the repeats: the
fingerprint of the mix (:func:`s2d.data.synth.fingerprint`) changes with either, and a mix of a mix keeps
both records.
Rebuilt (atomically, :func:`s2d.data.format.building`) only when that changes.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from s2d.data import format as fmt


def _link(target: Path, link: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(target.resolve(), link.parent.resolve()), link)


def _add_video(root: Path, split: str, video: str, out: Path, name: str) -> None:
    _link(root / split / video, out / split / name)
    _link(root / "annotations" / split / f"{video}.npz", out / "annotations" / split / f"{name}.npz")
    if (root / "parsing" / split / video).is_dir():
        _link(root / "parsing" / split / video, out / "parsing" / split / name)


def mixed(base: str | Path, extra: str | Path, repeats: int, out: str | Path, tag: str = "real") -> Path:
    """``base`` plus ``repeats`` copies of ``extra``'s training videos (named ``<tag>-<video>-r<k>``), linked
    into ``out``."""
    base, extra, out = Path(base), Path(extra), Path(out)
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    meta, extra_meta = fmt.read_meta(base), fmt.read_meta(extra)
    if meta.get("resolution") != extra_meta.get("resolution"):
        raise fmt.DatasetError(f"{base} is {meta.get('resolution')} px and {extra} {extra_meta.get('resolution')} px: "
                               "resize one first (s2d.data.resize)")
    extra_hash = hashlib.sha256((extra / "meta.json").read_bytes()).hexdigest()[:12]
    wanted = {**meta, "variant": f"{meta.get('variant', base.name)}+{tag}",
              "data_config": {**meta.get("data_config", {}), tag: {"mixed_in": extra_hash, "repeats": repeats}},
              "mixed": {"base": str(base), "extra": str(extra), "repeats": repeats}}
    try:
        if fmt.read_meta(out) == wanted:
            return out
    except fmt.DatasetError:
        pass
    with fmt.building(out, overwrite=True) as tmp:
        for split in fmt.SPLITS:
            for video in fmt.video_ids(base, split):
                _add_video(base, split, video, tmp, video)
        for video in fmt.video_ids(extra, "train"):
            for k in range(repeats):
                _add_video(extra, "train", video, tmp, f"{tag}-{video}-r{k}")
        fmt.write_meta(tmp, wanted)
    return out
