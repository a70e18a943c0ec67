"""A run trained on toy 2-D data (genzoo.data.toy2d): its samples as points over the true modes."""

from __future__ import annotations

from typing import Any

from genzoo.data.toy2d import mixture_extent, mixture_modes, point_mixture, sample_mixture
from genzoo.explore.server.run_state import ExploreRun
from genzoo.explore.server.validation import integer
from genzoo.metrics.modes import describe, mode_statistics, sample_points

MAX_POINTS = 5000


def mixture_of(run: ExploreRun) -> str:
    data = run.info.run_config.data
    return point_mixture(data.name, dict(data.options))


def game_settings(run: ExploreRun) -> dict[str, Any]:
    """The live game's settings that replay this run (its mixture, generator loss and k)."""
    config = run.model.config
    return {"mixture": mixture_of(run), "g_loss": getattr(config, "g_loss", "non-saturating"), "d_steps": getattr(config, "d_steps", 1)}


def points(run: ExploreRun, body: dict[str, Any]) -> dict[str, Any]:
    """{"n", "seed"} -> n samples and n real points (the test split's), the modes and their coverage."""
    n = integer(body, "n", 1000, low=1, high=MAX_POINTS)
    seed = integer(body, "seed", 0, low=0)
    mixture = mixture_of(run)
    fake = sample_points(run.model, mixture, n, seed=seed)  # (n, 2)
    real, _ = sample_mixture(mixture, n, 1)
    centres, std = mixture_modes(mixture)
    stats = mode_statistics(fake, centres, std)
    rounded = lambda values: [[round(float(a), 3), round(float(b), 3)] for a, b in values]  # noqa: E731
    return {"fake": rounded(fake), "real": rounded(real), "modes": rounded(centres), "extent": mixture_extent(mixture),
            "stats": describe(stats), "modes_covered": stats.modes_covered, "num_modes": stats.num_modes}
