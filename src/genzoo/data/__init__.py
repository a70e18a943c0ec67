"""Datasets, file formats and preprocessing: uint8 images in, float batches out.

    load_dataset("fashion-mnist", "train")     ImageDataset of uint8 (N, C, H, W) + labels
    dataset_info("cifar10")                     shape, levels, classes, splits (no file read)
    locate_dataset("mnist")                     where the files are, or why not
    Preprocessor(["binarize-dynamic"])          uint8 batch -> float batch, and back

Importing this package registers the built-in datasets: mnist, fashion-mnist, cifar10,
folder, npz, shapes and toy2d (2-D Gaussian mixtures for GAN diagnostics).
"""

from genzoo.data.dataset import DatasetInfo, ImageDataset, StreamingImageDataset
from genzoo.data.format import DataFormat
from genzoo.data.locate import DatasetLocation
from genzoo.data.preprocess import Preprocessor
from genzoo.data.registry import (
    DATASET_REGISTRY,
    DatasetSource,
    dataset_info,
    list_datasets,
    load_dataset,
    locate_dataset,
    register_dataset,
)
from genzoo.data import cifar, folder, idx, npz, shapes  # noqa: F401,E402  (register built-in datasets)
from genzoo.data import toy2d  # noqa: F401,E402  (registers toy2d: 2-D Gaussian mixtures for GAN mode diagnostics)

__all__ = [
    "DATASET_REGISTRY",
    "DataFormat",
    "DatasetInfo",
    "DatasetLocation",
    "DatasetSource",
    "ImageDataset",
    "Preprocessor",
    "StreamingImageDataset",
    "dataset_info",
    "list_datasets",
    "load_dataset",
    "locate_dataset",
    "register_dataset",
]
