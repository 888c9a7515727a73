"""The datasets a profile can name, and where each one is.

A profile's ``data.dataset`` (Tables 1, 2, 4 and 5) and ``data.ff_dataset`` (Table 3) are
either a SynthTalk variant (``synth-vox``, ``synth-ff``: rendered on demand, cached under
``data/synthtalk``) or a real dataset the user prepares once with ``s2d data prepare``
into the folder the profile's ``data.root`` / ``data.ff_root`` names (``voxceleb``,
``faceforensics``, or any other name for a folder of the same layout). A real dataset is
never replaced by a rendered one: :func:`locate` stops with :class:`DatasetMissing`,
whose message says which dataset, where it is expected, how to get and prepare it, and
the disk space it takes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

from s2d.config import Config, DataConfig
from s2d.data import format as fmt
from s2d.data import synth

# bytes on disk per prepared 256 px frame (PNG frame, annotations and parsing map), measured on `make data-real`'s
# registry clips (data/real: 4 videos, 2,370 frames at 256 px, 133 MB)
BYTES_PER_FRAME_256 = 56_000


@dataclass(frozen=True)
class RealDataset:
    """A public dataset the paper used: what it is called, where to get it, and how big it is."""

    title: str
    table: str
    get: str
    frames: int  # about how many frames a prepared copy keeps (an estimate: see counted)
    counted: str  # where the estimate comes from
    layout: str = ""  # what else `s2d data prepare --videos` takes for it, beyond a folder of its videos

    def disk_gb(self, resolution: int) -> float:
        return self.frames * BYTES_PER_FRAME_256 * (resolution / 256) ** 2 / 1e9


REAL_DATASETS = {
    "voxceleb": RealDataset(
        "VoxCeleb1", "Tables 1, 2, 4 and 5",
        "request the videos at https://www.robots.ox.ac.uk/~vgg/data/voxceleb/vox1.html, or build first-order-model's "
        "preprocessed frame folders (github.com/AliaksandrSiarohin/video-preprocessing, `vox`: "
        "<root>/train/<video>/ and <root>/test/<video>/)",
        frames=20_000 * 300, counted="first-order-model's split: about 20,000 videos of 64-1,024 frames, "
                                    "taken at a mean of 300",
        layout=", or first-order-model's <root> itself, whose train/test split is kept and whose videos' "
               "identities are the speaker ids before the first '#' of their names"),
    "faceforensics": RealDataset(
        "FaceForensics (original sequences)", "Table 3",
        "request access at https://github.com/ondyari/FaceForensics (the original, unmanipulated sequences)",
        frames=500_000, counted="about 1,000 videos, about half a million frames"),
}


class DatasetMissing(FileNotFoundError):
    """A real dataset the profile names is not prepared where the profile expects it."""


def is_rendered(name: str) -> bool:
    """Whether ``name`` is a SynthTalk variant (rendered on demand) rather than a dataset the user prepares."""
    return name in synth.VARIANTS


def dataset_root(data: DataConfig) -> Path:
    """Where the real dataset ``data`` names is expected: ``data.root``, else ``data/<dataset>``."""
    return Path(data.root or f"data/{data.dataset}")


def is_prepared(data: DataConfig) -> bool:
    return (dataset_root(data) / "meta.json").is_file()


def faceforensics_data(data: DataConfig) -> DataConfig:
    """The data settings of Table 3: the profile's ``ff_dataset`` at ``ff_root``."""
    return replace(data, dataset=data.ff_dataset, root=data.ff_root)


