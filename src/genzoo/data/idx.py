"""MNIST and Fashion-MNIST from IDX files (LeCun et al. 1998; Xiao et al. 2017), raw or gzipped.

IDX: 2 zero bytes, a type code (0x08 = uint8), the number of dimensions, then one
big-endian uint32 per dimension and the data. The header is checked against the file
size so a truncated download is reported, not silently padded.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from genzoo.data.dataset import DatasetInfo, ImageDataset
from genzoo.data.download import download_files, mirror_urls
from genzoo.data.locate import DatasetLocation, download_dir, find_files
from genzoo.data.registry import DatasetSource, register_dataset
from genzoo.errors import ConfigError, DataError

GZIP_MAGIC = b"\x1f\x8b"
IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_bytes(path: str | Path) -> bytes:
    """The file's content, gunzipped when it is gzip data (bad gzip -> DataError)."""
    path = Path(path)
    try:
        data = path.read_bytes()
        if path.suffix == ".gz" or data[:2] == GZIP_MAGIC:  # also a gzip file saved without .gz
            return gzip.decompress(data)
        return data
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise DataError(f"{path}: not a valid gzip file ({error}): delete it and download it again") from None
    except OSError as error:
        raise DataError(f"cannot read {path} ({error.strerror or error})") from None


def parse_idx(data: bytes, where: str = "IDX data") -> np.ndarray:
    """Decode IDX bytes into an array of the header's shape and type."""
    if len(data) < 4:
        raise DataError(f"{where}: {len(data)} bytes is too short for an IDX header: the file is truncated, download it again")
    zero, type_code, ndim = int.from_bytes(data[:2], "big"), data[2], data[3]
    if zero != 0 or type_code not in IDX_TYPES or ndim == 0:
        found = " ".join(f"{byte:02x}" for byte in data[:4])
        raise DataError(
            f"{where}: not an IDX file (its first 4 bytes are {found} in hex; an IDX file starts with 00 00, "
            "a type code and the number of dimensions, e.g. 00 00 08 03 for uint8 images)"
        )
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise DataError(f"{where}: header of {ndim} dimensions is truncated: download the file again")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(IDX_TYPES[type_code])
    expected = int(np.prod(shape)) * dtype.itemsize
    actual = len(data) - header_size
    if actual != expected:
        dims = "x".join(map(str, shape))
        problem = "it is truncated" if actual < expected else "it has trailing bytes"
        raise DataError(f"{where}: header says {dims} ({expected} bytes of data) but the file holds {actual}: {problem}, download it again")
    return np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (raw or .gz) into a NumPy array."""
    return parse_idx(read_bytes(path), str(path))


NATIVE_SIZE = 28
SPLIT_PREFIX = {"train": "train", "test": "t10k"}


def split_files(split: str) -> tuple[str, str]:
    """(images, labels) IDX file names of a split, without .gz."""
    prefix = SPLIT_PREFIX[split]
    return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"


@dataclass(frozen=True)
class IdxOptions:
    """size: side in pixels the 28x28 images are resized to (bilinear, antialiased), e.g. 32 or 64 for DCGAN."""

    size: int = NATIVE_SIZE

    def __post_init__(self) -> None:
        if not 4 <= self.size <= 512:
            raise ConfigError(f"option size must be in 4..512 pixels, got {self.size}: e.g. size=32")


def resize_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 (N, C, H, W) -> uint8 (N, C, size, size), bilinear with antialiasing, in chunks to bound memory."""
    if images.shape[-2:] == (size, size):
        return images
    chunks = [
        F.interpolate(chunk.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False).round().clamp(0, 255).to(torch.uint8)
        for chunk in images.split(4096)
    ]
    return torch.cat(chunks)  # (N, C, size, size)


