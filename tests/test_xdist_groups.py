"""The suite's two workers keep a group together (tests/conftest.py): every cell of a notebook runs in the kernel
its first cell started, and the notebooks after the test that fills their caches. pytest 9.2 with pytest-xdist 3.8
broke this silently (xdist renames an attribute pytest stopped reading), and only timing luck hid it."""

import os
import subprocess
import sys

GROUPED = '''
import os
import pytest

@pytest.mark.xdist_group("one")
@pytest.mark.parametrize("k", range(6))
def test_grouped(k):
    with open(os.path.join(os.environ["GROUP_RECORD"], f"ran-{k}"), "w") as f:
        f.write(os.environ["PYTEST_XDIST_WORKER"])

@pytest.mark.parametrize("k", range(6))
def test_free(k):
    pass
'''


def test_a_group_runs_in_one_worker(tmp_path):
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "2", "--dist", "loadgroup", "-p",
                           "no:cacheprovider", str(tmp_path)], capture_output=True, text=True, cwd=tmp_path,
                          env=os.environ | {"GROUP_RECORD": str(tmp_path)})
    assert done.returncode == 0, done.stdout + done.stderr
    workers = {(tmp_path / f"ran-{k}").read_text() for k in range(6)}
    assert len(workers) == 1, f"the group's tests ran in workers {workers}"
