"""PixelCNN: a stack of masked convolutions (van den Oord et al. 2016, "Pixel Recurrent Neural Networks").

Architecture of the paper's Table 4 and Figure 5 (right):
    7x7 conv, mask A                                  C -> hidden
    residual blocks: ReLU, 1x1 conv (hidden -> hidden/2), ReLU, 3x3 conv (hidden/2 ->
        hidden/2), ReLU, 1x1 conv (hidden/2 -> hidden), all mask B, added to the input
    ReLU, 1x1 conv mask B, ReLU, 1x1 conv mask B      -> distribution parameters
`hidden` is the paper's 2h. The receptive field of stacked masked 3x3 kernels has a blind
spot to the upper right (fixed by `gated-pixelcnn`).

Sampling: `sampler=fast` keeps every block's 3x3 input map and computes, for each new
pixel, each layer at that pixel only (the rest of the map is already cached): O(layers)
work per pixel instead of a whole-network pass (Ramachandran et al. 2017).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.data.format import DataFormat
from genzoo.models.autoregressive import AutoregressiveConfig, AutoregressiveModel
from genzoo.models.registry import register_model
from genzoo.nn.masked import MaskedConv2d


@dataclass(frozen=True)
class PixelCNNConfig(AutoregressiveConfig):
    """PixelCNN of the paper with its 15 layers (CIFAR-10); the widths are our choice for MNIST-sized data.

    Also: output (auto | bernoulli | categorical | logistic_mixture), mixture_components, sampler (fast | naive).
    """

    hidden: int = 128  # 2h: channels of the residual stream
    residual_blocks: int = 15
    input_kernel: int = 7  # the mask-A input convolution
    output_hidden: int = 32  # features of the 1x1 output layers

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_positive("hidden", "residual_blocks", "input_kernel", "output_hidden")
        if self.input_kernel % 2 == 0:
            raise ValueError(f"input_kernel must be odd, got {self.input_kernel}")
        if self.hidden < 2:
            raise ValueError(f"hidden must be >= 2 (the blocks use hidden/2), got {self.hidden}")


class ResidualBlock(nn.Module):
    """Figure 5 (right) of PixelRNN: x + 1x1(ReLU(3x3(ReLU(1x1(ReLU(x)))))), all mask B."""

    def __init__(self, hidden: int, groups: int) -> None:
        super().__init__()
        self.reduce = MaskedConv2d(hidden, hidden // 2, 1, mask_type="B", groups=groups)
        self.spatial = MaskedConv2d(hidden // 2, hidden // 2, 3, mask_type="B", groups=groups)
        self.expand = MaskedConv2d(hidden // 2, hidden, 1, mask_type="B", groups=groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.expand(F.relu(self.spatial(F.relu(self.reduce(F.relu(x))))))


@register_model("pixelcnn")
class PixelCNN(AutoregressiveModel):
    """Masked-convolution PixelCNN with residual blocks; exact log-likelihood."""

    config_class = PixelCNNConfig

    def __init__(self, config: PixelCNNConfig, data_format: DataFormat) -> None:
        super().__init__(config, data_format)
        self.check_widths(hidden=config.hidden // 2, output_hidden=config.output_hidden)
        channels, groups = data_format.channels, self.groups
        self.input_conv = MaskedConv2d(channels, config.hidden, config.input_kernel, mask_type="A", groups=groups)
        self.blocks = nn.ModuleList(ResidualBlock(config.hidden, groups) for _ in range(config.residual_blocks))
        self.head = self.output_head(config.hidden, config.output_hidden)

    def network(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.input_conv(x)  # (B, hidden, H, W)
        for block in self.blocks:
            h = block(h)
        return self.head(h)  # (B, P, H, W)

    def stepper(self, canvas: torch.Tensor, labels: torch.Tensor | None = None) -> "PixelCNNStepper":
        return PixelCNNStepper(self, canvas)


class PixelCNNStepper:
    """Fast sampling: the 3x3 input map of every block is cached; each call computes one pixel per layer."""

    def __init__(self, model: PixelCNN, canvas: torch.Tensor) -> None:
        self.model, self.canvas = model, canvas
        batch, _, height, width = canvas.shape
        self.spatial_inputs = [canvas.new_zeros(batch, block.spatial.in_channels, height, width) for block in model.blocks]

    def begin_row(self, row: int) -> None:
        pass

    def params_at(self, row: int, col: int) -> torch.Tensor:
        h = self.model.input_conv.at(self.canvas, row, col)  # (B, hidden)
        for block, cache in zip(self.model.blocks, self.spatial_inputs):
            cache[:, :, row, col] = F.relu(block.reduce.pointwise(F.relu(h)))
            h = h + block.expand.pointwise(F.relu(block.spatial.at(cache, row, col)))
        return self.model.head.pointwise(h)  # (B, P)
