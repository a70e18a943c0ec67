"""PixelRNN: Row LSTM and Diagonal BiLSTM (van den Oord et al. 2016, "Pixel Recurrent Neural Networks").

Architecture of the paper's Table 4 and Figure 5 (left, middle):
    7x7 conv, mask A                                           C -> hidden (= 2h)
    `layers` residual LSTM layers: x + 1x1 conv mask B (h -> 2h) of the LSTM's states
        pixelrnn-row:  Row LSTM, 1x3 mask-B input-to-state, width-3 state-to-state
        pixelrnn-diag: Diagonal BiLSTM, 1x1 mask-B input-to-state, 2x1 state-to-state on
                       the skewed map, right-to-left direction shifted down one row
    ReLU, 1x1 conv mask B, ReLU, 1x1 conv mask B               -> distribution parameters
Defaults are the paper's MNIST model (Sec. 5: 7 layers, h = 16); the output layers' width
(32) is a choice of ours for MNIST-sized data.

Sampling carries the LSTM states from row to row (`sampler=fast`): per pixel each layer runs
one LSTM cell; the Diagonal BiLSTM's right-to-left pass over a row runs once the row is
complete, which is when the row below first needs it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from genzoo.data.format import DataFormat
from genzoo.models.autoregressive import AutoregressiveConfig, AutoregressiveModel
from genzoo.models.registry import register_model
from genzoo.nn.masked import MaskedConv2d
from genzoo.nn.recurrent import DiagonalBiLSTM, RowLSTM, lstm_cell


@dataclass(frozen=True)
class PixelRNNConfig(AutoregressiveConfig):
    """Shared by pixelrnn-row and pixelrnn-diag; also: output, mixture_components, sampler."""

    hidden: int = 32  # 2h: channels between layers; the LSTM state has h = hidden // 2
    layers: int = 7
    input_kernel: int = 7  # the mask-A input convolution
    output_hidden: int = 32  # features of the 1x1 output layers

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_positive("hidden", "layers", "input_kernel", "output_hidden")
        if self.input_kernel % 2 == 0:
            raise ValueError(f"input_kernel must be odd, got {self.input_kernel}")
        if self.hidden < 2:
            raise ValueError(f"hidden must be >= 2 (the LSTM state has hidden/2 channels), got {self.hidden}")


@dataclass(frozen=True)
class RowLSTMConfig(PixelRNNConfig):
    row_kernel: int = 3  # k of the 1 x k input-to-state and width-k state-to-state convolutions

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_positive("row_kernel")
        if self.row_kernel % 2 == 0:
            raise ValueError(f"row_kernel must be odd, got {self.row_kernel}")


@dataclass(frozen=True)
class DiagonalBiLSTMConfig(PixelRNNConfig):
    pass


class _PixelRNN(AutoregressiveModel):
    """Input conv, residual LSTM layers, output head; subclasses choose the LSTM."""

    def __init__(self, config: PixelRNNConfig, data_format: DataFormat) -> None:
        super().__init__(config, data_format)
        self.check_widths(hidden=config.hidden // 2, output_hidden=config.output_hidden)
        self.state = config.hidden // 2
        channels, kernel = data_format.channels, config.input_kernel
        self.input_conv = MaskedConv2d(channels, config.hidden, kernel, mask_type="A", groups=self.groups)
        self.lstms = nn.ModuleList(self.make_lstm(config) for _ in range(config.layers))
        self.ups = nn.ModuleList(
            MaskedConv2d(self.state, config.hidden, 1, mask_type="B", groups=self.groups) for _ in range(config.layers)
        )
        self.head = self.output_head(config.hidden, config.output_hidden)

    def make_lstm(self, config: PixelRNNConfig) -> nn.Module:
        raise NotImplementedError

    def network(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.input_conv(x)  # (B, 2h, H, W)
        for lstm, up in zip(self.lstms, self.ups):
            h = h + up(lstm(h))  # residual connection of Figure 5
        return self.head(h)  # (B, P, H, W)


@register_model("pixelrnn-row")
class RowPixelRNN(_PixelRNN):
    """PixelRNN with Row LSTM layers (triangular receptive field above each pixel)."""

    config_class = RowLSTMConfig

    def make_lstm(self, config: RowLSTMConfig) -> nn.Module:
        return RowLSTM(config.hidden, config.hidden // 2, groups=self.groups, kernel=config.row_kernel)

    def stepper(self, canvas: torch.Tensor, labels: torch.Tensor | None = None) -> "RowLSTMStepper":
        return RowLSTMStepper(self, canvas)


@register_model("pixelrnn-diag")
class DiagonalPixelRNN(_PixelRNN):
    """PixelRNN with Diagonal BiLSTM layers (receptive field: every earlier pixel)."""

    config_class = DiagonalBiLSTMConfig

    def make_lstm(self, config: DiagonalBiLSTMConfig) -> nn.Module:
        return DiagonalBiLSTM(config.hidden, config.hidden // 2, groups=self.groups)

    def stepper(self, canvas: torch.Tensor, labels: torch.Tensor | None = None) -> "DiagonalBiLSTMStepper":
        return DiagonalBiLSTMStepper(self, canvas)


class RowLSTMStepper:
    """Row-by-row sampling: the previous row's LSTM states are carried, each pixel runs one cell per layer."""

    def __init__(self, model: RowPixelRNN, canvas: torch.Tensor) -> None:
        self.model, self.canvas = model, canvas
        batch, _, height, width = canvas.shape
        layers = len(model.lstms)
        self.inputs = [canvas.new_zeros(batch, model.config.hidden, height, width) for _ in range(layers)]

        def zero_row() -> torch.Tensor:
            return canvas.new_zeros(batch, model.state, width)  # (B, h, W)

        self.previous = [(zero_row(), zero_row()) for _ in range(layers)]  # (hidden, cell) of row - 1
        self.current = [(zero_row(), zero_row()) for _ in range(layers)]  # (hidden, cell) of this row
        self.state_gates: list[torch.Tensor] = []

    def begin_row(self, row: int) -> None:
        if row > 0:
            self.previous, self.current = self.current, self.previous  # the finished row becomes the context
        # State-to-state gates of the whole row (B, 4h, W), from the previous row's hidden states.
        self.state_gates = [lstm.state_to_state(hidden) for lstm, (hidden, _) in zip(self.model.lstms, self.previous)]

    def params_at(self, row: int, col: int) -> torch.Tensor:
        h = self.model.input_conv.at(self.canvas, row, col)  # (B, 2h)
        for index, (lstm, up) in enumerate(zip(self.model.lstms, self.model.ups)):
            self.inputs[index][:, :, row, col] = h
            gates = lstm.input_to_state.at(self.inputs[index], row, col) + self.state_gates[index][:, :, col]  # (B, 4h)
            hidden, cell = lstm_cell(gates, self.previous[index][1][:, :, col])
            self.current[index][0][:, :, col], self.current[index][1][:, :, col] = hidden, cell
            h = h + up.pointwise(hidden)
        return self.model.head.pointwise(h)  # (B, P)


