"""Reference statistics of a dataset split under a feature extractor, cached on disk.

A sample-quality number compares generated images with real ones: Gaussian statistics
(mu, sigma) for FID, and the features themselves for KID and precision/recall. Computing
them for a 10k-image test split takes a while, so they are cached, keyed by everything they
depend on (STYLE.md convention 7):

    dataset, its options, split, image shape (resolution), the preprocessing applied for
    display, the feature extractor's id (a hash of its weights), the number of images and
    the subset seed.

A different key is a different file, so a stale cache is never reused; the stored key is
compared with the requested one when a file is read.

"Preprocessing for display": a model trained on binarized or quantized data generates
images in that value space, so the real images it is compared with go through the same
preprocessing and back to uint8 (`Preprocessor.to_uint8(Preprocessor(images))`, with a
seeded generator for dynamic binarization). Otherwise FID would penalise the preprocessing
instead of the model. With no steps (8-bit data) or `dequantize` the images are unchanged.

The real-vs-real floor (`other_real_statistics`): N test images against N other real images
give the FID/KID/precision/recall a perfect model would get at that N (FID is biased upwards
in N). The other images are training images the feature classifier never trained on (its
recorded holdout, `genzoo.metrics.features`); for an extractor without one (an older genzoo
classifier, Inception) a seeded subset of the train split, and the key says so.

Files: `$XDG_CACHE_HOME/genzoo/reference/<dataset>-<split>-<C>x<H>x<W>-<key hash>.safetensors`,
the key as JSON in the safetensors header. Read with safetensors only.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from genzoo.atomic_file import atomic_output
from genzoo.errors import DataError
from genzoo.metrics.features import FeatureExtractor
from genzoo.metrics.sample_quality import gaussian_statistics

FORMAT_VERSION = 1
METADATA_KEY = "genzoo"
DEFAULT_MAX_IMAGES = 10_000


@dataclass
class ReferenceStatistics:
    """mu (F,), sigma (F, F) float64 over `num_images` images; their features (N, F) and p(y|x) (N, K) float32."""

    mu: np.ndarray
    sigma: np.ndarray
    features: np.ndarray
    class_probs: np.ndarray
    key: dict[str, Any]

    @property
    def num_images(self) -> int:
        return int(self.features.shape[0])


def reference_key(
    extractor: FeatureExtractor,
    dataset_name: str,
    split: str,
    *,
    image_shape: Sequence[int],
    dataset_options: Mapping[str, Any] | None = None,
    preprocess: Sequence[str] = (),
    max_images: int = DEFAULT_MAX_IMAGES,
    seed: int = 0,
) -> dict[str, Any]:
    """Everything the statistics depend on, as JSON-ready values."""
    return {
        "dataset": dataset_name,
        "dataset_options": dict(sorted((dataset_options or {}).items())),
        "split": split,
        "image_shape": [int(s) for s in image_shape],
        "preprocess": list(preprocess),
        "extractor": extractor.identifier,
        "max_images": int(max_images),
        "seed": int(seed),
        "format_version": FORMAT_VERSION,
    }


def reference_path(key: Mapping[str, Any], *, cache_root: str | os.PathLike[str] | None = None) -> Path:
    if cache_root is None:
        from genzoo.data.locate import cache_dir

        root = cache_dir() / "reference"
    else:
        root = Path(cache_root)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    shape = "x".join(map(str, key["image_shape"]))
    return root / f"{key['dataset']}-{key['split']}-{shape}-{digest}.safetensors"


def display_images(images: torch.Tensor, preprocess: Sequence[str], *, source_levels: int = 256, seed: int = 0) -> torch.Tensor:
    """uint8 images as a model trained with `preprocess` would show them: to_uint8(preprocessor(images))."""
    from genzoo.data import Preprocessor

    if not preprocess:
        return images
    preprocessor = Preprocessor(tuple(preprocess), source_levels=source_levels)
    generator = torch.Generator(device=images.device).manual_seed(seed)
    return preprocessor.to_uint8(preprocessor(images, generator=generator))


def subset(count: int, max_images: int, seed: int) -> torch.Tensor:
    """Indices of the images used: all of them in order, or a seeded random subset of max_images."""
    if count <= max_images:
        return torch.arange(count)
    return torch.randperm(count, generator=torch.Generator().manual_seed(seed))[:max_images].sort().values


def statistics_of_images(extractor: FeatureExtractor, images: torch.Tensor, *, batch_size: int | None = None, progress: bool = False, key: dict[str, Any] | None = None) -> ReferenceStatistics:
    """Features, p(y|x) and Gaussian statistics of uint8 images (N, C, H, W) (not cached); batch_size None: the extractor's default."""
    options = {} if batch_size is None else {"batch_size": batch_size}
    features, probs = extractor.extract(images, progress=progress, **options)
    mu, sigma = gaussian_statistics(features)
    return ReferenceStatistics(mu, sigma, features.numpy(), probs.numpy(), dict(key or {}))


