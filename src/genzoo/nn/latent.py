"""Pieces of latent-variable models: Gaussian posteriors, the KL term, decoder likelihoods, IWAE.

- Diagonal Gaussian posterior q(z|x) = N(mu, diag sigma^2) with the reparameterization
  z = mu + sigma * eps, eps ~ N(0, I) (Kingma & Welling 2014, Sec. 2.4), and its analytic KL
  to the standard normal prior, eq. (10): -KL = 1/2 sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2).
- Decoder likelihoods p(x|z), one per sub-pixel, all taking a parameter map (B, P, C, H, W)
  and images in the data's value range:
    `BernoulliLikelihood`     binarized data (Kingma & Welling, Appendix C.1),
    `GaussianLikelihood`      continuous data, fixed or learned per-sub-pixel variance (C.2),
    `DiscretizedLogisticLikelihood`  L-level data: a logistic(mu, s) discretized to the
        data's levels, edge bins extended to -inf / +inf (Kingma et al. 2016, IAF;
        Salimans et al. 2017, eq. 2), so log p(x|z) is a probability comparable in bits/dim
        with PixelCNN's. One component, no channel coupling: the channels of a pixel are
        independent given z.
- `importance_weighted_bounds`: ELBO and IWAE estimates (Burda et al. 2016, eq. 8) from k
  samples drawn in chunks, combined by a running log-sum-exp so memory stays bounded.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.nn.distributions import discretized_logistic_log_prob, levels_to_scaled, scaled_to_levels

LOG_2PI = math.log(2.0 * math.pi)
DecoderName = Literal["auto", "bernoulli", "gaussian", "logistic"]
DECODER_NAMES: tuple[str, ...] = ("auto", "bernoulli", "gaussian", "logistic")


# ---- Gaussian latents -----------------------------------------------------------------
def reparameterize(mu: torch.Tensor, log_var: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """z = mu + sigma * eps (Kingma & Welling 2014, Sec. 2.4); noise (..., B, D)."""
    return mu + torch.exp(0.5 * log_var) * noise


def gaussian_kl_to_standard_normal(mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag sigma^2) || N(0, I)) in nats per example (B,), eq. (10) of Kingma & Welling 2014."""
    return -0.5 * (1.0 + log_var - mu.pow(2) - log_var.exp()).sum(-1)


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) summed over the last axis: (...,)."""
    return -0.5 * (z.pow(2) + LOG_2PI).sum(-1)


def diagonal_gaussian_log_prob(z: torch.Tensor, mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag exp(log_var)) summed over the last axis: (...,)."""
    return -0.5 * ((z - mu).pow(2) * torch.exp(-log_var) + log_var + LOG_2PI).sum(-1)


