"""Active units and KL per dimension: constructed cases with known answers, and a VAE whose weights set them."""

from __future__ import annotations

import math

import pytest
import torch
from genzoo_testing.tiny_models import fix_posterior_means

from genzoo.data.format import DataFormat
from genzoo.metrics.latent_usage import (
    active_units,
    activity,
    kl_per_dimension,
    latent_usage,
    latent_usage_metrics,
    usage_line,
    usage_summary,
)
from genzoo.models import build_model_from_format
from genzoo.nn.latent import gaussian_kl_to_standard_normal

GRAY_8 = DataFormat(image_shape=(1, 8, 8), levels=256)
MU_SCALES = torch.tensor([0.0, 2.0, 0.0, 1.0, 0.05, 0.5])  # posterior mean of dim u: MU_SCALES[u] * f(x)


def test_activity_is_the_variance_of_the_posterior_means_over_images():
    signs = torch.tensor([1.0, -1.0] * 50)  # (100,)
    mu = torch.stack([torch.full((100,), 3.0), 0.2 * signs, 0.05 * signs], dim=1)  # (100, 3)
    values = activity(mu)
    assert torch.allclose(values, torch.tensor([0.0, 0.04 * 100 / 99, 0.0025 * 100 / 99]), atol=1e-7)
    assert active_units(mu).tolist() == [False, True, False]  # a constant mean is inactive however large
    assert active_units(mu, threshold=0.001).tolist() == [False, True, True]
    with pytest.raises(ValueError, match="at least 2 images"):
        activity(mu[:1])


def test_kl_per_dimension_closed_form_and_sum():
    mu = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    log_var = torch.tensor([[0.0, math.log(4.0)], [0.0, math.log(4.0)]])
    kl = kl_per_dimension(mu, log_var)
    assert torch.allclose(kl, torch.tensor([0.5, 0.5 * (4.0 - math.log(4.0) - 1.0)]), atol=1e-6)
    generator = torch.Generator().manual_seed(0)
    mu, log_var = torch.randn(7, 5, generator=generator), torch.randn(7, 5, generator=generator)
    assert torch.allclose(kl_per_dimension(mu, log_var).sum(), gaussian_kl_to_standard_normal(mu, log_var).mean(), atol=1e-5)


def vae_with_known_usage():
    """An mlp VAE whose posterior is mu_u = MU_SCALES[u] * f(x), log sigma^2 = 0, f(x) = silu(4 mean(x) - 2)."""
    torch.manual_seed(0)
    model = build_model_from_format("vae", GRAY_8, {"architecture": "mlp", "hidden": 4, "latent_dim": 6})
    fix_posterior_means(model, MU_SCALES)
    return model


def brightness_ramp(n: int = 64) -> torch.Tensor:
    """n flat images, brightness evenly spaced over the value range: (n, 1, 8, 8)."""
    low, high = GRAY_8.value_range
    return torch.linspace(low, high, n)[:, None, None, None].expand(n, 1, 8, 8).clone()


def test_latent_usage_of_a_vae_whose_weights_fix_it():
    model = vae_with_known_usage()
    x = brightness_ramp()
    feature = torch.nn.functional.silu(4.0 * x.flatten(1).mean(1) - 2.0)  # (N,) f(x)
    usage = latent_usage(model, x, batch_size=16)  # several batches
    expected_kl = 0.5 * MU_SCALES.pow(2) * feature.pow(2).mean()  # sigma = 1: KL_u = mu_u^2 / 2
    assert torch.allclose(usage.kl_nats, expected_kl, atol=1e-5)
    assert torch.allclose(usage.activity, MU_SCALES.pow(2) * feature.var(), atol=1e-5)
    assert usage.active.tolist() == [False, True, False, True, False, True] and usage.num_active == 3
    assert usage.order() == [1, 3, 5, 4, 0, 2]  # by KL, ties by index
    summary = usage_summary(usage)
    assert summary["active_units"] == 3 and summary["active_dims"] == [1, 3, 5] and summary["num_test_images"] == 64
    assert summary["kl_nats_total"] == pytest.approx(float(expected_kl.sum()), abs=1e-5)


def test_autoencoder_codes_give_variance_but_no_kl():
    torch.manual_seed(0)
    model = build_model_from_format("ae", GRAY_8, {"architecture": "mlp", "hidden": 16, "latent_dim": 3})
    x = brightness_ramp(32)
    usage = latent_usage(model, x)
    with torch.no_grad():
        codes = model.eval().encode(x)  # (32, 3)
    assert usage.kl_nats is None and usage.active is None and usage.num_active is None
    assert torch.allclose(usage.activity, codes.var(dim=0), atol=1e-5)
    assert usage.order() == sorted(range(3), key=lambda d: -float(codes.var(dim=0)[d]))
    assert "active_units" not in usage_summary(usage)
    assert usage_line(usage_summary(usage)).startswith("latent usage: deterministic codes, no KL; largest variance per dim: z")


class StubRun:
    """The part of a checkpoint's info that `latent_usage_metrics` reads: its preprocessing."""

    def make_preprocessor(self):
        low, high = GRAY_8.value_range
        return lambda images, generator=None: low + (high - low) * images.float() / 255.0


def test_eval_metric_and_its_summary_line():
    model = vae_with_known_usage()
    images = torch.linspace(0, 255, 40).round().to(torch.uint8)[:, None, None, None].expand(40, 1, 8, 8).clone()
    summary = latent_usage_metrics(model, StubRun(), images, None, batch_size=8)
    direct = latent_usage(model, StubRun().make_preprocessor()(images))
    assert summary["active_units"] == direct.num_active == 3
    assert summary["kl_nats_per_dim"] == pytest.approx(direct.kl_nats.tolist(), abs=1e-6)
    line = usage_line(summary, most_used=2)
    assert line.startswith("latent usage: 3 of 6 dims active (Cov_x E_q[z_u] > 0.01), KL ")
    assert f"z1 {direct.kl_nats[1]:.2f}, z3 {direct.kl_nats[3]:.2f} [N=40 test images]" in line
    gan = build_model_from_format("dcgan", DataFormat(image_shape=(1, 8, 8), levels=256), {})
    assert latent_usage_metrics(gan, StubRun(), images, None)["available"] is False
