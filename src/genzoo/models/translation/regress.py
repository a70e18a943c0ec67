"""Regression U-Net: one deterministic output per input, trained with an L1 or L2 loss.

The pix2pix generator (Isola et al. 2017) without its adversary: eq. (3)'s L1 term alone, or
the squared error. The U-Net (`genzoo.nn.unet`) maps the condition, upsampled to the target's
size, to a tanh output on the [-1, 1] scale, mapped onto the data's value range. Both
errors are measured on that [-1, 1] scale (pix2pix's, so that its lambda = 100 means what it
means in the paper), per image as the mean over sub-pixels.

A regression to the mean: under L2 the net estimates E[t | c], under L1 the median of each
sub-pixel, so uncertain detail comes out blurred (the motivation of pix2pix's adversary,
Isola et al. 2017, Sec. 3.1 and Fig. 4). `UNetTranslator` is what this model and pix2pix share.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from genzoo.data.format import DataFormat
from genzoo.models.gan import eval_mode
from genzoo.models.registry import register_model
from genzoo.models.translation.base import TranslationModel
from genzoo.nn.unet import UNet

RegressionLoss = Literal["l1", "l2"]
REGRESSION_LOSSES: tuple[str, ...] = ("l1", "l2")


def check_unet_options(config: object) -> None:
    """Validate the U-Net options regress and pix2pix share (one-line ValueErrors)."""
    if config.width < 1:
        raise ValueError(f"width must be >= 1, got {config.width}")
    if config.max_depth < 0:
        raise ValueError(f"max_depth must be >= 0, got {config.max_depth}")
    if not 0.0 <= config.dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {config.dropout}")


@dataclass(frozen=True)
class RegressConfig:
    width: int = 32  # U-Net base width (pix2pix: 64)
    max_depth: int = 4  # stride-2 levels at most; fewer when H, W stop halving exactly (28 px: 2)
    loss: RegressionLoss = "l1"
    dropout: float = 0.0  # decoder dropout while training only (translate is deterministic)

    def __post_init__(self) -> None:
        check_unet_options(self)
        if self.loss not in REGRESSION_LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}: choose one of {', '.join(REGRESSION_LOSSES)}")


class UNetTranslator(TranslationModel):
    """A U-Net from the condition to the target on the [-1, 1] scale (`generate`), and the errors of an output."""

    default_preprocess = ()  # the condition comes from the 8-bit image, as for every translation model

    def __init__(self, config: object, data_format: DataFormat) -> None:
        super().__init__(config, data_format)
        channels, height, width = self.target_shape
        self.generator_net = UNet(
            self.condition_shape[0], channels, (height, width), width=config.width, max_depth=config.max_depth, dropout=config.dropout
        )

    def to_scaled(self, x: torch.Tensor) -> torch.Tensor:
        """Value space -> [-1, 1], the scale the networks read and write."""
        return self.data_format.to_scaled(x)

    def from_scaled(self, scaled: torch.Tensor) -> torch.Tensor:
        return self.data_format.from_scaled(scaled)

    def generate(self, condition: torch.Tensor) -> torch.Tensor:
        """condition (B, Cc, Hc, Wc) in value space -> output (B, C, H, W) on the [-1, 1] scale (tanh)."""
        scaled = self.to_scaled(condition.to(self.device, self._dtype()))
        return torch.tanh(self.generator_net(scaled))

    @staticmethod
    def errors(output: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Mean absolute ("l1") and squared ("l2") error per image (B,), both on the [-1, 1] scale."""
        difference = output - target  # (B, C, H, W)
        return {"l1": difference.abs().mean((1, 2, 3)), "l2": difference.square().mean((1, 2, 3))}

    def _dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype


@register_model("regress")
class Regression(UNetTranslator):
    """U-Net regression from the input to the output image (L1 or L2 loss); one deterministic output per input."""

    config_class = RegressConfig
    stochastic = False
    selection_metric = "loss"

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, phase: str = "model") -> dict[str, torch.Tensor]:
        """Per image (B,): loss = the configured error of G(c) against t, beside both errors."""
        condition, target = self.split(x)
        errors = self.errors(self.generate(condition), self.to_scaled(target))
        return {"loss": errors[self.config.loss], **{name: value.detach() for name, value in errors.items()}}

    @torch.no_grad()
    def translate(
        self, condition: torch.Tensor, *, temperature: float = 1.0, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """G(c) in eval mode, (B, C, H, W) in the data's value space; temperature and generator are unused."""
        self.check_condition(condition)
        with eval_mode(self):
            return self.from_scaled(self.generate(condition))
