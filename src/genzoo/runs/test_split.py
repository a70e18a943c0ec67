"""A run's test split, as its training saw it (its data.classes), for evaluation and exploration."""

from __future__ import annotations

from typing import Any

from genzoo.data import load_dataset
from genzoo.data.dataset import keep_classes
from genzoo.runs.config import DataConfig


def load_test_split(data: DataConfig, *, data_dir: str | None = None, download: bool | None = None, progress: bool = False) -> Any:
    """A run's test split as build_run filters it (data.classes); data_dir / download override the run's own."""
    dataset = load_dataset(data.name, "test", data_dir=data_dir or data.data_dir, download=data.download if download is None else download,
                           progress=progress, **dict(data.options))
    return keep_classes(dataset, tuple(data.classes)) if data.classes else dataset
