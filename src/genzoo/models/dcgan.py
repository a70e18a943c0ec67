"""DCGAN: the convolutional GAN of Radford, Metz & Chintala 2015 ("Unsupervised Representation
Learning with Deep Convolutional Generative Adversarial Networks").

The paper's architecture guidelines (Sec. 3), all followed here:
  - no pooling: strided convolutions in D, fractionally-strided (transposed) ones in G;
  - batch normalization in both, except G's output layer and D's input layer;
  - no fully connected hidden layers: G starts with one projection of z, reshaped to a
    (C0, h0, w0) map (Fig. 1: "project and reshape"); D's last conv map is flattened into
    one logit;
  - ReLU in G with tanh on the output, LeakyReLU (slope 0.2) in D;
  - Adam with lr 2e-4 and beta1 = 0.5 (Sec. 4), set as both phases' optimizer settings;
  - weights from N(0, 0.02) (Sec. 4); BatchNorm scales from N(1, 0.02), shifts 0.
Resolution: G doubles the side `stages` times from a base of at most 7 pixels, so
28 = 7 -> 14 -> 28, 32 = 4 -> 8 -> 16 -> 32, 64 = 4 -> ... -> 64 (the paper's 64 px: 1024,
512, 256, 128 channels with generator_channels=128). D mirrors it. Any H, W divisible by
2**stages works; 1 or 3 channels.

Differences from the paper: the prior defaults to its U[-1, 1]^100, as in Fig. 1; optional
class conditioning (not in the paper) feeds a one-hot label to G's projection and as
constant input planes to D. Training, losses and sampling are `AdversarialModel`'s
(genzoo.models.gan): Algorithm 1 of Goodfellow et al. 2014 on logits, sampling in eval mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from genzoo.data.format import DataFormat
from genzoo.models.gan import AdversarialModel, Prior
from genzoo.models.registry import register_model

MAX_BASE_SIDE = 7  # G's first feature map is at most 7x7 (28 px: 7 -> 14 -> 28)
INIT_STD = 0.02  # Radford et al. 2015, Sec. 4


@dataclass(frozen=True)
class DCGANConfig:
    latent_dim: int = 100
    prior: Prior = "uniform"  # Fig. 1: a 100-dimensional uniform distribution
    generator_channels: int = 128  # channels of G's last hidden map, doubled per earlier stage (Fig. 1: 128)
    discriminator_channels: int = 128  # channels of D's first map, doubled per later stage
    stages: int | None = None  # stride-2 stages; None: fewest that bring the side to <= 7 pixels
    leak: float = 0.2  # LeakyReLU slope in D
    g_loss: Literal["minimax", "non-saturating"] = "non-saturating"
    d_steps: int = 1  # k of Goodfellow et al.'s Algorithm 1
    conditional: bool = False  # one-hot class labels into both players
    lr: float | None = 2e-4  # Adam lr of both phases (Sec. 4); None: the run's train.lr
    betas: tuple[float, float] | None = (0.5, 0.999)  # beta1 = 0.5 (Sec. 4); None: the run's train.betas
    instance_noise: float = 0.0  # std of Gaussian noise on D's inputs (data scale), 0: off (not in the paper)
    instance_noise_steps: int = 0  # anneal it linearly to 0 over this many steps (0: constant)

    def __post_init__(self) -> None:
        for name in ("generator_channels", "discriminator_channels"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.stages is not None and self.stages < 1:
            raise ValueError(f"stages must be >= 1, got {self.stages}")
        if not 0.0 <= self.leak < 1.0:
            raise ValueError(f"leak must be in [0, 1), got {self.leak}")


def resolve_stages(config: DCGANConfig, height: int, width: int) -> int:
    """Number of stride-2 stages: given, or the fewest that bring max(H, W) to <= 7 pixels."""
    stages = config.stages
    if stages is None:
        stages = 1
        while max(height, width) > MAX_BASE_SIDE * 2**stages:
            stages += 1
    factor = 2**stages
    if height % factor or width % factor:
        raise ValueError(
            f"dcgan with {stages} stride-2 stages needs H and W divisible by {factor}, got {height}x{width}: "
            "use 28, 32 or 64 px images or set model.stages"
        )
    return stages


def initialize_weights(module: nn.Module) -> None:
    """Radford et al. 2015, Sec. 4: conv and linear weights ~ N(0, 0.02); BN scale ~ N(1, 0.02), shift 0."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(layer.weight, 0.0, INIT_STD)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.normal_(layer.weight, 1.0, INIT_STD)
            nn.init.zeros_(layer.bias)


class ConvGenerator(nn.Module):
    """[z, one-hot y] -> project and reshape (C0, h0, w0) -> BN-ReLU transposed convs -> tanh (B, C, H, W)."""

    def __init__(self, config: DCGANConfig, image_shape: tuple[int, int, int], stages: int, num_classes: int) -> None:
        super().__init__()
        channels, height, width = image_shape
        base = (config.generator_channels * 2 ** (stages - 1), height // 2**stages, width // 2**stages)  # (C0, h0, w0)
        self.project = nn.Sequential(
            nn.Linear(config.latent_dim + num_classes, base[0] * base[1] * base[2], bias=False),
            nn.Unflatten(1, base),
            nn.BatchNorm2d(base[0]),
            nn.ReLU(),
        )
        layers: list[nn.Module] = []
        in_channels = base[0]
        for stage in range(stages):
            last = stage == stages - 1
            out_channels = channels if last else in_channels // 2
            # kernel 4, stride 2, padding 1 doubles H and W exactly
            layers.append(nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1, bias=last))
            layers += [nn.Tanh()] if last else [nn.BatchNorm2d(out_channels), nn.ReLU()]  # no BN on the output
            in_channels = out_channels
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.project(z if labels is None else torch.cat([z, labels], 1))  # (B, C0, h0, w0)
        return self.body(h)  # (B, C, H, W) in [-1, 1]


class ConvDiscriminator(nn.Module):
    """[x, label planes] -> strided convs (BN after all but the first), LeakyReLU -> flatten -> logit (B,)."""

    def __init__(self, config: DCGANConfig, image_shape: tuple[int, int, int], stages: int, num_classes: int) -> None:
        super().__init__()
        channels, height, width = image_shape
        layers: list[nn.Module] = []
        in_channels = channels + num_classes
        for stage in range(stages):
            first = stage == 0
            out_channels = config.discriminator_channels * 2**stage
            layers.append(nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1, bias=first))  # halves H, W
            if not first:  # no BN on the input layer
                layers.append(nn.BatchNorm2d(out_channels))
            layers.append(nn.LeakyReLU(config.leak))
            in_channels = out_channels
        features = in_channels * (height // 2**stages) * (width // 2**stages)
        self.body = nn.Sequential(*layers, nn.Flatten(), nn.Linear(features, 1))

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if labels is not None:
            planes = labels[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])  # (B, K, H, W)
            x = torch.cat([x, planes], 1)
        return self.body(x).squeeze(1)  # (B,)


@register_model("dcgan")
class DCGAN(AdversarialModel):
    """Deep convolutional GAN (Radford et al. 2015) trained by Algorithm 1 of Goodfellow et al. 2014."""

    config_class = DCGANConfig

    def __init__(self, config: DCGANConfig, data_format: DataFormat) -> None:
        super().__init__(config, data_format)
        _, height, width = data_format.image_shape
        self.stages = resolve_stages(config, height, width)
        self.generator_net = ConvGenerator(config, data_format.image_shape, self.stages, self.num_classes)
        self.discriminator_net = ConvDiscriminator(config, data_format.image_shape, self.stages, self.num_classes)
        initialize_weights(self)
