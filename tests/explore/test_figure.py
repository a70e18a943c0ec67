"""Labelled grids: the cells are the upscaled images, untouched; labels sit in bands beside them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from genzoo.data.format import DataFormat
from genzoo.explore.completion import completion_column_labels, completion_rows, keep_mask
from genzoo.explore.figure import format_value, labelled_grid, save_labelled_grid
from genzoo.explore.interpolation import interpolation_column_labels
from genzoo.explore.reconstruction import reconstruction_row_labels

GREEN = (0, 255, 0)  # no text pixel is green (text is gray), so green pixels are exactly the cells


def green_images(count: int, size: int = 8) -> torch.Tensor:
    images = torch.zeros(count, 3, size, size, dtype=torch.uint8)
    images[:, 1] = 255
    return images  # (N, 3, size, size)


def cells_box(figure: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the green pixels, bottom/right exclusive."""
    green = (figure[..., 0] == 0) & (figure[..., 1] == 255) & (figure[..., 2] == 0)
    rows, columns = np.nonzero(green)
    return rows.min(), rows.max() + 1, columns.min(), columns.max() + 1


def dark(region: np.ndarray) -> np.ndarray:
    return region.max(axis=-1) < 128  # text pixels: dark in every channel (a green cell is not)


def test_unlabelled_figure_is_the_upscaled_grid_in_a_margin():
    figure = labelled_grid(green_images(6), nrow=3, scale=5, padding=2)
    top, bottom, left, right = cells_box(figure)
    assert (bottom - top, right - left) == (2 * 40 + 2, 3 * 40 + 2 * 2)  # 2 x 3 cells of 40 px, 2 px between
    assert not dark(figure).any()  # no labels asked for, none drawn


def test_labels_sit_over_their_columns_and_beside_their_rows():
    rows, columns, cell = 2, 4, 10 * 4  # 10-px images at scale 4
    figure = labelled_grid(green_images(rows * columns, size=10), nrow=columns, scale=4, title="a title",
                           row_labels=["z3  KL 2.31", "z0  KL 0.02"], column_labels=["-1.64", "0.00", "0.67", "1.64"],
                           row_title="latent dimension", column_title="swept value")
    top, bottom, left, right = cells_box(figure)
    assert bottom - top == rows * cell + (rows - 1) * 2 and right - left == columns * cell + (columns - 1) * 2
    grid = figure[top:bottom, left:right]
    assert (grid[..., 1] == 255).all() and not dark(grid).any()  # the cells are untouched: green or white padding
    band_above = dark(figure[:top])
    for column in range(columns):  # each column label is drawn within its own column's span
        span = band_above[:, left + column * (cell + 2) : left + column * (cell + 2) + cell]
        assert span.sum() > 10, column
    column_label_rows = np.nonzero(band_above[:, left:right].any(axis=1))[0]
    assert column_label_rows.min() < 20  # the title is drawn above everything
    band_left = dark(figure[:, :left])
    for row in range(rows):
        span = band_left[top + row * (cell + 2) : top + row * (cell + 2) + cell]
        assert span.sum() > 20, row
    assert not dark(figure[bottom:]).any() and not dark(figure[:, right:]).any()  # nothing below or right of the grid


def test_longer_row_labels_make_a_wider_band():
    narrow = labelled_grid(green_images(2), nrow=1, scale=4, row_labels=["z1", "z2"])
    wide = labelled_grid(green_images(2), nrow=1, scale=4, row_labels=["z1  KL 12.34", "z2  KL 0.01"])
    assert cells_box(wide)[2] > cells_box(narrow)[2] + 20  # the grid starts further right
    assert wide.shape[0] == narrow.shape[0]


def test_gray_images_give_a_gray_figure_and_label_counts_are_checked(tmp_path):
    gray = torch.full((4, 1, 6, 6), 90, dtype=torch.uint8)
    figure = labelled_grid(gray, nrow=2, scale=3, column_labels=["a", "b"])
    assert figure.ndim == 3 and figure.shape[2] == 1
    assert (figure == 90).sum() == 4 * 18 * 18  # every cell pixel, enlarged 3x, and nothing else of that value
    with pytest.raises(ValueError, match="3 row labels for a grid of 2 rows"):
        labelled_grid(gray, nrow=2, row_labels=["a", "b", "c"])
    with pytest.raises(ValueError, match="1 column labels for a grid of 2 columns"):
        labelled_grid(gray, nrow=2, column_labels=["a"])
    path = save_labelled_grid(gray, tmp_path / "f.png", nrow=2, scale=3, title="t")
    assert path.exists() and path.stat().st_size > 0


def test_label_texts_of_the_explore_figures():
    assert format_value(-0.0001) == "0.00" and format_value(-1.6449) == "-1.64"
    assert interpolation_column_labels(5) == ("A t=0", "t=0.25", "t=0.5", "t=0.75", "B t=1")
    assert reconstruction_row_labels(10, 4, first_index=2) == ("test 2-5", "reconstructed", "test 6-9", "reconstructed", "test 10-11", "reconstructed")
    assert completion_column_labels(2, "top-half") == ("original", "kept: top half", "sample 1", "sample 2")


def test_completion_rows_show_the_hidden_part_mid_gray():
    data_format = DataFormat(image_shape=(1, 4, 4), levels=256)
    low, high = data_format.value_range
    x = torch.full((2, 1, 4, 4), high)  # white images
    completions = torch.full((2, 3, 1, 4, 4), low)  # black completions
    rows = completion_rows(x, keep_mask("top-half", (1, 4, 4)), completions, data_format).view(2, 5, 1, 4, 4)
    assert (rows[:, 0] == 255).all() and (rows[:, 2:] == 0).all()
    assert (rows[:, 1, :, :2] == 255).all() and (rows[:, 1, :, 2:] == 128).all()  # kept top half, hidden bottom mid-gray


def test_the_completion_figure_is_the_labelled_rows_of_the_completions_drawn_with_the_same_generator(tmp_path):
    """One function draws completions for `genzoo complete` and the report: original, masked input, n samples per row."""
    from genzoo.explore.completion import complete, completion_figure
    from genzoo.models.registry import build_model_from_format
    from genzoo_testing.tiny_models import BINARY_8, make_batch

    model = build_model_from_format("pixelcnn", BINARY_8, {"hidden": 8, "residual_blocks": 1, "output_hidden": 8})
    x, _ = make_batch(BINARY_8, 2)
    path = completion_figure(model, x, "top-half", tmp_path / "c.png", n=3, row_labels=("a", "b"), generator=torch.Generator().manual_seed(5),
                             scale=2, title="t")
    keep = keep_mask("top-half", (1, 8, 8))
    completions = complete(model, x, keep, n=3, generator=torch.Generator().manual_seed(5))  # (2, 3, 1, 8, 8)
    assert (completions[:, :, :, :4] == x[:, None, :, :4]).all()  # the kept top half, exactly
    expected = save_labelled_grid(completion_rows(x, keep, completions, BINARY_8), tmp_path / "e.png", nrow=5, scale=2,
                                  row_labels=("a", "b"), column_labels=completion_column_labels(3, "top-half"), title="t")
    assert np.array_equal(np.asarray(Image.open(path)), np.asarray(Image.open(expected)))
