"""``s2d animate`` measured on real faces: every photo driven by every clip (beyond the paper; issue 20).

Each pair is animated as ``s2d animate --relative`` animates it (:func:`s2d.animation.drive`), on the first
``max_frames`` frames of the clip, and scored by :func:`s2d.photo_metrics.photo_measures` on every ``stride``-th
frame: the motion ratio for all 68 points and for the face contour (1: nothing moved, 0: moved as wanted), and
dlib's identity distance to the photo. Each photo's face and each clip's landmarks are found once.

    python -m s2d.repro.photo_study --photos ../shared/real-clips --clips ../shared/real-clips --out pairs.csv

takes every ``*.jpg``/``*.png`` of ``--photos`` and every ``*.mp4`` of ``--clips`` (or the files named), and the
default real-face model unless ``--checkpoint`` names another.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from s2d.animation import drive, driving_landmarks, load_animator, read_image, source_face
from s2d.io import atomic_path
from s2d.photo_metrics import photo_measures
from s2d.runtime import pick_device

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
CLIP_SUFFIXES = (".mp4", ".avi", ".mov")
MAX_FRAMES = 100  # 4 s of a 25 fps clip: enough for the head to move, 42 pairs in minutes on 2 cores
STRIDE = 4  # frames scored: every fourth
MEASURES = ("motion_ratio_68", "motion_ratio_contour", "identity_distance", "same_person_share", "frames_with_a_face")


def inputs(paths: list[Path], suffixes: tuple[str, ...]) -> list[Path]:
    """The files of ``paths`` (each a file, or a folder whose files with ``suffixes`` are taken), sorted."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix.lower() in suffixes)
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    if not found:
        raise FileNotFoundError(f"no {'/'.join(suffixes)} files in {', '.join(map(str, paths))}")
    return found


def photo_study(checkpoint: str | Path, photos: list[Path], clips: list[Path], *, max_frames: int = MAX_FRAMES,
                stride: int = STRIDE, find_best_frame: bool = False, device: str | torch.device | None = None,
                progress: bool = True) -> pd.DataFrame:
    """One row per (photo, clip): :func:`s2d.photo_metrics.photo_measures` of the photo animated by the clip's
    first ``max_frames`` frames with relative motion, and the pair's wall time."""
    device = pick_device() if device is None else torch.device(device)
    model, size = load_animator(checkpoint, None, device)
    faces = {}
    for path in photos:
        photo = read_image(path)
        crop, points, box, _ = source_face(photo, size, path.name)
        faces[path] = (photo, (crop, points, box))
    driving = {path: driving_landmarks(path, size, progress=False)[:2] for path in tqdm(clips, desc="clip landmarks",
                                                                                       disable=not progress)}
    rows = []
    pairs = [(photo, clip) for photo in photos for clip in clips]
    for photo_path, clip in tqdm(pairs, desc="photo x clip", unit="pair", disable=not progress):
        photo, source = faces[photo_path]
        points, fps = driving[clip]
        start = time.perf_counter()
        result = drive(model, device, photo, source, points[:max_frames], fps, relative=True,
                       find_best_frame=find_best_frame, progress=False)
        rows.append({"photo": photo_path.name, "clip": clip.name, "frames": len(result.frames),
                     **photo_measures(result, photo, stride), "seconds_pair": time.perf_counter() - start})
    return pd.DataFrame(rows)


def summary(pairs: pd.DataFrame) -> pd.Series:
    """The mean of each measure over the pairs, and how many pairs."""
    return pd.concat([pairs[list(MEASURES)].mean(), pd.Series({"pairs": len(pairs)})])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m s2d.repro.photo_study", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, nargs="+", required=True, help="photos, or folders of them")
    parser.add_argument("--clips", type=Path, nargs="+", required=True, help="driving clips, or folders of them")
    parser.add_argument("--checkpoint", type=Path, help="an S2D checkpoint (default: the real-face model s2d "
                                                          "animate uses, built on first use)")
    parser.add_argument("--max-frames", type=int, default=MAX_FRAMES, help="driving frames per clip (%(default)s)")
    parser.add_argument("--stride", type=int, default=STRIDE, help="score every n-th frame (%(default)s)")
    parser.add_argument("--find-best-frame", action="store_true", help="relative motion from the driving frame "
                                                                       "posed most like the photo")
    parser.add_argument("--out", type=Path, help="write the per-pair rows to this CSV")
    args = parser.parse_args(argv)
    if args.max_frames < 1 or args.stride < 1:
        parser.error("--max-frames and --stride must be at least 1")
    try:
        photos, clips = inputs(args.photos, PHOTO_SUFFIXES), inputs(args.clips, CLIP_SUFFIXES)
    except FileNotFoundError as err:
        parser.error(str(err))
    if args.checkpoint is None:
        from s2d.repro.animate_model import default_checkpoint

        args.checkpoint = default_checkpoint()
    pairs = photo_study(args.checkpoint, photos, clips, max_frames=args.max_frames, stride=args.stride,
                        find_best_frame=args.find_best_frame)
    if args.out is not None:
        with atomic_path(args.out) as tmp:
            pairs.to_csv(tmp, index=False)
    print(summary(pairs).round(3).to_string())


if __name__ == "__main__":
    main()
