"""Pretrained weights: the one place that finds, downloads and checks them.

Every pretrained network s2d uses is listed in :data:`WEIGHTS`. Files live in
the standard torch hub cache, ``$TORCH_HOME/hub/checkpoints`` (by default
``~/.cache/torch/hub/checkpoints``), which is also where torchvision, lpips,
pytorch-fid and face-alignment look for them: once :func:`require` has put a
file there, those libraries load it without touching the network.

Offline, asking for a missing file raises :class:`WeightsUnavailable` with one
message naming the file, where it is expected, and how to get it
(``make weights`` on a machine with internet, or copying the file there).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import torch.hub
from tqdm.auto import tqdm

DOWNLOAD_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class WeightsFile:
    """A pretrained file, what uses it, and where it comes from."""

    name: str
    filename: str
    url: str
    used_by: str
    sha256_prefix: str = ""  # checked after download when known


WEIGHTS: dict[str, WeightsFile] = {
    w.name: w
    for w in (
        WeightsFile(
            "vgg19",
            "vgg19-dcbb9e9d.pth",
            "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
            "perceptual loss, Eq. (4) (torchvision VGG19, ImageNet)",
            sha256_prefix="dcbb9e9d",
        ),
        WeightsFile(
            "alexnet",
            "alexnet-owt-7be5be79.pth",
            "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
            "LPIPS metric (lpips package, AlexNet backbone)",
            sha256_prefix="7be5be79",
        ),
        WeightsFile(
            "inception",
            "pt_inception-2015-12-05-6726825d.pth",
            "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
            "pt_inception-2015-12-05-6726825d.pth",
            "FID metric (pytorch-fid InceptionV3)",
        ),
        WeightsFile(
            "fan4",
            "2DFAN4-11f355bf06.pth.tar",
            "https://www.adrianbulat.com/downloads/python-fan/2DFAN4-11f355bf06.pth.tar",
            "FAN4 landmark baseline and detector initialisation (face-alignment 2DFAN4)",
        ),
        WeightsFile(
            "s3fd",
            "s3fd-619a316812.pth",
            "https://www.adrianbulat.com/downloads/python-fan/s3fd-619a316812.pth",
            "face box detector that face-alignment builds with FAN4 (SFD)",
        ),
    )
}


class WeightsUnavailable(RuntimeError):
    """A pretrained file is not in the cache and could not be downloaded."""


def cache_dir() -> Path:
    """The torch hub checkpoint folder (honours ``$TORCH_HOME``)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def path_of(name: str) -> Path:
    return cache_dir() / _spec(name).filename


def is_available(name: str) -> bool:
    return path_of(name).is_file()


def require(name: str, download: bool = True) -> Path:
    """Return the cached path of weights ``name``, downloading it if allowed.

    Raises :class:`WeightsUnavailable` (one line: the file, where it is
    expected, and how to fetch it) when the file is missing and cannot be
    downloaded within :data:`DOWNLOAD_TIMEOUT_S` seconds per network step.
    """
    spec = _spec(name)
    target = cache_dir() / spec.filename
    if target.is_file():
        return target
    if not download:
        raise WeightsUnavailable(_missing_message(spec, target, reason="not downloaded"))
    try:
        _download(spec, target)
    except urllib.error.HTTPError as err:  # the server answered, with an error
        raise WeightsUnavailable(
            _missing_message(spec, target, reason=f"download failed: HTTP {err.code} {err.reason}", offline=False)
        ) from None
    except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError) as err:
        reason = getattr(err, "reason", err)
        raise WeightsUnavailable(_missing_message(spec, target, reason=f"download failed: {reason}")) from None
    return target


def status() -> list[tuple[WeightsFile, Path, bool]]:
    """Every known file with its expected path and whether it is cached."""
    return [(spec, cache_dir() / spec.filename, (cache_dir() / spec.filename).is_file()) for spec in WEIGHTS.values()]


def _spec(name: str) -> WeightsFile:
    try:
        return WEIGHTS[name]
    except KeyError:
        raise KeyError(f"unknown weights '{name}'; known: {', '.join(WEIGHTS)}") from None


def _missing_message(spec: WeightsFile, target: Path, reason: str, offline: bool = True) -> str:
    return (
        f"weights unavailable{' offline' if offline else ''}: {spec.filename} ({spec.used_by}) is not in {target.parent} "
        f"and {reason}. Run `make weights` where the internet is reachable, "
        f"or copy the file from {spec.url} to {target}."
    )


def _download(spec: WeightsFile, target: Path) -> None:
    """Stream ``spec.url`` to a temporary file beside ``target``, check it, then rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.filename}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        sha = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(spec.url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=spec.filename, leave=False) as bar:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    sha.update(chunk)
                    bar.update(len(chunk))
        digest = sha.hexdigest()
        if spec.sha256_prefix and not digest.startswith(spec.sha256_prefix):
            raise WeightsUnavailable(
                f"{spec.filename} from {spec.url} has sha256 {digest[:12]}..., expected {spec.sha256_prefix}...; "
                "not saved (a corrupted or changed download)"
            )
        shutil.move(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
