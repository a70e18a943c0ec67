"""Scatter plots of toy2d samples over the true modes (genzoo.explore.scatter): size, colours, headings."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from genzoo.data.toy2d import mixture_modes
from genzoo.data.toy2d_scatter import (
    COVERED_COLOUR,
    DPI,
    MISSED_COLOUR,
    ScatterPanel,
    draw_mode_scatter,
    draw_mode_scatter_panels,
    figure_size_pixels,
)
from genzoo.explore.scatter import run_heading
from genzoo.metrics.modes import mode_statistics


def _points(modes: list[int], per_mode: int = 200) -> torch.Tensor:
    centres, std = mixture_modes("ring")
    generator = torch.Generator().manual_seed(0)
    return torch.cat([centres[k] + 0.5 * std * torch.randn(per_mode, 2, generator=generator) for k in modes])  # (M * per_mode, 2)


def _pixels_near(path, colour: str, tolerance: int = 40) -> int:
    """Pixels of the PNG within `tolerance` (max channel difference) of a #rrggbb colour."""
    rgb = np.asarray(Image.open(path).convert("RGB")).astype(int)  # (H, W, 3)
    target = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(rgb - target).max(axis=2) <= tolerance).sum())


def test_one_panel_png_has_the_stated_size(tmp_path):
    points = _points(list(range(8)))
    stats = mode_statistics(points, *mixture_modes("ring"))
    path = draw_mode_scatter(points, "ring", stats, tmp_path / "nested" / "scatter.png", heading="gan, g_loss minimax")
    assert path.is_file()
    assert Image.open(path).size == figure_size_pixels(1) == (600, 660)


def test_covered_and_missed_modes_are_drawn_in_their_colours(tmp_path):
    all_modes = _points(list(range(8)))
    one_mode = _points([3] * 8)  # same N, every sample at mode 3: seven modes missed
    covered = draw_mode_scatter(all_modes, "ring", mode_statistics(all_modes, *mixture_modes("ring")), tmp_path / "all.png")
    collapsed = draw_mode_scatter(one_mode, "ring", mode_statistics(one_mode, *mixture_modes("ring")), tmp_path / "one.png")
    # The legend shows both colours in both files; the circles add 8 green or 7 red rings.
    assert _pixels_near(covered, COVERED_COLOUR) > _pixels_near(collapsed, COVERED_COLOUR) + 200
    assert _pixels_near(collapsed, MISSED_COLOUR) > _pixels_near(covered, MISSED_COLOUR) + 200


def test_panels_side_by_side_widen_the_png(tmp_path):
    ring = _points(list(range(8)))
    centres, std = mixture_modes("grid")
    grid = centres.repeat(20, 1) + 0.5 * std * torch.randn(500, 2, generator=torch.Generator().manual_seed(1))  # (500, 2)
    panels = [
        ScatterPanel(ring, "ring", mode_statistics(ring, *mixture_modes("ring")), "a"),
        ScatterPanel(grid, "grid", mode_statistics(grid, centres, std), "b"),
    ]
    path = draw_mode_scatter_panels(panels, tmp_path / "two.png", panel_inches=4.7)
    assert Image.open(path).size == figure_size_pixels(2, 4.7) == (round(2 * 4.7 * DPI), round((4.7 + 0.6) * DPI))
    with pytest.raises(ValueError, match="at least one panel"):
        draw_mode_scatter_panels([], tmp_path / "none.png")


def test_run_heading_names_the_gan_settings():
    class Config:
        g_loss = "minimax"
        d_steps = 5

    class Model:
        name = "gan"
        config = Config()

    assert run_heading(Model(), 3000) == "gan, g_loss minimax, d_steps 5, step 3000"
    Model.config = object()
    assert run_heading(Model(), None) == "gan"
