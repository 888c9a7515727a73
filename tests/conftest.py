"""Shared fixtures: small SynthTalk datasets built once per test session."""

import pytest

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
