"""s2d.weights: cache hits, verified atomic downloads, and one clear error when offline."""

import hashlib
import http.server
import socket
import threading
import time
from dataclasses import replace

import pytest

from s2d import weights


@pytest.fixture(autouse=True)
def private_torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block exits


@pytest.fixture
def file_server(tmp_path):
    """Serve tmp_path/www over HTTP on 127.0.0.1; yields (root folder, base URL)."""
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_cache_follows_torch_home(private_torch_home):
    assert weights.cache_dir() == private_torch_home / "hub" / "checkpoints"
    assert weights.path_of("vgg19").name == "vgg19-dcbb9e9d.pth"


def test_the_four_files_the_project_relies_on_are_listed():
    filenames = {w.filename for w in weights.WEIGHTS.values()}
    assert {
        "vgg19-dcbb9e9d.pth",
        "alexnet-owt-7be5be79.pth",
        "pt_inception-2015-12-05-6726825d.pth",
        "2DFAN4-11f355bf06.pth.tar",
    } <= filenames


def test_cached_file_is_returned_without_download(monkeypatch):
    target = weights.path_of("vgg19")
    target.parent.mkdir(parents=True)
    target.write_bytes(b"cached")
    monkeypatch.setitem(weights.WEIGHTS, "vgg19", replace(weights.WEIGHTS["vgg19"], url="http://127.0.0.1:1/x"))
    assert weights.require("vgg19") == target
    assert weights.is_available("vgg19")


@pytest.mark.parametrize("name", list(weights.WEIGHTS))
def test_unreachable_download_gives_one_clear_error_fast(monkeypatch, name):
    spec = weights.WEIGHTS[name]
    monkeypatch.setitem(weights.WEIGHTS, name, replace(spec, url=f"http://127.0.0.1:{_closed_port()}/{spec.filename}"))
    start = time.perf_counter()
    with pytest.raises(weights.WeightsUnavailable) as err:
        weights.require(name)
    assert time.perf_counter() - start < 10
    message = str(err.value)
    assert "\n" not in message
    assert spec.filename in message
    assert str(weights.cache_dir()) in message
    assert "make weights" in message
    assert not weights.path_of(name).exists()
    assert list(weights.cache_dir().glob("*.part")) == []


def test_download_false_never_touches_the_network():
    with pytest.raises(weights.WeightsUnavailable, match="not downloaded.*make weights"):
        weights.require("inception", download=False)


def test_a_server_that_never_answers_times_out(monkeypatch):
    monkeypatch.setattr(weights, "DOWNLOAD_TIMEOUT_S", 0.5)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/x.pth"
        monkeypatch.setitem(weights.WEIGHTS, "fan4", replace(weights.WEIGHTS["fan4"], url=url))
        start = time.perf_counter()
        with pytest.raises(weights.WeightsUnavailable, match="download failed"):
            weights.require("fan4")
        assert time.perf_counter() - start < 5


def test_download_is_verified_and_renamed_into_place(file_server, monkeypatch):
    root, base = file_server
    payload = b"pretend weights" * 1000
    digest = hashlib.sha256(payload).hexdigest()
    (root / "net.pth").write_bytes(payload)
    spec = weights.WeightsFile("toy", f"toy-{digest[:8]}.pth", f"{base}/net.pth", "a test", sha256_prefix=digest[:8])
    monkeypatch.setitem(weights.WEIGHTS, "toy", spec)
    path = weights.require("toy")
    assert path.read_bytes() == payload
    assert [p.name for p in path.parent.iterdir()] == [spec.filename]


def test_corrupted_download_is_not_kept(file_server, monkeypatch):
    root, base = file_server
    (root / "net.pth").write_bytes(b"not what was promised")
    spec = weights.WeightsFile("toy", "toy-deadbeef.pth", f"{base}/net.pth", "a test", sha256_prefix="deadbeef")
    monkeypatch.setitem(weights.WEIGHTS, "toy", spec)
    with pytest.raises(weights.WeightsUnavailable, match="sha256"):
        weights.require("toy")
    assert list(weights.cache_dir().iterdir()) == []


def test_missing_url_on_server_is_reported(file_server, monkeypatch):
    _, base = file_server
    spec = weights.WeightsFile("toy", "toy.pth", f"{base}/absent.pth", "a test")
    monkeypatch.setitem(weights.WEIGHTS, "toy", spec)
    with pytest.raises(weights.WeightsUnavailable, match=r"^weights unavailable: toy.pth .*HTTP 404"):
        weights.require("toy")


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(KeyError, match="vgg19"):
        weights.require("resnet")
