"""Mode-coverage metrics (genzoo.metrics.modes) on hand-made point sets."""

from __future__ import annotations

import pytest
import torch

from genzoo.data.toy2d import mixture_modes
from genzoo.metrics.modes import (
    describe,
    high_quality_fraction,
    mode_counts,
    mode_statistics,
    modes_covered,
    nearest_modes,
    samples_needed_per_mode,
)

CENTRES = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])
STD = 0.1  # 3 std = 0.3


def test_nearest_modes_and_distances():
    points = torch.tensor([[0.1, 0.0], [1.9, 0.3], [1.0, 1.0]])
    index, distance = nearest_modes(points, CENTRES)
    assert index[:2].tolist() == [0, 1]
    assert distance.tolist() == pytest.approx([0.1, (0.01 + 0.09) ** 0.5, 2**0.5])


def test_high_quality_means_within_three_std_of_some_mode():
    points = torch.tensor([
        [0.29, 0.0],  # inside 3 std of mode 0
        [2.0, 0.31],  # just outside mode 1
        [1.0, 1.0],  # between all modes
        [2.1, 2.1],  # 0.141 from mode 3
    ])
    assert high_quality_fraction(points, CENTRES, STD) == pytest.approx(0.5)
    assert mode_counts(points, CENTRES, STD).tolist() == [1, 0, 0, 1]
    assert high_quality_fraction(points, CENTRES, STD, quality_stds=4.0) == pytest.approx(0.75)


def test_a_mode_counts_when_it_holds_a_fifth_of_its_expected_share():
    # 100 points, 4 modes: expected 25 each; covered at >= ceil(0.2 * 25) = 5 high-quality points.
    points = torch.cat([
        CENTRES[0].repeat(80, 1),
        CENTRES[1].repeat(5, 1) + 0.05,  # exactly enough
        CENTRES[2].repeat(4, 1),  # one short
        torch.full((11, 2), 1.0),  # junk between the modes
    ])
    stats = mode_statistics(points, CENTRES, STD)
    assert stats.counts == (80, 5, 4, 0)
    assert stats.modes_covered == 2
    assert stats.high_quality_fraction == pytest.approx(0.89)
    assert stats.num_modes == 4 and stats.num_samples == 100
    assert modes_covered(points, CENTRES, STD, min_share=0.16) == 3  # ceil(0.16 * 25) = 4 points suffice


def test_a_collapsed_generator_covers_one_mode_with_perfect_quality():
    centres, std = mixture_modes("ring")
    points = centres[3] + std * torch.randn(2500, 2, generator=torch.Generator().manual_seed(0)) * 0.5
    stats = mode_statistics(points, centres, std)
    assert stats.modes_covered == 1 and stats.high_quality_fraction == 1.0


def test_ring_and_grid_layouts():
    ring, ring_std = mixture_modes("ring")
    assert ring.shape == (8, 2) and ring_std == 0.02
    assert ring.norm(dim=1).tolist() == pytest.approx([2.0] * 8, abs=1e-6)
    grid, grid_std = mixture_modes("grid")
    assert grid.shape == (25, 2) and grid_std == 0.05
    assert sorted(set(grid[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="share D"):
        mode_statistics(torch.zeros(3, 3), CENTRES, STD)
    with pytest.raises(ValueError, match="at least one sample"):
        mode_statistics(torch.zeros(0, 2), CENTRES, STD)
    with pytest.raises(ValueError, match="min_share"):
        mode_statistics(torch.zeros(3, 2), CENTRES, STD, min_share=0.0)


def _ring_points(per_mode: list[int], spread: float = 1.0, seed: int = 0) -> torch.Tensor:
    """per_mode[k] points drawn around ring mode k with std `spread` x the mixture's: (sum, 2)."""
    centres, std = mixture_modes("ring")
    generator = torch.Generator().manual_seed(seed)
    return torch.cat([centres[k] + spread * std * torch.randn(count, 2, generator=generator) for k, count in enumerate(per_mode)])


def test_all_eight_ring_modes_covered_by_a_perfect_sampler():
    centres, std = mixture_modes("ring")
    stats = mode_statistics(_ring_points([250] * 8), centres, std)
    assert stats.modes_covered == 8 and stats.num_samples == 2000
    assert stats.high_quality_fraction == pytest.approx(0.989, abs=0.01)  # 1 - exp(-9/2) of a 2-D Gaussian
    assert all(235 <= count <= 250 for count in stats.counts), stats.counts
    assert describe(stats) == f"8 of 8 modes covered, high-quality share {stats.high_quality_fraction:.2f} (N=2000)"


def test_one_ring_mode_and_a_mode_just_below_the_threshold():
    centres, std = mixture_modes("ring")
    points = _ring_points([0, 0, 2000 - 49, 0, 0, 0, 0, 0], spread=0.5)
    straggler = centres[6] + torch.zeros(49, 2)  # 49 < ceil(0.2 * 2000 / 8) = 50: not covered
    stats = mode_statistics(torch.cat([points, straggler]), centres, std)
    assert samples_needed_per_mode(stats) == 50
    assert stats.counts[2] == 1951 and stats.counts[6] == 49
    assert stats.modes_covered == 1 and stats.high_quality_fraction == 1.0
    moved = torch.cat([points[1:], straggler, centres[6][None]])  # one point moved to mode 6: still N = 2000
    assert modes_covered(moved, centres, std) == 2  # its 50th point covers it


def test_no_mode_covered_when_every_sample_misses_by_more_than_three_std():
    centres, std = mixture_modes("ring")
    between = 1.5 * torch.stack([torch.cos(torch.arange(8) * 0.785 + 0.39), torch.sin(torch.arange(8) * 0.785 + 0.39)], 1)
    points = between.repeat(100, 1)  # (800, 2): midway in angle, inside the ring
    stats = mode_statistics(points, centres, std)
    assert stats.modes_covered == 0 and stats.high_quality_fraction == 0.0 and sum(stats.counts) == 0
    # the same points shifted onto the centres' 3-std boundary (just inside) all count again
    inside = centres.repeat(100, 1) + torch.tensor([2.99 * std, 0.0])
    assert mode_statistics(inside, centres, std).modes_covered == 8