# ---- decoder likelihoods p(x|z) ----------------------------------------------------------
class DecoderLikelihood(nn.Module):
    """p(x|z) factorised over sub-pixels; parameter-free (a Module only to show in the repr).

    `params_per_subpixel` (P) channels of parameters per image channel: the decoder emits
    (B, P * C, H, W), viewed as (B, P, C, H, W).
    """

    params_per_subpixel: int
    is_density = False  # True: log_prob is a density (continuous data), not a probability of discrete levels

    def __init__(self, value_range: tuple[float, float]) -> None:
        super().__init__()
        self.low, self.high = value_range

    def log_prob(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """log p(x_i | z) in nats per sub-pixel (B, C, H, W); params (B, P, C, H, W), x in the value range."""
        raise NotImplementedError

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        """E[x | z] in the value range: (B, C, H, W)."""
        raise NotImplementedError

    def sample(self, params: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """x ~ p(x | z) in the value range: (B, C, H, W)."""
        raise NotImplementedError

    def _uniform(self, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return torch.rand(like.shape, generator=generator, device=like.device, dtype=like.dtype)


class BernoulliLikelihood(DecoderLikelihood):
    """p(x_i = high | z) = sigmoid(logit_i), for binarized data (2 levels: low, high)."""

    params_per_subpixel = 1

    def log_prob(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        target = ((x - self.low) / (self.high - self.low)).round().clamp(0.0, 1.0)  # (B, C, H, W) in {0, 1}
        return -F.binary_cross_entropy_with_logits(params[:, 0], target.to(params.dtype), reduction="none")

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        return self.low + (self.high - self.low) * torch.sigmoid(params[:, 0])

    def sample(self, params: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        ones = self._uniform(params[:, 0], generator) < torch.sigmoid(params[:, 0])
        return self.low + (self.high - self.low) * ones.to(params.dtype)


class GaussianLikelihood(DecoderLikelihood):
    """N(x_i; mu_i, sigma_i^2) with mu_i = low + (high - low) sigmoid(a_i), a density on the real line.

    `learned`: sigma_i = exp(b_i) from a second parameter channel (log-scale clamped below at
    `min_log_std`); otherwise the fixed `fixed_std` for every sub-pixel. The mean is squashed
    into the value range so that decoded images stay displayable.
    """

    is_density = True

    min_log_std = -7.0

    def __init__(self, value_range: tuple[float, float], learned: bool = True, fixed_std: float = 0.1) -> None:
        super().__init__(value_range)
        if fixed_std <= 0:
            raise ValueError(f"gaussian_std must be > 0, got {fixed_std}")
        self.learned, self.fixed_std = learned, fixed_std
        self.params_per_subpixel = 2 if learned else 1

    def log_std(self, params: torch.Tensor) -> torch.Tensor:
        if self.learned:
            return params[:, 1].clamp(min=self.min_log_std)  # (B, C, H, W)
        return torch.full_like(params[:, 0], math.log(self.fixed_std))

    def log_prob(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        log_std = self.log_std(params)
        return -0.5 * ((x - self.mean(params)) * torch.exp(-log_std)).pow(2) - log_std - 0.5 * LOG_2PI

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        return self.low + (self.high - self.low) * torch.sigmoid(params[:, 0])

    def sample(self, params: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        noise = torch.randn(params[:, 0].shape, generator=generator, device=params.device, dtype=params.dtype)
        return self.mean(params) + torch.exp(self.log_std(params)) * noise


class DiscretizedLogisticLikelihood(DecoderLikelihood):
    """One discretized logistic per sub-pixel over the data's L levels (IAF, Kingma et al. 2016).

    Parameter channels: location mu (on the scaled axis [-1, 1], unconstrained, as PixelCNN++)
    and log-scale (clamped below at -7, PixelCNN++'s clamp). P(level k) = CDF(v_k + 1/(L-1)) -
    CDF(v_k - 1/(L-1)) with the edge bins open, so the L probabilities sum to exactly one.
    """

    params_per_subpixel = 2
    min_log_scale = -7.0
    mean_chunk = 32  # levels per step of the mean's sum: bounds memory at 256 levels

    def __init__(self, value_range: tuple[float, float], num_levels: int) -> None:
        super().__init__(value_range)
        if num_levels < 2:
            raise ValueError(f"a discretized logistic needs >= 2 levels, got {num_levels}")
        self.num_levels = num_levels

    def to_scaled(self, x: torch.Tensor) -> torch.Tensor:
        """Value range -> the nearest level on [-1, 1]."""
        scaled = (x - self.low) * (2.0 / (self.high - self.low)) - 1.0
        return levels_to_scaled(scaled_to_levels(scaled, self.num_levels).to(x.dtype), self.num_levels)

    def from_scaled(self, scaled: torch.Tensor) -> torch.Tensor:
        return self.low + (scaled + 1.0) * ((self.high - self.low) / 2.0)

    def log_prob(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        location, log_scale = params[:, 0], params[:, 1].clamp(min=self.min_log_scale)
        return discretized_logistic_log_prob(self.to_scaled(x), location, log_scale, self.num_levels)

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        """E[level] = sum_{k=1}^{L-1} P(level >= k) = sum_k sigmoid((mu - b_k) / s), b_k the bin edges."""
        location, log_scale = params[:, 0, ..., None], params[:, 1, ..., None].clamp(min=self.min_log_scale)
        inverse_scale = torch.exp(-log_scale)
        edges = levels_to_scaled(torch.arange(1, self.num_levels, device=params.device, dtype=params.dtype), self.num_levels)
        edges = edges - 1.0 / (self.num_levels - 1)  # (L-1,) lower edge of level k's bin
        expected_level = torch.zeros_like(params[:, 0])  # (B, C, H, W)
        for start in range(0, len(edges), self.mean_chunk):
            chunk = edges[start : start + self.mean_chunk]
            expected_level = expected_level + torch.sigmoid((location - chunk) * inverse_scale).sum(-1)
        return self.from_scaled(levels_to_scaled(expected_level, self.num_levels))

    def sample(self, params: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Inverse CDF of the continuous logistic, rounded to the nearest level (exact for open edge bins)."""
        location, log_scale = params[:, 0], params[:, 1].clamp(min=self.min_log_scale)
        uniform = self._uniform(location, generator).clamp(1e-6, 1.0 - 1e-6)
        continuous = location + torch.exp(log_scale) * (torch.log(uniform) - torch.log1p(-uniform))
        levels = scaled_to_levels(continuous, self.num_levels).to(params.dtype)
        return self.from_scaled(levels_to_scaled(levels, self.num_levels))


def build_decoder_likelihood(
    name: str,
    levels: int | None,
    value_range: tuple[float, float],
    *,
    gaussian_variance: str = "learned",
    gaussian_std: float = 0.1,
) -> DecoderLikelihood:
    """The likelihood named in a config; "auto": Bernoulli for 2 levels, logistic for >= 3, Gaussian for continuous."""
    if name not in DECODER_NAMES:
        raise ValueError(f"bad decoder {name!r}: choose one of {', '.join(DECODER_NAMES)}")
    if gaussian_variance not in ("fixed", "learned"):
        raise ValueError(f"bad gaussian_variance {gaussian_variance!r}: choose one of fixed, learned")
    if name == "auto":
        name = "gaussian" if levels is None else "bernoulli" if levels == 2 else "logistic"
    if name == "bernoulli":
        if levels != 2:
            raise ValueError(f"decoder=bernoulli needs binarized data (2 levels), got levels={levels}: binarize or use decoder=auto")
        return BernoulliLikelihood(value_range)
    if name == "logistic":
        if levels is None:
            raise ValueError("decoder=logistic needs discrete data (DataFormat.levels), got continuous values: use decoder=gaussian")
        return DiscretizedLogisticLikelihood(value_range, levels)
    return GaussianLikelihood(value_range, learned=gaussian_variance == "learned", fixed_std=gaussian_std)


# ---- importance-weighted bounds ------------------------------------------------------------
def importance_weighted_bounds(
    log_weights: Callable[[torch.Tensor], torch.Tensor],
    noise_shape: tuple[int, int],
    k: int,
    chunk: int,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> dict[str, torch.Tensor]:
    """ELBO and IWAE estimates in nats per example from k importance samples, `chunk` at a time.

    `log_weights(noise)` maps standard-normal noise (S, B, D) to log w = log p(x, z_s) - log q(z_s|x)
    (S, B) for z_s the reparameterized samples. Returns
      "elbo": (1/k) sum_s log w_s, an unbiased estimate of the ELBO (Kingma & Welling eq. 3),
      "iwae": log (1/k) sum_s w_s, the k-sample bound L_k of Burda et al. 2016, eq. (8),
    both from the same samples, so iwae >= elbo for every example (Jensen). Noise is drawn one
    sample (B, D) at a time, so the estimates do not depend on `chunk`.
    """
    if k < 1 or chunk < 1:
        raise ValueError(f"need k >= 1 and chunk >= 1 importance samples, got k={k}, chunk={chunk}")
    batch, dim = noise_shape
    log_sum = torch.full((batch,), -math.inf, device=device)  # running log sum_s w_s
    weight_sum = torch.zeros(batch, device=device)  # running sum_s log w_s
    for start in range(0, k, chunk):
        count = min(chunk, k - start)
        noise = torch.stack([torch.randn(batch, dim, generator=generator, device=device) for _ in range(count)])  # (S, B, D)
        chunk_weights = log_weights(noise).float()  # (S, B)
        log_sum = torch.logaddexp(log_sum, torch.logsumexp(chunk_weights, dim=0))
        weight_sum = weight_sum + chunk_weights.sum(0)
    return {"elbo": weight_sum / k, "iwae": log_sum - math.log(k)}
