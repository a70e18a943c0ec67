"""Output distributions: normalization, nll = -log p of the observed level, the mixture's joint, sampling."""

import itertools
import math

import pytest
import torch

from genzoo.nn.distributions import (
    BernoulliOutput,
    CategoricalOutput,
    DiscretizedLogisticMixture,
    build_output_distribution,
    discretized_logistic_log_prob,
    levels_to_scaled,
    log_sigmoid_difference,
    sample_level,
)


DOUBLE = torch.float64


def _random_case(distribution, levels, batch=3, height=2, width=2, scale=3.0):
    torch.manual_seed(0)
    params = scale * torch.randn(batch, distribution.num_params, height, width, dtype=DOUBLE)
    x = levels_to_scaled(torch.randint(0, levels, (batch, distribution.channels, height, width)).to(DOUBLE), levels)
    return params, x


DISTRIBUTIONS = [
    ("bernoulli-gray", BernoulliOutput(1), 2),
    ("bernoulli-rgb", BernoulliOutput(3), 2),
    ("categorical-gray", CategoricalOutput(1, 5), 5),
    ("categorical-rgb", CategoricalOutput(3, 4), 4),
    ("mixture-gray", DiscretizedLogisticMixture(1, 6, 3), 6),
    ("mixture-rgb", DiscretizedLogisticMixture(3, 4, 2), 4),
    ("mixture-rgb-256", DiscretizedLogisticMixture(3, 256, 5), 256),
]


@pytest.mark.parametrize("name,distribution,levels", DISTRIBUTIONS, ids=[d[0] for d in DISTRIBUTIONS])
def test_conditionals_are_normalized_and_nll_reads_the_observed_level(name, distribution, levels):
    params, x = _random_case(distribution, levels)
    log_probs = distribution.log_probs(params, x)  # (B, C, H, W, L)
    assert log_probs.shape == (*x.shape, levels)
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones_like(x))
    observed = ((x + 1) * (levels - 1) / 2).round().long()
    torch.testing.assert_close(distribution.nll(params, x), -log_probs.gather(-1, observed[..., None])[..., 0])


@pytest.mark.parametrize("name,distribution,levels", DISTRIBUTIONS, ids=[d[0] for d in DISTRIBUTIONS])
def test_channel_log_probs_at_a_pixel_match_the_teacher_forced_map(name, distribution, levels):
    params, x = _random_case(distribution, levels)
    log_probs = distribution.log_probs(params, x)
    for channel in range(distribution.channels):
        at_pixel = distribution.channel_log_probs(params[:, :, 1, 0], channel, x[:, :channel, 1, 0])
        torch.testing.assert_close(at_pixel, log_probs[:, channel, 1, 0])


def test_mixture_per_channel_nlls_sum_to_the_pixcelcnnpp_joint_and_it_sums_to_one():
    """Salimans et al. 2017: p(r, g, b) = sum_k pi_k P_k(r) P_k(g | r) P_k(b | r, g), with linear mean shifts."""
    levels, k = 3, 2
    mixture = DiscretizedLogisticMixture(3, levels, k)
    torch.manual_seed(1)
    params = 2 * torch.randn(mixture.num_params, dtype=DOUBLE)
    logits, means, log_scales, coeffs = params.split([k, 3 * k, 3 * k, 3 * k])
    means, log_scales, coeffs = means.view(3, k), log_scales.view(3, k), torch.tanh(coeffs.view(3, k))
    total = 0.0
    for pixel in itertools.product(range(levels), repeat=3):
        r, g, b = levels_to_scaled(torch.tensor(pixel, dtype=DOUBLE), levels)
        shifted = torch.stack([means[0], means[1] + coeffs[0] * r, means[2] + coeffs[1] * r + coeffs[2] * g])  # (3, K)
        per_component = torch.log_softmax(logits, 0) + sum(
            discretized_logistic_log_prob(v, shifted[c], log_scales[c], levels) for c, v in enumerate((r, g, b))
        )
        joint = torch.logsumexp(per_component, 0)
        x = torch.stack([r, g, b]).view(1, 3, 1, 1)
        nll = mixture.nll(params.view(1, -1, 1, 1), x)
        torch.testing.assert_close(-nll.sum(), joint)
        total += joint.exp().item()
    assert total == pytest.approx(1.0, abs=1e-12)


def test_log_sigmoid_difference_is_accurate_in_both_tails():
    a = torch.tensor([40.0, 1.0, -30.0, 30.0], dtype=DOUBLE)
    b = torch.tensor([39.0, -1.0, -31.0, -30.0], dtype=DOUBLE)
    exact = [
        math.log(math.exp(-39.0) - math.exp(-40.0)),  # sigmoid(a) - sigmoid(b) = sigmoid(-b) - sigmoid(-a), both ~e^-x
        math.log(1 / (1 + math.exp(-1)) - 1 / (1 + math.exp(1))),
        math.log(math.exp(-30.0) - math.exp(-31.0)),
        math.log1p(-2 / (1 + math.exp(30.0))),  # 1 - 2 sigmoid(-30), nearly one
    ]
    torch.testing.assert_close(log_sigmoid_difference(a, b), torch.tensor(exact, dtype=DOUBLE), rtol=1e-9, atol=0)


def test_sample_level_is_the_inverse_cdf_and_temperature_sharpens():
    log_probs = torch.log(torch.tensor([[0.2, 0.5, 0.3]], dtype=DOUBLE)).expand(5, 3)
    uniform = torch.tensor([0.0, 0.19, 0.21, 0.69, 0.71], dtype=DOUBLE)
    assert sample_level(log_probs, uniform).tolist() == [0, 0, 1, 1, 2]
    assert sample_level(log_probs, uniform, temperature=0.0).tolist() == [1] * 5
    # T = 0.5: p^2 normalised = [0.04, 0.25, 0.09] / 0.38
    assert sample_level(log_probs[:2], torch.tensor([0.1, 0.2], dtype=DOUBLE), temperature=0.5).tolist() == [0, 1]
    with pytest.raises(ValueError, match=">= 0"):
        sample_level(log_probs, uniform, temperature=-1.0)


def test_sample_channel_frequencies_match_the_probabilities():
    distribution = CategoricalOutput(1, 4)
    params = torch.log(torch.tensor([0.1, 0.2, 0.3, 0.4])).expand(20000, 4)
    generator = torch.Generator().manual_seed(0)
    drawn = distribution.sample_channel(params, 0, params[:, :0], generator=generator)
    frequencies = torch.bincount(drawn, minlength=4).double() / 20000
    torch.testing.assert_close(frequencies, torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=DOUBLE), atol=0.015, rtol=0)


def test_build_output_distribution_resolves_auto_and_rejects_bad_choices():
    assert isinstance(build_output_distribution("auto", 1, 2), BernoulliOutput)
    assert isinstance(build_output_distribution("auto", 3, 256), CategoricalOutput)
    mixture = build_output_distribution("logistic_mixture", 3, 256, 10)
    assert mixture.num_params == 100 and mixture.channel_groups == 1  # PixelCNN++: 10 * (1 + 3 + 3 + 3)
    assert build_output_distribution("logistic_mixture", 1, 256, 5).num_params == 15
    with pytest.raises(ValueError, match="choose one of auto, bernoulli, categorical, logistic_mixture"):
        build_output_distribution("gaussian", 1, 2)
    with pytest.raises(ValueError, match="2 levels"):
        build_output_distribution("bernoulli", 1, 4)
    with pytest.raises(ValueError, match="discrete"):
        build_output_distribution("auto", 1, None)
