"""Scatter plots of 2-D samples over the true modes of a toy mixture (`genzoo.data.toy2d`).

The picture behind the mode-coverage numbers of `genzoo.data.toy2d_modes`: samples as dots; each
mode centre as a cross inside a circle of its quality radius (3 std: a sample inside is "high
quality"), solid green for a covered mode and dashed red for a missed one, with the mode's
count of high-quality samples beside it. The title states modes covered, the high-quality
share and N. Axes span the stored coordinate range [-E, E] of the mixture, so samples a
linear-output generator pushed off the range sit on the frame (`GAN.decode` clamps them).

Drawn with matplotlib's object API on an Agg canvas: no pyplot state, no display needed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import torch

from genzoo.data.toy2d import mixture_extent, mixture_modes
from genzoo.data.toy2d_modes import QUALITY_STDS, ModeStatistics, describe, samples_needed_per_mode

PANEL_INCHES = 6.0  # width and height of one panel's plot area plus its title
LEGEND_INCHES = 0.6  # the legend row under the panels
DPI = 100
COVERED_COLOUR = "#1a9641"
MISSED_COLOUR = "#d7191c"
SAMPLE_COLOUR = "#2b83ba"


class ScatterPanel(NamedTuple):
    """One panel: points (N, 2) sampled from a model of toy2d `mixture`, their statistics, a heading."""

    points: torch.Tensor
    mixture: str
    stats: ModeStatistics
    heading: str = ""


def figure_size_pixels(panels: int, panel_inches: float = PANEL_INCHES) -> tuple[int, int]:
    """(width, height) in pixels of the PNG written for `panels` panels."""
    return round(panel_inches * panels * DPI), round((panel_inches + LEGEND_INCHES) * DPI)


def draw_mode_scatter(points: torch.Tensor, mixture: str, stats: ModeStatistics, path: str | Path, *, heading: str = "") -> Path:
    """One scatter of points (N, 2) over the modes of `mixture` as a PNG (see the module docstring)."""
    return draw_mode_scatter_panels([ScatterPanel(points, mixture, stats, heading)], path)


def draw_mode_scatter_panels(panels: Sequence[ScatterPanel], path: str | Path, *, panel_inches: float = PANEL_INCHES) -> Path:
    """Panels side by side in one PNG of `figure_size_pixels(len(panels), panel_inches)`, one shared legend."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    if not panels:
        raise ValueError("need at least one panel to draw")
    width, height = figure_size_pixels(len(panels), panel_inches)
    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    height_inches = panel_inches + LEGEND_INCHES
    bottom = (LEGEND_INCHES + 0.6) / height_inches  # legend rows, then the x-axis label
    title_lines = max(len(_title_lines(panel)) for panel in panels)
    top = 1 - (0.1 + 0.16 * title_lines) / height_inches  # 9-point title lines
    grid = figure.add_gridspec(1, len(panels), left=0.1 / len(panels), right=1 - 0.03 / len(panels), bottom=bottom, top=top, wspace=0.25)
    for index, panel in enumerate(panels):
        _draw_panel(figure.add_subplot(grid[0, index]), panel)
    quality = f"quality radius ({QUALITY_STDS:g} std)"
    handles = [
        Line2D([], [], linestyle="none", marker="o", markersize=4, color=SAMPLE_COLOUR, label="generated sample"),
        Line2D([], [], linestyle="none", marker="x", markersize=5, color="black", label="true mode centre"),
        Line2D([], [], linestyle="-", color=COVERED_COLOUR, label=f"{quality}: mode covered"),
        Line2D([], [], linestyle="--", color=MISSED_COLOUR, label=f"{quality}: mode missed"),
    ]
    figure.legend(handles=handles, loc="lower center", ncol=2 if len(panels) <= 2 else 4, frameon=False, fontsize=9)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI)
    return path


def _draw_panel(axes: object, panel: ScatterPanel) -> None:
    from matplotlib.patches import Circle

    centres, std = mixture_modes(panel.mixture)  # (K, 2), per-coordinate std
    extent = mixture_extent(panel.mixture)
    points = panel.points.detach().cpu().double().numpy()  # (N, 2)
    needed = samples_needed_per_mode(panel.stats)
    axes.scatter(points[:, 0], points[:, 1], s=3, alpha=0.35, color=SAMPLE_COLOUR, linewidths=0, rasterized=True)
    radius = QUALITY_STDS * std
    for centre, count in zip(centres.tolist(), panel.stats.counts):
        covered = count >= needed
        colour = COVERED_COLOUR if covered else MISSED_COLOUR
        axes.add_patch(Circle(centre, radius, fill=False, linewidth=1.8, color=colour, linestyle="-" if covered else "--"))
        axes.plot(*centre, marker="x", markersize=4, markeredgewidth=1, color="black")
        norm = math.hypot(*centre)
        inward = (-centre[0] / norm, -centre[1] / norm) if norm > 0 else (0.0, -1.0)  # label toward the middle
        axes.annotate(str(count), centre, xytext=(14 * inward[0], 14 * inward[1]), textcoords="offset points",
                      ha="center", va="center", fontsize=8, color=colour)
    margin = 0.04 * extent
    axes.set_xlim(-extent - margin, extent + margin)
    axes.set_ylim(-extent - margin, extent + margin)
    axes.set_aspect("equal")
    axes.set_xlabel("x1")
    axes.set_ylabel("x2")
    axes.grid(alpha=0.25)
    axes.set_title("\n".join(_title_lines(panel)), fontsize=9)


def _title_lines(panel: ScatterPanel) -> list[str]:
    """The heading's lines, then the figures, then how to read the numbers at the modes."""
    needed = samples_needed_per_mode(panel.stats)
    return [*panel.heading.splitlines(), describe(panel.stats), f"{panel.mixture}: high-quality samples per mode (covered at >= {needed})"]
