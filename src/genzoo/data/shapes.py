"""A procedural dataset of single shapes on black, with known generative factors.

Each image shows one shape (circle, square, triangle, diamond, cross) of one colour, size
and (x, y) grid position; those five factors are the `attributes` (labels = shape). Every
factor is drawn uniformly from its own seeded stream, so a split is a pure function of its
options and a smaller `n_train` gives a prefix of a larger one. Shapes are rasterized
without anti-aliasing (pixel centres inside the shape get the exact palette colour),
vectorized over all images of a chunk. Shape centres fall on pixel corners, so a shape's
pixel area depends only on (shape, size) and its pixel centroid is its centre.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from genzoo.data.dataset import DatasetInfo, ImageDataset
from genzoo.data.registry import DatasetSource, register_dataset
from genzoo.errors import ConfigError

SHAPES = ("circle", "square", "triangle", "diamond", "cross")
COLOURS = ("red", "green", "blue", "yellow", "magenta", "cyan", "white")
RGB = ((255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 0, 255), (0, 255, 255), (255, 255, 255))
# palette=isoluminant: the same hues at two lumas, Y = 0.299 R + 0.587 G + 0.114 B = 81.006 for red, green and
# blue and 171.994 for yellow, magenta and cyan (exactly: 299 R + 587 G + 114 B is equal), white apart: from the
# grey image alone a red shape could as well be green or blue (the ambiguous case of colorization).
RGB_ISOLUMINANT = ((217, 23, 23), (0, 138, 0), (72, 72, 151), (214, 184, 0), (253, 115, 253), (36, 230, 230), (255, 255, 255))
PALETTES = {"primary": RGB, "isoluminant": RGB_ISOLUMINANT}
# channels=1: evenly spaced grays, ordered by the colours' luminance (blue darkest, white brightest).
GRAY = (109, 168, 80, 226, 138, 197, 255)
SIZES = ("small", "medium", "large")
RADII = (0.12, 0.17, 0.22)  # circumradius as a fraction of the image side
X_POSITIONS = ("left", "centre", "right")
Y_POSITIONS = ("top", "middle", "bottom")
CENTRES = (0.25, 0.5, 0.75)  # fraction of the image side, for both axes
ATTRIBUTE_VALUES = {"shape": SHAPES, "colour": COLOURS, "size": SIZES, "x": X_POSITIONS, "y": Y_POSITIONS}
SPLIT_SEEDS = {"train": 0, "test": 1}
CHUNK = 4096

Mask = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _circle(dx: torch.Tensor, dy: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    return dx * dx + dy * dy <= r * r


def _square(dx: torch.Tensor, dy: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    return torch.maximum(dx.abs(), dy.abs()) <= 0.8 * r


def _triangle(dx: torch.Tensor, dy: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    # Upward equilateral triangle inscribed in the circle of radius r: apex (0, -r), base at dy = r/2.
    return (dy <= 0.5 * r) & (3**0.5 * dx.abs() <= dy + r)


def _diamond(dx: torch.Tensor, dy: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    return dx.abs() + dy.abs() <= r


def _cross(dx: torch.Tensor, dy: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    arm = 0.35 * r
    return ((dx.abs() <= r) & (dy.abs() <= arm)) | ((dy.abs() <= r) & (dx.abs() <= arm))


MASKS: tuple[Mask, ...] = (_circle, _square, _triangle, _diamond, _cross)


def rasterize(shape: torch.Tensor, colour: torch.Tensor, size: torch.Tensor, x: torch.Tensor, y: torch.Tensor, *, image_size: int, channels: int,
              palette: str = "primary") -> torch.Tensor:
    """uint8 (N, C, S, S) images of the given int64 (N,) factor indices."""
    count = len(shape)
    images = torch.empty(count, channels, image_size, image_size, dtype=torch.uint8)
    palette = torch.tensor(PALETTES[palette] if channels == 3 else [(g,) for g in GRAY], dtype=torch.uint8)  # (K, C)
    radii = torch.tensor(RADII) * image_size
    centres = torch.tensor(CENTRES) * image_size
    pixel = torch.arange(image_size, dtype=torch.float32) + 0.5  # pixel centres
    for start in range(0, count, CHUNK):
        part = slice(start, start + CHUNK)
        dx = pixel.view(1, 1, -1) - centres[x[part]].view(-1, 1, 1)  # (n, 1, S)
        dy = pixel.view(1, -1, 1) - centres[y[part]].view(-1, 1, 1)  # (n, S, 1)
        r = radii[size[part]].view(-1, 1, 1)  # (n, 1, 1)
        inside = torch.zeros(len(dx), image_size, image_size, dtype=torch.bool)  # (n, S, S)
        for kind, mask in enumerate(MASKS):
            chosen = (shape[part] == kind).nonzero().squeeze(1)
            if len(chosen):
                inside[chosen] = mask(dx[chosen], dy[chosen], r[chosen])
        colours = palette[colour[part]].view(-1, channels, 1, 1)  # (n, C, 1, 1)
        images[part] = inside.unsqueeze(1) * colours  # (n, C, S, S)
    return images


def sample_factors(count: int, split_seed: int) -> dict[str, torch.Tensor]:
    """Uniform int64 (N,) index per factor, each from its own stream (prefix-stable in N)."""
    return {
        name: torch.from_numpy(np.random.default_rng([split_seed, i]).integers(0, len(values), size=count))
        for i, (name, values) in enumerate(ATTRIBUTE_VALUES.items())
    }


@dataclass(frozen=True)
class ShapesOptions:
    size: int = 28
    channels: int = 3
    n_train: int = 60000
    n_test: int = 10000
    palette: Literal["primary", "isoluminant"] = "primary"  # isoluminant: hues sharing lumas (ambiguous colorization)

    def __post_init__(self) -> None:
        if self.palette == "isoluminant" and self.channels != 3:
            raise ConfigError("shapes option palette=isoluminant colours RGB images: set channels=3")
        if self.size not in (28, 32, 64):
            raise ConfigError(f"shapes option size must be 28, 32 or 64, got {self.size}")
        if self.channels not in (1, 3):
            raise ConfigError(f"shapes option channels must be 1 or 3, got {self.channels}")
        if self.n_train < 1 or self.n_test < 1:
            raise ConfigError(f"shapes options n_train and n_test must be >= 1, got {self.n_train}, {self.n_test}")


@register_dataset("shapes")
class Shapes(DatasetSource):
    options_class = ShapesOptions

    def info(self) -> DatasetInfo:
        size, channels = self.options.size, self.options.channels
        description = (
            f"procedural shapes {size}x{size}: {len(SHAPES)} shapes x {len(COLOURS)} colours x {len(SIZES)} sizes "
            f"x {len(X_POSITIONS)}x{len(Y_POSITIONS)} positions on black, factors as attributes"
            + (", isoluminant palette (hues sharing lumas)" if self.options.palette == "isoluminant" else "")
        )
        return DatasetInfo(self.name, (channels, size, size), 256, len(SHAPES), ("train", "test"), SHAPES, description)

    def load(self, split: str, *, data_dir: str | None, download: bool, progress: bool) -> ImageDataset:
        count = self.options.n_train if split == "train" else self.options.n_test
        factors = sample_factors(count, SPLIT_SEEDS[split])
        images = rasterize(**factors, image_size=self.options.size, channels=self.options.channels, palette=self.options.palette)
        return ImageDataset(self.info(), split, images, factors["shape"].clone(), factors, ATTRIBUTE_VALUES)
