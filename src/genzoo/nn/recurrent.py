"""The two-dimensional LSTM layers of PixelRNN (van den Oord et al. 2016, Sec. 3.1-3.2).

Both layers compute, from a map x, LSTM gates as input-to-state + state-to-state (eq. 3):

    [o, f, i, g] = [sigma, sigma, sigma, tanh](K_ss (*) h_prev + K_is (*) x)
    c = f * c_prev + i * g,        h = o * tanh(c)

- `RowLSTM`: processes the image one row at a time. K_is is a 1 x k mask-B convolution
  along the row (computed for the whole map at once); K_ss a 1-D convolution of width k over
  the previous row's hidden state. Receptive field: a triangle above the pixel.
- `DiagonalBiLSTM`: `skew` shifts row i right by i so that each column of the skewed map is
  a diagonal of the image; K_is is a 1x1 mask-B convolution and K_ss a 2x1 convolution over
  the previous skewed column, i.e. each cell reads the states above and to its left. A second
  LSTM does the same right-to-left on the mirrored image; its output is shifted down one row
  before the two are added, because in its own row it has seen pixels to the right
  (Sec. 3.2).

Gate channels are grouped like the hidden state (mask B, `channel_groups(h, C).repeat(4)`),
so hidden group c at a pixel depends on the pixel's channels <= c of the layer input; the
state-to-state convolutions read only pixels strictly before, so they are not masked.
In the Diagonal BiLSTM, states outside the image are zero (cells of the skewed map that are
padding are reset), which makes the whole-map pass and the pixel-by-pixel pass of sampling
compute the same function.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.nn.masked import MaskedConv2d, channel_groups, inference_cache


def lstm_cell(gates: torch.Tensor, cell: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. (3) of PixelRNN: gates (B, 4h, ...) laid out [o, f, i, g], cell (B, h, ...) -> (hidden, cell)."""
    hidden = gates.shape[1] // 4
    output_gate, forget_gate, input_gate = torch.sigmoid(gates[:, : 3 * hidden]).chunk(3, dim=1)
    cell = forget_gate * cell + input_gate * torch.tanh(gates[:, 3 * hidden :])
    return output_gate * torch.tanh(cell), cell


