"""Same commit, same tables: a smoke reproduction from scratch gives the committed smoke results.

``results/smoke/`` is what ``s2d reproduce --profile smoke`` wrote at the commit it is
committed with. This test rebuilds Table 1 of the smoke profile from nothing (SynthTalk
data, the detector, every model of the table, the evaluations) in a temporary folder and
compares it with the committed ``table1_seeds.csv``: a change to the data, the detector,
training or evaluation that moves a number fails here until the smoke results are
regenerated with it (the command is in the failure message).
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from s2d.repro import tables
from s2d.config import load_config

COMMITTED = Path(__file__).resolve().parent.parent / "results" / "smoke"
SMOKE_THREADS = 1  # the torch threads results/smoke was computed with (s2d reproduce: one per model on the CPU)
REGENERATE = "s2d reproduce --profile smoke --no-book --book /tmp/smoke-book (then commit results/smoke)"


@pytest.mark.skipif(not (COMMITTED / "table1_seeds.csv").is_file(), reason="no committed smoke results")
def test_a_smoke_reproduction_from_scratch_gives_the_committed_table1(tmp_path):
    config = load_config("smoke")
    threads = torch.get_num_threads()
    torch.set_num_threads(SMOKE_THREADS)  # CPU kernels sum in a thread-dependent order; make test's workers run one
    try:
        ours = tables.reconstruction_table(1, config, tmp_path / "data", tmp_path / "runs", progress=False)
    finally:
        torch.set_num_threads(threads)
    ours.save(tmp_path / "results")
    # both as written to CSV (4 decimals), so the comparison is of what a reader sees
    fresh = pd.read_csv(tmp_path / "results" / "table1_seeds.csv")
    committed = pd.read_csv(COMMITTED / "table1_seeds.csv")
    assert list(fresh["method"]) == list(committed["method"]), f"other rows than the committed ones: {REGENERATE}"
    numbers = [c for c in committed.columns if c not in ("method", "seed") and committed[c].notna().any()]
    assert numbers, "the committed smoke table has no numbers"
    for column in numbers:
        np.testing.assert_allclose(fresh[column], committed[column], rtol=1e-3, atol=1.5e-4, equal_nan=True,
                                   err_msg=f"{column} drifted from results/smoke: {REGENERATE}")
