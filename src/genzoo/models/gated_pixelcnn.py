"""Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN Decoders").

    layer 0: gated layer, 7x7 vertical / 1x7 horizontal (mask A), no residual   C -> hidden
    layers 1..L-1: gated layers, 3x3 vertical / 1x3 horizontal (mask B), residual
    sum of the layers' 1x1 skip outputs -> ReLU, 1x1, ReLU, 1x1 (mask B)   -> parameters
Gates: tanh(W_f * x + V_f^T h) * sigmoid(W_g * x + V_g^T h) (eqs. 2 and 4), h a learned
embedding of the class label when `conditional` (added to both stacks' gates of every layer).
The vertical/horizontal split removes PixelCNN's blind spot (Sec. 2.2, Figure 1).

The paper's CIFAR-10 model has 20 layers of 384 features; the defaults here are sized for
MNIST-like data. Fast sampling computes the vertical stack one row at a time, once the row
above is complete, and the horizontal stack one pixel at a time (Ramachandran et al. 2017).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from genzoo.data.format import DataFormat
from genzoo.models.autoregressive import AutoregressiveConfig, AutoregressiveModel
from genzoo.models.base import Capabilities
from genzoo.models.registry import register_model
from genzoo.nn.gated import GatedLayer, GatedStackStepper


@dataclass(frozen=True)
class GatedPixelCNNConfig(AutoregressiveConfig):
    """Gated PixelCNN; also: output, mixture_components, sampler (see AutoregressiveConfig)."""

    hidden: int = 64  # features of both stacks (the paper's p)
    layers: int = 15
    kernel: int = 3  # vertical k x k and horizontal 1 x k kernels after the first layer
    input_kernel: int = 7  # kernel of the first (mask-A) layer
    output_hidden: int = 128  # features of the 1x1 output layers
    conditional: bool = False  # condition on class labels (the data must have num_classes)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_positive("hidden", "layers", "kernel", "input_kernel", "output_hidden")
        for name in ("kernel", "input_kernel"):
            if getattr(self, name) % 2 == 0:
                raise ValueError(f"{name} must be odd, got {getattr(self, name)}")


class _ConfigCapabilities:
    """`capabilities` that follows the config on an instance; on the class: what the family can do."""

    def __get__(self, model: "GatedPixelCNN | None", owner: type) -> Capabilities:
        conditional = True if model is None else model.config.conditional
        return Capabilities(exact_likelihood=True, label_conditional=conditional)


@register_model("gated-pixelcnn")
class GatedPixelCNN(AutoregressiveModel):
    """Gated PixelCNN with vertical and horizontal stacks, skip connections, optional class conditioning."""

    config_class = GatedPixelCNNConfig
    capabilities = _ConfigCapabilities()  # type: ignore[assignment]

    def __init__(self, config: GatedPixelCNNConfig, data_format: DataFormat) -> None:
        super().__init__(config, data_format)
        self.check_widths(hidden=config.hidden, output_hidden=config.output_hidden)
        num_classes = None
        if config.conditional:
            if not data_format.num_classes:
                raise ValueError("conditional=true needs labelled data (DataFormat.num_classes): set conditional=false")
            num_classes = data_format.num_classes
        self.num_classes = num_classes
        self.layers = nn.ModuleList(
            GatedLayer(
                config.hidden if index else data_format.channels,
                config.hidden,
                config.kernel if index else config.input_kernel,
                mask_type="B" if index else "A",
                groups=self.groups,
                num_classes=num_classes,
                last=index == config.layers - 1,
                residual=index > 0,  # the input layer sees the predicted sub-pixel itself: no residual, even when hidden == C
            )
            for index in range(config.layers)
        )
        self.head = self.output_head(config.hidden, config.output_hidden)

    def _labels(self, labels: torch.Tensor | None, batch: int, *, sampling: bool) -> torch.Tensor | None:
        """Labels (B,) of a conditional model; sampling without labels cycles through the classes 0, 1, ..., K-1."""
        if self.num_classes is None:
            return None
        if labels is None:
            if not sampling:
                raise ValueError("this gated-pixelcnn is class-conditional (conditional=true): pass labels y")
            return torch.arange(batch, device=self.device) % self.num_classes
        return self.check_labels(labels, batch, self.num_classes)

    def network(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        v, h, skip = x, x, 0.0
        for layer in self.layers:
            v, h, layer_skip = layer(v, h, labels)  # (B, hidden, H, W) each
            skip = skip + layer_skip
        return self.head(skip)  # (B, P, H, W)

    def stepper(self, canvas: torch.Tensor, labels: torch.Tensor | None = None) -> GatedStackStepper:
        """Fast sampling: vertical stack row by row (once the row above is complete), horizontal pixel by pixel."""
        return GatedStackStepper(self.layers, self.head, canvas, [layer.gate_biases(labels) for layer in self.layers])
