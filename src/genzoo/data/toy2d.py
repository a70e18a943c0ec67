"""Toy 2-D mixtures of Gaussians for mode-collapse diagnostics, as 1x2 "images".

The standard mixtures of the GAN literature (e.g. Metz et al. 2017, "Unrolled GANs", Sec. 3.1):
  ring: 8 Gaussians evenly spaced on a circle of radius 2, std 0.02;
  grid: 25 Gaussians on the 5x5 grid {-4, -2, 0, 2, 4}^2 (spacing 2), std 0.05.
The label of a point is the index of the mode it was drawn from.

So that the one trainer and the one preprocessing path serve these points unchanged, a
point (p_x, p_y) is stored as a uint8 image of shape (1, 1, 2): each coordinate is binned
into 256 equal bins over [-E, E] (E = extent: the largest |centre| plus 5 std). With the
preprocessing `dequantize, scale-symmetric` a coordinate becomes x = (k + u) / 256 * 2 - 1,
uniform within its bin, and `to_points` maps it back exactly: p = E * x. The bin width
(2E/256: 0.016 for the ring, 0.033 for the grid) is below each mode's std, so dequantized
data is the mixture up to a within-bin jitter. Without `dequantize` the points sit on the
bin lattice, off by at most one bin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from genzoo.data.dataset import DatasetInfo, ImageDataset
from genzoo.data.registry import DatasetSource, register_dataset
from genzoo.errors import ConfigError

MIXTURES: tuple[str, ...] = ("ring", "grid")
SPLIT_SEEDS = {"train": 0, "test": 1}
LEVELS = 256
EXTENT_STDS = 5.0  # the coordinate range reaches this many std beyond the outermost centre
RECOMMENDED_PREPROCESS = ("dequantize", "scale-symmetric")


def mixture_modes(mixture: str) -> tuple[torch.Tensor, float]:
    """Centres (K, 2) and per-coordinate std of a toy mixture: ring (8, 0.02) or grid (25, 0.05)."""
    if mixture == "ring":
        angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
        return (2.0 * torch.stack([angles.cos(), angles.sin()], 1)).float(), 0.02
    if mixture == "grid":
        axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
        return torch.cartesian_prod(axis, axis), 0.05
    raise ConfigError(f"unknown toy2d mixture {mixture!r}: choose one of {', '.join(MIXTURES)}")


def mixture_extent(mixture: str) -> float:
    """E of the module docstring: coordinates are stored over [-E, E]."""
    centres, std = mixture_modes(mixture)
    return float(centres.abs().max()) + EXTENT_STDS * std


def sample_mixture(mixture: str, count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """count points (N, 2) float32 of an equal-weight mixture and their mode indices (N,) int64."""
    centres, std = mixture_modes(mixture)
    rng = np.random.default_rng(seed)
    modes = torch.from_numpy(rng.integers(0, len(centres), size=count))
    noise = torch.from_numpy(rng.standard_normal((count, 2))).float()
    return centres[modes] + std * noise, modes


def points_to_uint8(points: torch.Tensor, extent: float) -> torch.Tensor:
    """(N, 2) points -> uint8 (N, 1, 1, 2): bin k of 256 over [-extent, extent] (clamped at the ends)."""
    unit = (points.float() + extent) / (2 * extent)  # [0, 1] inside the range
    return torch.floor(unit * LEVELS).clamp(0, LEVELS - 1).to(torch.uint8).view(-1, 1, 1, 2)


def to_points(x: torch.Tensor, extent: float, value_range: tuple[float, float] = (-1.0, 1.0)) -> torch.Tensor:
    """Model-space values (N, 1, 1, 2) in `value_range` -> points (N, 2): the inverse of the binning
    after `dequantize` (exact in distribution); p = extent * x for the recommended preprocessing."""
    low, high = value_range
    unit = (x.reshape(x.shape[0], 2).float() - low) / (high - low)  # (N, 2) in [0, 1]
    return (2 * unit - 1) * extent


def point_mixture(dataset: str, options: dict | None = None) -> str | None:
    """The mixture ("ring" or "grid") when `dataset` is toy2d, else None: how callers tell
    2-D point data (scored by mode coverage, drawn as scatter plots) from images."""
    if dataset != "toy2d":
        return None
    return Toy2DOptions(**{k: v for k, v in (options or {}).items() if k == "mixture"}).mixture


@dataclass(frozen=True)
class Toy2DOptions:
    mixture: Literal["ring", "grid"] = "ring"
    n_train: int = 50000
    n_test: int = 10000

    def __post_init__(self) -> None:
        if self.mixture not in MIXTURES:
            raise ConfigError(f"unknown toy2d mixture {self.mixture!r}: choose one of {', '.join(MIXTURES)}")
        if self.n_train < 1 or self.n_test < 1:
            raise ConfigError(f"toy2d options n_train and n_test must be >= 1, got {self.n_train}, {self.n_test}")


@register_dataset("toy2d")
class Toy2D(DatasetSource):
    """Points of a 2-D Gaussian mixture as uint8 (1, 1, 2) images; label = mode index."""

    options_class = Toy2DOptions

    def info(self) -> DatasetInfo:
        mixture = self.options.mixture
        centres, std = mixture_modes(mixture)
        description = (
            f"2-D mixture of {len(centres)} Gaussians ({mixture}, std {std:g}), points binned into 256 levels "
            f"over [-{mixture_extent(mixture):g}, {mixture_extent(mixture):g}]; preprocess with "
            f"{', '.join(RECOMMENDED_PREPROCESS)}"
        )
        names = tuple(f"mode {k}" for k in range(len(centres)))
        return DatasetInfo(self.name, (1, 1, 2), LEVELS, len(centres), ("train", "test"), names, description)

    def load(self, split: str, *, data_dir: str | None, download: bool, progress: bool) -> ImageDataset:
        mixture = self.options.mixture
        count = self.options.n_train if split == "train" else self.options.n_test
        points, modes = sample_mixture(mixture, count, SPLIT_SEEDS[split])
        return ImageDataset(self.info(), split, points_to_uint8(points, mixture_extent(mixture)), modes)
