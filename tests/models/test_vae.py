"""The VAE: the KL term, warm-up, conditioning, learning, and config errors."""

from __future__ import annotations

import math

import pytest
import torch

from genzoo.data.format import DataFormat
from genzoo.errors import ConfigError
from genzoo.models import build_model_from_format, model_class
from genzoo.nn.latent import (
    diagonal_gaussian_log_prob,
    gaussian_kl_to_standard_normal,
    reparameterize,
    standard_normal_log_prob,
)

BINARY_8 = DataFormat(image_shape=(1, 8, 8), levels=2)
LABELLED_8 = DataFormat(image_shape=(1, 8, 8), levels=2, num_classes=3)



def tiny_vae(data_format: DataFormat = BINARY_8, **options):
    torch.manual_seed(0)
    defaults = {"latent_dim": 4, "channels": 8, "hidden": 32}
    return build_model_from_format("vae", data_format, {**defaults, **options})


def binary_patterns(count: int, seed: int = 0) -> torch.Tensor:
    """Images made of a few random 2x2-block patterns: (count, 1, 8, 8) in {0, 1}."""
    generator = torch.Generator().manual_seed(seed)
    prototypes = (torch.rand(4, 1, 4, 4, generator=generator) > 0.5).float()
    blocks = prototypes[torch.arange(count) % 4]
    return blocks.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)


def test_analytic_kl_matches_monte_carlo():
    generator = torch.Generator().manual_seed(0)
    mu = torch.randn(3, 5, generator=generator)
    log_var = torch.randn(3, 5, generator=generator)
    noise = torch.randn(200_000, 3, 5, generator=generator)
    z = reparameterize(mu, log_var, noise)  # (S, B, D)
    monte_carlo = (diagonal_gaussian_log_prob(z, mu, log_var) - standard_normal_log_prob(z)).mean(0)  # (B,)
    analytic = gaussian_kl_to_standard_normal(mu, log_var)
    assert analytic.shape == (3,)
    assert torch.allclose(monte_carlo, analytic, atol=0.05, rtol=0.01), (monte_carlo, analytic)
    assert torch.allclose(gaussian_kl_to_standard_normal(torch.zeros(2, 4), torch.zeros(2, 4)), torch.zeros(2))


def test_loss_parts_add_up_and_beta_weights_the_kl():
    model = tiny_vae(beta=4.0)
    x = binary_patterns(6)
    torch.manual_seed(1)
    out = model.loss(x)
    assert set(out) >= {"loss", "neg_elbo", "recon", "kl", "bits_per_dim"}
    assert torch.allclose(out["neg_elbo"], out["recon"] + out["kl"])
    assert torch.allclose(out["loss"], out["recon"] + 4.0 * out["kl"])
    assert (out["kl"] >= 0).all()
    assert torch.allclose(out["bits_per_dim"], out["neg_elbo"] / (64 * math.log(2)))
    assert model_class("vae").selection_metric in model.evaluate(x)


def test_kl_warmup_schedule():
    model = tiny_vae(beta=2.0, kl_warmup_steps=100)
    assert float(model.kl_weight) == 0.0  # before the first step
    expected = {0: 0.0, 25: 0.5, 50: 1.0, 100: 2.0, 1000: 2.0}
    for step, weight in expected.items():
        model.on_train_step(step)
        assert float(model.kl_weight) == pytest.approx(weight)
        torch.manual_seed(3)
        out = model.loss(binary_patterns(4))
        assert torch.allclose(out["loss"], out["recon"] + weight * out["kl"])
    assert float(tiny_vae(beta=2.0).kl_weight) == 2.0  # no warm-up: full beta from the start


def test_reconstruction_error_falls_on_a_tiny_dataset():
    model = tiny_vae(architecture="mlp", latent_dim=8)  # conv learning is covered by the contract tests
    x = binary_patterns(16)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    torch.manual_seed(0)
    initial = model.loss(x)["recon"].mean().item()
    for _ in range(150):
        optimizer.zero_grad()
        model.loss(x)["loss"].mean().backward()
        optimizer.step()
    model.eval()
    final = model.loss(x)["recon"].mean().item()
    assert final < 0.3 * initial, f"reconstruction nll fell only from {initial:.3g} to {final:.3g}"
    decoded = model.decode(model.encode(x))
    assert ((decoded > 0.5).float() == x).float().mean() > 0.95


def test_conditional_vae_uses_the_labels():
    model = tiny_vae(LABELLED_8, conditional=True)
    assert model.capabilities.label_conditional and not tiny_vae().capabilities.label_conditional
    assert model_class("vae").capabilities.label_conditional  # the family can
    z = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))
    first = model.decode(z, torch.tensor([0, 0, 0]))
    second = model.decode(z, torch.tensor([1, 1, 1]))
    assert (first - second).abs().max() > 1e-4
    x = binary_patterns(3)
    assert not torch.allclose(model.encode(x, torch.tensor([0, 1, 2])), model.encode(x, torch.tensor([2, 2, 2])))
    with pytest.raises(ValueError, match="pass labels"):
        model.loss(x)
    with pytest.raises(ValueError, match="labels must lie"):
        model.decode(z, torch.tensor([0, 1, 3]))
    samples = model.sample(6, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (6, 1, 8, 8)


def test_conditional_needs_labelled_data():
    with pytest.raises(ConfigError, match="num_classes"):
        tiny_vae(BINARY_8, conditional=True)


def test_decoder_choice_follows_the_data():
    assert type(tiny_vae(BINARY_8).likelihood).__name__ == "BernoulliLikelihood"
    assert type(tiny_vae(DataFormat((1, 8, 8), levels=256)).likelihood).__name__ == "DiscretizedLogisticLikelihood"
    assert type(tiny_vae(DataFormat((1, 8, 8), levels=None)).likelihood).__name__ == "GaussianLikelihood"
    with pytest.raises(ConfigError, match="binarized"):
        tiny_vae(DataFormat((1, 8, 8), levels=256), decoder="bernoulli")
    with pytest.raises(ConfigError, match="choose one of"):
        tiny_vae(decoder="poisson")


def test_sample_temperature_zero_decodes_the_prior_mean():
    model = tiny_vae().eval()
    samples = model.sample(2, temperature=0.0)
    assert torch.allclose(samples, model.decode(torch.zeros(2, 4)))
    drawn = tiny_vae(sample_pixels=True).eval().sample(5, generator=torch.Generator().manual_seed(0))
    assert set(drawn.unique().tolist()) <= {0.0, 1.0}
