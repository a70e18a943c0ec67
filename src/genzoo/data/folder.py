"""Any directory tree of PNG/JPEG images, resized (shorter side) and center-cropped to a square.

With `pairs=true` each file is a side-by-side A|B pair as the pix2pix datasets store them
(edges2handbags, facades, ...): each half is resized and cropped to a square, giving
(C, size, 2 * size) images for the `paired` task (genzoo.data.tasks).

Labels come from the first-level sub-folders (sorted names), none when the images sit at
the top. Splits come from `train/` and `test/` (or `val/`) sub-folders when both exist, else from a
deterministic hold-out: the `test_fraction` of files with the smallest hash of their
relative path (stable when files are added). Small trees are decoded into memory; large
ones (more than `max_in_memory` images or `MAX_IN_MEMORY_BYTES`) are streamed from disk.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset
from tqdm import tqdm

from genzoo.data.dataset import DatasetInfo, ImageDataset, StreamingImageDataset
from genzoo.data.locate import DatasetLocation
from genzoo.data.registry import DatasetSource, register_dataset
from genzoo.errors import ConfigError, DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MAX_IN_MEMORY_BYTES = 4 << 30
PARALLEL_DECODE_MIN = 512  # fewer images are decoded in this process


def read_image(path: str | Path, size: int, channels: int, pairs: bool = False) -> np.ndarray:
    """uint8 (C, size, size): the image resized so its shorter side is `size`, center-cropped;
    with `pairs`, (C, size, 2 * size): each half of a side-by-side A|B image done so."""
    with Image.open(path) as image:
        if not pairs:
            image.draft("RGB" if channels == 3 else "L", (size, size))  # JPEG: decode at reduced scale
        if image.mode in ("P", "LA", "PA") or "transparency" in image.info:
            image = image.convert("RGBA")
        image = image.convert("RGB" if channels == 3 else "L")
        if not pairs:
            return _as_chw(_square(image, size), channels)
        width, height = image.size
        if width < 2:
            raise ValueError(f"a side-by-side pair needs a width of at least 2 pixels, got {width}x{height}")
        halves = (image.crop((0, 0, width // 2, height)), image.crop((width // 2, 0, 2 * (width // 2), height)))
        return np.concatenate([_as_chw(_square(half, size), channels) for half in halves], axis=2)  # (C, size, 2 size)


def _square(image: Image.Image, size: int) -> np.ndarray:
    """The image resized so its shorter side is `size` (bicubic), center-cropped: uint8 (size, size[, 3])."""
    width, height = image.size
    scale = size / min(width, height)
    new_w, new_h = max(size, round(width * scale)), max(size, round(height * scale))
    image = image.resize((new_w, new_h), Image.Resampling.BICUBIC)
    left, top = (new_w - size) // 2, (new_h - size) // 2
    return np.array(image.crop((left, top, left + size, top + size)), dtype=np.uint8)  # a writable copy


def _as_chw(array: np.ndarray, channels: int) -> np.ndarray:
    return array[None] if channels == 1 else np.ascontiguousarray(array.transpose(2, 0, 1))  # (C, H, W)


class FolderImages(TorchDataset):
    """Decodes file i on demand: (uint8 (C, size, size), "" or a one-line error naming the file)."""

    def __init__(self, files: list[Path], size: int, channels: int, pairs: bool = False) -> None:
        self.files = files
        self.size = size
        self.channels = channels
        self.pairs = pairs
        self.width = 2 * size if pairs else size

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, str]:
        path = self.files[index]
        try:
            return torch.from_numpy(read_image(path, self.size, self.channels, self.pairs)), ""
        except Exception as error:  # PIL raises many types for corrupt files
            blank = torch.zeros(self.channels, self.size, self.width, dtype=torch.uint8)
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            return blank, f"cannot read image {path} ({reason}): fix or delete the file"


def _is_image(entry: os.DirEntry[str] | Path) -> bool:
    return entry.name.lower().endswith(IMAGE_SUFFIXES) and not entry.name.startswith(".")


def _images_under(directory: Path) -> list[Path]:
    """Image files anywhere under `directory`, sorted, hidden files and folders skipped."""
    found = []
    for root, dirs, files in os.walk(directory, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root) / name for name in sorted(files) if _is_image(Path(name))]
    return found


@dataclass(frozen=True)
class FolderOptions:
    path: str | None = None
    size: int = 64
    channels: int = 3
    test_fraction: float = 0.1
    max_in_memory: int = 200_000
    num_workers: int = 2
    pairs: bool = False  # side-by-side A|B files (pix2pix datasets) for the paired task

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ConfigError(f"folder option size must be >= 1, got {self.size}")
        if self.channels not in (1, 3):
            raise ConfigError(f"folder option channels must be 1 or 3, got {self.channels}")
        if not 0.0 <= self.test_fraction < 1.0:
            raise ConfigError(f"folder option test_fraction must be in [0, 1), got {self.test_fraction}")
        if self.num_workers < 0 or self.max_in_memory < 0:
            raise ConfigError("folder options num_workers and max_in_memory must be >= 0")


@dataclass(frozen=True)
class FolderIndex:
    """The files of each split with their labels (-1 when unlabelled)."""

    class_names: tuple[str, ...] | None
    splits: dict[str, tuple[list[Path], list[int]]]


def hold_out(files: list[Path], root: Path, fraction: float) -> tuple[list[Path], list[Path]]:
    """(train, test): test is the `fraction` of files with the smallest relative-path hash."""
    if fraction <= 0 or len(files) < 2:
        return files, []
    count = min(len(files) - 1, max(1, round(len(files) * fraction)))
    ranked = sorted(files, key=lambda p: hashlib.md5(p.relative_to(root).as_posix().encode()).digest())
    test = set(ranked[:count])
    return [p for p in files if p not in test], [p for p in files if p in test]


def scan(root: Path, test_fraction: float) -> FolderIndex:
    """Index the tree at `root`: class sub-folders, files per split, labels."""
    if not root.is_dir():
        raise DataError(f"folder dataset path {root} is not a directory: pass path=DIR of PNG/JPEG images")
    test_root = root / "test" if (root / "test").is_dir() else root / "val"  # pix2pix datasets name it val/
    has_split_dirs = (root / "train").is_dir() and test_root.is_dir()
    split_roots = {"train": root / "train", "test": test_root} if has_split_dirs else {"train": root}
    per_split: dict[str, dict[str, list[Path]]] = {}  # split -> class folder ("" = top level) -> files
    for split, split_root in split_roots.items():
        groups: dict[str, list[Path]] = {}
        with os.scandir(split_root) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.name.startswith("."):
                    continue
                if entry.is_dir():
                    files = _images_under(Path(entry.path))
                    if files:
                        groups[entry.name] = files
                elif entry.is_file() and _is_image(entry):
                    groups.setdefault("", []).append(Path(entry.path))
        if not groups:
            raise DataError(f"folder {split_root} holds no PNG/JPEG images: add images (other files are ignored)")
        if "" in groups and len(groups) > 1:
            raise DataError(f"folder {split_root} mixes top-level images with class sub-folders: move the top-level images into a sub-folder")
        per_split[split] = groups
    labelled = "" not in per_split["train"]
    if any(("" not in groups) != labelled for groups in per_split.values()):
        raise DataError(f"folder {root}: train/ and test/ must both use class sub-folders or both hold images directly")
    class_names = tuple(sorted({name for groups in per_split.values() for name in groups})) if labelled else None
    label_of = {name: i for i, name in enumerate(class_names or ())}
    splits: dict[str, tuple[list[Path], list[int]]] = {}
    for split, groups in per_split.items():
        pairs = [(path, label_of.get(name, -1)) for name, files in groups.items() for path in files]
        splits[split] = ([p for p, _ in pairs], [label for _, label in pairs])
    if not has_split_dirs:
        files, labels = splits["train"]
        train, test = hold_out(files, root, test_fraction)
        label_by_file = dict(zip(files, labels))
        splits = {"train": (train, [label_by_file[p] for p in train])}
        if test:
            splits["test"] = (test, [label_by_file[p] for p in test])
    return FolderIndex(class_names, splits)


@register_dataset("folder")
class Folder(DatasetSource):
    options_class = FolderOptions

    def _root(self) -> Path:
        if not self.options.path:
            raise ConfigError("dataset folder needs option path=DIR (a directory of PNG/JPEG images)")
        return Path(self.options.path).expanduser()

    @cached_property
    def index(self) -> FolderIndex:
        return scan(self._root(), self.options.test_fraction)

    def info(self) -> DatasetInfo:
        index = self.index
        size, channels = self.options.size, self.options.channels
        width = 2 * size if self.options.pairs else size
        counts = ", ".join(f"{split} {len(files)}" for split, (files, _) in index.splits.items())
        kind = "side-by-side pairs" if self.options.pairs else "images"
        description = f"{kind} from {self._root()} at {size}x{width} ({counts})"
        num_classes = None if index.class_names is None else len(index.class_names)
        return DatasetInfo(self.name, (channels, size, width), 256, num_classes, tuple(index.splits), index.class_names, description)

    def locate(self, data_dir: str | None) -> DatasetLocation:
        if not self.options.path:
            return DatasetLocation(False, None, (), "needs option path=DIR")
        root = self._root()
        if root.is_dir():
            return DatasetLocation(True, str(root), (str(root),), "image folder")
        return DatasetLocation(False, None, (str(root),), f"{root} is not a directory")

    def load(self, split: str, *, data_dir: str | None, download: bool, progress: bool) -> ImageDataset | StreamingImageDataset:
        files, labels = self.index.splits[split]
        options = self.options
        source = FolderImages(files, options.size, options.channels, options.pairs)
        labels_tensor = None if self.index.class_names is None else torch.tensor(labels, dtype=torch.int64)  # (N,)
        estimated_bytes = len(files) * options.channels * options.size * source.width
        if len(files) > options.max_in_memory or estimated_bytes > MAX_IN_MEMORY_BYTES:
            return StreamingImageDataset(self.info(), split, source, labels_tensor, num_workers=options.num_workers)
        images = decode_all(source, options.num_workers, progress, desc=f"folder {split}")
        return ImageDataset(self.info(), split, images, labels_tensor)


def decode_all(source: FolderImages, num_workers: int, progress: bool, desc: str) -> torch.Tensor:
    """Every image of `source` as uint8 (N, C, H, W), in parallel for larger trees."""
    count = len(source)
    images = torch.empty(count, source.channels, source.size, source.width, dtype=torch.uint8)
    workers = num_workers if count >= PARALLEL_DECODE_MIN else 0
    batch_size = max(1, min(256, math.ceil(count / max(1, 4 * workers))))
    loader = DataLoader(source, batch_size=batch_size, shuffle=False, num_workers=workers)
    start = 0
    with tqdm(total=count, desc=desc, unit="img", disable=not progress, leave=False) as bar:
        for batch, errors in loader:
            failure = next((error for error in errors if error), None)
            if failure:
                raise DataError(failure)
            images[start : start + len(batch)] = batch
            start += len(batch)
            bar.update(len(batch))
    return images
