"""``s2d animate`` measured on real faces: every photo driven by every clip (beyond the paper; issue 20).

Each pair is animated as ``s2d animate --relative`` animates it (:func:`s2d.animation.drive`), on the first
``max_frames`` frames of the clip, and scored by :func:`s2d.photo_metrics.photo_measures` on every ``stride``-th
frame: the motion ratio for all 68 points and for the face contour (1: nothing moved, 0: moved as wanted), and
dlib's identity distance to the photo. Each photo's face and each clip's landmarks are found once.

With ``--reference`` each pair is also scored for :data:`REFERENCE`: the photo's crop warped by the thin-plate
spline through the wanted landmarks (:func:`s2d.data.photo_motion.warp_photo`), pasted back as ``s2d animate``
pastes. It puts every landmark exactly where it was asked to go, so what it scores above 0 is the measures' own
floor (MediaPipe's error on a warped, pasted face), against which a model's numbers read.

    python -m s2d.repro.photo_study --photos ../shared/real-clips --clips ../shared/real-clips --out pairs.csv

takes every ``*.jpg``/``*.png`` of ``--photos`` and every ``*.mp4`` of ``--clips`` (or the files named), and the
default real-face model unless ``--checkpoint`` names another.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from s2d.animation import PhotoAnimation, drive, driving_landmarks, load_animator, paste, read_image, source_face
from s2d.data.photo_motion import warp_photo
from s2d.io import atomic_path
from s2d.photo_metrics import photo_measures
from s2d.runtime import pick_device

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
CLIP_SUFFIXES = (".mp4", ".avi", ".mov")
MAX_FRAMES = 100  # 4 s of a 25 fps clip: enough for the head to move, 42 pairs in minutes on 2 cores
STRIDE = 4  # frames scored: every fourth
MEASURES = ("motion_ratio_68", "motion_ratio_contour", "identity_distance", "same_person_share", "frames_with_a_face")
MODEL = "s2d animate"  # the method column's name for the model's rows
REFERENCE = "spline warp through the wanted landmarks"  # and for the measures' floor (--reference)


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


def spline_reference(photo: np.ndarray, result: PhotoAnimation) -> PhotoAnimation:
    """:data:`REFERENCE` for the pair ``result`` animated: its source crop warped through its wanted landmarks,
    pasted back into ``photo`` as :func:`s2d.animation.drive` pastes."""
    faces = warp_photo(result.source_face, result.source_landmarks, result.wanted)
    frames = np.stack([paste(photo, face, result.box, landmarks=(result.source_landmarks, points))
                       for face, points in zip(faces, result.wanted)])
    return replace(result, frames=frames, faces=faces, seconds={})


def photo_study(checkpoint: str | Path, photos: list[Path], clips: list[Path], *, max_frames: int = MAX_FRAMES,
                stride: int = STRIDE, find_best_frame: bool = False, reference: bool = False,
                device: str | torch.device | None = None, progress: bool = True) -> pd.DataFrame:
    """One row per (photo, clip): :func:`s2d.photo_metrics.photo_measures` of the photo animated by the clip's
    first ``max_frames`` frames with relative motion, and the pair's wall time; with ``reference``, one more
    row per pair for :data:`REFERENCE` (column ``method``)."""
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
        rows.append({"method": MODEL, "photo": photo_path.name, "clip": clip.name, "frames": len(result.frames),
                     **photo_measures(result, photo, stride), "seconds_pair": time.perf_counter() - start})
        if reference:
            rows.append({"method": REFERENCE, "photo": photo_path.name, "clip": clip.name,
                         "frames": len(result.frames), **photo_measures(spline_reference(photo, result), photo, stride)})
    return pd.DataFrame(rows)


def summary(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per method, the mean and median of each measure over the pairs, each motion ratio pooled over them (the
    summed errors over the summed errors of the unmoved photo: pairs where the head hardly moves, whose ratio is
    mostly the detector's noise, weigh less), and how many pairs."""
    pairs = pairs if "method" in pairs else pairs.assign(method=MODEL)
    grouped = pairs.groupby("method", sort=False)
    table = pd.concat({"mean": grouped[list(MEASURES)].mean(), "median": grouped[list(MEASURES)].median()},
                      axis=1).swaplevel(axis=1)
    table = table[[(m, stat) for m in MEASURES for stat in ("mean", "median")]]
    for name in ("68", "contour"):
        if f"error_{name}_px" in pairs:
            still = grouped[f"unmoved_error_{name}_px"].sum()
            table[(f"motion_ratio_{name}", "pooled")] = grouped[f"error_{name}_px"].sum() / still.where(still > 0)
    table[("pairs", "")] = grouped.size()
    return table


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
    parser.add_argument("--reference", action="store_true", help="also score a perfect landmark warp of each pair "
                                                                 "(the measures' floor; about 4 s a pair more)")
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
                        find_best_frame=args.find_best_frame, reference=args.reference)
    if args.out is not None:
        with atomic_path(args.out) as tmp:
            pairs.to_csv(tmp, index=False)
    print(summary(pairs).round(3).T.to_string())


if __name__ == "__main__":
    main()
