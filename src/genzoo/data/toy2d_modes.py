"""Mode coverage of 2-D points against a known Gaussian mixture (the toy GAN diagnostics).

The measures of Srivastava et al. 2017 (VEEGAN, Sec. 5.1) and Lin et al. 2018 (PacGAN,
Sec. 5), on the ring of 8 and the grid of 25 Gaussians (`genzoo.data.toy2d`):
  - a sample is *high quality* when it lies within 3 std of the nearest mode centre;
  - a mode is *covered* when at least `min_share` of its expected count (N / K samples out of
    N) are high-quality samples registered to it. PacGAN counts a mode as lost below 20 of the
    expected 100 (2500 samples, 25 modes): min_share = 0.2, the default.
For an isotropic 2-D Gaussian, 98.9% of the mass lies within 3 std of its centre
(1 - exp(-9/2)), so perfect samples score about 0.99, not 1.
Pure functions on points: points and centres in, numbers out (the trainer logs them while a
toy run trains; `genzoo.metrics.modes` draws the points from a trained model).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

QUALITY_STDS = 3.0
MIN_SHARE = 0.2


@dataclass(frozen=True)
class ModeStatistics:
    modes_covered: int
    num_modes: int
    high_quality_fraction: float  # share of samples within `quality_stds` std of some mode
    counts: tuple[int, ...]  # high-quality samples registered to each mode
    num_samples: int



def _check(points: torch.Tensor, centres: torch.Tensor) -> None:
    if points.dim() != 2 or centres.dim() != 2 or points.shape[1] != centres.shape[1]:
        raise ValueError(f"points (N, D) and centres (K, D) must share D, got {tuple(points.shape)} and {tuple(centres.shape)}")
    if len(centres) == 0:
        raise ValueError("need at least one mode centre")


def nearest_modes(points: torch.Tensor, centres: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Index (N,) of each point's nearest centre and the Euclidean distance (N,) to it."""
    _check(points, centres)
    distances = torch.cdist(points.double(), centres.double())  # (N, K)
    distance, index = distances.min(1)
    return index, distance


def high_quality_mask(points: torch.Tensor, centres: torch.Tensor, std: float, quality_stds: float = QUALITY_STDS) -> torch.Tensor:
    """Boolean (N,): the point lies within quality_stds * std of its nearest centre."""
    _, distance = nearest_modes(points, centres)
    return distance <= quality_stds * std


def high_quality_fraction(points: torch.Tensor, centres: torch.Tensor, std: float, quality_stds: float = QUALITY_STDS) -> float:
    """Share of points within quality_stds * std of some mode (VEEGAN's "high quality samples")."""
    if len(points) == 0:
        raise ValueError("need at least one sample")
    return float(high_quality_mask(points, centres, std, quality_stds).double().mean())


def mode_counts(points: torch.Tensor, centres: torch.Tensor, std: float, quality_stds: float = QUALITY_STDS) -> torch.Tensor:
    """High-quality points registered to each mode: int64 (K,)."""
    index, distance = nearest_modes(points, centres)
    good = distance <= quality_stds * std
    return torch.bincount(index[good], minlength=len(centres))


def modes_covered(
    points: torch.Tensor, centres: torch.Tensor, std: float, *, min_share: float = MIN_SHARE, quality_stds: float = QUALITY_STDS
) -> int:
    """Number of modes with at least ceil(min_share * N / K) high-quality points (PacGAN's criterion)."""
    return mode_statistics(points, centres, std, min_share=min_share, quality_stds=quality_stds).modes_covered


def mode_statistics(
    points: torch.Tensor, centres: torch.Tensor, std: float, *, min_share: float = MIN_SHARE, quality_stds: float = QUALITY_STDS
) -> ModeStatistics:
    """Modes covered, high-quality fraction and per-mode counts of N points (N, 2) against centres (K, 2)."""
    if len(points) == 0:
        raise ValueError("need at least one sample")
    if not 0.0 < min_share <= 1.0:
        raise ValueError(f"min_share must be in (0, 1], got {min_share}")
    counts = mode_counts(points, centres, std, quality_stds)
    needed = max(1, math.ceil(min_share * len(points) / len(centres)))
    return ModeStatistics(
        modes_covered=int((counts >= needed).sum()),
        num_modes=len(centres),
        high_quality_fraction=float(counts.sum()) / len(points),
        counts=tuple(int(c) for c in counts),
        num_samples=len(points),
    )


def samples_needed_per_mode(stats: ModeStatistics, min_share: float = MIN_SHARE) -> int:
    """High-quality samples a mode needs to count as covered: ceil(min_share * N / K), at least 1."""
    return max(1, math.ceil(min_share * stats.num_samples / stats.num_modes))


def describe(stats: ModeStatistics) -> str:
    """"7 of 8 modes covered, high-quality share 0.62 (N=2500)": the figures a plot title or a report line states."""
    return (
        f"{stats.modes_covered} of {stats.num_modes} modes covered, "
        f"high-quality share {stats.high_quality_fraction:.2f} (N={stats.num_samples})"
    )
