"""IDX loading (MNIST / Fashion-MNIST) from files the tests write, and its errors."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from genzoo.data import dataset_info, load_dataset
from genzoo.data.idx import parse_idx, read_idx
from genzoo.errors import DataError


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_loads_written_idx_files(tmp_path, make, gz, name):
    arrays = make.write_mnist_dir(tmp_path / "data", gz=gz, train=20, test=10)
    train = load_dataset(name, "train", data_dir=str(tmp_path / "data"), download=False)
    test = load_dataset(name, "test", data_dir=str(tmp_path / "data"), download=False)
    assert train.images.shape == (20, 1, 28, 28) and train.images.dtype == torch.uint8
    assert torch.equal(train.images[:, 0], torch.from_numpy(arrays["train-images-idx3-ubyte"]))
    assert torch.equal(train.labels, torch.from_numpy(arrays["train-labels-idx1-ubyte"]).long())
    assert torch.equal(test.images[:, 0], torch.from_numpy(arrays["t10k-images-idx3-ubyte"]))
    assert train.labels.dtype == torch.int64 and len(test) == 10


def test_fashion_mnist_info_has_class_names():
    info = dataset_info("fashion-mnist")
    assert info.image_shape == (1, 28, 28) and info.levels == 256 and info.num_classes == 10
    assert info.class_names[0] == "T-shirt/top" and info.class_names[9] == "Ankle boot"
    assert info.splits == ("train", "test")


def test_dataset_subfolder_of_root_is_found(tmp_path, make):
    make.write_mnist_dir(tmp_path / "root" / "mnist")
    assert len(load_dataset("mnist", data_dir=str(tmp_path / "root"), download=False)) == 20


def test_truncated_idx_names_header_and_actual_size(tmp_path):
    data = bytes([0, 0, 8, 3]) + (5).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + bytes(100)
    with pytest.raises(DataError, match=r"5x28x28 \(3920 bytes.*holds 100.*truncated"):
        parse_idx(data, "images")


def test_truncated_gzip_file_in_a_dataset(tmp_path, make):
    make.write_mnist_dir(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[: len(raw) // 2]))
    with pytest.raises(DataError, match="truncated") as error:
        load_dataset("mnist", data_dir=str(tmp_path), download=False)
    assert "\n" not in str(error.value)


def test_wrong_magic_number(tmp_path, make):
    path = tmp_path / "x.idx"
    path.write_bytes(make.idx_bytes(np.zeros((2, 28, 28), np.uint8), magic=0x12345678))
    with pytest.raises(DataError, match=r"x.idx: not an IDX file \(its first 4 bytes are 12 34 56 78 in hex; an IDX file starts with 00 00"):
        read_idx(path)


def test_trailing_bytes_are_named_in_plain_words():
    data = bytes([0, 0, 8, 1]) + (3).to_bytes(4, "big") + bytes(5)
    with pytest.raises(DataError, match=r"header says 3 \(3 bytes of data\) but the file holds 5: it has trailing bytes, download it again"):
        parse_idx(data, "labels")


def test_bad_gzip(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(b"this is not gzip data at all")
    with pytest.raises(DataError, match="not a valid gzip"):
        read_idx(path)


def test_cut_gzip_stream(tmp_path, make):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(make.idx_bytes(np.zeros((4, 28, 28), np.uint8)))[:-20])
    with pytest.raises(DataError, match="not a valid gzip"):
        read_idx(path)


def test_images_and_labels_of_different_lengths(tmp_path, make):
    make.write_mnist_dir(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(make.idx_bytes(np.zeros(7, np.uint8))))
    with pytest.raises(DataError, match="20 images but 7 labels"):
        load_dataset("mnist", data_dir=str(tmp_path), download=False)


def test_label_out_of_range(tmp_path, make):
    make.write_mnist_dir(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(make.idx_bytes(np.full(20, 12, np.uint8))))
    with pytest.raises(DataError, match="label 12 outside 0..9"):
        load_dataset("mnist", data_dir=str(tmp_path), download=False)


def test_missing_files_say_where_and_how_to_fix(tmp_path):
    (tmp_path / "nowhere").mkdir()
    with pytest.raises(DataError) as error:
        load_dataset("fashion-mnist", data_dir=str(tmp_path / "nowhere"), download=False)
    message = str(error.value)
    assert "\n" not in message and str(tmp_path / "nowhere") in message
    assert "--data-dir" in message and "apt-get install dataset-fashion-mnist" in message


def test_gzip_data_without_gz_suffix_is_read(tmp_path, make):
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28) % 251
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(gzip.compress(make.idx_bytes(images)))
    assert np.array_equal(read_idx(path), images)


def test_size_option_resizes_every_split(tmp_path, make):
    arrays = make.write_mnist_dir(tmp_path / "data", train=20, test=10)
    train = load_dataset("fashion-mnist", "train", data_dir=str(tmp_path / "data"), download=False, size=32)
    assert train.images.shape == (20, 1, 32, 32) and dataset_info("fashion-mnist", size=64).image_shape == (1, 64, 64)
    original = torch.from_numpy(arrays["train-images-idx3-ubyte"]).float().mean()
    assert abs(train.images.float().mean() - original) < 2.0, "resizing keeps the mean brightness"
