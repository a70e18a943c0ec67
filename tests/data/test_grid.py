"""Image grids: nearest-neighbour upscaling keeps every pixel exact, sizes follow the scale."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from genzoo.data.grid import make_grid, readable_scale, save_image_grid, upscale


def test_upscale_replicates_each_pixel_into_a_block():
    image = np.array([[[[1, 2], [3, 4]]]], dtype=np.uint8)  # (1, 1, 2, 2)
    big = upscale(image, 3)
    assert big.shape == (1, 1, 6, 6)
    expected = np.array([[1, 1, 1, 2, 2, 2]] * 3 + [[3, 3, 3, 4, 4, 4]] * 3, dtype=np.uint8)
    assert np.array_equal(big[0, 0], expected)
    assert upscale(image, 1) is image
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="integer >= 1"):
            upscale(image, bad)


def test_readable_scale_brings_small_cells_to_about_80_px():
    assert [readable_scale(h) for h in (28, 32, 64, 80, 200)] == [3, 3, 2, 1, 1]
    assert readable_scale(1) == 8  # capped: an 8x enlargement is plenty for a 1-px "image"
    with pytest.raises(ValueError):
        readable_scale(0)


def test_grid_cells_are_the_upscaled_images_and_padding_stays_fixed():
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (5, 3, 4, 6), dtype=torch.uint8, generator=generator)  # (N, C, H, W)
    grid = make_grid(images, nrow=3, padding=2, scale=4)
    assert grid.shape == (2 * (16 + 2) + 2, 3 * (24 + 2) + 2, 3)
    for index in range(5):
        row, column = divmod(index, 3)
        top, left = 2 + row * 18, 2 + column * 26
        cell = grid[top : top + 16, left : left + 24]  # (16, 24, 3)
        expected = images[index].numpy().transpose(1, 2, 0).repeat(4, axis=0).repeat(4, axis=1)
        assert np.array_equal(cell, expected)
    assert (grid[:2] == 255).all() and (grid[18:20] == 255).all()  # padding rows stay 2 px, white
    assert (grid[20:, 2 + 2 * 26 :] == 255).all()  # the missing sixth cell is background


def test_save_image_grid_default_keeps_natural_size_and_none_reads_well(tmp_path):
    images = torch.full((4, 1, 28, 28), 100, dtype=torch.uint8)
    with Image.open(save_image_grid(images, tmp_path / "a.png", nrow=2)) as image:
        assert image.size == (2 * 30 + 2, 2 * 30 + 2)
    with Image.open(save_image_grid(images, tmp_path / "b.png", nrow=2, scale=None)) as image:
        assert image.size == (2 * (84 + 2) + 2, 2 * (84 + 2) + 2) and image.mode == "L"
        assert np.asarray(image)[2:86, 2:86].min() == 100
