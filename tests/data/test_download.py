"""Downloads from a local HTTP server: checksums, atomic writes, mirror fallback, failures."""

from __future__ import annotations

import hashlib

import pytest
import torch

from genzoo.data import download, load_dataset, locate_dataset
from genzoo.data.download import fetch_file, mirror_urls
from genzoo.errors import DataError

UNREACHABLE = "http://127.0.0.1:9/"


def serve_mnist(make, served, monkeypatch, name="mnist"):
    """Write gzipped IDX files under served/<name>/ and register their md5s; return the arrays."""
    arrays = make.write_mnist_dir(served / name, gz=True, train=12, test=6)
    sums = {path.name: hashlib.md5(path.read_bytes()).hexdigest() for path in (served / name).iterdir()}
    monkeypatch.setitem(download.CHECKSUMS, name, sums)
    return arrays


def test_download_into_cache_then_reuse(make, http_root, monkeypatch, isolated_data_env):
    served, base = http_root
    arrays = serve_mnist(make, served, monkeypatch)
    monkeypatch.setenv("GENZOO_MIRROR", base)
    data = load_dataset("mnist", "train", progress=False)
    assert torch.equal(data.images[:, 0], torch.from_numpy(arrays["train-images-idx3-ubyte"]))
    cached = isolated_data_env / "mnist"
    assert sorted(p.name for p in cached.iterdir()) == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    for path in served.joinpath("mnist").iterdir():
        path.unlink()  # the second load must come from the cache
    assert torch.equal(load_dataset("mnist", "train", progress=False).images, data.images)
    assert locate_dataset("mnist").found is False  # test split not downloaded yet


def test_bad_checksum_leaves_nothing_behind(make, http_root, monkeypatch, isolated_data_env):
    served, base = http_root
    serve_mnist(make, served, monkeypatch)
    monkeypatch.setitem(download.CHECKSUMS, "mnist", {k: "0" * 32 for k in download.CHECKSUMS["mnist"]})
    monkeypatch.setenv("GENZOO_MIRROR", base)
    with pytest.raises(DataError, match="md5 .* != expected 0{32}") as error:
        load_dataset("mnist", progress=False)
    assert "\n" not in str(error.value) and "not found locally in" in str(error.value)
    cached = isolated_data_env / "mnist"
    assert not cached.exists() or list(cached.iterdir()) == []


def test_mirror_fallback(make, http_root, monkeypatch):
    served, base = http_root
    arrays = serve_mnist(make, served / "files", monkeypatch, name="fashion-mnist")
    monkeypatch.setitem(download.MIRRORS, "fashion-mnist", (UNREACHABLE, base + "files/fashion-mnist/"))
    data = load_dataset("fashion-mnist", "test", progress=False)
    assert torch.equal(data.labels, torch.from_numpy(arrays["t10k-labels-idx1-ubyte"]).long())


def test_network_failure_is_one_line_with_the_fix(tmp_path):
    with pytest.raises(DataError) as error:
        load_dataset("fashion-mnist", data_dir=str(tmp_path), progress=False)
    message = str(error.value)
    assert "\n" not in message and message.startswith("could not download train-images-idx3-ubyte.gz")
    assert str(tmp_path) in message and "--data-dir" in message and "apt-get install dataset-fashion-mnist" in message


def test_missing_file_on_server_tries_next_mirror_then_fails(http_root, tmp_path):
    _, base = http_root
    with pytest.raises(DataError, match=r"404") as error:
        fetch_file("absent.gz", [base, base + "other/"], tmp_path / "cache" / "absent.gz", None, progress=False)
    assert str(error.value).count("absent.gz: HTTP 404") == 2
    assert list((tmp_path / "cache").iterdir()) == []


def test_cifar_archive_download(make, http_root, monkeypatch, isolated_data_env):
    served, base = http_root
    archive = make.write_cifar_tar(served / "cifar10" / "cifar-10-python.tar.gz", make.cifar_batches(3))
    monkeypatch.setitem(download.CHECKSUMS, "cifar10", {archive.name: hashlib.md5(archive.read_bytes()).hexdigest()})
    monkeypatch.setenv("GENZOO_MIRROR", base)
    data = load_dataset("cifar10", "test", progress=False)
    assert data.images.shape == (3, 3, 32, 32)
    assert (isolated_data_env / "cifar10" / "cifar-10-python.tar.gz").is_file()
    assert locate_dataset("cifar10").found


def test_mirror_override_order(monkeypatch):
    assert mirror_urls("mnist", ["http://a/"]) == ("http://a/",)
    monkeypatch.setenv("GENZOO_MIRROR", "http://m1/, http://m2")
    assert mirror_urls("mnist") == ("http://m1/mnist/", "http://m2/mnist/")


def test_official_checksum_table_is_complete():
    table = download.CHECKSUMS
    assert table["fashion-mnist"]["train-images-idx3-ubyte.gz"] == "8d4fb7e6c68d591d4c3dfef9ec88bf0d"
    assert table["mnist"]["t10k-labels-idx1-ubyte.gz"] == "ec29112dd5afa0611ce80d1b7f02629c"
    assert table["cifar10"]["cifar-10-python.tar.gz"] == "c58f30108f718f92721af3b95e74349a"
