"""From a RunConfig to the objects a run needs: data splits, preprocessing, model.

The path of a batch: dataset (uint8) -> Preprocessor (binarize / scale / dequantize) ->
model built for `preprocessor.output_format(info)`. Preprocessing steps are `data.preprocess`
when given, else the model's `default_preprocess`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

from genzoo.data import Preprocessor, load_dataset
from genzoo.data.format import DataFormat
from genzoo.models.base import GenerativeModel
from genzoo.models.registry import build_model_from_format, model_class
from genzoo.train.config import RunConfig


@dataclass
class Run:
    """Everything built from a RunConfig, before any training state exists."""

    config: RunConfig  # with data.preprocess resolved to the steps actually used
    model: GenerativeModel
    train_set: Any  # ImageDataset | StreamingImageDataset
    test_set: Any | None  # None when the dataset has no test split
    preprocessor: Preprocessor
    data_format: DataFormat
    info: Any  # DatasetInfo

    @property
    def preprocess(self) -> tuple[str, ...]:
        return tuple(self.preprocessor.steps)


def resolve_preprocess(config: RunConfig) -> RunConfig:
    """`config` with data.preprocess filled in from the model's default when unset."""
    if config.data.preprocess is not None:
        return config
    steps = tuple(model_class(config.model).default_preprocess)
    return replace(config, data=replace(config.data, preprocess=steps))


def build_run(config: RunConfig, *, device: torch.device | str | None = None, progress: bool = True) -> Run:
    """Load the train and test splits, make the preprocessor and build the model (on `device`)."""
    config = resolve_preprocess(config)
    model_class(config.model)  # an unknown model fails before any data is read
    data = config.data
    load = dict(data_dir=data.data_dir, download=data.download, progress=progress, **data.options)
    train_set = load_dataset(data.name, "train", **load)
    info = train_set.info
    test_set = load_dataset(data.name, "test", **load) if "test" in info.splits else None
    preprocessor = Preprocessor(tuple(data.preprocess or ()), source_levels=info.levels)
    data_format = preprocessor.output_format(info)
    model = build_model_from_format(config.model, data_format, config.model_options)
    if device is not None:
        model = model.to(device)
    return Run(config, model, train_set, test_set, preprocessor, data_format, info)
