"""Images from a NumPy `.npz` file: `x` (+ optional `y`), and `x_test`/`y_test` when present.

`x` may be (N, H, W), (N, H, W, C) or (N, C, H, W) with C in {1, 3}; uint8, or integers
in 0..255, or floats in [0, 1] (converted to uint8). Without `x_test` a deterministic
hold-out (seeded permutation) of `test_fraction` becomes the test split. Pickled objects
are never loaded (`allow_pickle=False`).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from genzoo.data.dataset import DatasetInfo, ImageDataset
from genzoo.data.locate import DatasetLocation
from genzoo.data.registry import DatasetSource, register_dataset
from genzoo.errors import ConfigError, DataError

HOLD_OUT_SEED = 0


@dataclass(frozen=True)
class NpzOptions:
    path: str | None = None
    test_fraction: float = 0.1
    layout: Literal["auto", "nchw", "nhwc"] = "auto"

    def __post_init__(self) -> None:
        if not 0.0 <= self.test_fraction < 1.0:
            raise ConfigError(f"npz option test_fraction must be in [0, 1), got {self.test_fraction}")


def peek_shape(path: Path, key: str) -> tuple[int, ...] | None:
    """Shape of array `key` in the .npz from its header alone (None when absent)."""
    try:
        with zipfile.ZipFile(path) as archive:
            if f"{key}.npy" not in archive.namelist():
                return None
            with archive.open(f"{key}.npy") as handle:
                major, _ = np.lib.format.read_magic(handle)
                read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
                shape, _, _ = read_header(handle)  # header only, not the data
                return tuple(shape)
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        raise DataError(f"{path}: not a readable .npz file ({error}): write it with numpy.savez") from None


def image_layout(shape: tuple[int, ...], layout: str, where: str) -> str:
    """'nhw', 'nchw' or 'nhwc' for an images array of `shape`."""
    if len(shape) == 3:
        return "nhw"
    if len(shape) != 4:
        raise DataError(f"{where}: images must be (N, H, W), (N, H, W, C) or (N, C, H, W), got shape {shape}")
    if layout != "auto":
        return layout
    if shape[1] in (1, 3):
        return "nchw"
    if shape[3] in (1, 3):
        return "nhwc"
    raise DataError(f"{where}: cannot find a channel axis of size 1 or 3 in shape {shape}: pass layout=nchw or layout=nhwc")


def chw(shape: tuple[int, ...], layout: str) -> tuple[int, int, int]:
    if layout == "nhw":
        return (1, shape[1], shape[2])
    if layout == "nchw":
        return (shape[1], shape[2], shape[3])
    return (shape[3], shape[1], shape[2])


def to_uint8_images(array: np.ndarray, layout: str, where: str) -> torch.Tensor:
    """uint8 (N, C, H, W) from an images array in any accepted layout and dtype."""
    stored = array  # for error messages: indices as in the file
    if layout == "nhw":
        array = array[:, None]
    elif layout == "nhwc":
        array = array.transpose(0, 3, 1, 2)
    if array.shape[1] not in (1, 3):
        raise DataError(f"{where}: images have {array.shape[1]} channels, need 1 or 3")
    if array.dtype == np.uint8:
        pass
    elif array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    elif np.issubdtype(array.dtype, np.integer):
        if array.size and (array.min() < 0 or array.max() > 255):
            raise DataError(f"{where}: integer images must lie in 0..255, got {array.min()}..{array.max()}")
        array = array.astype(np.uint8)
    elif np.issubdtype(array.dtype, np.floating):
        finite = np.isfinite(stored)
        if not finite.all():
            bad = stored[~finite]
            kinds = " and ".join(kind for kind, present in (("NaN", np.isnan(bad).any()), ("infinite", np.isinf(bad).any())) if present)
            first = tuple(int(i) for i in np.argwhere(~finite)[0])
            raise DataError(f"{where}: {bad.size} values are {kinds} (the first at index {first}): float images must be finite, in [0, 1]")
        if array.size and (array.min() < 0 or array.max() > 1):
            raise DataError(f"{where}: float images must lie in [0, 1], got {array.min()}..{array.max()}")
        array = np.rint(array * 255).astype(np.uint8)
    else:
        raise DataError(f"{where}: images must be uint8, integers or floats in [0, 1], got {array.dtype}")
    return torch.from_numpy(np.ascontiguousarray(array))


def to_labels(array: np.ndarray, count: int, where: str) -> torch.Tensor:
    """int64 (N,) labels, checked for length and non-negative integer values."""
    array = np.asarray(array)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise DataError(f"{where}: labels must be a vector (N,), got shape {array.shape}")
    if len(array) != count:
        raise DataError(f"{where}: {count} images but {len(array)} labels: the arrays must have the same length")
    if np.issubdtype(array.dtype, np.floating) and np.all(np.mod(array, 1) == 0):
        array = array.astype(np.int64)
    if not np.issubdtype(array.dtype, np.integer) or (array.size and array.min() < 0):
        raise DataError(f"{where}: labels must be non-negative integers, got {array.dtype}")
    return torch.from_numpy(array.astype(np.int64))


@register_dataset("npz")
class Npz(DatasetSource):
    options_class = NpzOptions

    def _path(self) -> Path:
        if not self.options.path:
            raise ConfigError("dataset npz needs option path=FILE.npz (arrays x, optional y, x_test, y_test)")
        path = Path(self.options.path).expanduser()
        if not path.is_file():
            raise DataError(f"npz file {path} not found: check the path option")
        return path

    @cached_property
    def _shapes(self) -> dict[str, tuple[int, ...] | None]:
        path = self._path()
        return {key: peek_shape(path, key) for key in ("x", "y", "x_test", "y_test")}

    def _labels_max(self) -> int | None:
        """Largest label over y and y_test (reads only the label arrays)."""
        shapes = self._shapes
        if shapes["y"] is None:
            return None
        with np.load(self._path(), allow_pickle=False) as arrays:
            highest = [int(arrays[key].max()) for key in ("y", "y_test") if shapes[key] is not None and arrays[key].size]
        return max(highest, default=0)

    def info(self) -> DatasetInfo:
        path, shapes = self._path(), self._shapes
        if shapes["x"] is None:
            raise DataError(f"{path}: no array named 'x' (images): save the images as x=..., labels as y=...")
        layout = image_layout(shapes["x"], self.options.layout, f"{path}:x")
        image_shape = chw(shapes["x"], layout)
        if shapes["x_test"] is not None:
            test_layout = image_layout(shapes["x_test"], self.options.layout, f"{path}:x_test")
            if chw(shapes["x_test"], test_layout) != image_shape:
                raise DataError(f"{path}: x images are {image_shape} but x_test images are {chw(shapes['x_test'], test_layout)}: they must match")
            if (shapes["y"] is None) != (shapes["y_test"] is None):
                raise DataError(f"{path}: has only one of y and y_test: save labels for both splits or neither")
            splits: tuple[str, ...] = ("train", "test")
        else:
            splits = ("train", "test") if self.options.test_fraction > 0 and shapes["x"][0] >= 2 else ("train",)
        highest = self._labels_max()
        num_classes = None if highest is None else highest + 1
        description = f"images from {path} ({'x'.join(map(str, image_shape))})"
        return DatasetInfo(self.name, image_shape, 256, num_classes, splits, None, description)

    def locate(self, data_dir: str | None) -> DatasetLocation:
        if not self.options.path:
            return DatasetLocation(False, None, (), "needs option path=FILE.npz")
        path = Path(self.options.path).expanduser()
        found = path.is_file()
        return DatasetLocation(found, str(path) if found else None, (str(path),), "npz file" if found else f"{path} not found")

    def load(self, split: str, *, data_dir: str | None, download: bool, progress: bool) -> ImageDataset:
        path, info = self._path(), self.info()
        has_test = self._shapes["x_test"] is not None
        image_key, label_key = ("x_test", "y_test") if split == "test" and has_test else ("x", "y")
        with np.load(path, allow_pickle=False) as arrays:
            try:
                x = arrays[image_key]
                y = arrays[label_key] if label_key in arrays.files else None
            except ValueError as error:
                raise DataError(f"{path}: cannot read {image_key}/{label_key} ({error}): store plain numeric arrays") from None
        where = f"{path}:{image_key}"
        images = to_uint8_images(x, image_layout(x.shape, self.options.layout, where), where)  # (N, C, H, W)
        labels = None if y is None else to_labels(y, len(images), f"{path}:{label_key}")
        if not has_test and "test" in info.splits:
            index = self._hold_out_index(len(images), split)
            images = images[index]
            labels = None if labels is None else labels[index]
        return ImageDataset(info, split, images, labels)

    def _hold_out_index(self, count: int, split: str) -> torch.Tensor:
        """Sorted indices of `split` in a deterministic seeded hold-out of `test_fraction`."""
        test_count = min(count - 1, max(1, round(count * self.options.test_fraction)))
        order = np.random.default_rng(HOLD_OUT_SEED).permutation(count)
        chosen = order[:test_count] if split == "test" else order[test_count:]
        return torch.from_numpy(np.sort(chosen))
