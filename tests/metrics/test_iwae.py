"""ELBO and IWAE bounds (Burda et al. 2016) against log p(x) integrated numerically, and bits/dim."""

from __future__ import annotations

import math

import pytest
import torch

from genzoo.data.format import DataFormat
from genzoo.metrics.iwae import bits_per_dim, discrete_nll_from_density, iwae_log_likelihood, likelihood_bounds
from genzoo.models import build_model_from_format
from genzoo.nn.latent import standard_normal_log_prob

TINY_BINARY = DataFormat(image_shape=(1, 2, 2), levels=2)
# Every 1x2x2 binary image, (16, 1, 2, 2): the whole data space.
ALL_IMAGES = torch.tensor([[(i >> j) & 1 for j in range(4)] for i in range(16)], dtype=torch.float32).view(16, 1, 2, 2)


@pytest.fixture(scope="module")
def one_d_vae():
    """A VAE with a 1-D latent, trained briefly on 4 of the 16 images so that q(z|x) is informative."""
    torch.manual_seed(0)
    model = build_model_from_format("vae", TINY_BINARY, {"architecture": "mlp", "latent_dim": 1, "hidden": 16})
    data = ALL_IMAGES[torch.tensor([0, 15, 3, 12])].repeat(8, 1, 1, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    with torch.random.fork_rng():
        torch.manual_seed(1)
        for _ in range(300):
            optimizer.zero_grad()
            model.loss(data)["loss"].mean().backward()
            optimizer.step()
    return model.eval()


def log_marginal_by_quadrature(model, images: torch.Tensor) -> torch.Tensor:
    """log p(x) = log integral p(x|z) N(z; 0, 1) dz on a dense grid of the 1-D latent: (B,), float64."""
    model = model.double()
    try:
        z = torch.linspace(-10.0, 10.0, 40_001, dtype=torch.float64)  # (G,)
        with torch.no_grad():
            params = model.decoder_params(z[:, None])  # (G, P, C, H, W)
            grid, batch = len(z), len(images)
            log_likelihood = model.likelihood.log_prob(
                params.repeat_interleave(batch, 0), images.double().repeat(grid, 1, 1, 1)
            ).flatten(1).sum(1).view(grid, batch)  # (G, B)
            joint = log_likelihood + standard_normal_log_prob(z[:, None])[:, None]  # (G, B)
            weights = torch.full((grid, 1), float(z[1] - z[0]), dtype=torch.float64)
            weights[[0, -1]] /= 2  # trapezoid rule
            return torch.logsumexp(joint + weights.log(), dim=0)
    finally:
        model.float()


def test_marginal_of_the_model_sums_to_one(one_d_vae):
    """Check of the quadrature itself: p(x) summed over the whole 16-image space is 1."""
    log_p = log_marginal_by_quadrature(one_d_vae, ALL_IMAGES)
    assert log_p.exp().sum().item() == pytest.approx(1.0, abs=1e-6)


def test_iwae_converges_to_log_marginal(one_d_vae):
    log_p = log_marginal_by_quadrature(one_d_vae, ALL_IMAGES).float()
    bounds = likelihood_bounds(one_d_vae, ALL_IMAGES, k=5000, chunk=1000, generator=torch.Generator().manual_seed(0))
    elbo_gap = (log_p - bounds["elbo"]).mean().item()
    iwae_error = (bounds["iwae"] - log_p).abs()
    assert elbo_gap > 0.3, "the ELBO should be visibly loose for this model, or the test proves nothing"
    assert iwae_error.mean().item() < 0.05, f"IWAE-5000 misses log p(x) by {iwae_error.mean().item():.3f} nats on average"
    assert iwae_error.max().item() < 0.25


def test_iwae_is_at_least_the_elbo_per_image(one_d_vae):
    bounds = likelihood_bounds(one_d_vae, ALL_IMAGES, k=20, chunk=6, generator=torch.Generator().manual_seed(0))
    assert bounds["elbo"].shape == bounds["iwae"].shape == (16,)
    assert (bounds["iwae"] >= bounds["elbo"] - 1e-5).all()
    assert (bounds["iwae"] > bounds["elbo"] + 1e-3).any()
    single = likelihood_bounds(one_d_vae, ALL_IMAGES, k=1, chunk=1, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(single["iwae"], single["elbo"])  # L_1 is the ELBO


def test_iwae_increases_with_k_on_average(one_d_vae):
    images = ALL_IMAGES.repeat(4, 1, 1, 1)
    means = []
    for k in (1, 5, 50):
        estimates = [likelihood_bounds(one_d_vae, images, k=k, chunk=50, generator=torch.Generator().manual_seed(seed))["iwae"]
                     for seed in range(5)]
        means.append(torch.stack(estimates).mean().item())
    assert means[0] < means[1] < means[2], means


def test_chunked_equals_unchunked(one_d_vae):
    whole = likelihood_bounds(one_d_vae, ALL_IMAGES, k=60, chunk=60, generator=torch.Generator().manual_seed(3))
    chunked = likelihood_bounds(one_d_vae, ALL_IMAGES, k=60, chunk=7, generator=torch.Generator().manual_seed(3))
    for key in ("elbo", "iwae"):
        assert torch.allclose(whole[key], chunked[key], atol=1e-5)
    through_model = one_d_vae.log_prob(ALL_IMAGES, k=60, chunk=13, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(through_model, whole["iwae"], atol=1e-5)
    assert torch.allclose(iwae_log_likelihood(one_d_vae, ALL_IMAGES, k=60, chunk=60, generator=torch.Generator().manual_seed(3)), whole["iwae"])


def test_bounds_on_a_conv_vae_with_8_bit_data():
    torch.manual_seed(0)
    model = build_model_from_format("vae", DataFormat((3, 8, 8), levels=256), {"latent_dim": 3, "channels": 4, "downsamples": 1})
    x = torch.randint(0, 256, (2, 3, 8, 8)).float() / 255
    bounds = likelihood_bounds(model, x, k=8, chunk=3)
    assert (bounds["iwae"] >= bounds["elbo"] - 1e-4).all()
    assert (bounds["iwae"] < 0).all()  # a probability of discrete data: log p < 0
    assert model.training  # restored


def test_bits_per_dim_conversions():
    assert bits_per_dim(torch.tensor([64 * math.log(2.0)]), 64).item() == pytest.approx(1.0)
    # a uniform density on [0, 1) is the uniform distribution over 256 levels: 8 bits/dim
    assert bits_per_dim(discrete_nll_from_density(0.0, 10, levels=256), 10) == pytest.approx(8.0)
    # values in [-1, 1] (width 2): bins are twice as wide, the density half as high
    assert discrete_nll_from_density(-10 * math.log(0.5), 10, levels=256, value_width=2.0) == pytest.approx(10 * math.log(256))
