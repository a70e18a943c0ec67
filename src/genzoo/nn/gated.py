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

    def vertical_conv(self, v: torch.Tensor) -> torch.Tensor:
        """Vertical pre-activation (B, 2h, rows, W) of a map v (B, in, rows + k//2, W) whose first k//2 rows are context."""
        half = self.kernel // 2
        return self.vertical(F.pad(v, (half, half, 0, 0)))

    def forward(
        self, v: torch.Tensor, h: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor]:
        """v, h (B, in, H, W), labels (B,) or None -> v, h (B, hidden, H, W) or None (last layer), skip (B, hidden, H, W)."""
        v_pre = self.vertical_conv(F.pad(v, (0, 0, self.kernel // 2, 0)))  # (B, 2h, H, W), row r sees rows <= r
        h_pre = self.horizontal(h) + self.vertical_to_horizontal(shift_down(v_pre))  # rows < r from the vertical stack
        if self.label_horizontal is not None and labels is not None:
            h_pre = h_pre + self.label_horizontal(labels)[:, :, None, None]
        gated = gate(h_pre)  # (B, h, H, W)
        if self.last:
            return None, None, self.skip(gated)
        if self.label_vertical is not None and labels is not None:
            v_pre = v_pre + self.label_vertical(labels)[:, :, None, None]
        h_out = self.horizontal_out(gated) + (h if self.residual else 0.0)
        return gate(v_pre), h_out, self.skip(gated)
