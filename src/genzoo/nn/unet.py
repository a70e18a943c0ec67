"""A small U-Net: the encoder-decoder with skip connections of the image-to-image models.

Ronneberger et al. 2015, "U-Net"; the generator of pix2pix (Isola et al. 2017, Sec. 3.2.1 and
the appendix): stride-2 4x4 convolutions down (LeakyReLU 0.2), stride-2 4x4 transposed
convolutions up (ReLU), and at every resolution the encoder's features concatenated to the
decoder's. Dropout in the deepest (at most three) decoder blocks is pix2pix's noise source.

    stem       3x3 conv, in -> width                                   (H, W)
    down i     LeakyReLU, 4x4 stride-2 conv, norm      width_(i-1) -> width_i     (H / 2^i)
    bottleneck LeakyReLU, 3x3 conv, norm               at (H / 2^depth)
    up i       ReLU, 4x4 stride-2 transposed conv, norm [, dropout]   [up, skip] -> width_(i-1)
    head       ReLU, 3x3 conv, [up, stem] -> out                       (H, W), linear

width_i = min(width * 2^i, 8 * width) (pix2pix doubles to 512 and stops). The depth is the
number of times H and W halve exactly, capped by `max_depth`: 28 -> 14 -> 7 (two), 32 and 64
down to `max_depth`. Differences from pix2pix: a full-resolution stem and head (so 28 px
images, which halve only twice, still get a 3x3 neighbourhood at full resolution before the
first stride), group normalization instead of batch normalization (an output never depends
on the other images of a batch, in training as at test time), PyTorch's default init.

A condition smaller than the output (super-resolution) is first upsampled bilinearly to the
output size (`at_size`), the input SRCNN-style networks get.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.nn.dropout import ShardedDropout

WIDTH_MULTIPLIER_CAP = 8  # width_i stops growing at 8 * width (pix2pix: 64 -> 512)
DROPOUT_BLOCKS = 3  # pix2pix: dropout in the first three decoder blocks
LEAK = 0.2


def at_size(condition: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A condition (B, Cc, Hc, Wc) at spatial size (H, W): bilinear upsampling when smaller, else unchanged."""
    if tuple(condition.shape[-2:]) == tuple(size):
        return condition
    return F.interpolate(condition, size=size, mode="bilinear", align_corners=False)  # (B, Cc, H, W)


def exact_halvings(height: int, width: int, cap: int) -> int:
    """How many times H and W both halve exactly, at most `cap`: 28x28 -> 2, 32x32 -> min(5, cap)."""
    depth = 0
    while depth < cap and height % 2 ** (depth + 1) == 0 and width % 2 ** (depth + 1) == 0:
        depth += 1
    return depth


def group_norm(channels: int) -> nn.GroupNorm:
    """Group normalization with up to 8 groups (one channel per group below 8 channels)."""
    return nn.GroupNorm(math.gcd(channels, 8), channels)


class UNet(nn.Module):
    """condition (B, in, Hc, Wc) -> linear output (B, out, H, W), the condition upsampled to (H, W) first."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        size: tuple[int, int],
        *,
        width: int = 32,
        max_depth: int = 4,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if width < 1 or max_depth < 0:
            raise ValueError(f"a U-Net needs width >= 1 and max_depth >= 0, got {width} and {max_depth}")
        self.size = (int(size[0]), int(size[1]))
        self.depth = exact_halvings(*self.size, max_depth)
        widths = [min(width * 2**level, WIDTH_MULTIPLIER_CAP * width) for level in range(self.depth + 1)]
        self.stem = nn.Conv2d(in_channels, width, 3, padding=1)
        self.down = nn.ModuleList(
            nn.Sequential(nn.LeakyReLU(LEAK), nn.Conv2d(widths[level - 1], widths[level], 4, stride=2, padding=1), group_norm(widths[level]))
            for level in range(1, self.depth + 1)
        )
        bottom = widths[-1]
        self.bottleneck = nn.Sequential(nn.LeakyReLU(LEAK), nn.Conv2d(bottom, bottom, 3, padding=1), group_norm(bottom))
        self.up = nn.ModuleList(self._up_block(widths, level, dropout) for level in range(self.depth, 0, -1))  # deepest first
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(2 * width, out_channels, 3, padding=1))

    @staticmethod
    def _up_block(widths: list[int], level: int, dropout: float) -> nn.Sequential:
        """[decoder features, encoder skip] at `level` -> width_(level-1) at twice the size."""
        layers: list[nn.Module] = [
            nn.ReLU(),
            nn.ConvTranspose2d(2 * widths[level], widths[level - 1], 4, stride=2, padding=1),
            group_norm(widths[level - 1]),
        ]
        deepest = len(widths) - 1
        if dropout > 0 and deepest - level < DROPOUT_BLOCKS:
            layers.append(ShardedDropout(dropout))
        return nn.Sequential(*layers)

    def forward(self, condition: torch.Tensor) -> torch.Tensor:
        x = self.stem(at_size(condition, self.size))  # (B, width, H, W)
        skips = [x]
        for block in self.down:
            x = block(x)  # (B, width_i, H / 2^i, W / 2^i)
            skips.append(x)
        x = self.bottleneck(x)
        for block in self.up:
            x = block(torch.cat([x, skips.pop()], 1))  # one level up
        return self.head(torch.cat([x, skips.pop()], 1))  # (B, out, H, W)
