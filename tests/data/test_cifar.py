"""CIFAR-10 from pickle batches or the tar.gz, and refusal of pickles that carry code."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch

from genzoo.data import load_dataset
from genzoo.data.cifar import unpickle_batch
from genzoo.errors import DataError


def _expected(make, names, per_batch=4):
    batches = [make.cifar_batch(per_batch, seed) for seed, name in enumerate(make_names()) if name in names]
    images = np.concatenate([b["data"] for b in batches]).reshape(-1, 3, 32, 32)
    labels = np.concatenate([b["labels"] for b in batches])
    return torch.from_numpy(images), torch.from_numpy(labels).long()


def make_names():
    return [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


@pytest.mark.parametrize("layout", ["batch-dir", "flat", "tar"])
def test_loads_batches_and_archive(tmp_path, make, layout):
    batches = make.cifar_batches()
    if layout == "tar":
        make.write_cifar_tar(tmp_path / "cifar10" / "cifar-10-python.tar.gz", batches)
    else:
        directory = tmp_path / "cifar-10-batches-py" if layout == "batch-dir" else tmp_path
        directory.mkdir(exist_ok=True)
        for name, data in batches.items():
            (directory / name).write_bytes(data)
    train = load_dataset("cifar10", "train", data_dir=str(tmp_path), download=False)
    test = load_dataset("cifar10", "test", data_dir=str(tmp_path), download=False)
    images, labels = _expected(make, make_names()[:5])
    assert train.images.shape == (20, 3, 32, 32) and train.images.dtype == torch.uint8
    assert torch.equal(train.images, images) and torch.equal(train.labels, labels)
    test_images, test_labels = _expected(make, ["test_batch"])
    assert torch.equal(test.images, test_images) and torch.equal(test.labels, test_labels)
    assert train.info.class_names[0] == "airplane" and train.info.num_classes == 10


@pytest.mark.parametrize("protocol", [2, 5])
def test_numpy_arrays_of_any_protocol_are_read(make, protocol):
    batch = make.cifar_batch(3, 7)
    batch["labels"] = np.array(batch["labels"], dtype=">i4")  # big-endian int array instead of a list
    content = unpickle_batch(pickle.dumps(batch, protocol=protocol), "batch")
    assert np.array_equal(content["data"], batch["data"]) and content["labels"].tolist() == batch["labels"].tolist()


def test_float_arrays_are_refused(make):
    batch = {"data": np.zeros((2, 3072), np.float64), "labels": [0, 1]}
    with pytest.raises(DataError, match="refusing pickled dtype 'f8'"):
        unpickle_batch(pickle.dumps(batch, protocol=2), "batch")


class Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_with_code_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"
    data = pickle.dumps({"data": Exploit(marker), "labels": [0]}, protocol=2)
    (tmp_path / "cifar-10-batches-py").mkdir()
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(data)
    with pytest.raises(DataError, match=r"refusing pickled global (posix|os|nt)\.system"):
        load_dataset("cifar10", "test", data_dir=str(tmp_path), download=False)
    assert not marker.exists()


def test_pickle_calling_builtins_eval_is_refused():
    data = b"cbuiltins\neval\n(S'1+1'\ntR."
    with pytest.raises(DataError, match="refusing pickled global builtins.eval"):
        unpickle_batch(data, "batch")


def test_corrupt_pickle(tmp_path, make):
    data = make.cifar_batches()["test_batch"]
    with pytest.raises(DataError, match="corrupt pickle") as error:
        unpickle_batch(data[: len(data) // 2], "test_batch")
    assert "\n" not in str(error.value)


def test_corrupt_archive(tmp_path):
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(DataError, match="not a readable tar.gz"):
        load_dataset("cifar10", "test", data_dir=str(tmp_path), download=False)


def test_batch_with_wrong_image_size(tmp_path, make):
    batch = make.cifar_batch(2, 0)
    batch["data"] = batch["data"][:, :100]
    (tmp_path / "test_batch").write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(DataError, match="uint8 N x 3072"):
        load_dataset("cifar10", "test", data_dir=str(tmp_path), download=False)


def python2_batch(images: np.ndarray, labels: list[int]) -> bytes:
    """A batch pickled the way the original CIFAR-10 files were (Python 2, protocol 2, str = bytes)."""

    def string(text: bytes) -> bytes:
        return b"U" + bytes([len(text)]) + text  # SHORT_BINSTRING

    n = len(images)
    dtype = b"cnumpy\ndtype\n" + string(b"u1") + b"K\x00K\x01\x87R" + b"(K\x03" + string(b"|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
    array = (
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" + string(b"b") + b"\x87R"
        + b"(K\x01M" + n.to_bytes(2, "little") + b"M\x00\x0c\x86" + dtype + b"\x89"
        + b"T" + len(images.tobytes()).to_bytes(4, "little") + images.tobytes() + b"tb"
    )
    label_list = b"](" + b"".join(b"K" + bytes([label]) for label in labels) + b"e"
    return b"\x80\x02}(" + string(b"data") + array + string(b"labels") + label_list + b"u."


def test_original_python2_batch_format(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5, 3072), dtype=np.uint8)
    (tmp_path / "test_batch").write_bytes(python2_batch(images, [3, 1, 4, 1, 5]))
    data = load_dataset("cifar10", "test", data_dir=str(tmp_path), download=False)
    assert torch.equal(data.images, torch.from_numpy(images.reshape(5, 3, 32, 32)))
    assert data.labels.tolist() == [3, 1, 4, 1, 5]
