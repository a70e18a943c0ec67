"""The autoencoder's ex-post latent density (Ghosh et al. 2020): sampling from a collapsed latent."""

from __future__ import annotations

import pytest
import torch

from genzoo.data.format import DataFormat
from genzoo.models.registry import build_model_from_format


def tiny_autoencoder() -> torch.nn.Module:
    return build_model_from_format("ae", DataFormat((1, 28, 28), None), {"latent_dim": 4, "channels": 4, "downsamples": 2})


def collapsed_autoencoder() -> tuple[torch.nn.Module, torch.Tensor]:
    """An autoencoder whose training codes all lay on one line (scale ~300): a rank-1 covariance."""
    torch.manual_seed(0)
    model = tiny_autoencoder().train()
    direction = torch.tensor([1.0, 2.0, 3.0, 4.0])
    for _ in range(2000):  # the running moments forget their identity start
        model._update_latent_moments(torch.randn(64, 1) * 300 * direction)  # (64, 4)
    return model.eval(), direction / direction.norm()


def test_a_collapsed_latent_still_samples_inside_the_codes_subspace():
    model, direction = collapsed_autoencoder()
    covariance = model.latent_covariance
    jitter = 1e-5 * torch.eye(4)
    assert int(torch.linalg.cholesky_ex(covariance + jitter).info) != 0  # plain Cholesky fails on this covariance
    z = model.sample_latent(4000, generator=torch.Generator().manual_seed(1))  # (4000, 4)
    assert torch.isfinite(z).all()
    centred = z - model.latent_mean  # (4000, 4)
    along = centred @ direction  # (4000,)
    off_line = centred - along[:, None] * direction  # (4000, 4)
    assert off_line.norm(dim=1).max() < 1e-3 * along.abs().max()  # no variance where the codes had none
    assert along.var().item() == pytest.approx((direction @ covariance @ direction).item(), rel=0.1)
    images = model.sample(3, generator=torch.Generator().manual_seed(2))  # (3, 1, 28, 28)
    assert torch.isfinite(images).all()


def test_a_healthy_covariance_keeps_its_cholesky_factor():
    model = tiny_autoencoder()
    a = torch.randn(4, 4, generator=torch.Generator().manual_seed(0))
    model.latent_covariance.copy_(a @ a.T + 0.5 * torch.eye(4))
    expected = torch.linalg.cholesky(model.latent_covariance + 1e-5 * torch.eye(4))
    assert torch.allclose(model.latent_covariance_factor(), expected, atol=1e-6)


def test_non_finite_latent_moments_say_so():
    model = tiny_autoencoder()
    model.latent_covariance[0, 0] = float("nan")
    with pytest.raises(ValueError, match="running moments of the latent codes are not finite"):
        model.sample(2)