class DiagonalBiLSTMStepper:
    """Pixel-by-pixel sampling: left-to-right cells per pixel; the right-to-left pass of a row once it is complete."""

    def __init__(self, model: DiagonalPixelRNN, canvas: torch.Tensor) -> None:
        self.model, self.canvas = model, canvas
        batch, _, height, width = canvas.shape
        layers = len(model.lstms)

        def maps() -> list[torch.Tensor]:
            return [canvas.new_zeros(batch, model.state, height, width) for _ in range(layers)]

        self.inputs = [canvas.new_zeros(batch, model.config.hidden, height, width) for _ in range(layers)]
        self.forward_hidden, self.forward_cell = maps(), maps()  # left-to-right states (B, h, H, W)
        self.backward_hidden, self.backward_cell = maps(), maps()  # right-to-left states
        self.zeros = canvas.new_zeros(batch, model.state)  # states outside the image

    def _state(self, states: torch.Tensor, row: int, col: int) -> torch.Tensor:
        inside = 0 <= row < states.shape[2] and 0 <= col < states.shape[3]
        return states[:, :, row, col] if inside else self.zeros

    def begin_row(self, row: int) -> None:
        """Right-to-left pass over row - 1, now complete: the shifted input of `row`."""
        if row == 0:
            return
        done = row - 1
        for index, lstm in enumerate(self.model.lstms):
            direction = lstm.right_to_left
            gates = direction.input_to_state(self.inputs[index][:, :, done : done + 1])[:, :, 0]  # (B, 4h, W)
            hidden_map, cell_map = self.backward_hidden[index], self.backward_cell[index]
            for col in reversed(range(self.canvas.shape[3])):  # "before" is the pixel to the right
                hidden, cell = direction.step(
                    gates[:, :, col],
                    self._state(hidden_map, done - 1, col),
                    self._state(hidden_map, done, col + 1),
                    self._state(cell_map, done, col + 1),
                )
                hidden_map[:, :, done, col], cell_map[:, :, done, col] = hidden, cell

    def params_at(self, row: int, col: int) -> torch.Tensor:
        h = self.model.input_conv.at(self.canvas, row, col)  # (B, 2h)
        for index, (lstm, up) in enumerate(zip(self.model.lstms, self.model.ups)):
            self.inputs[index][:, :, row, col] = h
            hidden_map, cell_map = self.forward_hidden[index], self.forward_cell[index]
            hidden, cell = lstm.left_to_right.step(
                lstm.left_to_right.input_to_state.pointwise(h),
                self._state(hidden_map, row - 1, col),
                self._state(hidden_map, row, col - 1),
                self._state(cell_map, row, col - 1),
            )
            hidden_map[:, :, row, col], cell_map[:, :, row, col] = hidden, cell
            shifted = self._state(self.backward_hidden[index], row - 1, col)  # right-to-left, one row down
            h = h + up.pointwise(hidden + shifted)
        return self.model.head.pointwise(h)  # (B, P)