class IdxSource(DatasetSource):
    """A 28x28 grayscale IDX dataset with 10 classes and train (60k) / test (10k) splits (option `size` resizes)."""

    options_class = IdxOptions
    class_names: tuple[str, ...] = ()
    description = ""
    install_hint = ""

    def info(self) -> DatasetInfo:
        size = self.options.size
        description = self.description if size == NATIVE_SIZE else f"{self.description}, resized to {size}x{size}"
        return DatasetInfo(self.name, (1, size, size), 256, 10, ("train", "test"), self.class_names, description)

    def _required(self, splits: tuple[str, ...]) -> list[tuple[str, str]]:
        return [(f"{name}.gz", name) for split in splits for name in split_files(split)]

    def _fix(self, data_dir: str | None = None) -> str:
        hint = f", or on Debian `{self.install_hint}`" if self.install_hint else ""
        if data_dir:
            return f"put the IDX files into --data-dir {data_dir}, or drop --data-dir to search $GENZOO_DATA, the cache and system places{hint}"
        return f"pass --data-dir DIR holding the IDX files, or set GENZOO_DATA{hint}"

    def locate(self, data_dir: str | None) -> DatasetLocation:
        paths, searched = find_files(self.name, self._required(("train", "test")), data_dir)
        if paths is not None:
            return DatasetLocation(True, str(paths[0].parent), searched, "IDX files for train and test")
        where = next(iter(mirror_urls(self.name)), "(no mirror)")
        return DatasetLocation(False, None, searched, f"not found locally; downloaded from {where} on first use")

    def _files(self, split: str, data_dir: str | None, download: bool, progress: bool) -> list[Path]:
        paths, searched = find_files(self.name, self._required((split,)), data_dir)
        if paths is not None:
            return paths
        names = [f"{name}.gz" for name in split_files(split)]
        looked = ", ".join(searched)
        if not download:
            raise DataError(f"{self.name} {split} files ({names[0]}, {names[1]}) not found in {looked}: {self._fix(data_dir)}, or allow download")
        try:
            return download_files(self.name, names, download_dir(self.name, data_dir), progress=progress)
        except DataError as error:
            raise DataError(f"{error}; not found locally in {looked}: {self._fix(data_dir)}") from None

    def load(self, split: str, *, data_dir: str | None, download: bool, progress: bool) -> ImageDataset:
        images_path, labels_path = self._files(split, data_dir, download, progress)
        images = read_idx(images_path)
        labels = read_idx(labels_path)
        if images.ndim != 3 or images.dtype != np.uint8 or images.shape[1:] != (28, 28):
            raise DataError(f"{images_path}: expected uint8 images N x 28 x 28, got {images.dtype} {'x'.join(map(str, images.shape))}")
        if labels.ndim != 1 or labels.dtype != np.uint8:
            raise DataError(f"{labels_path}: expected a uint8 label vector, got {labels.dtype} {'x'.join(map(str, labels.shape))}")
        if len(labels) != len(images):
            raise DataError(f"{self.name} {split}: {len(images)} images but {len(labels)} labels: the files do not belong together")
        if labels.size and labels.max() >= 10:
            raise DataError(f"{labels_path}: label {int(labels.max())} outside 0..9: the file is corrupt")
        images_tensor = resize_images(torch.from_numpy(images.copy()).unsqueeze(1), self.options.size)  # (N, 1, size, size)
        labels_tensor = torch.from_numpy(labels.astype(np.int64))  # (N,)
        return ImageDataset(self.info(), split, images_tensor, labels_tensor)


@register_dataset("mnist")
class Mnist(IdxSource):
    class_names = tuple(str(digit) for digit in range(10))
    description = "MNIST handwritten digits (LeCun et al. 1998): 28x28 grayscale, 10 classes, 60k/10k"


@register_dataset("fashion-mnist")
class FashionMnist(IdxSource):
    class_names = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
    description = "Fashion-MNIST (Xiao et al. 2017): 28x28 grayscale Zalando articles, 10 classes, 60k/10k"
    install_hint = "apt-get install dataset-fashion-mnist"
