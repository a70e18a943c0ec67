"""Autoencoder: compress x to a feature vector z, reconstruct it, train on the L2 error.

The lecture's autoencoder (CS231n lecture 13): encoder x -> z with dim(z) << dim(x),
decoder z -> x_hat, loss ||x - x_hat||^2 summed over sub-pixels. BCE on logits is an option
for data in [0, 1]; `denoising` corrupts the input with Gaussian noise of that standard
deviation during training (Vincent et al. 2008) while the target stays clean.

An autoencoder has no prior over z, so `sample` uses ex-post density estimation (Ghosh et
al. 2020, "From Variational to Deterministic Autoencoders", Sec. 4): a full-covariance
Gaussian fitted to the codes of the training data. Its moments are running averages kept
in buffers, updated on every training forward like BatchNorm statistics (from the whole
global batch under torchrun), and saved with the weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.data.format import DataFormat
from genzoo.models.base import Capabilities, GenerativeModel
from genzoo.models.registry import register_model
from genzoo.sharding import sum_over_shards


@dataclass(frozen=True)
class AutoencoderConfig:
    architecture: Literal["conv", "mlp"] = "conv"
    latent_dim: int = 32
    channels: int = 32  # conv: channels after the first downsampling, doubled at each further one
    downsamples: int = 2  # conv: stride-2 stages; H and W must be divisible by 2**downsamples
    hidden: int = 512  # mlp: width of the hidden layer
    reconstruction: Literal["l2", "bce"] = "l2"
    denoising: float = 0.0  # std of Gaussian input corruption during training (0: plain AE)
    latent_momentum: float = 0.05  # running-moment update rate of the latent Gaussian

    def __post_init__(self) -> None:
        for name in ("latent_dim", "channels", "hidden", "downsamples"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.denoising < 0:
            raise ValueError(f"denoising must be >= 0, got {self.denoising}")
        if not 0.0 < self.latent_momentum <= 1.0:
            raise ValueError(f"latent_momentum must be in (0, 1], got {self.latent_momentum}")


def conv_encoder(image_shape: tuple[int, int, int], channels: int, downsamples: int) -> tuple[nn.Module, tuple[int, int, int]]:
    """Strided convolutions (kernel 4, stride 2, pad 1 halves H and W exactly) -> flatten.

    Returns the module, (B, C, H, W) -> (B, features), and the bottleneck shape (C', H', W').
    Shared with the VAE (genzoo.models.vae).
    """
    in_channels, height, width = image_shape
    factor = 2**downsamples
    if height % factor or width % factor:
        raise ValueError(
            f"conv architecture with downsamples={downsamples} needs H and W divisible by {factor}, "
            f"got {height}x{width}: set model.downsamples lower or use architecture=mlp"
        )
    layers: list[nn.Module] = []
    for stage in range(downsamples):
        out_channels = channels * 2**stage
        layers += [nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1), nn.SiLU()]
        in_channels = out_channels
    return nn.Sequential(*layers, nn.Flatten()), (in_channels, height // factor, width // factor)


def conv_decoder(bottleneck: tuple[int, int, int], out_channels: int, channels: int, downsamples: int) -> nn.Module:
    """Reshape (B, features) to the bottleneck -> transposed convolutions doubling H and W -> (B, out_channels, H, W)."""
    layers: list[nn.Module] = [nn.Unflatten(1, bottleneck)]
    in_channels = bottleneck[0]
    for stage in reversed(range(downsamples)):
        last = stage == 0
        stage_channels = out_channels if last else channels * 2 ** (stage - 1)
        layers.append(nn.ConvTranspose2d(in_channels, stage_channels, 4, stride=2, padding=1))
        if not last:
            layers.append(nn.SiLU())
        in_channels = stage_channels
    return nn.Sequential(*layers)


@register_model("ae")
class Autoencoder(GenerativeModel):
    """Deterministic autoencoder with L2 (or BCE) reconstruction loss; samples from a fitted latent Gaussian."""

    config_class = AutoencoderConfig
    capabilities = Capabilities(encoder=True, latent_decoder=True)
    selection_metric = "recon"

    def __init__(self, config: AutoencoderConfig, data_format: DataFormat) -> None:
        super().__init__(config, data_format)
        if config.reconstruction == "bce" and data_format.value_range != (0.0, 1.0):
            raise ValueError("reconstruction=bce needs data in [0, 1]: drop scale-symmetric or use reconstruction=l2")
        # kept out of compiled graphs (a collective under torchrun; tiny either way); wrapped here, not by a
        # decorator, because torch.compiler.disable imports the compiler stack (~1.5 s) on `import genzoo`
        self._update_latent_moments = torch.compiler.disable(self._update_latent_moments)
        dims = data_format.dims
        if config.architecture == "conv":
            self.encoder_body, bottleneck = conv_encoder(data_format.image_shape, config.channels, config.downsamples)
            features = bottleneck[0] * bottleneck[1] * bottleneck[2]
            self.to_latent = nn.Linear(features, config.latent_dim)
            self.from_latent = nn.Sequential(nn.Linear(config.latent_dim, features), nn.SiLU())
            self.decoder_body = conv_decoder(bottleneck, data_format.channels, config.channels, config.downsamples)
        else:
            self.encoder_body = nn.Sequential(nn.Flatten(), nn.Linear(dims, config.hidden), nn.SiLU())
            self.to_latent = nn.Linear(config.hidden, config.latent_dim)
            self.from_latent = nn.Sequential(nn.Linear(config.latent_dim, config.hidden), nn.SiLU())
            self.decoder_body = nn.Sequential(nn.Linear(config.hidden, dims), nn.Unflatten(1, data_format.image_shape))
        self.register_buffer("latent_mean", torch.zeros(config.latent_dim))
        self.register_buffer("latent_covariance", torch.eye(config.latent_dim))

    # ---- encoder / decoder ----------------------------------------------------------
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, C, H, W) -> z (B, latent_dim)."""
        self.check_input(x)
        return self.to_latent(self.encoder_body(x))

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, latent_dim) -> unnormalised outputs (B, C, H, W)."""
        return self.decoder_body(self.from_latent(z))

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """z (B, latent_dim) -> images (B, C, H, W) in the data's value range."""
        low, high = self.data_format.value_range
        return low + (high - low) * torch.sigmoid(self.decode_logits(z))

    # ---- objective --------------------------------------------------------------------
    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, phase: str = "model") -> dict[str, torch.Tensor]:
        """Reconstruction error summed over sub-pixels, per example: ||x - g(f(x~))||^2 (or BCE)."""
        self.check_input(x)
        corrupted = x + self.config.denoising * self.per_example_randn(x) if self.training and self.config.denoising > 0 else x
        z = self.encode(corrupted)  # (B, latent_dim)
        if self.training:
            self._update_latent_moments(z.detach())
        logits = self.decode_logits(z)  # (B, C, H, W)
        if self.config.reconstruction == "bce":
            per_subpixel = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
        else:
            low, high = self.data_format.value_range
            per_subpixel = (low + (high - low) * torch.sigmoid(logits) - x).pow(2)
        recon = per_subpixel.flatten(1).sum(1)  # (B,)
        return {"loss": recon, "recon": recon, "mse": per_subpixel.detach().flatten(1).mean(1)}

    @torch.no_grad()
    def _update_latent_moments(self, z: torch.Tensor) -> None:
        """Running mean and covariance of the codes (the ex-post latent density), in fp32 even under autocast."""
        with torch.autocast(device_type=z.device.type, enabled=False):
            self._accumulate_latent_moments(z.float())

    def _accumulate_latent_moments(self, z: torch.Tensor) -> None:
        """Moments of the global batch's codes: under torchrun the sums run over every rank's rows."""
        shard = self.batch_shard
        totals = sum_over_shards(shard, torch.cat([z.new_full((1,), z.shape[0]), z.sum(0)]))  # (1 + D,): count, sum
        count, batch_mean = totals[0], totals[1:] / totals[0]  # (D,)
        centred = z - batch_mean  # (B, D)
        batch_covariance = sum_over_shards(shard, centred.T @ centred) / (count - 1).clamp(min=1)  # (D, D)
        rate = self.config.latent_momentum
        self.latent_mean.lerp_(batch_mean, rate)
        self.latent_covariance.lerp_(batch_covariance, rate)

    # ---- generation -------------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        labels: torch.Tensor | None = None,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """z ~ N(mean, temperature^2 * covariance) of the training codes, decoded: (n, C, H, W)."""
        return self.decode(self.sample_latent(n, temperature=temperature, generator=generator))

    def sample_latent(self, n: int, *, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ N(mean, temperature^2 * covariance), the Gaussian fitted to the training codes: (n, D)."""
        dim = self.config.latent_dim
        factor = self.latent_covariance_factor()  # (D, D)
        noise = torch.randn(n, dim, generator=generator, device=self.latent_mean.device)  # (n, D)
        return self.latent_mean + temperature * noise @ factor.T

    def latent_covariance_factor(self) -> torch.Tensor:
        """S with S S^T = the code covariance (D, D): its Cholesky factor (with a 1e-5 jitter).

        Codes confined to a subspace (a collapsed latent: some directions carry no variance)
        make the covariance singular, and float32 rounding can then leave it slightly
        indefinite, where Cholesky fails. Then S = V sqrt(max(lambda, 0)) from its
        eigendecomposition: samples stay in the subspace the codes occupy.
        """
        if not (torch.isfinite(self.latent_covariance).all() and torch.isfinite(self.latent_mean).all()):
            raise ValueError(f"model {self.name}: the running moments of the latent codes are not finite (the codes diverged): cannot sample")
        covariance = self.latent_covariance.float()
        covariance = (covariance + covariance.T) / 2  # (D, D)
        jitter = 1e-5 * torch.eye(covariance.shape[0], device=covariance.device)
        cholesky, info = torch.linalg.cholesky_ex(covariance + jitter)  # (D, D)
        if int(info) == 0:
            return cholesky
        eigenvalues, eigenvectors = torch.linalg.eigh(covariance.double())  # (D,), (D, D)
        return (eigenvectors * eigenvalues.clamp(min=0).sqrt()).float()
