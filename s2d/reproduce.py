"""``make reproduce``: regenerate every result of a profile under ``results/<profile>/``.

The pipeline records what it ran and on what in ``results/<profile>/run.json``
(profile, config fingerprint, seeds, environment, git commit, wall time, and
the status of each table). Steps that are not built yet are listed as such,
never filled with numbers.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

from s2d.config import Config
from s2d.io import write_json
from s2d.runtime import environment

RESULTS_ROOT = Path("results")

# The paper's results and what produces each here. A step moves from
# "not built" to a notebook name as the pipeline grows.
TABLES = {
    "table1_same_identity": "not built",
    "table2_cross_identity": "not built",
    "table3_faceforensics": "not built",
    "table4_ablations": "not built",
    "table5_detectors": "not built",
}


def reproduce(config: Config, results_root: Path = RESULTS_ROOT) -> Path:
    """Run every step of ``config.profile`` and write its run metadata; return the metadata path."""
    started = time.perf_counter()
    out_dir = results_root / config.profile
    out_dir.mkdir(parents=True, exist_ok=True)
    metadata = {
        "profile": config.profile,
        "config_fingerprint": config.fingerprint(),
        "seed": config.seed,
        "seeds": config.seeds,
        "dataset": config.data.dataset,
        "resolution": config.data.resolution,
        "finished_utc": None,
        "wall_time_s": None,
        "environment": environment(),
        "tables": dict(TABLES),
        "config": config.to_dict(),
    }
    metadata["finished_utc"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    metadata["wall_time_s"] = round(time.perf_counter() - started, 2)
    return write_json(out_dir / "run.json", metadata)
