"""The slider bases (one per dimension, PCA of codes, GANSpace) and the decode batcher under concurrent requests."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import torch

import genzoo
from genzoo.explore.server.compute import DecodeBatcher, Workers
from genzoo.explore.server.latent import (
    SliderBasis, code_pca_basis, dimension_basis, first_hidden_activation, ganspace_basis,
)


def test_dimension_sliders_span_the_latent_distribution():
    uniform = genzoo.build_model("dcgan", (1, 8, 8), latent_dim=3, generator_channels=4, discriminator_channels=4)
    basis = dimension_basis(uniform)
    assert basis.ranges.tolist() == [[-1, 1]] * 3 and "uniform prior" in basis.note
    ae = genzoo.build_model("ae", (1, 8, 8), latent_dim=2, architecture="mlp", hidden=8)
    ae.latent_mean.copy_(torch.tensor([1.0, -2.0]))
    ae.latent_covariance.copy_(torch.tensor([[4.0, 0.5], [0.5, 0.25]]))
    fitted = dimension_basis(ae, order=[1, 0], labels=["z1", "z0"])
    assert fitted.mean.tolist() == [1.0, -2.0] and fitted.directions.tolist() == [[0, 1], [1, 0]]
    assert np.allclose(fitted.ranges.numpy(), [[-1.5, 1.5], [-6.0, 6.0]])  # +-3 std of z1, then z0


def test_pca_of_codes_finds_the_axes_of_a_known_gaussian():
    generator = torch.Generator().manual_seed(0)
    rotation, _ = torch.linalg.qr(torch.randn(6, 6, generator=generator))
    stds = torch.tensor([5.0, 3.0, 2.0, 0.5, 0.2, 0.1])
    codes = 7.0 + (torch.randn(20_000, 6, generator=generator) * stds) @ rotation.T  # axes: rotation's columns
    basis = code_pca_basis(codes, count=3)
    cosines = (basis.directions @ rotation[:, :3]).abs().diagonal()
    assert cosines.min() > 0.99 and np.allclose(basis.ranges[:, 1].numpy(), 3 * stds[:3].numpy(), rtol=0.03)
    assert np.allclose(basis.mean.numpy(), 7.0, atol=0.1) and "PCA of the codes of 20000 test images" in basis.note


def test_slider_coordinates_rebuild_any_code_for_a_skewed_basis():
    directions = torch.tensor([[1.0, 1.0, 0.0], [0.0, 2.0, 1.0]])
    basis = SliderBasis("principal", torch.tensor([0.5, 0.0, -1.0]), directions, torch.ones(2, 2), ("a", "b"), "")
    z = torch.tensor([3.0, -2.0, 4.0])
    c, base = basis.coefficients(z)
    assert torch.allclose(base + c @ directions, z, atol=1e-5)
    on_span = basis.mean + torch.tensor([0.7, -1.3]) @ directions
    assert torch.allclose(basis.coefficients(on_span)[0], torch.tensor([0.7, -1.3]), atol=1e-5)


def test_ganspace_directions_move_their_own_principal_component():
    torch.manual_seed(0)
    model = genzoo.build_model("dcgan", (1, 16, 16), latent_dim=12, generator_channels=4, discriminator_channels=4).eval()
    basis = ganspace_basis(model, count=4, samples=1000)
    assert basis.directions.shape == (4, 12) and basis.labels == ("PC1", "PC2", "PC3", "PC4")
    z = model.sample_latent(1000, generator=torch.Generator().manual_seed(0))  # the samples the directions were fitted on
    with torch.no_grad():
        features = first_hidden_activation(model, z)
        _, _, axes = torch.linalg.svd(features - features.mean(0), full_matrices=False)
        for k in range(2):
            step = basis.ranges[k, 1] / 3  # one standard deviation along direction k
            moved = first_hidden_activation(model, z + step * basis.directions[k]) - features  # (N, F)
            change = (moved @ axes[:4].T).abs().mean(0)  # mean |change| of each of the top 4 principal coordinates
            assert int(change.argmax()) == k and change[k] > 2 * np.delete(change.numpy(), k).max()


def test_concurrent_decodes_are_batched_and_each_gets_its_own_image():
    calls = []

    def decode_batch(z: torch.Tensor, labels):  # the "image" of z is z's first coordinate, repeated
        calls.append(len(z))
        return z[:, :1, None, None].expand(-1, 1, 2, 2).mul(10).to(torch.uint8)

    async def many() -> list[torch.Tensor]:
        batcher = DecodeBatcher(decode_batch, Workers(), max_batch=64)
        return await asyncio.gather(*(batcher.decode(torch.tensor([float(k % 20), 0.0])) for k in range(300)))

    images = asyncio.run(many())
    assert [int(image[0, 0, 0]) for image in images] == [10 * (k % 20) for k in range(300)]
    assert sum(calls) == 300 and len(calls) <= 6 and max(calls) <= 64  # a few passes, not 300


def test_a_failing_decode_reaches_every_waiting_request():
    def broken(z, labels):
        raise RuntimeError("out of memory")

    async def two() -> list:
        batcher = DecodeBatcher(broken, Workers())
        return await asyncio.gather(batcher.decode(torch.zeros(2)), batcher.decode(torch.zeros(2)), return_exceptions=True)

    assert [str(error) for error in asyncio.run(two())] == ["out of memory", "out of memory"]


@pytest.mark.parametrize("model_name, options, width", [
    ("vae", {"latent_dim": 3, "architecture": "mlp", "hidden": 7}, 7), ("gan", {"latent_dim": 3, "generator_hidden": [5]}, 5),
])
def test_the_first_hidden_activation_is_the_first_layer_after_z(model_name, options, width):
    model = genzoo.build_model(model_name, (1, 8, 8), **options).eval()
    with torch.no_grad():
        assert first_hidden_activation(model, torch.zeros(4, 3)).shape == (4, width)
