"""Mode coverage of samples drawn from a model trained on a toy 2-D mixture.

The statistics themselves (VEEGAN's high-quality share, PacGAN's modes covered) are pure
functions on points in `genzoo.data.toy2d_modes`, re-exported here; this module draws the
points from a trained model (eval mode, seeded).
"""

from __future__ import annotations

import torch

from genzoo.data.toy2d import mixture_extent, mixture_modes, to_points
from genzoo.data.toy2d_modes import (  # noqa: F401  (re-exported: the metric's public names)
    MIN_SHARE,
    QUALITY_STDS,
    ModeStatistics,
    describe,
    high_quality_fraction,
    high_quality_mask,
    mode_counts,
    mode_statistics,
    modes_covered,
    nearest_modes,
    samples_needed_per_mode,
)
from genzoo.models.base import GenerativeModel


@torch.no_grad()
def sample_points(
    model: GenerativeModel, mixture: str, n: int, *, seed: int = 0, temperature: float = 1.0, labels: torch.Tensor | None = None
) -> torch.Tensor:
    """n samples (eval mode, seeded) of a model trained on toy2d `mixture`, as points (n, 2) on the CPU."""
    was_training = model.training
    model.eval()
    try:
        generator = torch.Generator(device=model.device).manual_seed(seed)
        labels = None if labels is None else labels.to(model.device)
        samples = model.sample(n, labels=labels, temperature=temperature, generator=generator)  # (n, 1, 1, 2) in the model's value range
    finally:
        model.train(was_training)
    return to_points(samples.float().cpu(), mixture_extent(mixture), model.data_format.value_range)  # (n, 2)


def sampled_mode_statistics(
    model: GenerativeModel, mixture: str, *, n: int = 2500, seed: int = 0, min_share: float = MIN_SHARE
) -> ModeStatistics:
    """mode_statistics of n samples (eval mode, seeded) of a model trained on toy2d `mixture`.

    n = 2500 follows PacGAN (100 expected per mode of the 25-grid).
    """
    centres, std = mixture_modes(mixture)
    return mode_statistics(sample_points(model, mixture, n, seed=seed), centres, std, min_share=min_share)
