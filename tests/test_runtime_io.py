"""s2d.runtime (device, seeds, metadata) and s2d.io (atomic writes)."""

import json

import numpy as np
import pytest
import torch

from s2d import io, runtime


def test_auto_device_takes_cuda_only_when_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert runtime.pick_device().type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert runtime.pick_device().type == "cuda"


def test_asking_for_missing_cuda_is_an_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        runtime.pick_device("cuda")
    assert runtime.pick_device("cpu").type == "cpu"


def test_one_seed_fixes_every_generator():
    def draw(seed):
        gen = runtime.seed_everything(seed)
        return np.random.rand(), torch.rand(1).item(), torch.rand(1, generator=gen).item()

    assert draw(3) == draw(3)
    assert draw(3) != draw(4)


def test_environment_names_versions_and_commit():
    env = runtime.environment()
    assert env["torch"] == torch.__version__
    assert env["git_commit"]
    json.dumps(env)


def test_atomic_write_replaces_only_on_success(tmp_path):
    target = tmp_path / "sub" / "table.csv"
    io.write_text(target, "old\n")
    with pytest.raises(ZeroDivisionError):
        with io.atomic_path(target) as tmp:
            tmp.write_text("half-written")
            1 / 0
    assert target.read_text() == "old\n"
    assert [p.name for p in target.parent.iterdir()] == ["table.csv"]
    io.write_json(target, {"a": 1})
    assert json.loads(target.read_text()) == {"a": 1}
    assert target.stat().st_mode & 0o044  # readable by others, like any file the user writes (umask 022)
