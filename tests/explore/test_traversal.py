"""Latent traversals and the 2-D manifold grid, for the vae (standard prior) and the ae (fitted Gaussian)."""

from __future__ import annotations

import pytest
import torch
from genzoo_testing.tiny_models import fix_posterior_means

from genzoo.data.format import DataFormat
from genzoo.explore.interpolation import interpolate_images
from genzoo.explore.sampling import to_display
from genzoo.explore.traversal import dimension_label, dims_to_show, latent_manifold, normal_quantiles, traverse_latents
from genzoo.metrics.latent_usage import latent_usage
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


# ---- which rows to show, and their labels ------------------------------------------------
def vae_using_dims(scales: list[float]):
    """An mlp VAE whose posterior mean is mu_u = scales[u] * silu(4 mean(x) - 2), sigma = 1."""
    model = build("vae", latent_dim=len(scales))
    fix_posterior_means(model, scales)
    return model


def flat_images(n: int = 64) -> torch.Tensor:
    low, high = GRAY_8.value_range
    return torch.linspace(low, high, n)[:, None, None, None].expand(n, 1, 8, 8).clone()  # (n, 1, 8, 8)


def test_traversal_rows_are_the_active_dims_by_kl_with_labels():
    model = vae_using_dims([0.0, 0.5, 0.0, 2.0, 0.05, 1.0])
    usage = latent_usage(model, flat_images())
    dims = dims_to_show(usage)
    assert dims == [3, 5, 1]  # active (variance > 0.01), highest KL first; dim 4 (variance ~0.001) left out
    grid = traverse_latents(model, dims=dims, steps=5, usage=usage)
    assert len(grid.row_labels) == 3 and grid.nrow == 5
    for label, d in zip(grid.row_labels, dims):
        assert label == f"z{d}  KL {float(usage.kl_nats[d]):.2f}"
    kl_in_labels = [float(label.split("KL ")[1]) for label in grid.row_labels]
    assert kl_in_labels == sorted(kl_in_labels, reverse=True) and kl_in_labels[0] > 0.1
    assert grid.column_labels == ("-1.64", "-0.60", "0.00", "0.60", "1.64")  # Phi^-1(p), p = 0.05, 0.275, ..., 0.95
    assert torch.allclose(grid.latents.view(3, 5, 6)[1, :, 5], normal_quantiles(5))  # row 1 sweeps dim 5


def test_too_few_active_dims_show_every_dim_by_kl_at_most_sixteen():
    one_active = latent_usage(vae_using_dims([0.0, 0.0, 1.0, 0.0]), flat_images())
    assert dims_to_show(one_active) == [2, 0, 1, 3]  # one active: all shown, the active one first
    many = latent_usage(vae_using_dims([0.2 * (u + 1) for u in range(20)]), flat_images())
    assert many.num_active == 20 and dims_to_show(many) == list(range(19, 3, -1))  # the 16 with the highest KL
    assert dimension_label(7) == "z7"


def test_manifold_labels_name_both_axes_with_their_values():
    grid = latent_manifold(build("vae", latent_dim=2), steps=3)
    assert grid.column_labels == ("-1.64", "0.00", "1.64") and grid.row_labels == ("-1.64", "0.00", "1.64")
    assert grid.column_title.startswith("z0") and grid.row_title.startswith("z1")
