"""CIFAR-10 (Krizhevsky 2009) from its python pickle batches, without running pickled code.

The batches are Python pickles of a dict holding a NumPy array. A pickle can name any
global and call it, so they are read by `DataOnlyUnpickler`, which refuses every global
except the few that rebuild an array; those map to local stand-ins that only copy bytes
into a uint8/int array (numpy's own reconstructors are never called). The batches are
read from `cifar-10-batches-py/` or straight from `cifar-10-python.tar.gz` (nothing extracted).
"""

from __future__ import annotations

import io
import math
import pickle
import tarfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genzoo.data.dataset import DatasetInfo, ImageDataset
from genzoo.data.download import download_files, mirror_urls
from genzoo.data.locate import DatasetLocation, candidate_dirs, download_dir
from genzoo.data.registry import DatasetSource, register_dataset
from genzoo.errors import DataError

ARCHIVE = "cifar-10-python.tar.gz"
BATCH_DIR = "cifar-10-batches-py"
SPLIT_BATCHES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
INTEGER_DTYPES = {"u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8"}  # all a pickled array may hold


class _StandIn:
    """A global as the unpickler sees it: callable, and BUILD cannot change its state."""

    def __init__(self, function: Any) -> None:
        self._function = function

    def __call__(self, *args: Any) -> Any:
        return self._function(*args)

    def __setstate__(self, state: Any) -> None:
        raise DataError("refusing a pickle that modifies a global")


def _refuse(*_: Any) -> Any:
    raise DataError("refusing to instantiate a pickled numpy.ndarray directly")


NDARRAY = _StandIn(_refuse)  # stands for numpy.ndarray; only passed as an argument


class _Dtype:
    """Stand-in for `numpy.dtype(spec, align, copy)`: records an allowed integer dtype."""

    def __init__(self, spec: Any, *_: Any) -> None:
        spec = spec.decode("latin1") if isinstance(spec, bytes) else spec
        if not isinstance(spec, str) or spec.lstrip("<>|=") not in INTEGER_DTYPES:
            raise DataError(f"refusing pickled dtype {spec!r}: only integer arrays are accepted")
        self.spec = spec.lstrip("<>|=")
        self.byteorder = "="

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) > 1 and state[1] in ("<", ">", "|", "=", b"<", b">", b"|", b"="):
            self.byteorder = state[1].decode() if isinstance(state[1], bytes) else state[1]

    def numpy(self) -> np.dtype:
        dtype = np.dtype(self.spec)
        return dtype.newbyteorder(">") if self.byteorder == ">" else dtype


class _Array:
    """Stand-in for `numpy.core.multiarray._reconstruct(ndarray, (0,), b'b')`, filled by BUILD."""

    def __init__(self, cls: Any = None, *_: Any) -> None:
        if cls is not NDARRAY:
            raise DataError("refusing pickled array of an unexpected class")
        self.array: np.ndarray | None = None

    def __setstate__(self, state: Any) -> None:
        # (version, shape, dtype, is_fortran, raw bytes), as written by ndarray.__reduce__.
        if not (isinstance(state, tuple) and len(state) == 5 and isinstance(state[2], _Dtype)):
            raise DataError("refusing pickled array with an unexpected state")
        _, shape, dtype, is_fortran, raw = state
        self.array = _from_bytes(raw, dtype, shape, "F" if is_fortran else "C")