def reference_statistics(
    extractor: FeatureExtractor,
    dataset_name: str,
    split: str = "test",
    *,
    dataset_options: Mapping[str, Any] | None = None,
    data_dir: str | None = None,
    preprocess: Sequence[str] = (),
    max_images: int = DEFAULT_MAX_IMAGES,
    seed: int = 0,
    batch_size: int | None = None,
    cache: bool = True,
    cache_root: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> ReferenceStatistics:
    """Statistics of up to `max_images` images of a split (seeded subset if larger), from the cache when the key matches."""
    from genzoo.data import dataset_info, load_dataset

    dataset_options = dict(dataset_options or {})
    info = dataset_info(dataset_name, **dataset_options)
    key = reference_key(
        extractor, dataset_name, split, image_shape=info.image_shape, dataset_options=dataset_options,
        preprocess=preprocess, max_images=max_images, seed=seed,
    )
    path = reference_path(key, cache_root=cache_root)
    if cache and path.is_file():
        cached = load_reference(path)
        if cached is not None and cached.key == key:
            return cached
    dataset = load_dataset(dataset_name, split, data_dir=data_dir, progress=progress, **dataset_options)
    try:
        images = dataset.images
    except DataError:
        raise DataError(f"dataset {dataset_name} ({split}) is streamed from disk: reference statistics need it in memory (raise max_in_memory)") from None
    images = images[subset(len(images), max_images, seed)]
    images = display_images(images, preprocess, source_levels=info.levels, seed=seed)
    stats = statistics_of_images(extractor, images, batch_size=batch_size, progress=progress, key=key)
    if cache:
        save_reference(stats, path)
    return stats


HELD_OUT = "training images held out from the feature classifier's training"
TRAIN_SUBSET = "train images (a seeded subset)"
TRAIN_SUBSET_SEEN = "train images (a seeded subset; the feature classifier trained on them)"


def other_real_statistics(
    extractor: FeatureExtractor,
    dataset_name: str,
    *,
    dataset_options: Mapping[str, Any] | None = None,
    data_dir: str | None = None,
    preprocess: Sequence[str] = (),
    max_images: int = DEFAULT_MAX_IMAGES,
    seed: int = 0,
    batch_size: int | None = None,
    cache: bool = True,
    cache_root: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> ReferenceStatistics:
    """Statistics of up to `max_images` real images other than the test split (see the module docstring).

    key["images"] says which: HELD_OUT (the classifier's recorded holdout of the train split,
    seeded subset if larger), TRAIN_SUBSET_SEEN (a genzoo classifier without a holdout) or
    TRAIN_SUBSET (an extractor trained on other data, e.g. Inception).
    """
    from genzoo.data import dataset_info, load_dataset
    from genzoo.metrics.features import holdout_indices

    dataset_options = dict(dataset_options or {})
    info = dataset_info(dataset_name, **dataset_options)
    holdout = extractor.metadata.get("holdout") or {}
    key = reference_key(
        extractor, dataset_name, "train", image_shape=info.image_shape, dataset_options=dataset_options,
        preprocess=preprocess, max_images=max_images, seed=seed,
    )
    key["images"] = HELD_OUT if holdout.get("count") else TRAIN_SUBSET_SEEN if "recipe" in extractor.metadata else TRAIN_SUBSET
    path = reference_path(key, cache_root=cache_root)
    if cache and path.is_file():
        cached = load_reference(path)
        if cached is not None and cached.key == key:
            return cached
    dataset = load_dataset(dataset_name, "train", data_dir=data_dir, progress=progress, **dataset_options)
    try:
        images = dataset.images
    except DataError:
        raise DataError(f"dataset {dataset_name} (train) is streamed from disk: the real-image reference needs it in memory (raise max_in_memory)") from None
    if holdout.get("count"):
        if int(holdout["of"]) != len(images):
            raise DataError(
                f"the train split of {dataset_name} has {len(images)} images, but feature extractor {extractor.identifier} "
                f"held out {holdout['count']} of {holdout['of']}: train the extractor again (`genzoo features train --data {dataset_name}`)"
            )
        indices = holdout_indices(len(images), int(holdout["count"]), int(holdout["seed"]))
    else:
        indices = torch.arange(len(images))
    images = images[indices[subset(len(indices), max_images, seed)]]
    images = display_images(images, preprocess, source_levels=info.levels, seed=seed)
    stats = statistics_of_images(extractor, images, batch_size=batch_size, progress=progress, key=key)
    if cache:
        save_reference(stats, path)
    return stats


def save_reference(stats: ReferenceStatistics, path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    tensors = {
        "mu": torch.from_numpy(np.ascontiguousarray(stats.mu)),
        "sigma": torch.from_numpy(np.ascontiguousarray(stats.sigma)),
        "features": torch.from_numpy(np.ascontiguousarray(stats.features)),
        "class_probs": torch.from_numpy(np.ascontiguousarray(stats.class_probs)),
    }
    with atomic_output(path) as temporary:
        save_file(tensors, str(temporary), metadata={METADATA_KEY: json.dumps({"key": stats.key})})
    return path


def load_reference(path: str | os.PathLike[str]) -> ReferenceStatistics | None:
    """Statistics saved by `save_reference`, or None when the file is unreadable (it is then recomputed)."""
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            header = json.loads((handle.metadata() or {})[METADATA_KEY])
            tensors = {name: handle.get_tensor(name) for name in ("mu", "sigma", "features", "class_probs")}
    except (SafetensorError, OSError, ValueError, RuntimeError, KeyError, json.JSONDecodeError):
        return None
    return ReferenceStatistics(
        mu=tensors["mu"].numpy(), sigma=tensors["sigma"].numpy(), features=tensors["features"].numpy(),
        class_probs=tensors["class_probs"].numpy(), key=dict(header.get("key") or {}),
    )
