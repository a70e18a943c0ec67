"""`.npz` datasets in their layouts, dtypes and splits, and their errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genzoo.data import dataset_info, load_dataset
from genzoo.errors import DataError

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, (10, 3, 5, 6), dtype=np.uint8)  # (N, C, H, W)
LABELS = RNG.integers(0, 4, 10)


@pytest.mark.parametrize(
    "layout, array",
    [("nchw", IMAGES), ("nhwc", IMAGES.transpose(0, 2, 3, 1)), ("float", IMAGES / 255.0), ("int64", IMAGES.astype(np.int64))],
)
def test_layouts_and_dtypes_give_the_same_images(tmp_path, layout, array):
    path = tmp_path / "d.npz"
    np.savez(path, x=array, y=LABELS, x_test=array[:3], y_test=LABELS[:3])
    info = dataset_info("npz", path=str(path))
    assert info.image_shape == (3, 5, 6) and info.num_classes == LABELS.max() + 1 and info.splits == ("train", "test")
    train = load_dataset("npz", path=str(path))
    test = load_dataset("npz", "test", path=str(path))
    assert torch.equal(train.images, torch.from_numpy(IMAGES)) and torch.equal(train.labels, torch.from_numpy(LABELS))
    assert torch.equal(test.images, torch.from_numpy(IMAGES[:3]))


def test_grayscale_nhw_and_hold_out(tmp_path):
    path = tmp_path / "g.npz"
    gray = IMAGES[:, 0]  # (N, H, W)
    np.savez(path, x=gray)
    train = load_dataset("npz", path=str(path), test_fraction=0.2)
    test = load_dataset("npz", "test", path=str(path), test_fraction=0.2)
    assert train.images.shape == (8, 1, 5, 6) and len(test) == 2 and train.labels is None
    together = torch.cat([train.images, test.images])[:, 0]
    assert sorted(map(bytes, together.numpy())) == sorted(map(bytes, gray))  # disjoint, complete
    assert torch.equal(test.images, load_dataset("npz", "test", path=str(path), test_fraction=0.2).images)
    assert dataset_info("npz", path=str(path), test_fraction=0.0).splits == ("train",)


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"images": IMAGES}, "no array named 'x'"),
        ({"x": IMAGES[:, 0, 0]}, "must be \\(N, H, W\\)"),
        ({"x": IMAGES, "y": LABELS[:4]}, "10 images but 4 labels"),
        ({"x": IMAGES * 2.0}, "float images must lie in \\[0, 1\\]"),
        ({"x": np.where(np.arange(IMAGES.size).reshape(IMAGES.shape) == 7, np.nan, IMAGES / 255.0)},
         r"bad.npz:x: 1 values are NaN \(the first at index \(0, 0, 1, 1\)\): float images must be finite"),
        ({"x": np.full(IMAGES.shape, np.inf)}, r"values are infinite \(the first at index \(0, 0, 0, 0\)\)"),
        ({"x": IMAGES, "x_test": IMAGES[:, :, :4]}, "x_test images are"),
        ({"x": np.zeros((4, 5, 5, 5), np.uint8)}, "cannot find a channel axis"),
    ],
)
def test_errors(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=message):
        load_dataset("npz", path=str(path))


def test_not_an_npz_file(tmp_path):
    path = tmp_path / "bad.npz"
    path.write_bytes(b"nope")
    with pytest.raises(DataError, match="not a readable .npz"):
        load_dataset("npz", path=str(path))