def missing_message(data: DataConfig) -> str:
    """What to do when the real dataset of ``data`` is not at ``data.root``: one paragraph."""
    root = dataset_root(data)
    known = REAL_DATASETS.get(data.dataset)
    what = f"{known.title} ({known.table})" if known else f"the dataset '{data.dataset}'"
    size = (f"; prepared at {data.resolution} px it takes about {known.disk_gb(data.resolution):,.0f} GB "
            f"(an estimate: {known.counted}, at ~{BYTES_PER_FRAME_256 / 1e3 * (data.resolution / 256) ** 2:.0f} kB "
            f"per frame)"
            if known else "")
    get = f" To get it, {known.get}." if known else ""
    layout = known.layout if known else ""
    return (f"{what} is not prepared at {root} (no {root / 'meta.json'}).{get} Then prepare it once (MediaPipe "
            f"finds the 74 landmarks and the parsing map of every frame): "
            f"`s2d data prepare --videos <dir> --out {root} --size {data.resolution}`, <dir> holding its videos or "
            f"frame folders{layout}{size}. "
            f"Or point the profile elsewhere: --set data.root=<folder> (Table 3: data.ff_root), or use "
            f"--profile cpu for the embedded SynthTalk data.")


def prepared(data: DataConfig) -> Path:
    """The folder of the real dataset ``data`` names, checked: prepared, and at the profile's resolution."""
    if not is_prepared(data):
        raise DatasetMissing(missing_message(data))
    root = dataset_root(data)
    resolution = fmt.read_meta(root).get("resolution")
    if resolution is not None and resolution != data.resolution:
        raise fmt.DatasetError(f"{root} holds {resolution} px frames, the profile wants {data.resolution} px: "
                               f"prepare it again with --size {data.resolution}, or --set data.resolution={resolution}")
    return root


def ensure(config: Config, data: DataConfig | None = None, seed: int | None = None,
           synth_root: str | Path = "data/synthtalk", progress: bool = True) -> tuple[Path, bool]:
    """The folder of the dataset ``data`` names (default: the profile's ``data``), and whether it was built now:
    a SynthTalk variant is rendered for ``seed`` (default: the profile's) when not cached; a real one must be
    prepared (:class:`DatasetMissing`)."""
    data = config.data if data is None else data
    if is_rendered(data.dataset):
        return synth.ensure(data.dataset, replace(config, data=data), config.seed if seed is None else seed,
                            synth_root, progress)
    return prepared(data), False


def locate(config: Config, data: DataConfig | None = None, seed: int | None = None,
           synth_root: str | Path = "data/synthtalk", progress: bool = True) -> Path:
    """:func:`ensure`'s folder."""
    return ensure(config, data, seed, synth_root, progress)[0]


def check_available(config: Config) -> None:
    """Raise :class:`DatasetMissing` at once, naming every real dataset of the profile that is not prepared."""
    missing = [missing_message(d) for d in (config.data, faceforensics_data(config.data))
               if not is_rendered(d.dataset) and not is_prepared(d)]
    if missing:
        raise DatasetMissing("\n\n".join(dict.fromkeys(missing)))


def fingerprint(root: str | Path) -> str:
    """A short hash of what a dataset is: SynthTalk's settings, or a prepared dataset's whole ``meta.json``
    (its clips, split, detector and size)."""
    meta = fmt.read_meta(root)
    if meta.get("source") != "real":
        return synth.fingerprint(root)
    return hashlib.sha256((Path(root) / "meta.json").read_bytes()).hexdigest()[:12]


def stats(root: str | Path) -> dict[str, float]:
    """Size of a dataset: videos, identities, frames, files and bytes on disk (not counting the cross-identity
    ground truth SynthTalk caches later, :mod:`s2d.data.reenact`). A prepared dataset's frames are counted."""
    root = Path(root)
    meta = fmt.read_meta(root)
    files = [p for p in root.rglob("*") if p.is_file() and "reenactment" not in p.relative_to(root).parts]
    frames = (sum(meta["videos"].values()) * meta["frames_per_video"] if "frames_per_video" in meta
              else sum(1 for split in fmt.SPLITS for _ in (root / split).glob("*/*.png")))
    return {"videos_train": meta["videos"]["train"], "videos_test": meta["videos"]["test"],
            "identities_train": meta["identities"]["train"], "identities_test": meta["identities"]["test"],
            "frames": frames, "resolution": meta["resolution"], "files": len(files),
            "megabytes": round(sum(p.stat().st_size for p in files) / 2**20, 2)}
