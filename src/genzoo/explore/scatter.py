"""Scatter plots of a trained toy-2D model's samples over the true modes of its mixture.

The drawing lives in `genzoo.data.toy2d_scatter` (re-exported here); this module samples the
model and names the run in the panel's heading.
"""

from __future__ import annotations

from genzoo.data.toy2d import mixture_modes
from genzoo.data.toy2d_scatter import (  # noqa: F401  (re-exported)
    DPI,
    PANEL_INCHES,
    ScatterPanel,
    draw_mode_scatter,
    draw_mode_scatter_panels,
    figure_size_pixels,
)
from genzoo.metrics.modes import mode_statistics, sample_points


def sample_panel(model: object, mixture: str, *, n: int = 2500, seed: int = 0, heading: str = "") -> ScatterPanel:
    """A panel of n seeded samples of a model trained on toy2d `mixture`, scored by mode coverage."""
    points = sample_points(model, mixture, n, seed=seed)  # (n, 2)
    return ScatterPanel(points, mixture, mode_statistics(points, *mixture_modes(mixture)), heading)


HEADING_OPTIONS = ("g_loss", "d_steps")  # the GAN settings a mode-collapse comparison varies


def run_heading(model: object, step: int | None) -> str:
    """"gan, g_loss minimax, d_steps 5, step 3000": the model and the settings that tell toy runs apart."""
    config = getattr(model, "config", None)
    settings = [f"{name} {getattr(config, name)}" for name in HEADING_OPTIONS if hasattr(config, name)]
    return ", ".join([getattr(model, "name", "model"), *settings] + ([f"step {step}"] if step is not None else []))
