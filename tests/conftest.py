"""Shared fixtures: small SynthTalk datasets built once per test session; how the suite shares two CPU cores.

``make test`` runs the suite in two pytest-xdist workers of one torch thread each (two
torch processes of two threads each would oversubscribe two cores), each test file in
one worker. The reproduction test of ``test_cli.py`` and the notebooks share one
worker, in that order: the test fills the notebooks' smoke caches from scratch, and
nbval then runs the notebooks on the models it trained. Without xdist the order is
the same.
"""

import os

import numpy as np
import pytest
from PIL import Image

from s2d.config import load_config
from s2d.data import synth


@pytest.fixture(scope="session")
def smoke_config():
    return load_config("smoke")


@pytest.fixture(scope="session")
def synth_vox(tmp_path_factory, smoke_config):
    """The smoke profile's synth-vox dataset (4 train + 4 test videos, 8 frames, 64 px)."""
    return synth.build("synth-vox", smoke_config, seed=0, out=tmp_path_factory.mktemp("data") / "vox",
                       workers=2, progress=False)


@pytest.fixture(scope="session")
def synth_ff(tmp_path_factory, smoke_config):
    return synth.build("synth-ff", smoke_config, seed=0, out=tmp_path_factory.mktemp("data") / "ff",
                       workers=1, progress=False)


@pytest.fixture(scope="session")
def face_photos(tmp_path_factory):
    """Two real face photos that ship offline: scikit-image's astronaut, and a tight crop of her face, mirrored."""
    from skimage import data

    folder = tmp_path_factory.mktemp("photos")
    astronaut = data.astronaut()
    Image.fromarray(astronaut).save(folder / "astronaut.png")
    Image.fromarray(np.ascontiguousarray(astronaut[30:220, 140:310, ::-1][:, ::-1])).save(folder / "tight.png")
    return [folder / "astronaut.png", folder / "tight.png"]


SMOKE_CACHE_GROUP = "notebook-smoke-cache"
FILLS_THE_NOTEBOOK_CACHES = "tests/test_cli.py::test_reproduce_trains_each_model_once_and_records_the_run"


def pytest_configure(config):
    if os.environ.get("PYTEST_XDIST_WORKER"):  # one torch thread per worker, for the notebooks' kernels too
        os.environ["OMP_NUM_THREADS"] = "1"
        import torch

        torch.set_num_threads(1)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's, which turns the marks into the groups it schedules by
def pytest_collection_modifyitems(config, items):
    """Each test file runs in one worker (its module fixtures are built once), the notebook-cache group in one."""
    for item in items:
        shares_the_caches = item.nodeid == FILLS_THE_NOTEBOOK_CACHES or item.nodeid.startswith("notebooks/")
        item.add_marker(pytest.mark.xdist_group(SMOKE_CACHE_GROUP if shares_the_caches else item.nodeid.split("::")[0]))
