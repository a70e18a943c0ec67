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
import torch.nn.functional as F
from torch import nn

from genzoo.data.format import DataFormat
from genzoo.models.autoregressive import AutoregressiveConfig, AutoregressiveModel
from genzoo.models.base import Capabilities
from genzoo.models.registry import register_model
from genzoo.nn.gated import GatedLayer, gate


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

    def stepper(self, canvas: torch.Tensor, labels: torch.Tensor | None = None) -> "GatedPixelCNNStepper":
        return GatedPixelCNNStepper(self, canvas, labels)


class GatedPixelCNNStepper:
    """Fast sampling: vertical stack row by row (once the row above is complete), horizontal pixel by pixel."""

    def __init__(self, model: GatedPixelCNN, canvas: torch.Tensor, labels: torch.Tensor | None) -> None:
        self.model, self.canvas = model, canvas
        batch, _, height, width = canvas.shape
        hidden = model.config.hidden
        # Inputs of each layer's stacks: the canvas for layer 0, then the previous layer's outputs.
        self.vertical_inputs = [canvas] + [canvas.new_zeros(batch, hidden, height, width) for _ in model.layers[1:]]
        self.horizontal_inputs = [canvas] + [canvas.new_zeros(batch, hidden, height, width) for _ in model.layers[1:]]
        self.vertical_links: list[torch.Tensor] = []  # per layer (B, 2h, W): vertical -> horizontal for the current row
        zeros = canvas.new_zeros(batch, 2 * hidden)
        conditional = labels is not None and model.num_classes is not None
        self.vertical_bias = [layer.label_vertical(labels) if conditional and not layer.last else zeros for layer in model.layers]
        self.horizontal_bias = [layer.label_horizontal(labels) if conditional else zeros for layer in model.layers]  # (B, 2h)

    def begin_row(self, row: int) -> None:
        """Run the vertical stack over row - 1 (now complete) to get every layer's link into `row`."""
        self.vertical_links = []
        for index, layer in enumerate(self.model.layers):
            if row == 0:  # shift_down brings zeros into the first row
                above = self.canvas.new_zeros(self.canvas.shape[0], 2 * self.model.config.hidden, 1, self.canvas.shape[3])
            else:
                half = layer.kernel // 2
                source = self.vertical_inputs[index][:, :, max(row - 1 - half, 0) : row]  # rows row-1-half .. row-1
                source = F.pad(source, (0, 0, half + 1 - source.shape[2], 0))  # zero rows above the image
                above = layer.vertical_conv(source)  # (B, 2h, 1, W): pre-activation of row - 1
                if not layer.last:
                    self.vertical_inputs[index + 1][:, :, row - 1] = gate(above[:, :, 0] + self.vertical_bias[index][:, :, None])
            self.vertical_links.append(layer.vertical_to_horizontal(above)[:, :, 0])  # (B, 2h, W)

    def params_at(self, row: int, col: int) -> torch.Tensor:
        skip = 0.0
        for index, layer in enumerate(self.model.layers):
            h_in = self.horizontal_inputs[index]
            h_pre = layer.horizontal.at(h_in, row, col) + self.vertical_links[index][:, :, col] + self.horizontal_bias[index]
            gated = gate(h_pre)  # (B, h)
            if not layer.last:
                residual = h_in[:, :, row, col] if layer.residual else 0.0
                self.horizontal_inputs[index + 1][:, :, row, col] = layer.horizontal_out.pointwise(gated) + residual
            skip = skip + layer.skip.pointwise(gated)
        return self.model.head.pointwise(skip)  # (B, P)