def skew(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, H, W + H - 1): row i shifted right by i, zeros elsewhere.

    One pad and one reshape, no per-row ops: with rows padded to length L = W + H, flat
    index i * L + k (pixel (i, k)) equals i * (L - 1) + (i + k), its place in the skewed map
    of row length L - 1; the cells the skewed map adds fall on the padding.
    """
    *lead, height, width = x.shape
    length = width + height
    flat = F.pad(x, (0, height)).flatten(-2)  # (B, C, H * L)
    return flat[..., : height * (length - 1)].unflatten(-1, (height, length - 1))


def unskew(x: torch.Tensor, width: int) -> torch.Tensor:
    """Inverse of `skew`: (B, C, H, W + H - 1) -> (B, C, H, W), by the same reshape backwards."""
    height = x.shape[-2]
    flat = F.pad(x.flatten(-2), (0, height))  # (B, C, H * L) with L = W + H
    return flat.unflatten(-1, (height, width + height))[..., :width]


def _gate_groups(hidden: int, groups: int) -> torch.Tensor:
    return channel_groups(hidden, groups).repeat(4)  # (4h,) each gate grouped like h


class RowLSTM(nn.Module):
    """Row LSTM layer: (B, in, H, W) -> hidden states (B, h, H, W), rows in sequence."""

    def __init__(self, in_channels: int, hidden: int, *, groups: int, kernel: int = 3) -> None:
        super().__init__()
        self.hidden = hidden
        self.input_to_state = MaskedConv2d(
            in_channels, 4 * hidden, (1, kernel), mask_type="B", groups=groups, out_groups=_gate_groups(hidden, groups)
        )
        self.state_to_state = nn.Conv1d(hidden, 4 * hidden, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = x.shape
        input_gates = self.input_to_state(x)  # (B, 4h, H, W), the whole map at once
        hidden = x.new_zeros(batch, self.hidden, width)  # (B, h, W) state of the previous row
        cell = torch.zeros_like(hidden)
        rows = []
        # unbind, not input_gates[:, :, row]: the backward of each such index would write a
        # full-size zero tensor, H of them per pass; unbind's backward stacks once.
        for row_gates in input_gates.unbind(2):  # (B, 4h, W)
            hidden, cell = lstm_cell(row_gates + self.state_to_state(hidden), cell)
            rows.append(hidden)
        return torch.stack(rows, dim=2)  # (B, h, H, W)


class DiagonalLSTM(nn.Module):
    """One direction (left-to-right) of the Diagonal BiLSTM: (B, in, H, W) -> (B, h, H, W)."""

    def __init__(self, in_channels: int, hidden: int, *, groups: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.input_to_state = MaskedConv2d(
            in_channels, 4 * hidden, 1, mask_type="B", groups=groups, out_groups=_gate_groups(hidden, groups)
        )
        self.state_to_state = nn.Conv1d(hidden, 4 * hidden, 2)  # taps: [state above, state to the left]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = x.shape
        input_gates = skew(self.input_to_state(x))  # (B, 4h, H, W + H - 1)
        inside = skew(x.new_ones(1, 1, height, width))[0, 0]  # (H, W + H - 1): 1 where a skewed cell is a pixel
        hidden = x.new_zeros(batch, self.hidden, height)  # (B, h, H) previous skewed column
        cell = torch.zeros_like(hidden)
        # The 2x1 convolution as one matrix product (a conv1d call per column is ~30x slower on CPU).
        kernel = self.state_kernel()  # (4h, 2h)
        bias = self.state_to_state.bias[:, None]  # (4h, 1)
        columns = []
        # unbind: per-column indexing would cost a full-size zero tensor per column in backward.
        for column_gates, column_inside in zip(input_gates.unbind(3), inside.unbind(1)):  # (B, 4h, H), (H,)
            above = F.pad(hidden, (1, 0))[:, :, :height]  # (B, h, H): row i holds row i-1 of the previous column
            state_gates = kernel @ torch.cat([above, hidden], dim=1) + bias  # (B, 4h, H)
            hidden, cell = lstm_cell(column_gates + state_gates, cell)
            hidden, cell = hidden * column_inside, cell * column_inside
            columns.append(hidden)
        return unskew(torch.stack(columns, dim=3), width)  # (B, h, H, W)

    def state_kernel(self) -> torch.Tensor:
        """The 2x1 state-to-state kernel as a matrix (4h, 2h) over [state above; state before]; cached without autograd."""
        weight = self.state_to_state.weight  # (4h, h, 2): taps for the row above, the same row
        if torch.is_grad_enabled():
            return torch.cat([weight[:, :, 0], weight[:, :, 1]], dim=1)
        cache = inference_cache(self, weight)
        if "state_kernel" not in cache:
            cache["state_kernel"] = torch.cat([weight[:, :, 0], weight[:, :, 1]], dim=1)
        return cache["state_kernel"]

    def step(
        self, input_gates: torch.Tensor, hidden_above: torch.Tensor, hidden_before: torch.Tensor, cell_before: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One cell (B, h): input gates (B, 4h), hidden states (B, h) above it and before it in its row.

        The 2x1 state-to-state kernel reads both neighbours; the cell state carried along the
        scan is the one before it in its row (same row of the previous skewed column).
        """
        neighbours = torch.cat([hidden_above, hidden_before], dim=1)  # (B, 2h)
        state_gates = F.linear(neighbours, self.state_kernel(), self.state_to_state.bias)  # (B, 4h)
        return lstm_cell(input_gates + state_gates, cell_before)


class DiagonalBiLSTM(nn.Module):
    """Left-to-right plus right-to-left (shifted down one row) Diagonal LSTMs: (B, in, H, W) -> (B, h, H, W)."""

    def __init__(self, in_channels: int, hidden: int, *, groups: int) -> None:
        super().__init__()
        self.left_to_right = DiagonalLSTM(in_channels, hidden, groups=groups)
        self.right_to_left = DiagonalLSTM(in_channels, hidden, groups=groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        forward_states = self.left_to_right(x)  # (B, h, H, W)
        backward_states = self.right_to_left(x.flip(3)).flip(3)  # (B, h, H, W), has seen pixels to the right
        return forward_states + F.pad(backward_states, (0, 0, 1, 0))[:, :, : x.shape[2]]
