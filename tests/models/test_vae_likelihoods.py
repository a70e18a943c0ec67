"""Decoder likelihoods p(x|z) of the VAE normalise over tiny value spaces (genzoo.nn.latent)."""

from __future__ import annotations

import math

import pytest
import torch

from genzoo.nn.latent import (
    BernoulliLikelihood,
    DiscretizedLogisticLikelihood,
    GaussianLikelihood,
    build_decoder_likelihood,
)


def random_params(count: int, p: int, seed: int = 0, scale: float = 2.0) -> torch.Tensor:
    """(count, P, 1, 1, 1): one sub-pixel's parameters per row."""
    return scale * torch.randn(count, p, 1, 1, 1, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("levels", [2, 5, 256])
@pytest.mark.parametrize("value_range", [(0.0, 1.0), (-1.0, 1.0)])
def test_discretized_logistic_sums_to_one_over_the_levels(levels, value_range):
    likelihood = DiscretizedLogisticLikelihood(value_range, levels)
    params = random_params(7, 2)
    params[:, 1] -= 3.0  # include sharp distributions, where bins lose precision
    low, high = value_range
    values = low + (high - low) * torch.arange(levels, dtype=torch.float64) / (levels - 1)  # (L,)
    every = likelihood.log_prob(params.repeat_interleave(levels, 0), values.repeat(7).view(-1, 1, 1, 1))  # (7 * L, 1, 1, 1)
    log_probs = every.view(7, levels, 1, 1, 1).movedim(1, -1)  # (7, 1, 1, 1, L)
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(7, 1, 1, 1, dtype=torch.float64), atol=1e-9)
    # the mean is the probability-weighted average of the levels, in the value range
    expected_mean = (log_probs.exp() * values).sum(-1)
    assert torch.allclose(likelihood.mean(params), expected_mean, atol=1e-9)


def test_discretized_logistic_samples_follow_the_probabilities():
    likelihood = DiscretizedLogisticLikelihood((0.0, 1.0), 4)
    params = torch.tensor([[0.2, -1.0]], dtype=torch.float64).view(1, 2, 1, 1, 1).expand(20000, 2, 1, 1, 1)
    draws = likelihood.sample(params, torch.Generator().manual_seed(0))  # (N, 1, 1, 1)
    values = torch.arange(4, dtype=torch.float64) / 3
    frequencies = torch.stack([(draws == v).double().mean() for v in values])
    probabilities = torch.stack([likelihood.log_prob(params[:1], v.view(1, 1, 1, 1)).exp().squeeze() for v in values])
    assert torch.allclose(frequencies, probabilities, atol=0.015)


def test_bernoulli_sums_to_one():
    likelihood = BernoulliLikelihood((0.0, 1.0))
    params = random_params(9, 1)
    total = likelihood.log_prob(params, torch.zeros(9, 1, 1, 1)).exp() + likelihood.log_prob(params, torch.ones(9, 1, 1, 1)).exp()
    assert torch.allclose(total, torch.ones_like(total), atol=1e-12)
    assert torch.allclose(likelihood.mean(params), likelihood.log_prob(params, torch.ones(9, 1, 1, 1)).exp())


@pytest.mark.parametrize("learned", [True, False])
def test_gaussian_integrates_to_one(learned):
    likelihood = GaussianLikelihood((0.0, 1.0), learned=learned, fixed_std=0.1)
    params = random_params(5, likelihood.params_per_subpixel, scale=1.0)
    grid = torch.linspace(-15.0, 15.0, 300_001, dtype=torch.float64)  # (G,)
    densities = torch.stack([likelihood.log_prob(params[i : i + 1].expand(len(grid), -1, 1, 1, 1), grid.view(-1, 1, 1, 1)).exp().flatten()
                             for i in range(5)])  # (5, G)
    integrals = torch.trapezoid(densities, grid, dim=1)
    assert torch.allclose(integrals, torch.ones(5, dtype=torch.float64), atol=1e-6)
    if not learned:
        peak = likelihood.log_prob(params[:1], likelihood.mean(params[:1])).exp().item()
        assert peak == pytest.approx(1.0 / (0.1 * math.sqrt(2 * math.pi)))


def test_auto_decoder_choice_and_errors():
    assert isinstance(build_decoder_likelihood("auto", 2, (0.0, 1.0)), BernoulliLikelihood)
    assert isinstance(build_decoder_likelihood("auto", 256, (0.0, 1.0)), DiscretizedLogisticLikelihood)
    assert isinstance(build_decoder_likelihood("auto", None, (0.0, 1.0)), GaussianLikelihood)
    with pytest.raises(ValueError, match="continuous"):
        build_decoder_likelihood("logistic", None, (0.0, 1.0))
    with pytest.raises(ValueError, match="choose one of"):
        build_decoder_likelihood("laplace", 2, (0.0, 1.0))
