"""Datasets as uint8 tensors: `ImageDataset` held in memory, `StreamingImageDataset` read from disk.

Both hand out batches in the order of `genzoo.data.sampling` (a pure function of seed and
epoch, sharded by rank), so a training run resumes exactly and the two are interchangeable.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset

from genzoo.data import sampling
from genzoo.errors import DataError

Batch = tuple[torch.Tensor, torch.Tensor | None]


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset holds, known without reading its images.

    image_shape: (C, H, W) of the stored uint8 images; levels: values per sub-pixel (256 for
    8-bit data); num_classes/class_names: None when unlabelled.
    """

    name: str
    image_shape: tuple[int, int, int]
    levels: int
    num_classes: int | None
    splits: tuple[str, ...]
    class_names: tuple[str, ...] | None
    description: str


def _check_labels(labels: torch.Tensor | None, count: int, where: str, num_classes: int | None = None) -> torch.Tensor | None:
    """int64 (count,), and within 0..num_classes-1 when given: models trust labels after this."""
    if labels is None:
        return None
    if labels.dtype != torch.int64 or labels.shape != (count,):
        raise DataError(f"{where}: labels must be int64 of shape ({count},), got {labels.dtype} {tuple(labels.shape)}")
    if num_classes is not None and count and (labels.min() < 0 or labels.max() >= num_classes):
        raise DataError(f"{where}: labels span {int(labels.min())}..{int(labels.max())}, outside 0..{num_classes - 1}: the label data is corrupt")
    return labels


