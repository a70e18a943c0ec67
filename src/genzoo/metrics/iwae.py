"""Likelihood bounds of latent-variable models, and bits/dim.

For a model with an encoder q(z|x) and a joint p(x, z), the importance-weighted estimate
(Burda et al. 2016, "Importance Weighted Autoencoders", eq. 8)

    L_k(x) = log (1/k) sum_{i=1..k} p(x, z_i) / q(z_i|x),   z_i ~ q(z|x),

is a lower bound on log p(x) in expectation, non-decreasing in k, equal to the ELBO for
k = 1 and converging to log p(x) as k -> infinity. Burda et al. report k = 5000.

A model qualifies by exposing
    `log_importance_weights(x, y, noise) -> (S, B)`: log p(x, z_s) - log q(z_s|x) for the
        reparameterized samples z_s of standard-normal noise (S, B, D), and
    `config.latent_dim` (D),
as `genzoo.models.vae.VAE` does.

Units: every log-likelihood here is in nats per image, summed over sub-pixels. Bits/dim is
nll_nats / (dims * ln 2). Conventions for reporting:
  - discrete data (binarized, 8-bit with a discretized-logistic decoder): the bound is on a
    probability, and bits/dim compares directly with autoregressive models (PixelCNN);
  - dequantized 8-bit data x = (k + u) / 256 in [0, 1) with a density model: the usual
    convention adds log(256) nats per sub-pixel (Theis et al. 2016; the density of the
    values in [0, 256)), which `discrete_nll_from_density` does; the result upper-bounds
    the discrete nll, so it is comparable with the discrete models' bits/dim.
"""

from __future__ import annotations

import math

import torch

from genzoo.models.base import GenerativeModel
from genzoo.nn.latent import importance_weighted_bounds


@torch.no_grad()
def likelihood_bounds(
    model: GenerativeModel,
    x: torch.Tensor,
    y: torch.Tensor | None = None,
    *,
    k: int = 5000,
    chunk: int = 100,
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """ELBO and IWAE (Burda et al. eq. 8) estimates of log p(x), nats per image, side by side.

    Returns {"elbo": (B,), "iwae": (B,)} computed from the same k samples per image (so
    iwae >= elbo for every image), `chunk` samples per decoder pass; runs in eval mode.
    """
    if not hasattr(model, "log_importance_weights"):
        raise ValueError(f"model {model.name!r} has no importance weights (log_importance_weights): it is not a VAE-like model")
    was_training = model.training
    model.eval()
    x = x.to(model.device)
    y = None if y is None else y.to(model.device)
    try:
        return importance_weighted_bounds(
            lambda noise: model.log_importance_weights(x, y, noise),
            (x.shape[0], model.config.latent_dim), k, chunk, generator=generator, device=x.device,
        )
    finally:
        model.train(was_training)


def iwae_log_likelihood(
    model: GenerativeModel,
    x: torch.Tensor,
    y: torch.Tensor | None = None,
    *,
    k: int = 5000,
    chunk: int = 100,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The k-sample IWAE estimate of log p(x) in nats per image (B,)."""
    return likelihood_bounds(model, x, y, k=k, chunk=chunk, generator=generator)["iwae"]


def bits_per_dim(nll_nats: torch.Tensor | float, dims: int) -> torch.Tensor | float:
    """Negative log-likelihood in nats per image -> bits per sub-pixel: nll / (dims * ln 2)."""
    return nll_nats / (dims * math.log(2.0))


def discrete_nll_from_density(nll_nats: torch.Tensor | float, dims: int, levels: int = 256, value_width: float = 1.0) -> torch.Tensor | float:
    """-log density of dequantized data -> the comparable discrete nll in nats per image.

    Dequantized values (k + u) / levels * value_width fill bins of width value_width / levels;
    -log P(k) <= E_u[-log p(x)] - dims * log(value_width / levels) (Jensen, Theis et al. 2016).
    For [0, 1] data with 256 levels this adds dims * log(256).
    """
    return nll_nats + dims * math.log(levels / value_width)
