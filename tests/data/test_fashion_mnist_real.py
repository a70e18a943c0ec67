"""The real Fashion-MNIST, where Debian's dataset-fashion-mnist package installed it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from genzoo.data import load_dataset, locate, locate_dataset

SYSTEM = Path("/usr/share/datasets/fashion-mnist")
pytestmark = pytest.mark.skipif(not (SYSTEM / "train-images-idx3-ubyte.gz").is_file(), reason="dataset-fashion-mnist not installed")


@pytest.fixture(autouse=True)
def system_places(monkeypatch):
    monkeypatch.setattr(locate, "SYSTEM_PLACES", {"fashion-mnist": (str(SYSTEM),)})


def test_found_in_the_system_place():
    location = locate_dataset("fashion-mnist")
    assert location.found and location.path == str(SYSTEM)


@pytest.mark.parametrize("split, count", [("train", 60000), ("test", 10000)])
def test_real_fashion_mnist(split, count):
    data = load_dataset("fashion-mnist", split, download=False)
    assert data.images.shape == (count, 1, 28, 28) and data.images.dtype == torch.uint8
    assert data.labels.unique().tolist() == list(range(10))
    assert torch.bincount(data.labels).tolist() == [count // 10] * 10  # balanced classes
    mean = data.images.float().mean().item() / 255
    assert 0.25 < mean < 0.32  # Fashion-MNIST's mean intensity is about 0.286
    assert data.info.class_names[data.labels[0]] in data.info.class_names
