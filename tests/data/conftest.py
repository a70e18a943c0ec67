"""Fixtures for the data tests: an isolated environment, file writers and a local HTTP server."""

from __future__ import annotations

import functools
import gzip
import http.server
import io
import pickle
import tarfile
import threading
import types
from pathlib import Path

import numpy as np
import pytest

from genzoo.data import download, locate

UNREACHABLE = "http://127.0.0.1:9/"  # discard port: connection refused at once, never the internet


@pytest.fixture(autouse=True)
def isolated_data_env(tmp_path_factory, monkeypatch):
    """No test sees the real cache, $GENZOO_DATA, system datasets or the internet."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.delenv("GENZOO_DATA", raising=False)
    monkeypatch.delenv("GENZOO_MIRROR", raising=False)
    monkeypatch.setattr(locate, "SYSTEM_PLACES", {})
    monkeypatch.setattr(download, "MIRRORS", {name: (UNREACHABLE,) for name in download.MIRRORS})
    return home / "cache" / "genzoo"


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """IDX encoding of a uint8 array (magic 0x0000 08 <ndim> unless overridden)."""
    header = (magic if magic is not None else 0x0800 | array.ndim).to_bytes(4, "big")
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + dims + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def fake_mnist(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, 28, 28), dtype=np.uint8), rng.integers(0, 10, count, dtype=np.uint8)


def write_mnist_dir(directory: Path, *, gz: bool = True, train: int = 20, test: int = 10) -> dict[str, np.ndarray]:
    """Write the four IDX files of a small MNIST-like dataset; returns the arrays written."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for prefix, count, seed in (("train", train, 0), ("t10k", test, 1)):
        images, labels = fake_mnist(count, seed)
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            name = f"{prefix}-{kind}-ubyte"
            data = idx_bytes(array)
            if gz:
                (directory / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (directory / name).write_bytes(data)
            arrays[name] = array
    return arrays


def cifar_batch(count: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "batch_label": f"batch {seed}",
        "labels": rng.integers(0, 10, count).tolist(),
        "data": rng.integers(0, 256, (count, 3072), dtype=np.uint8),
        "filenames": [f"img_{seed}_{i}.png" for i in range(count)],
    }


CIFAR_NAMES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def cifar_batches(per_batch: int = 4) -> dict[str, bytes]:
    """Pickled batches, protocol 2 like the originals."""
    batches = {name: pickle.dumps(cifar_batch(per_batch, seed), protocol=2) for seed, name in enumerate(CIFAR_NAMES)}
    batches["batches.meta"] = pickle.dumps({"label_names": ["airplane"] * 10, "num_cases_per_batch": per_batch}, protocol=2)
    return batches


def write_cifar_tar(path: Path, batches: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in batches.items():
            member = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    return path


@pytest.fixture
def make():
    """The file writers above, for tests (conftest modules are not importable by name)."""
    return types.SimpleNamespace(
        idx_bytes=idx_bytes, fake_mnist=fake_mnist, write_mnist_dir=write_mnist_dir,
        cifar_batch=cifar_batch, cifar_batches=cifar_batches, write_cifar_tar=write_cifar_tar,
    )


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture
def http_root(tmp_path):
    """(directory served, base URL) of an HTTP server on 127.0.0.1 for this test."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
