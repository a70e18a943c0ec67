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
from genzoo.data.dataset import keep_classes
from genzoo.data.tasks import parse_task
from genzoo.errors import ConfigError
from genzoo.data.format import DataFormat
from genzoo.models.base import GenerativeModel
from genzoo.models.registry import build_model_from_format, model_class
from genzoo.runs.config import RunConfig


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


def task_format(data_format: DataFormat, task: str | None, model: str) -> DataFormat:
    """`data_format` carrying the paired task, checked against the images and the model."""
    image_to_image = model_class(model).capabilities.image_to_image
    if task is None:
        if image_to_image:
            raise ConfigError(f"model {model} translates images and needs a task: e.g. --set data.task=superres:4 (or colorize, edges, paired)")
        return data_format
    if not image_to_image:
        raise ConfigError(f"data.task={task} needs an image-to-image model (regress, pix2pix, conditional-pixelcnn), not {model}: drop data.task")
    parse_task(task, data_format.value_range).check(data_format.image_shape)
    return replace(data_format, task=task)


def build_run(config: RunConfig, *, device: torch.device | str | None = None, progress: bool = True) -> Run:
    """Load the train and test splits, make the preprocessor and build the model (on `device`)."""
    config = resolve_preprocess(config)
    model_class(config.model)  # an unknown model fails before any data is read
    data = config.data
    load = dict(data_dir=data.data_dir, download=data.download, progress=progress, **data.options)
    train_set = load_dataset(data.name, "train", **load)
    info = train_set.info
    test_set = load_dataset(data.name, "test", **load) if "test" in info.splits else None
    if data.classes is not None:
        train_set = keep_classes(train_set, data.classes)
        test_set = None if test_set is None else keep_classes(test_set, data.classes)
    preprocessor = Preprocessor(tuple(data.preprocess or ()), source_levels=info.levels)
    data_format = task_format(preprocessor.output_format(info), data.task, config.model)
    model = build_model_from_format(config.model, data_format, config.model_options)
    if device is not None:
        model = model.to(device)
    return Run(config, model, train_set, test_set, preprocessor, data_format, info)
