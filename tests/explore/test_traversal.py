"""Latent traversals and the 2-D manifold grid, for the vae (standard prior) and the ae (fitted Gaussian)."""

from __future__ import annotations

import pytest
import torch

from genzoo.data.format import DataFormat
from genzoo.explore.interpolation import interpolate_images
from genzoo.explore.sampling import to_display
from genzoo.explore.traversal import latent_manifold, normal_quantiles, traverse_latents
from genzoo.models import build_model_from_format

GRAY_8 = DataFormat(image_shape=(1, 8, 8), levels=256)


def build(name: str, data_format: DataFormat = GRAY_8, **options):
    torch.manual_seed(0)
    return build_model_from_format(name, data_format, {"architecture": "mlp", "hidden": 16, **options})


def test_normal_quantiles():
    q = normal_quantiles(3, 0.05, 0.95)
    assert torch.allclose(q, torch.tensor([-1.644854, 0.0, 1.644854]), atol=1e-5)
    with pytest.raises(ValueError, match="0 < low < high < 1"):
        normal_quantiles(5, 0.0, 0.9)


def test_vae_traversal_varies_one_coordinate_per_row():
    model = build("vae", latent_dim=3)
    x = torch.rand(1, 1, 8, 8)
    grid = traverse_latents(model, x=x, steps=5)
    assert grid.images.shape == (15, 1, 8, 8) and grid.images.dtype == torch.uint8 and grid.nrow == 5
    base = model.encode(x)[0]  # (3,)
    sweep = normal_quantiles(5)
    latents = grid.latents.view(3, 5, 3)  # (row, step, D)
    for row in range(3):
        others = [d for d in range(3) if d != row]
        assert torch.allclose(latents[row, :, row], sweep)
        assert torch.allclose(latents[row][:, others], base[others].expand(5, 2))
    assert torch.equal(grid.images, to_display(model.decode(grid.latents), GRAY_8))
    assert not torch.equal(grid.images[0], grid.images[4])  # the sweep changes the picture


def test_traversal_around_the_prior_mean_and_a_subset_of_dims():
    model = build("vae", latent_dim=4)
    grid = traverse_latents(model, dims=[2], steps=4, low=0.1, high=0.9)
    assert grid.latents.shape == (4, 4)
    assert torch.equal(grid.latents[:, [0, 1, 3]], torch.zeros(4, 3))
    assert torch.allclose(grid.latents[:, 2], normal_quantiles(4, 0.1, 0.9))
    with pytest.raises(ValueError, match="dims must be"):
        traverse_latents(model, dims=[4])


def test_ae_traversal_sweeps_the_fitted_gaussian():
    model = build("ae", latent_dim=2)
    model.latent_mean.copy_(torch.tensor([1.0, -2.0]))
    model.latent_covariance.copy_(torch.tensor([[4.0, 1.0], [1.0, 9.0]]))
    grid = traverse_latents(model, steps=3)
    q = normal_quantiles(3)
    assert torch.allclose(grid.latents[:3, 0], 1.0 + 2.0 * q) and torch.allclose(grid.latents[:3, 1], torch.full((3,), -2.0))
    assert torch.allclose(grid.latents[3:, 1], -2.0 + 3.0 * q) and torch.allclose(grid.latents[3:, 0], torch.full((3,), 1.0))
    manifold = latent_manifold(model, steps=3)
    cholesky = torch.linalg.cholesky(model.latent_covariance)
    standard = torch.linalg.solve_triangular(cholesky, (manifold.latents - model.latent_mean).T, upper=False).T  # back to quantiles
    assert torch.allclose(standard.view(3, 3, 2)[..., 0], q.expand(3, 3), atol=1e-4)  # columns sweep the first
    assert torch.allclose(standard.view(3, 3, 2)[..., 1], q[:, None].expand(3, 3), atol=1e-4)  # rows sweep the second


def test_vae_manifold_is_an_inverse_cdf_grid():
    model = build("vae", latent_dim=2)
    grid = latent_manifold(model, steps=4)
    assert grid.images.shape == (16, 1, 8, 8) and grid.nrow == 4
    q = normal_quantiles(4)
    latents = grid.latents.view(4, 4, 2)
    assert torch.allclose(latents[..., 0], q.expand(4, 4)) and torch.allclose(latents[..., 1], q[:, None].expand(4, 4))
    assert torch.equal(grid.images, to_display(model.decode(grid.latents), GRAY_8))
    with pytest.raises(ValueError, match="2-D latent"):
        latent_manifold(build("vae", latent_dim=3))


def test_conditional_traversal_uses_the_label():
    model = build("vae", DataFormat((1, 8, 8), levels=256, num_classes=3), latent_dim=2, conditional=True)
    first = traverse_latents(model, steps=3, label=0)
    second = traverse_latents(model, steps=3, label=2)
    assert torch.equal(first.latents, second.latents) and not torch.equal(first.images, second.images)


def test_interpolation_reuses_the_vae_encoder_and_decoder():
    model = build("vae", latent_dim=3).eval()
    x_a, x_b = torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 8)
    path = interpolate_images(model, x_a, x_b, steps=4).view(2, 4, 1, 8, 8)
    assert torch.allclose(path[:, 0], model.decode(model.encode(x_a)), atol=1e-6)
    assert torch.allclose(path[:, -1], model.decode(model.encode(x_b)), atol=1e-6)
