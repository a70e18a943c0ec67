"""The dataset registry: names, options, splits and one-line errors."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from genzoo.data import (
    DATASET_REGISTRY,
    DatasetInfo,
    DatasetSource,
    ImageDataset,
    dataset_info,
    list_datasets,
    load_dataset,
    register_dataset,
)
from genzoo.errors import ConfigError, DataError


def test_built_in_datasets_are_registered():
    assert set(list_datasets()) >= {"mnist", "fashion-mnist", "cifar10", "folder", "npz", "shapes"}
    assert dataset_info("cifar10").image_shape == (3, 32, 32)


def test_unknown_name_split_and_option():
    with pytest.raises(ConfigError, match="unknown dataset 'mnsit': choose one of cifar10, fashion-mnist, folder"):
        load_dataset("mnsit")
    with pytest.raises(ConfigError, match="unknown shapes split 'valid': choose one of test, train"):
        load_dataset("shapes", "valid", n_train=10)
    with pytest.raises(ConfigError, match="unknown option 'sise' for dataset mnist: choose one of size"):
        dataset_info("mnist", sise=32)
    with pytest.raises(ConfigError, match="unknown option 'size' for dataset cifar10: it takes no options"):
        dataset_info("cifar10", size=32)
    with pytest.raises(ConfigError, match="unknown option 'pth' for dataset folder: choose one of .*path"):
        dataset_info("folder", pth="x")


@pytest.fixture
def registry_restored():
    saved = dict(DATASET_REGISTRY)
    yield
    DATASET_REGISTRY.clear()
    DATASET_REGISTRY.update(saved)


def test_register_a_custom_dataset(registry_restored):

    @dataclass(frozen=True)
    class Options:
        count: int = 3

    @register_dataset("ones")
    class Ones(DatasetSource):
        options_class = Options

        def info(self):
            return DatasetInfo(self.name, (1, 2, 2), 256, None, ("train",), None, "all ones")

        def load(self, split, *, data_dir, download, progress):
            return ImageDataset(self.info(), split, torch.ones(self.options.count, 1, 2, 2, dtype=torch.uint8))

    assert "ones" in list_datasets()
    assert len(load_dataset("ones", count="5")) == 5  # options coerced from strings (CLI)
    with pytest.raises(ValueError, match="registered twice"):
        register_dataset("ones")(type("Other", (DatasetSource,), {}))


def test_image_dataset_checks_its_tensors():
    info = DatasetInfo("d", (1, 2, 2), 256, None, ("train",), None, "")
    with pytest.raises(Exception, match="uint8"):
        ImageDataset(info, "train", torch.zeros(3, 1, 2, 2))
    with pytest.raises(Exception, match="labels must be int64"):
        ImageDataset(info, "train", torch.zeros(3, 1, 2, 2, dtype=torch.uint8), torch.zeros(2, dtype=torch.int64))
    labelled = DatasetInfo("d", (1, 2, 2), 256, 3, ("train",), None, "")
    images = torch.zeros(3, 1, 2, 2, dtype=torch.uint8)
    assert len(ImageDataset(labelled, "train", images, torch.tensor([0, 2, 1]))) == 3
    for bad in ([0, 3, 1], [0, -1, 1]):  # models trust a dataset's labels in training: checked here
        with pytest.raises(DataError, match=r"outside 0\.\.2: the label data is corrupt"):
            ImageDataset(labelled, "train", images, torch.tensor(bad))
