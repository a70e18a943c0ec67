"""Output distributions of the autoregressive models, one per sub-pixel.

A network emits a parameter map (B, P, H, W); a distribution turns it into the conditional
p(x_i | x_<i) of every sub-pixel. Values are handled as level indices k in 0..L-1 and as
scaled values v = 2k/(L-1) - 1 in [-1, 1] (the models' network input).

- `BernoulliOutput`: one logit per sub-pixel, for binarized data (L = 2).
- `CategoricalOutput`: an L-way softmax per sub-pixel, any L >= 2 (van den Oord et al. 2016,
  Sec. 3: "discrete softmax", 256-way for 8-bit data).
- `DiscretizedLogisticMixture`: Salimans et al. 2017 (PixelCNN++), eqs. (2)-(3): K logistic
  components shared by the channels of a pixel, channel c's mean shifted linearly by the
  earlier channels of the same pixel. Generalized from RGB to any C (one coefficient per
  pair c' < c; C = 3 gives PixelCNN++'s alpha, beta, gamma). Its parameters depend on
  x_<pixel only, so its networks mask at pixel level (`channel_groups` = 1). Unlike the
  PixelCNN++ code there is no pdf fallback for tiny bins: log(sigma(a) - sigma(b)) is
  computed stably, so probabilities sum to exactly one over the levels.

Every distribution answers, for a channel c at one pixel, `channel_log_probs`: the (B, L)
log-probabilities of c given the pixel's earlier channels. Sampling is by inverse CDF with
one uniform per sub-pixel (`sample_level`), so that different ways of computing the same
conditionals (naive and fast samplers) draw identical images from the same generator.
Temperature T scales each sub-pixel's conditional: p_T(k) is proportional to p(k)^(1/T)
(a softmax of logits / T; T = 0 picks the most likely level).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

OutputName = Literal["auto", "bernoulli", "categorical", "logistic_mixture"]
OUTPUT_NAMES: tuple[str, ...] = ("auto", "bernoulli", "categorical", "logistic_mixture")


def levels_to_scaled(levels: torch.Tensor, num_levels: int) -> torch.Tensor:
    """Level index k -> 2k/(L-1) - 1 in [-1, 1]."""
    return levels * (2.0 / (num_levels - 1)) - 1.0


def scaled_to_levels(values: torch.Tensor, num_levels: int) -> torch.Tensor:
    """Scaled value in [-1, 1] -> nearest level index (long), clamped to 0..L-1."""
    return ((values + 1.0) * ((num_levels - 1) / 2.0)).round().clamp(0, num_levels - 1).long()


def sample_level(log_probs: torch.Tensor, uniform: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Inverse-CDF draw of a level from log-probabilities (B, L) with one uniform (B,) each -> (B,) long."""
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if temperature == 0:
        return log_probs.argmax(-1)
    cdf = torch.softmax(log_probs / temperature, dim=-1).cumsum(-1)  # (B, L)
    return (uniform[:, None] >= cdf).sum(-1).clamp(max=log_probs.shape[-1] - 1)


