"""Conditional PixelCNN: a Gated PixelCNN over the target whose gates read a map of the input.

    p(t | c) = prod_i p(t_i | t_<i, c)       (van den Oord et al. 2016, eq. 1, conditioned on c)

The conditioning follows Pixel Recursive Super Resolution (Dahl et al. 2017): a
conditioning network sees the whole condition c (it is not causal: c is given, never
generated) and its output map s(c) enters every layer of the prior network. Here the prior
network is the Gated PixelCNN (van den Oord et al. 2016) and s(c) enters through its
spatial conditioning, eq. (5):

    y = tanh(W_f * x + V_f * s) * sigmoid(W_g * x + V_g * s),   V * s a 1x1 convolution,

added to the gates of both stacks of every layer (`genzoo.nn.gated`). The conditioning
network is a small U-Net (`genzoo.nn.unet`) on c upsampled bilinearly to the target's size,
so every output sub-pixel can read all of c, including the part below and to the right of
it. Dahl et al. instead add the logits of a ResNet on c to the prior's logits (their Sec. 3).

`log_prob(x)` is the exact conditional log-likelihood log p(t | c) of the pairs in a batch x,
and `loss` its negative in nats per image (bits/dim counts the target's sub-pixels).
`translate(c)` samples t sub-pixel by sub-pixel with the fast cached sampler (or the naive
one, which draws the same images from the same generator). The autoregressive machinery
(likelihood, samplers, output distributions) is `AutoregressiveModel`'s, run on the target
with the condition passed where class-conditional models pass labels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from torch import nn

from genzoo.data.format import DataFormat
from genzoo.models.autoregressive import AutoregressiveConfig, AutoregressiveModel, SamplerName
from genzoo.models.base import Capabilities
from genzoo.models.registry import register_model
from genzoo.models.translation.base import TranslationModel
from genzoo.nn.gated import GatedLayer, GatedStackStepper
from genzoo.nn.unet import UNet


@dataclass(frozen=True)
class ConditionalPixelCNNConfig(AutoregressiveConfig):
    """Conditional Gated PixelCNN; also: output, mixture_components, sampler (see AutoregressiveConfig)."""

    hidden: int = 32  # features of both stacks
    layers: int = 6
    kernel: int = 3  # vertical k x k and horizontal 1 x k kernels after the first layer
    input_kernel: int = 7  # kernel of the first (mask-A) layer
    output_hidden: int = 64  # features of the 1x1 output layers
    condition_features: int = 32  # channels of the conditioning map s(c)
    condition_width: int = 16  # base width of the conditioning U-Net
    condition_depth: int = 2  # its stride-2 levels at most (28 px: 28 -> 14 -> 7)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_positive("hidden", "layers", "kernel", "input_kernel", "output_hidden", "condition_features", "condition_width")
        for name in ("kernel", "input_kernel"):
            if getattr(self, name) % 2 == 0:
                raise ValueError(f"{name} must be odd, got {getattr(self, name)}")
        if self.condition_depth < 0:
            raise ValueError(f"condition_depth must be >= 0, got {self.condition_depth}")


class ConditionedGatedPixelCNN(AutoregressiveModel):
    """The Gated PixelCNN over targets (B, C, H, W); its `labels` are conditions (B, Cc, Hc, Wc) in value space."""

    name = "conditional-pixelcnn"

    def __init__(self, config: ConditionalPixelCNNConfig, target_format: DataFormat, condition_shape: tuple[int, int, int]) -> None:
        super().__init__(config, target_format)
        self.check_widths(hidden=config.hidden, output_hidden=config.output_hidden)
        channels, height, width = target_format.image_shape
        self.condition_net = UNet(
            condition_shape[0], config.condition_features, (height, width), width=config.condition_width, max_depth=config.condition_depth
        )
        self.layers = nn.ModuleList(
            GatedLayer(
                config.hidden if index else channels,
                config.hidden,
                config.kernel if index else config.input_kernel,
                mask_type="B" if index else "A",
                groups=self.groups,
                condition_channels=config.condition_features,
                last=index == config.layers - 1,
                residual=index > 0,  # the input layer sees the predicted sub-pixel itself: no residual
            )
            for index in range(config.layers)
        )
        self.head = self.output_head(config.hidden, config.output_hidden)

    def _labels(self, labels: torch.Tensor | None, batch: int, *, sampling: bool) -> torch.Tensor:
        """The condition (B, Cc, Hc, Wc) scaled to [-1, 1], as the conditioning network reads it."""
        if labels is None or labels.shape[0] != batch:
            raise ValueError(f"{self.name} models p(target | condition): pass one condition per target ({batch})")
        return self.to_scaled(labels.to(self.device, self._dtype()))

    def network(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Scaled targets (B, C, H, W) and scaled conditions -> parameters (B, P, H, W), causal in the target only."""
        features = self.condition_net(labels)  # (B, S, H, W) s(c), sees all of c
        v, h, skip = x, x, 0.0
        for layer in self.layers:
            v, h, layer_skip = layer(v, h, condition=features)  # (B, hidden, H, W) each
            skip = skip + layer_skip
        return self.head(skip)  # (B, P, H, W)

    def stepper(self, canvas: torch.Tensor, labels: torch.Tensor | None = None) -> GatedStackStepper:
        features = self.condition_net(labels)  # computed once for the whole draw
        return GatedStackStepper(self.layers, self.head, canvas, [layer.gate_biases(condition=features) for layer in self.layers])


@register_model("conditional-pixelcnn")
class ConditionalPixelCNN(TranslationModel):
    """Gated PixelCNN over the output image conditioned on a map of the input (Dahl et al. 2017); exact log p(t | c)."""

    config_class = ConditionalPixelCNNConfig
    capabilities = Capabilities(exact_likelihood=True, image_to_image=True)
    selection_metric = "nll"
    default_preprocess = ()  # the condition comes from the 8-bit image, as for every translation model

    def __init__(self, config: ConditionalPixelCNNConfig, data_format: DataFormat) -> None:
        super().__init__(config, data_format)
        target_format = replace(data_format, image_shape=self.target_shape, task=None)
        self.pixelcnn = ConditionedGatedPixelCNN(config, target_format, self.condition_shape)

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, phase: str = "model") -> dict[str, torch.Tensor]:
        """-log p(t | c) per pair in nats (B,), with nll and bits_per_dim (per target sub-pixel)."""
        condition, target = self.split(x)
        return self.pixelcnn.loss(target, condition)

    def log_prob(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """log p(t | c) of each pair (c, t) = task.split(x), exact, in nats summed over the target's sub-pixels: (B,)."""
        condition, target = self.split(x)
        return self.pixelcnn.log_prob(target, condition)

    def conditional_log_prob(self, target: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """log p(t | c) in nats (B,) for any targets (B, C, H, W) and conditions (B, Cc, Hc, Wc), paired by index."""
        self.check_condition(condition)
        return self.pixelcnn.log_prob(target, condition)

    @torch.no_grad()
    def translate(
        self,
        condition: torch.Tensor,
        *,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        method: SamplerName | None = None,
        on_row: Callable[[], None] | None = None,
    ) -> torch.Tensor:
        """One draw t ~ p(t | c) per condition (B, C, H, W); method: fast / naive (default: config.sampler).

        Temperature scales every sub-pixel's conditional (0: the most likely level each step).
        """
        self.check_condition(condition)
        return self.pixelcnn.sample(
            condition.shape[0], labels=condition, temperature=temperature, generator=generator, method=method, on_row=on_row
        )
