"""Masked convolutions: the one place where autoregressive causality is enforced.

Van den Oord et al. 2016, "Pixel Recurrent Neural Networks", Sec. 3.4 and Figures 2-3.
Pixels are ordered in raster order and, within a pixel, channel 0 (R) before 1 (G) before
2 (B). A k x k kernel centred on pixel p may read every row above p and the pixels left of
p in p's row; at p itself the channels are split into groups, one per image channel, and

    mask A (first layer):  output group c reads input groups  < c  at the centre,
    mask B (later layers): output group c reads input groups <= c  at the centre,

so the features of group c at p depend on the image only through the sub-pixels before
(p, c). With a single group the masks become pixel-level causality (mask A hides the
whole centre pixel, mask B shows it); the discretized logistic mixture uses that, because it
models the channels of a pixel jointly (Salimans et al. 2017).

Besides the whole-map `forward`, every masked convolution can compute its output at one
position from a cached input map (`at`, `pointwise`): the building block of the fast
incremental sampler (Ramachandran et al. 2017).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

MaskType = Literal["A", "B"]
MASK_TYPES: tuple[str, ...] = ("A", "B")


def channel_groups(channels: int, groups: int) -> torch.Tensor:
    """Group id of each channel when `channels` are split into `groups` contiguous, near-equal chunks: (channels,)."""
    if channels < groups:
        raise ValueError(f"cannot split {channels} channels into {groups} channel groups: use at least {groups} channels")
    return torch.arange(channels) * groups // channels


def causal_mask(
    kernel_size: tuple[int, int],
    in_groups: torch.Tensor,
    out_groups: torch.Tensor,
    mask_type: MaskType,
) -> torch.Tensor:
    """0/1 mask of a kernel (out, in, kh, kw): rows above, pixels left, and the centre by channel group."""
    if mask_type not in MASK_TYPES:
        raise ValueError(f"bad mask_type {mask_type!r}: choose one of {', '.join(MASK_TYPES)}")
    height, width = kernel_size
    if height % 2 == 0 or width % 2 == 0:
        raise ValueError(f"masked convolutions need odd kernel sizes, got {kernel_size}")
    centre_row, centre_col = height // 2, width // 2
    mask = torch.zeros(len(out_groups), len(in_groups), height, width)
    mask[:, :, :centre_row, :] = 1.0
    mask[:, :, centre_row, :centre_col] = 1.0
    if mask_type == "A":
        centre = out_groups[:, None] > in_groups[None, :]  # (out, in)
    else:
        centre = out_groups[:, None] >= in_groups[None, :]
    mask[:, :, centre_row, centre_col] = centre.float()
    return mask


def inference_cache(module: nn.Module, *tensors: torch.Tensor) -> dict[Any, torch.Tensor]:
    """A dict on `module` for tensors derived from `tensors` outside autograd, emptied when they change.

    Keyed by each tensor's version counter, storage and dtype, so an optimizer step,
    load_state_dict or a device move all invalidate it. The per-pixel sampling paths ask for
    the same derived kernels at every pixel.
    """
    key = [(t._version, t.data_ptr(), t.dtype) for t in tensors]
    cache = module.__dict__.get("_inference_cache")
    if cache is None or cache["key"] != key:
        cache = {"key": key}
        module.__dict__["_inference_cache"] = cache
    return cache


class MaskedConv2d(nn.Conv2d):
    """Convolution whose kernel sees only the past (see module docstring); 'same' padding.

    groups: number of channel groups (the image's C for sub-pixel causality, 1 for pixel-level).
    in_groups / out_groups: explicit group id per channel; default: contiguous near-equal chunks.
    Gated layers pass `out_groups=channel_groups(h, C).repeat(k)` so that each of their k gate
    blocks is grouped like the h hidden channels it produces.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        *,
        mask_type: MaskType,
        groups: int = 1,
        in_groups: torch.Tensor | None = None,
        out_groups: torch.Tensor | None = None,
        bias: bool = True,
    ) -> None:
        size = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        super().__init__(in_channels, out_channels, size, padding=(size[0] // 2, size[1] // 2), bias=bias)
        in_groups = channel_groups(in_channels, groups) if in_groups is None else in_groups
        out_groups = channel_groups(out_channels, groups) if out_groups is None else out_groups
        if len(in_groups) != in_channels or len(out_groups) != out_channels:
            raise ValueError("in_groups/out_groups need one group id per channel")
        self.mask_type = mask_type
        # Derived from the constructor arguments, so not saved with the weights.
        self.register_buffer("mask", causal_mask(size, in_groups, out_groups, mask_type), persistent=False)

    def masked_weight(self) -> torch.Tensor:
        """weight * mask (out, in, kh, kw); cached outside autograd, since the fast sampler asks per pixel."""
        if torch.is_grad_enabled():
            return self.weight * self.mask
        return self._inference_weights()["masked"]

    def _inference_weights(self) -> dict[Any, torch.Tensor]:
        """weight * mask and the matrices the per-pixel paths derive from it, built once per weight value."""
        cache = inference_cache(self, self.weight, self.mask)
        if "masked" not in cache:
            cache["masked"] = self.weight * self.mask
        return cache

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.masked_weight(), self.bias, padding=self.padding)

    def at(self, x: torch.Tensor, row: int, col: int) -> torch.Tensor:
        """Output at one position (B, out) from the input map x (B, in, H, W); reads rows <= row only.

        Equal to forward(x)[:, :, row, col]; values of x at future positions meet zero weights.
        One matrix product of the flattened patch with the matching part of the kernel, which
        is cached per window (interior pixels share one).
        """
        height, width = x.shape[-2:]
        half_h, half_w = self.kernel_size[0] // 2, self.kernel_size[1] // 2
        top, left, right = max(row - half_h, 0), max(col - half_w, 0), min(col + half_w + 1, width)
        patch = x[:, :, top : row + 1, left:right]  # (B, in, rows <= row, cols)
        window = (top - row + half_h, left - col + half_w, right - col + half_w)  # kernel rows from, cols from, to
        return F.linear(patch.reshape(patch.shape[0], -1), self._window_matrix(window), self.bias)  # (B, out)

    def _window_matrix(self, window: tuple[int, int, int]) -> torch.Tensor:
        """(out, in * rows * cols): kernel rows window[0]..centre, columns window[1]:window[2], flattened."""
        first_row, first_col, end_col = window
        half_h = self.kernel_size[0] // 2
        if torch.is_grad_enabled():
            return self.masked_weight()[:, :, first_row : half_h + 1, first_col:end_col].flatten(1)
        cache = self._inference_weights()
        if window not in cache:
            cache[window] = cache["masked"][:, :, first_row : half_h + 1, first_col:end_col].flatten(1)
        return cache[window]

    def pointwise(self, v: torch.Tensor) -> torch.Tensor:
        """A 1x1 masked convolution applied to feature vectors (B, in) -> (B, out)."""
        if self.kernel_size != (1, 1):
            raise ValueError("pointwise() needs a 1x1 kernel; use at() for larger kernels")
        return F.linear(v, self._window_matrix((0, 0, 1)), self.bias)


def shift_down(x: torch.Tensor, rows: int = 1) -> torch.Tensor:
    """Move a map (B, C, H, W) down by `rows`, zeros entering at the top: row r then holds row r - rows."""
    return F.pad(x, (0, 0, rows, 0))[:, :, : x.shape[2], :]


class MaskedOutputHead(nn.Module):
    """ReLU -> 1x1 mask-B conv -> ReLU -> 1x1 mask-B conv to the distribution's parameters.

    The output layers of PixelRNN (van den Oord et al. 2016, Table 4: two ReLU + 1x1 mask-B
    convolutions); `out_groups` assigns each parameter channel to the image channel whose
    distribution it parameterises.
    """

    def __init__(self, in_channels: int, hidden: int, out_channels: int, *, groups: int, out_groups: torch.Tensor) -> None:
        super().__init__()
        self.hidden = MaskedConv2d(in_channels, hidden, 1, mask_type="B", groups=groups)
        self.out = MaskedConv2d(hidden, out_channels, 1, mask_type="B", groups=groups, out_groups=out_groups)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.out(F.relu(self.hidden(F.relu(h))))  # (B, P, H, W)

    def pointwise(self, v: torch.Tensor) -> torch.Tensor:
        return self.out.pointwise(F.relu(self.hidden.pointwise(F.relu(v))))  # (B, P)
