"""Image grids as PNG files, with NumPy and Pillow only (no torchvision).

Cells can be enlarged by an integer `scale` with nearest-neighbour replication, so a 28-px
image stays pixel-exact but is big enough to read; `readable_scale` picks the factor that
brings a cell to about DISPLAY_CELL_PX pixels (3x for 28 px, 2x for 64 px).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from genzoo.atomic_file import atomic_output

DISPLAY_CELL_PX = 80  # a cell this tall is readable next to a 550-px matplotlib figure
MAX_AUTO_SCALE = 8


def readable_scale(cell_height: int, target: int = DISPLAY_CELL_PX) -> int:
    """The smallest integer factor that brings a cell of `cell_height` px to >= `target` px (at most MAX_AUTO_SCALE)."""
    if cell_height < 1:
        raise ValueError(f"cell height must be >= 1, got {cell_height}")
    return max(1, min(MAX_AUTO_SCALE, math.ceil(target / cell_height)))


def upscale(images: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour enlargement of (N, C, H, W) images: each pixel becomes a scale x scale block."""
    if not isinstance(scale, (int, np.integer)) or isinstance(scale, bool) or scale < 1:
        raise ValueError(f"scale must be an integer >= 1, got {scale!r}")
    if scale == 1:
        return images
    return images.repeat(scale, axis=-2).repeat(scale, axis=-1)  # (N, C, H * scale, W * scale)


def as_uint8_images(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """Validate uint8 (N, C, H, W), C in {1, 3}, and return it as a NumPy array."""
    array = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if array.ndim != 4 or array.shape[1] not in (1, 3):
        raise ValueError(f"make_grid expects (N, C, H, W) images with C in {{1, 3}}, got shape {array.shape}")
    if array.dtype != np.uint8:
        raise ValueError(f"make_grid expects uint8 images, got {array.dtype}: convert with Preprocessor.to_uint8")
    return array


def make_grid(
    images: torch.Tensor | np.ndarray, *, nrow: int | None = None, padding: int = 2, pad_value: int = 255, scale: int | None = 1,
) -> np.ndarray:
    """Tile uint8 images (N, C, H, W), C in {1, 3}, into one (rows*H', cols*W', C) array.

    nrow is the number of images per row (default: the square root of N, rounded up);
    scale enlarges every cell by that integer factor (nearest neighbour; None: `readable_scale`),
    the padding between cells stays `padding` px.
    """
    array = as_uint8_images(images)
    array = upscale(array, readable_scale(array.shape[2]) if scale is None else scale)  # (N, C, H * s, W * s)
    count, channels, height, width = array.shape
    columns = nrow or max(1, math.ceil(math.sqrt(count)))
    rows = max(1, math.ceil(count / columns))
    cell_h, cell_w = height + padding, width + padding
    grid = np.full((rows * cell_h + padding, columns * cell_w + padding, channels), pad_value, dtype=np.uint8)
    for index in range(count):
        row, column = divmod(index, columns)
        top, left = padding + row * cell_h, padding + column * cell_w
        grid[top : top + height, left : left + width] = array[index].transpose(1, 2, 0)  # (H, W, C)
    return grid


def save_png(array: np.ndarray, path: str | os.PathLike[str]) -> Path:
    """Write an (H, W, C) or (H, W) uint8 array as PNG, atomically (write then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    with atomic_output(path) as temporary:
        Image.fromarray(array).save(temporary, format="PNG")
    return path


def save_image_grid(
    images: torch.Tensor | np.ndarray, path: str | os.PathLike[str], *, nrow: int | None = None, padding: int = 2, scale: int | None = 1,
) -> Path:
    """make_grid + save_png: uint8 (N, C, H, W) images to one PNG file (scale None: `readable_scale`)."""
    return save_png(make_grid(images, nrow=nrow, padding=padding, scale=scale), path)
