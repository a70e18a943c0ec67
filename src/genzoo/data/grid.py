"""Image grids as PNG files, with NumPy and Pillow only (no torchvision)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def make_grid(images: torch.Tensor | np.ndarray, *, nrow: int | None = None, padding: int = 2, pad_value: int = 255) -> np.ndarray:
    """Tile uint8 images (N, C, H, W), C in {1, 3}, into one (rows*H', cols*W', C) array.

    nrow is the number of images per row (default: the square root of N, rounded up).
    """
    array = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if array.ndim != 4 or array.shape[1] not in (1, 3):
        raise ValueError(f"make_grid expects (N, C, H, W) images with C in {{1, 3}}, got shape {array.shape}")
    if array.dtype != np.uint8:
        raise ValueError(f"make_grid expects uint8 images, got {array.dtype}: convert with Preprocessor.to_uint8")
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
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    Image.fromarray(array).save(temporary, format="PNG")
    os.replace(temporary, path)
    return path


def save_image_grid(images: torch.Tensor | np.ndarray, path: str | os.PathLike[str], *, nrow: int | None = None, padding: int = 2) -> Path:
    """make_grid + save_png: uint8 (N, C, H, W) images to one PNG file."""
    return save_png(make_grid(images, nrow=nrow, padding=padding), path)