def _from_bytes(raw: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    """An integer array from raw bytes; also the stand-in for numpy's `_frombuffer` (protocol 5)."""
    if isinstance(raw, str):
        raw = raw.encode("latin1")
    if not isinstance(raw, (bytes, bytearray)) or not isinstance(dtype, _Dtype) or not isinstance(shape, tuple):
        raise DataError("refusing pickled array data that is not raw bytes")
    shape = tuple(int(s) for s in shape)
    array = np.frombuffer(bytes(raw), dtype=dtype.numpy())
    if any(s < 0 for s in shape) or array.size != math.prod(shape):
        raise DataError(f"pickled array holds {array.size} values but its shape is {shape}: the batch is corrupt")
    return array.reshape(shape, order="F" if order in ("F", b"F") else "C")


def _latin1_encode(text: Any, encoding: Any = "latin1") -> bytes:
    """Stand-in for `_codecs.encode`, which protocol-2 pickles from Python 3 use for bytes."""
    if not isinstance(text, str) or encoding != "latin1":
        raise DataError("refusing pickled call to _codecs.encode with unexpected arguments")
    return text.encode("latin1")


STAND_INS: dict[tuple[str, str], _StandIn] = {
    ("numpy.core.multiarray", "_reconstruct"): _StandIn(_Array),
    ("numpy._core.multiarray", "_reconstruct"): _StandIn(_Array),
    ("numpy", "ndarray"): NDARRAY,
    ("numpy", "dtype"): _StandIn(_Dtype),
    ("numpy.core.numeric", "_frombuffer"): _StandIn(_from_bytes),
    ("numpy._core.numeric", "_frombuffer"): _StandIn(_from_bytes),
    ("_codecs", "encode"): _StandIn(_latin1_encode),
}


class DataOnlyUnpickler(pickle.Unpickler):
    """Unpickler that refuses every global except local, data-only stand-ins for array rebuilding."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in STAND_INS:
            return STAND_INS[(module, name)]
        raise DataError(f"refusing pickled global {module}.{name}: a CIFAR batch holds only data")


def _plain(value: Any) -> Any:
    """Replace array stand-ins by their arrays and bytes keys by str, recursively."""
    if isinstance(value, _Array):
        return value.array
    if isinstance(value, dict):
        return {(k.decode("latin1") if isinstance(k, bytes) else k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def unpickle_batch(data: bytes, where: str) -> dict[str, Any]:
    """Decode one CIFAR batch pickle into a dict with str keys, refusing code."""
    try:
        content = DataOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()
    except DataError as error:
        raise DataError(f"{where}: {error}") from None
    except Exception as error:  # a corrupt pickle can fail in many ways; all mean "corrupt"
        raise DataError(f"{where}: corrupt pickle ({type(error).__name__}: {error}): download the dataset again") from None
    content = _plain(content)
    if not isinstance(content, dict):
        raise DataError(f"{where}: expected a dict batch, got {type(content).__name__}")
    return content


def parse_batch(data: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 3, 32, 32), labels int64 (N,)) from one batch pickle."""
    batch = unpickle_batch(data, where)
    if "data" not in batch or "labels" not in batch:
        raise DataError(f"{where}: batch lacks 'data' or 'labels' (keys: {', '.join(map(str, batch))})")
    images, labels = batch["data"], np.asarray(batch["labels"])
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 2 or images.shape[1] != 3 * 32 * 32:
        shape = getattr(images, "shape", None)
        raise DataError(f"{where}: 'data' must be uint8 N x 3072, got {getattr(images, 'dtype', type(images).__name__)} {shape}")
    if labels.ndim != 1 or len(labels) != len(images) or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{where}: {len(images)} images but labels of shape {labels.shape}: the batch is corrupt")
    if labels.size and (labels.min() < 0 or labels.max() >= 10):
        raise DataError(f"{where}: labels outside 0..9: the batch is corrupt")
    return images.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def read_archive_members(archive: Path, names: tuple[str, ...]) -> dict[str, bytes]:
    """The named batches from `cifar-10-python.tar.gz`, read without extracting anything."""
    wanted = {f"{BATCH_DIR}/{name}": name for name in names}
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                if member.name in wanted and member.isfile():
                    handle = tar.extractfile(member)
                    if handle is not None:
                        found[wanted[member.name]] = handle.read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise DataError(f"{archive}: not a readable tar.gz archive ({error}): delete it and download it again") from None
    missing = [name for name in names if name not in found]
    if missing:
        raise DataError(f"{archive}: archive lacks {BATCH_DIR}/{missing[0]}: it is not the CIFAR-10 python archive")
    return found


def find_cifar(names: tuple[str, ...], data_dir: str | None) -> tuple[Path | None, tuple[str, ...]]:
    """First candidate holding the batches (a directory) or the archive (a file)."""
    searched = candidate_dirs("cifar10", data_dir)
    for directory in searched:
        for batches in (directory / BATCH_DIR, directory):
            if all((batches / name).is_file() for name in names):
                return batches, tuple(map(str, searched))
        if (directory / ARCHIVE).is_file():
            return directory / ARCHIVE, tuple(map(str, searched))
    return None, tuple(map(str, searched))


@register_dataset("cifar10")
class Cifar10(DatasetSource):
    def info(self) -> DatasetInfo:
        description = "CIFAR-10 (Krizhevsky 2009): 32x32 colour photos, 10 classes, 50k/10k"
        return DatasetInfo(self.name, (3, 32, 32), 256, 10, ("train", "test"), CLASS_NAMES, description)

    def locate(self, data_dir: str | None) -> DatasetLocation:
        path, searched = find_cifar(SPLIT_BATCHES["train"] + SPLIT_BATCHES["test"], data_dir)
        if path is not None:
            return DatasetLocation(True, str(path), searched, "archive" if path.is_file() else "python batches")
        return DatasetLocation(False, None, searched, f"not found locally; downloaded from {next(iter(mirror_urls(self.name)), '(no mirror)')} on first use")

    def load(self, split: str, *, data_dir: str | None, download: bool, progress: bool) -> ImageDataset:
        names = SPLIT_BATCHES[split]
        path, searched = find_cifar(names, data_dir)
        if path is None:
            looked = ", ".join(searched)
            fix = (f"put {BATCH_DIR}/ or {ARCHIVE} into --data-dir {data_dir}, or drop --data-dir" if data_dir
                   else f"pass --data-dir DIR holding {BATCH_DIR}/ or {ARCHIVE}, or set GENZOO_DATA")
            if not download:
                raise DataError(f"cifar10 {split} batches not found in {looked}: {fix}, or allow download")
            try:
                (path,) = download_files("cifar10", [ARCHIVE], download_dir("cifar10", data_dir), progress=progress)
            except DataError as error:
                raise DataError(f"{error}; not found locally in {looked}: {fix}") from None
        if path.is_file():
            raw = read_archive_members(path, names)
            parts = [parse_batch(raw[name], f"{path}:{name}") for name in names]
        else:
            parts = [parse_batch(_read(path / name), str(path / name)) for name in names]
        images = torch.from_numpy(np.concatenate([p[0] for p in parts]))  # (N, 3, 32, 32)
        labels = torch.from_numpy(np.concatenate([p[1] for p in parts]))  # (N,)
        return ImageDataset(self.info(), split, images, labels)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise DataError(f"cannot read {path} ({error.strerror or error})") from None