class ImageDataset:
    """One split held in memory: uint8 images (N, C, H, W), optional int64 labels and attributes (N,)."""

    def __init__(
        self,
        info: DatasetInfo,
        split: str,
        images: torch.Tensor,
        labels: torch.Tensor | None = None,
        attributes: Mapping[str, torch.Tensor] | None = None,
        attribute_values: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        where = f"dataset {info.name} ({split})"
        if images.dtype != torch.uint8 or images.dim() != 4 or tuple(images.shape[1:]) != tuple(info.image_shape):
            raise DataError(f"{where}: images must be uint8 (N, {', '.join(map(str, info.image_shape))}), got {images.dtype} {tuple(images.shape)}")
        self.info = info
        self.split = split
        self.images = images  # (N, C, H, W) uint8
        self.labels = _check_labels(labels, len(images), where, info.num_classes)  # (N,) int64 or None
        self.attributes = {name: _check_labels(values, len(images), where) for name, values in (attributes or {}).items()}
        self.attribute_values = dict(attribute_values or {})

    def __len__(self) -> int:
        return self.images.shape[0]

    def __repr__(self) -> str:
        return f"ImageDataset({self.info.name!r}, split={self.split!r}, images={tuple(self.images.shape)}, device={self.images.device})"

    @property
    def device(self) -> torch.device:
        return self.images.device

    def to(self, device: torch.device | str) -> "ImageDataset":
        """A new dataset whose images, labels and attributes live on `device` (moved once)."""
        return ImageDataset(
            self.info,
            self.split,
            self.images.to(device),
            None if self.labels is None else self.labels.to(device),
            {name: values.to(device) for name, values in self.attributes.items()},
            self.attribute_values,
        )

    def num_batches(self, batch_size: int, *, world_size: int = 1, drop_last: bool = True, rank: int = 0) -> int:
        """Batches per epoch on rank `rank` (`batch_size` is the per-rank batch)."""
        return sampling.num_batches(len(self), batch_size, world_size=world_size, drop_last=drop_last, rank=rank)

    def batches(
        self,
        batch_size: int,
        *,
        epoch: int = 0,
        seed: int = 0,
        shuffle: bool = True,
        drop_last: bool = True,
        start_batch: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> Iterator[Batch]:
        """(images uint8 (B, C, H, W), labels (B,) or None) on the dataset's device, in the order of `sampling`."""
        index_batches = list(sampling.index_batches(
            len(self), batch_size, epoch=epoch, seed=seed, shuffle=shuffle, drop_last=drop_last,
            start_batch=start_batch, rank=rank, world_size=world_size,
        ))
        if not index_batches:
            return
        # One host-to-device copy per epoch, not one per batch (each such copy of a pageable
        # CPU tensor waits for the GPU, which would stall the training loop every step).
        on_device = torch.cat(index_batches).to(self.images.device).split([len(index) for index in index_batches])
        for index in on_device:  # (B,)
            yield self.images[index], None if self.labels is None else self.labels[index]


class _Batches:
    """A batch sampler over precomputed index batches (what DataLoader's `batch_sampler` wants)."""

    def __init__(self, batches: list[torch.Tensor]) -> None:
        self.batches = batches

    def __iter__(self) -> Iterator[list[int]]:
        return (batch.tolist() for batch in self.batches)

    def __len__(self) -> int:
        return len(self.batches)


class StreamingImageDataset:
    """One split too large for memory, decoded by DataLoader workers with the `ImageDataset.batches` API.

    `source[i]` returns (uint8 image (C, H, W), error message or ""): a worker reports an
    unreadable file instead of raising, so the error reaches the user as one line.
    Labels (N,) are held in memory; `images` is not available.
    """

    def __init__(
        self,
        info: DatasetInfo,
        split: str,
        source: TorchDataset,
        labels: torch.Tensor | None = None,
        *,
        num_workers: int = 2,
        device: torch.device | str = "cpu",
    ) -> None:
        self.info = info
        self.split = split
        self.source = source
        self.length = len(source)  # type: ignore[arg-type]
        self.labels = _check_labels(labels, self.length, f"dataset {info.name} ({split})", info.num_classes)
        self.attributes: dict[str, torch.Tensor] = {}
        self.attribute_values: dict[str, tuple[str, ...]] = {}
        self.num_workers = num_workers
        self.device = torch.device(device)

    def __len__(self) -> int:
        return self.length

    def __repr__(self) -> str:
        return f"StreamingImageDataset({self.info.name!r}, split={self.split!r}, length={self.length}, device={self.device})"

    @property
    def images(self) -> torch.Tensor:
        raise DataError(
            f"dataset {self.info.name} ({self.split}) has {self.length} images streamed from disk: "
            "iterate batches(), or raise the max_in_memory option to hold it in memory"
        )

    def to(self, device: torch.device | str) -> "StreamingImageDataset":
        """A new dataset whose batches are delivered on `device`."""
        labels = None if self.labels is None else self.labels.to(device)
        return StreamingImageDataset(self.info, self.split, self.source, labels, num_workers=self.num_workers, device=device)

    def num_batches(self, batch_size: int, *, world_size: int = 1, drop_last: bool = True, rank: int = 0) -> int:
        return sampling.num_batches(self.length, batch_size, world_size=world_size, drop_last=drop_last, rank=rank)

    def batches(
        self,
        batch_size: int,
        *,
        epoch: int = 0,
        seed: int = 0,
        shuffle: bool = True,
        drop_last: bool = True,
        start_batch: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> Iterator[Batch]:
        """Same order and types as `ImageDataset.batches`, decoded by `num_workers` processes."""
        index_batches = list(sampling.index_batches(
            self.length, batch_size, epoch=epoch, seed=seed, shuffle=shuffle, drop_last=drop_last,
            start_batch=start_batch, rank=rank, world_size=world_size,
        ))
        if not index_batches:
            return
        loader = DataLoader(
            self.source,
            batch_sampler=_Batches(index_batches),
            num_workers=self.num_workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=False,
        )
        for index, (images, errors) in zip(index_batches, loader):
            failure = next((error for error in errors if error), None)
            if failure:
                raise DataError(failure)
            labels = None if self.labels is None else self.labels[index.to(self.labels.device)]
            yield images.to(self.device, non_blocking=True), labels  # (B, C, H, W) uint8


def keep_classes(dataset: ImageDataset | StreamingImageDataset, classes: tuple[int, ...]) -> ImageDataset:
    """The examples of `dataset` whose label is in `classes` (labels keep their values), e.g. (8,): bags."""
    info, where = dataset.info, f"dataset {dataset.info.name} ({dataset.split})"
    if dataset.labels is None or not info.num_classes:
        raise DataError(f"data.classes needs labelled data, {where} has no labels: drop data.classes")
    if max(classes) >= info.num_classes:
        raise DataError(f"data.classes lists {max(classes)}, {where} has classes 0..{info.num_classes - 1}: choose among them")
    if isinstance(dataset, StreamingImageDataset):
        raise DataError(f"data.classes needs a dataset held in memory, {where} is streamed from disk: raise its max_in_memory option")
    keep = torch.isin(dataset.labels, torch.tensor(classes, device=dataset.labels.device))  # (N,) bool
    if not bool(keep.any()):
        raise DataError(f"{where} holds no example of classes {list(classes)}: choose other classes")
    attributes = {name: values[keep] for name, values in dataset.attributes.items()}
    return ImageDataset(info, dataset.split, dataset.images[keep], dataset.labels[keep], attributes, dataset.attribute_values)
