"""The one dataset registry: `@register_dataset("mnist")` on a `DatasetSource` subclass.

It feeds `load_dataset`, `dataset_info`, `locate_dataset`, the CLI listing and the tests;
there is no if/elif dispatch on names. Dataset options are a frozen dataclass per source,
checked by `genzoo.config.build_dataclass` (unknown option -> ConfigError listing the valid ones).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from genzoo.config import build_dataclass
from genzoo.data.dataset import DatasetInfo, ImageDataset, StreamingImageDataset
from genzoo.data.locate import DatasetLocation
from genzoo.registry import Registry
from genzoo.errors import ConfigError, unknown_choice


@dataclass(frozen=True)
class NoOptions:
    """Options of a dataset that takes none."""


class DatasetSource:
    """One dataset family: its options, its info, where its files are, how a split is loaded."""

    name: ClassVar[str] = ""
    options_class: ClassVar[type] = NoOptions

    def __init__(self, options: Any) -> None:
        self.options = options

    def info(self) -> DatasetInfo:
        raise NotImplementedError

    def locate(self, data_dir: str | None) -> DatasetLocation:
        return DatasetLocation(True, None, (), "generated on the fly; needs no files")

    def load(self, split: str, *, data_dir: str | None, download: bool, progress: bool) -> ImageDataset | StreamingImageDataset:
        raise NotImplementedError


DATASET_REGISTRY = Registry("dataset")
register_dataset = DATASET_REGISTRY.register  # class decorator: `@register_dataset("mnist")` on a DatasetSource


def list_datasets() -> list[str]:
    return DATASET_REGISTRY.names()


def dataset_source(name: str, **options: Any) -> DatasetSource:
    """The registered source `name` with its options checked."""
    cls = DATASET_REGISTRY.lookup(name)
    if options and not dataclasses.fields(cls.options_class):
        raise ConfigError(f"unknown option {sorted(options)[0]!r} for dataset {name}: it takes no options")
    return cls(build_dataclass(cls.options_class, options, section=f"dataset {name}"))


def dataset_info(name: str, **options: Any) -> DatasetInfo:
    """Shape, levels, classes and splits of dataset `name` (reads no images; folder/npz may peek)."""
    return dataset_source(name, **options).info()


def locate_dataset(name: str, data_dir: str | None = None, **options: Any) -> DatasetLocation:
    """Where dataset `name` would be loaded from, or why it cannot be (for `genzoo datasets`)."""
    return dataset_source(name, **options).locate(data_dir)


def load_dataset(
    name: str,
    split: str = "train",
    *,
    data_dir: str | None = None,
    download: bool = True,
    progress: bool = True,
    **options: Any,
) -> ImageDataset | StreamingImageDataset:
    """Split `split` of dataset `name` as uint8 images (in memory, or streamed when too large)."""
    source = dataset_source(name, **options)
    splits = source.info().splits
    if split not in splits:
        raise unknown_choice(f"{name} split", split, splits)
    return source.load(split, data_dir=data_dir, download=download, progress=progress)
