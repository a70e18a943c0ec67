"""Labelled image grids: a title, column labels, row labels and axis titles around a grid.

    labelled_grid(images, nrow=9, title="...", row_labels=["z3  KL 2.31", ...],
                  column_labels=["-1.64", ..., "1.64"], column_title="value of the swept coordinate")
    save_labelled_grid(images, "traversal.png", nrow=9, ...)

The grid is `genzoo.data.grid.make_grid` with its cells enlarged by an integer `scale`
(nearest neighbour; default `readable_scale`, about 80 px a cell). Text is drawn with
Pillow's built-in font at a size that follows the cell size, in black on white; the figure
keeps the images' channels (gray stays gray). Layout, left to right and top to bottom:

    [title, wrapped to the figure's width                           ]
    [            ] [column title, centred over the grid             ]
    [            ] [ col 0 ][ col 1 ] ...   (each centred on its cell)
    [row title   ] [row 0 label] [ cell ][ cell ] ...
    [(rotated)   ] [row 1 label] [ cell ][ cell ] ...
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from genzoo.data.grid import as_uint8_images, make_grid, readable_scale, save_png

TEXT_COLOUR = 0  # black, on the grid's white (255) background
MIN_FONT_PX = 8


@lru_cache(maxsize=32)
def font_of_size(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's built-in font at `size` px (the fixed bitmap font where FreeType is missing)."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # Pillow < 10.1 or no FreeType
        return ImageFont.load_default()


def default_font_px(cell_height: int) -> int:
    """Label text height for cells of `cell_height` px: about a sixth of a cell, 11..18 px."""
    return max(11, min(18, round(cell_height / 6)))


def _text_size(draw: ImageDraw.ImageDraw, text: str, font) -> tuple[int, int]:
    if not text:
        return 0, 0
    left, top, right, bottom = draw.multiline_textbbox((0, 0), text, font=font)
    return right - left, bottom - top


def _draw_text(draw: ImageDraw.ImageDraw, text: str, font, *, x: float, y: float, align: str) -> None:
    """Draw `text` with its bounding box's left/centre/right edge at x and its vertical centre at y."""
    if not text:
        return
    left, top, right, bottom = draw.multiline_textbbox((0, 0), text, font=font, align=align)
    width, height = right - left, bottom - top
    offset_x = {"left": 0.0, "center": width / 2, "right": float(width)}[align]
    draw.multiline_text((round(x - offset_x - left), round(y - height / 2 - top)), text, fill=TEXT_COLOUR, font=font, align=align)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    """Greedy word wrap of each paragraph of `text` to lines at most `width` px wide (long words stay whole)."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if line and _text_size(draw, candidate, font)[0] > width:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return "\n".join(lines)


def _fitting_font(draw: ImageDraw.ImageDraw, labels: Sequence[str], size: int, width: int):
    """The largest font <= size (down to MIN_FONT_PX) at which every label is at most `width` px wide."""
    for candidate in range(size, MIN_FONT_PX - 1, -1):
        font = font_of_size(candidate)
        if all(_text_size(draw, label, font)[0] <= width for label in labels):
            return font
    return font_of_size(MIN_FONT_PX)


def labelled_grid(
    images: torch.Tensor | np.ndarray,
    *,
    nrow: int,
    title: str = "",
    row_labels: Sequence[str] = (),
    column_labels: Sequence[str] = (),
    row_title: str = "",
    column_title: str = "",
    scale: int | None = None,
    padding: int = 2,
    font_px: int | None = None,
) -> np.ndarray:
    """uint8 (N, C, H, W) images tiled `nrow` per row, with text around them: (H', W', C) uint8.

    row_labels: one per grid row (or none), drawn right-aligned left of the row;
    column_labels: one per grid column (or none), centred above each column, shrunk to fit a cell;
    row_title: rotated 90 degrees, left of the row labels (a y-axis name);
    column_title: centred above the column labels (an x-axis name);
    title: on top, wrapped to the figure's width.
    scale: integer cell enlargement (None: `readable_scale` of the cell height);
    font_px: label text size (None: `default_font_px` of the enlarged cell).
    """
    array = as_uint8_images(images)  # (N, C, H, W)
    if nrow < 1:
        raise ValueError(f"nrow must be >= 1, got {nrow}")
    count, channels, height, width = array.shape
    scale = readable_scale(height) if scale is None else scale
    rows, columns = max(1, math.ceil(count / nrow)), nrow
    row_labels, column_labels = [str(label) for label in row_labels], [str(label) for label in column_labels]
    if row_labels and len(row_labels) != rows:
        raise ValueError(f"{len(row_labels)} row labels for a grid of {rows} rows")
    if column_labels and len(column_labels) != columns:
        raise ValueError(f"{len(column_labels)} column labels for a grid of {columns} columns")
    grid = make_grid(array, nrow=nrow, padding=padding, scale=scale)  # (rows * (h + p) + p, columns * (w + p) + p, C)
    cell_h, cell_w = height * scale, width * scale
    size = font_px or default_font_px(cell_h)
    font, title_font = font_of_size(size), font_of_size(size + 2)
    measure = ImageDraw.Draw(Image.new("L", (1, 1)))
    column_font = _fitting_font(measure, column_labels, size, cell_w + padding - 2)
    gap = max(4, size // 2)  # space between a band of text and its neighbour

    row_label_w = max((_text_size(measure, label, font)[0] for label in row_labels), default=0)
    row_label_band = row_label_w + gap if row_labels else 0
    # the rotated row title runs along the grid's height: wrapped, and shrunk if one word is still longer
    row_title_text = _wrap(measure, row_title, font, grid.shape[0]) if row_title else ""
    row_title_font = _fitting_font(measure, row_title_text.split("\n"), size, grid.shape[0])
    row_title_band = _text_size(measure, row_title_text, row_title_font)[1] + gap if row_title else 0
    left = gap + row_title_band + row_label_band
    figure_w = left + grid.shape[1] + gap
    title_text = _wrap(measure, title, title_font, figure_w - 2 * gap) if title else ""
    title_band = _text_size(measure, title_text, title_font)[1] + gap if title else 0
    column_title_text = _wrap(measure, column_title, font, grid.shape[1]) if column_title else ""
    column_title_band = _text_size(measure, column_title_text, font)[1] + gap if column_title else 0
    column_label_h = max((_text_size(measure, label, column_font)[1] for label in column_labels), default=0)
    column_label_band = column_label_h + gap if column_labels else 0
    top = gap + title_band + column_title_band + column_label_band
    figure_h = top + grid.shape[0] + gap

    mode = "L" if channels == 1 else "RGB"
    white = 255 if mode == "L" else (255, 255, 255)  # an int fill of an RGB image would be red
    canvas = Image.new(mode, (figure_w, figure_h), white)
    canvas.paste(Image.fromarray(grid[:, :, 0] if channels == 1 else grid), (left, top))
    draw = ImageDraw.Draw(canvas)
    grid_centre_x = left + grid.shape[1] / 2
    if title:
        _draw_text(draw, title_text, title_font, x=figure_w / 2, y=gap + (title_band - gap) / 2, align="center")
    if column_title:
        _draw_text(draw, column_title_text, font, x=grid_centre_x, y=gap + title_band + (column_title_band - gap) / 2, align="center")
    for index, label in enumerate(column_labels):
        centre_x = left + padding + index * (cell_w + padding) + cell_w / 2
        _draw_text(draw, label, column_font, x=centre_x, y=top - gap / 2 - column_label_h / 2, align="center")
    for index, label in enumerate(row_labels):
        centre_y = top + padding + index * (cell_h + padding) + cell_h / 2
        _draw_text(draw, label, font, x=left - gap / 2, y=centre_y, align="right")
    if row_title:
        text_w, text_h = _text_size(measure, row_title_text, row_title_font)
        strip = Image.new(mode, (text_w + 4, text_h + 4), white)
        _draw_text(ImageDraw.Draw(strip), row_title_text, row_title_font, x=(text_w + 4) / 2, y=(text_h + 4) / 2, align="center")
        strip = strip.rotate(90, expand=True)  # reads bottom to top
        canvas.paste(strip, (gap, round(top + grid.shape[0] / 2 - strip.height / 2)))
    result = np.asarray(canvas, dtype=np.uint8)
    return result[:, :, None] if channels == 1 else result  # (H', W', C)


def save_labelled_grid(images: torch.Tensor | np.ndarray, path: str | os.PathLike[str], **options) -> Path:
    """labelled_grid + save_png: one labelled PNG (options as `labelled_grid`)."""
    return save_png(labelled_grid(images, **options), path)


def format_value(value: float) -> str:
    """A coordinate for a label: two decimals, a plain minus sign, no "-0.00"."""
    text = f"{value:.2f}"
    return "0.00" if text == "-0.00" else text
