"""A prepared dataset at another resolution (the real clips at a profile's size, for the real-face model).

Frames are resized with area averaging when shrinking (bilinear when enlarging),
parsing maps with the nearest label, and landmarks are mapped exactly (pixel centres
at integer coordinates, as :func:`s2d.data.face_geometry.to_crop`). The copy is built in a
temporary folder and renamed into place (:func:`s2d.data.format.building`); it is
rebuilt only when its source changed (the source's ``meta.json`` is recorded).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np

from s2d.data import format as fmt


def _source_hash(root: Path) -> str:
    return hashlib.sha256((root / "meta.json").read_bytes()).hexdigest()[:12]


def resized(root: str | Path, size: int, out: str | Path | None = None) -> Path:
    """``root`` at ``size`` x ``size`` px in ``out`` (default ``<root>-<size>px``), built once per source."""
    root = Path(root)
    out = Path(out) if out is not None else root.with_name(f"{root.name}-{size}px")
    meta = fmt.read_meta(root)
    try:
        made = fmt.read_meta(out)
        if made.get("resized_from") == _source_hash(root) and made.get("resolution") == size:
            return out
    except fmt.DatasetError:
        pass
    with fmt.building(out, overwrite=True) as tmp:
        for split in fmt.SPLITS:
            for video in fmt.video_ids(root, split) if (root / split).is_dir() else []:
                frames = fmt.read_frames(root, split, video)
                scale = size / frames.shape[2]
                shrink = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
                small = np.stack([cv2.resize(f, (size, size), interpolation=shrink) for f in frames])
                parsing = fmt.read_parsing(root, split, video)
                if parsing is not None:
                    parsing = np.stack([cv2.resize(p, (size, size), interpolation=cv2.INTER_NEAREST) for p in parsing])
                annotations = fmt.read_annotations(root, split, video)
                annotations["landmarks"] = ((annotations["landmarks"] + 0.5) * scale - 0.5).astype(np.float32)
                fmt.write_video(tmp, split, video, small, annotations, parsing)
        fmt.write_meta(tmp, {**meta, "resolution": size, "resized_from": _source_hash(root), "source": str(root)})
    return out