class OutputDistribution(nn.Module):
    """Interface; parameter-free, a Module only so that it shows in the model's repr."""

    channels: int  # C, image channels
    num_levels: int  # L, discrete values per sub-pixel
    num_params: int  # P, channels of the parameter map
    channel_groups: int  # masking groups the network must use: C (sub-pixel) or 1 (pixel)

    def param_groups(self) -> torch.Tensor:
        """Channel group of each of the P parameter channels: (P,)."""
        raise NotImplementedError

    def nll(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """-log p(x_i | x_<i) in nats per sub-pixel (B, C, H, W); params (B, P, H, W), x scaled (B, C, H, W)."""
        raise NotImplementedError

    def log_probs(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """log p(x_i = k | x_<i) of every level k (B, C, H, W, L), the x_<i read from x (teacher forcing)."""
        raise NotImplementedError

    def channel_log_probs(self, params: torch.Tensor, channel: int, previous: torch.Tensor) -> torch.Tensor:
        """log p of every level (B, L) of `channel` at one pixel.

        params: (B, P) at that pixel; previous: the pixel's channels < channel, scaled (B, channel).
        """
        raise NotImplementedError

    def sample_channel(
        self,
        params: torch.Tensor,
        channel: int,
        previous: torch.Tensor,
        *,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        uniform: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Draw the level (B,) of `channel` at one pixel (a fresh uniform from `generator` unless given)."""
        if uniform is None:
            uniform = torch.rand(params.shape[0], generator=generator, device=params.device, dtype=params.dtype)
        return sample_level(self.channel_log_probs(params, channel, previous), uniform, temperature)


class BernoulliOutput(OutputDistribution):
    """p(x_i = 1 | x_<i) = sigmoid(logit_i); one logit per sub-pixel (binarized data)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels, self.num_levels, self.num_params, self.channel_groups = channels, 2, channels, channels

    def param_groups(self) -> torch.Tensor:
        return torch.arange(self.channels)

    def nll(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        target = scaled_to_levels(x, 2).to(params.dtype)
        return F.binary_cross_entropy_with_logits(params, target, reduction="none")  # (B, C, H, W)

    def log_probs(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([F.logsigmoid(-params), F.logsigmoid(params)], dim=-1)  # (B, C, H, W, 2)

    def channel_log_probs(self, params: torch.Tensor, channel: int, previous: torch.Tensor) -> torch.Tensor:
        logit = params[:, channel]  # (B,)
        return torch.stack([F.logsigmoid(-logit), F.logsigmoid(logit)], dim=-1)  # (B, 2)


class CategoricalOutput(OutputDistribution):
    """p(x_i = k | x_<i) = softmax(logits_i)_k; parameter channels laid out as (C, L)."""

    def __init__(self, channels: int, num_levels: int) -> None:
        super().__init__()
        self.channels, self.num_levels = channels, num_levels
        self.num_params, self.channel_groups = channels * num_levels, channels

    def param_groups(self) -> torch.Tensor:
        return torch.arange(self.channels).repeat_interleave(self.num_levels)

    def _logits(self, params: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = params.shape
        return params.view(batch, self.channels, self.num_levels, height, width)  # (B, C, L, H, W)

    def nll(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        logits = self._logits(params).transpose(1, 2)  # (B, L, C, H, W): classes on dim 1
        return F.cross_entropy(logits, scaled_to_levels(x, self.num_levels), reduction="none")  # (B, C, H, W)

    def log_probs(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self._logits(params).log_softmax(2).permute(0, 1, 3, 4, 2)  # (B, C, H, W, L)

    def channel_log_probs(self, params: torch.Tensor, channel: int, previous: torch.Tensor) -> torch.Tensor:
        return params.view(-1, self.channels, self.num_levels)[:, channel].log_softmax(-1)  # (B, L)


def log_sigmoid_difference(upper: torch.Tensor, lower: torch.Tensor) -> torch.Tensor:
    """log(sigmoid(upper) - sigmoid(lower)) for upper > lower, without cancellation.

    sigmoid(a) - sigmoid(b) = sigmoid(-b) - sigmoid(-a); evaluate on the side where both terms
    are small, as log sigmoid(a') + log(1 - exp(log sigmoid(b') - log sigmoid(a'))).
    """
    flip = (upper + lower) > 0
    a = torch.where(flip, -lower, upper)
    b = torch.where(flip, -upper, lower)
    log_a, log_b = F.logsigmoid(a), F.logsigmoid(b)
    return log_a + log1mexp(log_b - log_a)


def log1mexp(d: torch.Tensor) -> torch.Tensor:
    """log(1 - exp(d)) for d <= 0, accurate near 0 and for very negative d (Maechler 2012)."""
    tiny = torch.finfo(d.dtype).tiny
    near_zero = d > -math.log(2.0)
    return torch.where(
        near_zero,
        torch.log((-torch.expm1(d.clamp(max=0.0))).clamp_min(tiny)),
        torch.log1p(-torch.exp(d.clamp(max=-math.log(2.0)))),
    )


def discretized_logistic_log_prob(x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor, num_levels: int) -> torch.Tensor:
    """log P(x) of a logistic(mean, exp(log_scale)) discretized to L bins on [-1, 1] (Salimans et al. 2017, eq. 2).

    The bin of x is [x - 1/(L-1), x + 1/(L-1)]; the edge bins extend to -inf and +inf, so the
    probabilities of the L levels sum to one. x is a scaled value (any shape broadcasting
    with mean and log_scale).
    """
    half_bin = 1.0 / (num_levels - 1)
    inverse_scale = torch.exp(-log_scale)
    upper = (x - mean + half_bin) * inverse_scale
    lower = (x - mean - half_bin) * inverse_scale
    level = scaled_to_levels(x, num_levels)
    return torch.where(
        level == 0,
        F.logsigmoid(upper),  # log CDF(x + half bin)
        torch.where(level == num_levels - 1, F.logsigmoid(-lower), log_sigmoid_difference(upper, lower)),
    )


class DiscretizedLogisticMixture(OutputDistribution):
    """Mixture of K discretized logistics per pixel, channels coupled linearly (PixelCNN++).

    p(x | context) = sum_k pi_k prod_c Logistic_disc(x_c | mu_kc + sum_{c'<c} a_kc'c x_c', s_kc).
    Parameter channels: K mixture logits, C*K means, C*K log-scales, C(C-1)/2*K coefficients
    (tanh-squashed, as in PixelCNN++). The conditional of channel c given the pixel's earlier
    channels is again a mixture, with posterior weights pi_k prod_{c'<c} P_k(x_c'): that
    gives per-sub-pixel nlls and inverse-CDF sampling one channel at a time.
    """

    min_log_scale = -7.0  # PixelCNN++'s clamp

    def __init__(self, channels: int, num_levels: int, components: int) -> None:
        super().__init__()
        if components < 1:
            raise ValueError(f"mixture_components must be >= 1, got {components}")
        self.channels, self.num_levels, self.components = channels, num_levels, components
        self.pairs = [(earlier, later) for later in range(channels) for earlier in range(later)]
        self.num_params = components * (1 + 2 * channels + len(self.pairs))
        self.channel_groups = 1

    def param_groups(self) -> torch.Tensor:
        return torch.zeros(self.num_params, dtype=torch.long)

    def _unpack(self, params: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """params (..., P), x scaled (..., C) -> logits (..., K), means (..., C, K) shifted by x, log-scales (..., C, K)."""
        k, c = self.components, self.channels
        logits, means, log_scales, coefficients = params.split([k, c * k, c * k, len(self.pairs) * k], dim=-1)
        means = means.unflatten(-1, (c, k))
        log_scales = log_scales.unflatten(-1, (c, k)).clamp(min=self.min_log_scale)
        coefficients = torch.tanh(coefficients.unflatten(-1, (len(self.pairs), k)))  # (..., pairs, K)
        shifts = [torch.zeros_like(means[..., 0, :]) for _ in range(c)]
        for pair, (earlier, later) in enumerate(self.pairs):
            shifts[later] = shifts[later] + coefficients[..., pair, :] * x[..., earlier, None]
        return logits, means + torch.stack(shifts, dim=-2), log_scales

    def _joint_prefix(self, params: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per component: log pi_k + sum_{c' < c} log P_k(x_c'), for c = 0..C: (..., C+1, K); and means, log-scales."""
        logits, means, log_scales = self._unpack(params, x)
        per_channel = discretized_logistic_log_prob(x[..., None], means, log_scales, self.num_levels)  # (..., C, K)
        log_weights = torch.log_softmax(logits, dim=-1)[..., None, :]  # (..., 1, K)
        prefix = torch.cat([log_weights, log_weights + per_channel.cumsum(-2)], dim=-2)  # (..., C+1, K)
        return prefix, means, log_scales

    def nll(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        prefix, _, _ = self._joint_prefix(params.movedim(1, -1), x.movedim(1, -1))  # (B, H, W, C+1, K)
        log_marginal = torch.logsumexp(prefix, dim=-1)  # (B, H, W, C+1): log p(x_<=c) of the pixel
        return -(log_marginal[..., 1:] - log_marginal[..., :-1]).movedim(-1, 1)  # (B, C, H, W)

    def log_probs(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        prefix, means, log_scales = self._joint_prefix(params.movedim(1, -1), x.movedim(1, -1))
        values = levels_to_scaled(torch.arange(self.num_levels, device=x.device, dtype=x.dtype), self.num_levels)  # (L,)
        every_level = discretized_logistic_log_prob(values, means[..., None], log_scales[..., None], self.num_levels)
        joint = torch.logsumexp(prefix[..., :-1, :, None] + every_level, dim=-2)  # (B, H, W, C, L)
        return (joint - torch.logsumexp(prefix[..., :-1, :], dim=-1)[..., None]).permute(0, 3, 1, 2, 4)  # (B, C, H, W, L)

    def channel_log_probs(self, params: torch.Tensor, channel: int, previous: torch.Tensor) -> torch.Tensor:
        pixel = torch.zeros(params.shape[0], self.channels, device=params.device, dtype=params.dtype)
        pixel[:, :channel] = previous
        prefix, means, log_scales = self._joint_prefix(params, pixel)  # (B, C+1, K), (B, C, K)
        values = levels_to_scaled(torch.arange(self.num_levels, device=params.device, dtype=params.dtype), self.num_levels)
        every_level = discretized_logistic_log_prob(
            values, means[:, channel, :, None], log_scales[:, channel, :, None], self.num_levels
        )  # (B, K, L)
        weights = prefix[:, channel]  # (B, K) log pi_k + sum_{c'<channel} log P_k(x_c')
        return torch.logsumexp(weights[..., None] + every_level, dim=1) - torch.logsumexp(weights, dim=1)[:, None]


def build_output_distribution(
    name: str, channels: int, num_levels: int | None, mixture_components: int = 10
) -> OutputDistribution:
    """The distribution named in a model config; "auto" is Bernoulli for 2 levels, else categorical."""
    if num_levels is None:
        raise ValueError("autoregressive models need discrete data (DataFormat.levels), got continuous values: drop dequantize")
    if name not in OUTPUT_NAMES:
        raise ValueError(f"bad output {name!r}: choose one of {', '.join(OUTPUT_NAMES)}")
    if name == "auto":
        name = "bernoulli" if num_levels == 2 else "categorical"
    if name == "bernoulli":
        if num_levels != 2:
            raise ValueError(f"output=bernoulli needs binarized data (2 levels), got {num_levels}: use output=categorical")
        return BernoulliOutput(channels)
    if name == "categorical":
        return CategoricalOutput(channels, num_levels)
    return DiscretizedLogisticMixture(channels, num_levels, mixture_components)


def nats_to_bits_per_dim(nll_nats: torch.Tensor, dims: int) -> torch.Tensor:
    """Per-image nll in nats -> bits per sub-pixel."""
    return nll_nats / (dims * math.log(2.0))
