"""Variational autoencoder (Kingma & Welling 2014, "Auto-Encoding Variational Bayes").

    encoder   x -> features -> (mu, log sigma^2)          q(z|x) = N(mu, diag sigma^2)
    sample    z = mu + sigma * eps, eps ~ N(0, I)          reparameterization, Sec. 2.4
    decoder   z -> parameter map (B, P, C, H, W)          p(x|z), factorised over sub-pixels
    prior     p(z) = N(0, I)

Trained on the negative ELBO, -L = -E_q[log p(x|z)] + beta * KL(q(z|x) || p(z)) with the
analytic KL of eq. (10). `beta` != 1 is the beta-VAE of Higgins et al. 2017;
`kl_warmup_steps` ramps beta linearly from 0 (Bowman et al. 2016, Sønderby et al. 2016),
driven by `on_train_step`. `log_prob` is the importance-weighted estimate of Burda et al.
2016, eq. (8), a lower bound on log p(x) that tightens as k grows.

Architecture mirrors the `ae` model (genzoo.models.autoencoder): stride-2 convolutions and
transposed convolutions (`conv`) or one hidden layer (`mlp`). The decoder's likelihood
(`decoder`, genzoo.nn.latent) is Bernoulli for binarized data, a discretized logistic over
the data's levels for 8-bit data (as in IAF, Kingma et al. 2016, so bits/dim compare with
PixelCNN), a Gaussian for continuous (dequantized) data.

`conditional` concatenates a one-hot label to the encoder's features and to z (the simple
form of Kingma et al. 2014's M2 model with y observed): q(z|x, y), p(x|z, y). A missing
label (y=None in encode/decode) is an all-zero one-hot vector, an input the model never saw
in training: pass labels to a conditional model.

Deliberately different from the paper: `sample` and `decode` return the decoder's mean
E[x|z] (the usual way VAE samples are shown), not a draw from p(x|z), unless
`sample_pixels` is set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.data.format import DataFormat
from genzoo.models.autoencoder import conv_decoder, conv_encoder
from genzoo.models.base import Capabilities, GenerativeModel
from genzoo.models.registry import register_model
from genzoo.nn.latent import (
    DECODER_NAMES,
    build_decoder_likelihood,
    diagonal_gaussian_log_prob,
    gaussian_kl_to_standard_normal,
    importance_weighted_bounds,
    reparameterize,
    standard_normal_log_prob,
)


@dataclass(frozen=True)
class VAEConfig:
    architecture: Literal["conv", "mlp"] = "conv"
    latent_dim: int = 32
    channels: int = 32  # conv: channels after the first downsampling, doubled at each further one
    downsamples: int = 2  # conv: stride-2 stages; H and W must be divisible by 2**downsamples
    hidden: int = 512  # mlp: width of the hidden layer
    decoder: Literal["auto", "bernoulli", "gaussian", "logistic"] = "auto"
    gaussian_variance: Literal["fixed", "learned"] = "learned"  # decoder=gaussian: per-sub-pixel sigma or a constant
    gaussian_std: float = 0.1  # the constant sigma of gaussian_variance=fixed, in value-range units
    beta: float = 1.0  # weight of the KL term (beta-VAE); the ELBO is reported with beta = 1
    kl_warmup_steps: int = 0  # beta ramps linearly 0 -> beta over these training steps
    conditional: bool = False  # condition encoder and decoder on class labels (data must have num_classes)
    iwae_samples: int = 100  # k of log_prob and of the `nll_iwae` eval metric (0: no IWAE in evaluate)
    iwae_chunk: int = 25  # importance samples per decoder pass (memory: chunk * batch images)
    sample_pixels: bool = False  # sample() draws x ~ p(x|z) instead of returning the mean E[x|z]

    def __post_init__(self) -> None:
        for name in ("latent_dim", "channels", "hidden", "downsamples", "iwae_chunk"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.architecture not in ("conv", "mlp"):
            raise ValueError(f"bad architecture {self.architecture!r}: choose one of conv, mlp")
        if self.decoder not in DECODER_NAMES:
            raise ValueError(f"bad decoder {self.decoder!r}: choose one of {', '.join(DECODER_NAMES)}")
        if self.gaussian_variance not in ("fixed", "learned"):
            raise ValueError(f"bad gaussian_variance {self.gaussian_variance!r}: choose one of fixed, learned")
        if self.gaussian_std <= 0:
            raise ValueError(f"gaussian_std must be > 0, got {self.gaussian_std}")
        if self.beta < 0:
            raise ValueError(f"beta must be >= 0, got {self.beta}")
        if self.kl_warmup_steps < 0 or self.iwae_samples < 0:
            raise ValueError(f"kl_warmup_steps and iwae_samples must be >= 0, got {self.kl_warmup_steps}, {self.iwae_samples}")


class _ConfigCapabilities:
    """`capabilities` that follows the config on an instance; on the class: what the family can do."""

    def __get__(self, model: "VAE | None", owner: type) -> Capabilities:
        conditional = True if model is None else model.config.conditional
        return Capabilities(likelihood_bound=True, encoder=True, latent_decoder=True, label_conditional=conditional)


@register_model("vae")
class VAE(GenerativeModel):
    """Gaussian-latent VAE with Bernoulli / discretized-logistic / Gaussian decoder, beta and KL warm-up."""

    config_class = VAEConfig
    capabilities = _ConfigCapabilities()  # type: ignore[assignment]
    selection_metric = "neg_elbo"

    def __init__(self, config: VAEConfig, data_format: DataFormat) -> None:
        super().__init__(config, data_format)
        self.num_classes = 0
        if config.conditional:
            if not data_format.num_classes:
                raise ValueError("conditional=true needs labelled data (DataFormat.num_classes): set conditional=false")
            self.num_classes = data_format.num_classes
        self.likelihood = build_decoder_likelihood(
            config.decoder, data_format.levels, data_format.value_range,
            gaussian_variance=config.gaussian_variance, gaussian_std=config.gaussian_std,
        )
        params = self.likelihood.params_per_subpixel
        channels = data_format.channels
        if config.architecture == "conv":
            self.encoder_body, bottleneck = conv_encoder(data_format.image_shape, config.channels, config.downsamples)
            features = bottleneck[0] * bottleneck[1] * bottleneck[2]
            self.from_latent = nn.Sequential(nn.Linear(config.latent_dim + self.num_classes, features), nn.SiLU())
            self.decoder_body = conv_decoder(bottleneck, params * channels, config.channels, config.downsamples)
        else:
            features = config.hidden
            self.encoder_body = nn.Sequential(nn.Flatten(), nn.Linear(data_format.dims, features), nn.SiLU())
            self.from_latent = nn.Sequential(nn.Linear(config.latent_dim + self.num_classes, features), nn.SiLU())
            _, height, width = data_format.image_shape
            self.decoder_body = nn.Sequential(nn.Linear(features, params * data_format.dims), nn.Unflatten(1, (params * channels, height, width)))
        self.to_posterior = nn.Linear(features + self.num_classes, 2 * config.latent_dim)  # -> (mu, log sigma^2)
        # beta of the current step; a tensor, so a compiled loss reads it instead of recompiling per value
        self.register_buffer("kl_weight", torch.tensor(config.beta if config.kl_warmup_steps == 0 else 0.0), persistent=False)

    # ---- schedules ----------------------------------------------------------------------
    def kl_weight_at(self, step: int) -> float:
        """beta * min(1, step / kl_warmup_steps): linear KL warm-up (Bowman et al. 2016; Sønderby et al. 2016)."""
        if self.config.kl_warmup_steps == 0:
            return self.config.beta
        return self.config.beta * min(1.0, max(step, 0) / self.config.kl_warmup_steps)

    def on_train_step(self, step: int) -> None:
        self.kl_weight.fill_(self.kl_weight_at(step))

    # ---- encoder / decoder ------------------------------------------------------------
    def _one_hot(self, y: torch.Tensor | None, batch: int, device: torch.device) -> torch.Tensor | None:
        """Labels (B,) -> one-hot (B, K) of a conditional model; zeros when y is None; None when unconditional."""
        if not self.num_classes:
            return None
        if y is None:
            return torch.zeros(batch, self.num_classes, device=device)
        return F.one_hot(self.check_labels(y, batch, self.num_classes).to(device), self.num_classes).float()  # (B, K)

    def posterior(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z|x[, y]) parameters: mu (B, D) and log sigma^2 (B, D)."""
        self.check_input(x)
        features = self.encoder_body(x)  # (B, F)
        one_hot = self._one_hot(y, x.shape[0], x.device)
        if one_hot is not None:
            features = torch.cat([features, one_hot.to(features.dtype)], dim=1)  # (B, F + K)
        mu, log_var = self.to_posterior(features).chunk(2, dim=1)
        return mu, log_var

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The posterior mean mu(x) (B, latent_dim)."""
        return self.posterior(x, y)[0]

    def decoder_params(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """z (B, D) -> parameters of p(x|z[, y]): (B, P, C, H, W)."""
        one_hot = self._one_hot(y, z.shape[0], z.device)
        if one_hot is not None:
            z = torch.cat([z, one_hot.to(z.dtype)], dim=1)  # (B, D + K)
        out = self.decoder_body(self.from_latent(z))  # (B, P * C, H, W)
        return out.unflatten(1, (self.likelihood.params_per_subpixel, self.data_format.channels))

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The decoder's mean image E[x|z] (B, C, H, W) in the data's value range."""
        return self.likelihood.mean(self.decoder_params(z, y))

    # ---- objective --------------------------------------------------------------------
    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, phase: str = "model") -> dict[str, torch.Tensor]:
        """Negative ELBO per image in nats, eq. (10) of Kingma & Welling 2014 with one sample of z.

        loss = -log p(x|z) + beta_t KL(q(z|x) || N(0, I)), beta_t the warmed-up weight;
        "neg_elbo" = recon + kl (beta = 1), an upper bound on -log p(x).
        """
        self.check_input(x)
        if self.num_classes and y is None:
            raise ValueError("this vae is class-conditional (conditional=true): pass labels y")
        mu, log_var = self.posterior(x, y)  # (B, D) each
        epsilon = self.per_example_randn(mu)  # (B, D)
        z = reparameterize(mu, log_var, epsilon)  # (B, D)
        recon = -self.likelihood.log_prob(self.decoder_params(z, y), x).flatten(1).sum(1)  # (B,)
        kl = gaussian_kl_to_standard_normal(mu, log_var)  # (B,)
        neg_elbo = (recon + kl).detach()
        return {
            "loss": recon + self.kl_weight * kl,
            "neg_elbo": neg_elbo,
            "recon": recon.detach(),
            "kl": kl.detach(),
            "bits_per_dim": neg_elbo / (self.data_format.dims * math.log(2.0)),
        }

    def evaluate(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The loss parts and, when iwae_samples > 0, "nll_iwae" = -log_prob(x) with k = iwae_samples."""
        out = self.loss(x, y)
        if self.config.iwae_samples > 0:
            nll_iwae = -self.log_prob(x, y)
            out.update(nll_iwae=nll_iwae, bits_per_dim_iwae=nll_iwae / (self.data_format.dims * math.log(2.0)))
        return out

    # ---- likelihood -------------------------------------------------------------------
    def log_importance_weights(self, x: torch.Tensor, y: torch.Tensor | None, noise: torch.Tensor) -> torch.Tensor:
        """log w_s = log p(x|z_s) + log p(z_s) - log q(z_s|x) for z_s = mu + sigma * noise_s: (S, B); noise (S, B, D)."""
        mu, log_var = self.posterior(x, y)  # (B, D)
        z = reparameterize(mu, log_var, noise)  # (S, B, D)
        samples, batch = noise.shape[:2]
        repeated_x = x.expand(samples, *x.shape).flatten(0, 1)  # (S * B, C, H, W)
        repeated_y = None if y is None else y.expand(samples, *y.shape).flatten(0, 1)
        params = self.decoder_params(z.flatten(0, 1), repeated_y)  # (S * B, P, C, H, W)
        log_likelihood = self.likelihood.log_prob(params, repeated_x).flatten(1).sum(1).view(samples, batch)
        return log_likelihood + standard_normal_log_prob(z) - diagonal_gaussian_log_prob(z, mu, log_var)

    def log_prob(
        self,
        x: torch.Tensor,
        y: torch.Tensor | None = None,
        *,
        k: int | None = None,
        chunk: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """IWAE estimate log (1/k) sum_i p(x, z_i) / q(z_i|x) in nats per image (B,), Burda et al. 2016 eq. (8).

        A stochastic lower bound on log p(x) in expectation; k defaults to config.iwae_samples
        (use k=5000 for reported numbers, as Burda et al.), `chunk` samples per decoder pass.
        """
        k = k or max(self.config.iwae_samples, 1)
        chunk = chunk or self.config.iwae_chunk
        with torch.no_grad():
            bounds = importance_weighted_bounds(
                lambda noise: self.log_importance_weights(x, y, noise),
                (x.shape[0], self.config.latent_dim), k, chunk, generator=generator, device=x.device,
            )
        return bounds["iwae"]

    # ---- generation -------------------------------------------------------------------
    @torch.no_grad()
    def sample_latent(self, n: int, *, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ N(0, temperature^2 I): (n, D), the prior."""
        return temperature * torch.randn(n, self.config.latent_dim, generator=generator, device=self.device)

    def sample(
        self,
        n: int,
        *,
        labels: torch.Tensor | None = None,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """z ~ N(0, temperature^2 I), decoded to the mean E[x|z] (or a draw x ~ p(x|z) with sample_pixels): (n, C, H, W).

        A conditional model without labels cycles through the classes (0, 1, ..., K-1, 0, ...).
        """
        device = self.device
        z = self.sample_latent(n, temperature=temperature, generator=generator)  # (n, D)
        if self.num_classes and labels is None:
            labels = torch.arange(n, device=device) % self.num_classes
        params = self.decoder_params(z, labels)
        if not self.config.sample_pixels:
            return self.likelihood.mean(params)
        low, high = self.data_format.value_range
        return self.likelihood.sample(params, generator).clamp(low, high)
