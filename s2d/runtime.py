"""Where and how a run executes: device choice, seeding, run metadata."""

from __future__ import annotations

import os
import platform
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch


def pick_device(preference: str = "auto") -> torch.device:
    """``auto`` takes CUDA when present, else the CPU; ``cpu``/``cuda[:N]`` are taken as given."""
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(preference)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device '{preference}' was asked for but CUDA is not available here")
    return device


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a torch generator seeded the same way."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def git_commit(repo: Path | None = None) -> str:
    """The checked-out commit (with ``+dirty`` when code has uncommitted changes), or ``unknown``."""
    repo = repo or Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short=12", "HEAD"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(  # outputs of runs (results, executed notebooks, the README's generated numbers
            # that make reproduce rewrites) do not make the code dirty
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no", "--", ".",
             ":!results", ":!book/results", ":!README.md"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def environment() -> dict[str, Any]:
    """What ran a result: versions, device and threads, for run metadata."""
    device = pick_device()
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "cpu_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "git_commit": git_commit(),
    }
