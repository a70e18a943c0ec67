"""The gated layer of Gated PixelCNN: a vertical and a horizontal stack without a blind spot.

Van den Oord et al. 2016, "Conditional Image Generation with PixelCNN Decoders", Sec. 2.2-2.3
and Figure 2. Gated activation (eq. 2), with class conditioning h (eq. 4):

    y = tanh(W_f * x + V_f^T h) * sigmoid(W_g * x + V_g^T h)

- The vertical stack sees whole rows: at row r a (k//2 + 1) x k kernel reads rows
  r - k//2 .. r. It never receives horizontal features.
- Its pre-activation is shifted down one row and added, through a 1x1 convolution, to the
  horizontal stack, so that the horizontal stack at row r receives only rows < r from it.
- The horizontal stack is a 1 x k masked convolution along the row (mask A in the first
  layer, B after), channels grouped as in PixelRNN for sub-pixel causality; it has a
  residual 1x1 connection and emits a 1x1 skip output.

Stacking these layers covers every pixel above and to the left: the blind spot of the
original PixelCNN's masked k x k kernels is gone.

A layer's gates take two kinds of conditioning h, added to both stacks' pre-activations:
a class label (eq. 4, V^T h a learned embedding) and a spatial map s = m(h) computed from
an image by a non-causal network (eq. 5, V * s a 1x1 convolution). The map may read the
whole conditioning image: it is a function of h, never of the pixels being modelled.

`GatedStackStepper` computes a stack of these layers one pixel at a time for sampling
(Ramachandran et al. 2017): vertical stacks row by row, once the row above is complete;
horizontal stacks pixel by pixel.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.nn.masked import MaskType, MaskedConv2d, channel_groups, shift_down


def gate(pre_activation: torch.Tensor) -> torch.Tensor:
    """tanh(f) * sigmoid(g) of a pre-activation laid out [f, g] on dim 1: (B, 2h, ...) -> (B, h, ...)."""
    f, g = pre_activation.chunk(2, dim=1)
    return torch.tanh(f) * torch.sigmoid(g)


class GatedLayer(nn.Module):
    """One layer of both stacks: (vertical, horizontal) maps -> (vertical, horizontal, skip)."""

    def __init__(
        self,
        in_channels: int,
        hidden: int,
        kernel: int,
        *,
        mask_type: MaskType,
        groups: int,
        num_classes: int | None = None,
        condition_channels: int | None = None,
        last: bool = False,
        residual: bool = True,
    ) -> None:
        super().__init__()
        if kernel % 2 == 0:
            raise ValueError(f"kernel sizes must be odd, got {kernel}")
        if residual and in_channels != hidden:
            raise ValueError(f"a residual gated layer maps hidden -> hidden features, got {in_channels} -> {hidden}")
        self.kernel = kernel
        # Never in the mask-A input layer: its input holds the sub-pixel being predicted (a residual
        # would hand it to every later layer), whatever the widths.
        self.residual = residual
        self.vertical = nn.Conv2d(in_channels, 2 * hidden, (kernel // 2 + 1, kernel))
        self.vertical_to_horizontal = nn.Conv2d(2 * hidden, 2 * hidden, 1)
        gate_groups = channel_groups(hidden, groups).repeat(2)  # [f, g] blocks, each grouped like the h outputs
        self.horizontal = MaskedConv2d(
            in_channels, 2 * hidden, (1, kernel), mask_type=mask_type, groups=groups, out_groups=gate_groups
        )
        self.skip = MaskedConv2d(hidden, hidden, 1, mask_type="B", groups=groups)
        # The last layer feeds only the skip sum: it has no stack outputs (no unused parameters, which DDP rejects).
        self.last = last
        self.horizontal_out = None if last else MaskedConv2d(hidden, hidden, 1, mask_type="B", groups=groups)
        self.label_vertical = self.label_horizontal = None
        if num_classes is not None:
            self.label_horizontal = nn.Embedding(num_classes, 2 * hidden)  # V^T h of eq. (4), one per stack
            nn.init.normal_(self.label_horizontal.weight, std=0.1)
            if not last:
                self.label_vertical = nn.Embedding(num_classes, 2 * hidden)
                nn.init.normal_(self.label_vertical.weight, std=0.1)
        self.condition_vertical = self.condition_horizontal = None
        if condition_channels is not None:
            self.condition_horizontal = nn.Conv2d(condition_channels, 2 * hidden, 1)  # V * s of eq. (5), one per stack
            if not last:
                self.condition_vertical = nn.Conv2d(condition_channels, 2 * hidden, 1)

    def gate_biases(
        self, labels: torch.Tensor | None = None, condition: torch.Tensor | None = None
    ) -> tuple[torch.Tensor | float, torch.Tensor | float]:
        """The conditioning terms added to the (vertical, horizontal) gate pre-activations, each
        (B, 2h, 1, 1) for labels (B,), (B, 2h, H, W) with a conditioning map (B, S, H, W), or 0.0."""
        vertical: torch.Tensor | float = 0.0
        horizontal: torch.Tensor | float = 0.0
        if labels is not None and self.label_horizontal is not None:
            horizontal = horizontal + self.label_horizontal(labels)[:, :, None, None]
            if self.label_vertical is not None:
                vertical = vertical + self.label_vertical(labels)[:, :, None, None]
        if condition is not None and self.condition_horizontal is not None:
            horizontal = horizontal + self.condition_horizontal(condition)
            if self.condition_vertical is not None:
                vertical = vertical + self.condition_vertical(condition)
        return vertical, horizontal

    def vertical_conv(self, v: torch.Tensor) -> torch.Tensor:
        """Vertical pre-activation (B, 2h, rows, W) of a map v (B, in, rows + k//2, W) whose first k//2 rows are context."""
        half = self.kernel // 2
        return self.vertical(F.pad(v, (half, half, 0, 0)))

    def forward(
        self, v: torch.Tensor, h: torch.Tensor, labels: torch.Tensor | None = None, condition: torch.Tensor | None = None
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor]:
        """v, h (B, in, H, W), labels (B,) or None, conditioning map (B, S, H, W) or None
        -> v, h (B, hidden, H, W) or None (last layer), skip (B, hidden, H, W)."""
        vertical_bias, horizontal_bias = self.gate_biases(labels, condition)
        v_pre = self.vertical_conv(F.pad(v, (0, 0, self.kernel // 2, 0)))  # (B, 2h, H, W), row r sees rows <= r
        h_pre = self.horizontal(h) + self.vertical_to_horizontal(shift_down(v_pre))  # rows < r from the vertical stack
        gated = gate(h_pre + horizontal_bias)  # (B, h, H, W)
        if self.last:
            return None, None, self.skip(gated)
        h_out = self.horizontal_out(gated) + (h if self.residual else 0.0)
        return gate(v_pre + vertical_bias), h_out, self.skip(gated)


class GatedStackStepper:
    """A stack of GatedLayers and its output head, one pixel at a time (`genzoo.models.autoregressive.Stepper`).

    layers: the stack, layer 0 reading the canvas (B, C, H, W) that the sampler fills in;
    head: a module with `pointwise` (B, hidden) -> (B, P), fed the sum of the skip outputs;
    biases: per layer, its `gate_biases(...)` for the whole image (computed once).
    """

    def __init__(
        self,
        layers: nn.ModuleList,
        head: nn.Module,
        canvas: torch.Tensor,
        biases: list[tuple[torch.Tensor | float, torch.Tensor | float]],
    ) -> None:
        self.layers, self.head, self.canvas = layers, head, canvas
        batch, _, height, width = canvas.shape
        self.hidden = layers[0].vertical_to_horizontal.out_channels // 2
        # Inputs of each layer's stacks: the canvas for layer 0, then the previous layer's outputs.
        self.vertical_inputs = [canvas] + [canvas.new_zeros(batch, self.hidden, height, width) for _ in layers[1:]]
        self.horizontal_inputs = [canvas] + [canvas.new_zeros(batch, self.hidden, height, width) for _ in layers[1:]]
        self.vertical_links: list[torch.Tensor] = []  # per layer (B, 2h, W): vertical -> horizontal for the current row
        whole = (batch, 2 * self.hidden, height, width)
        self.vertical_bias = [(canvas.new_zeros(()) + vertical).expand(whole) for vertical, _ in biases]  # (B, 2h, H, W)
        self.horizontal_bias = [(canvas.new_zeros(()) + horizontal).expand(whole) for _, horizontal in biases]

    def begin_row(self, row: int) -> None:
        """Run the vertical stack over row - 1 (now complete) to get every layer's link into `row`."""
        self.vertical_links = []
        batch, width = self.canvas.shape[0], self.canvas.shape[3]
        for index, layer in enumerate(self.layers):
            if row == 0:  # shift_down brings zeros into the first row
                above = self.canvas.new_zeros(batch, 2 * self.hidden, 1, width)
            else:
                half = layer.kernel // 2
                source = self.vertical_inputs[index][:, :, max(row - 1 - half, 0) : row]  # rows row-1-half .. row-1
                source = F.pad(source, (0, 0, half + 1 - source.shape[2], 0))  # zero rows above the image
                above = layer.vertical_conv(source)  # (B, 2h, 1, W): pre-activation of row - 1
                if not layer.last:
                    self.vertical_inputs[index + 1][:, :, row - 1] = gate(above[:, :, 0] + self.vertical_bias[index][:, :, row - 1])
            self.vertical_links.append(layer.vertical_to_horizontal(above)[:, :, 0])  # (B, 2h, W)

    def params_at(self, row: int, col: int) -> torch.Tensor:
        skip = 0.0
        for index, layer in enumerate(self.layers):
            h_in = self.horizontal_inputs[index]
            h_pre = layer.horizontal.at(h_in, row, col) + self.vertical_links[index][:, :, col]
            gated = gate(h_pre + self.horizontal_bias[index][:, :, row, col])  # (B, h), summed in forward's order
            if not layer.last:
                residual = h_in[:, :, row, col] if layer.residual else 0.0
                self.horizontal_inputs[index + 1][:, :, row, col] = layer.horizontal_out.pointwise(gated) + residual
            skip = skip + layer.skip.pointwise(gated)
        return self.head.pointwise(skip)  # (B, P)
