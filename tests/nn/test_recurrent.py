"""PixelRNN's LSTM layers: skew/unskew, and the whole-map passes against cell-by-cell references."""

import pytest
import torch

from genzoo.nn.recurrent import DiagonalBiLSTM, DiagonalLSTM, RowLSTM, lstm_cell, skew, unskew


def test_skew_shifts_row_i_right_by_i_and_unskew_inverts_it():
    x = torch.arange(1.0, 13.0).view(1, 1, 3, 4)
    skewed = skew(x)
    assert skewed.shape == (1, 1, 3, 6)
    assert skewed[0, 0].tolist() == [[1, 2, 3, 4, 0, 0], [0, 5, 6, 7, 8, 0], [0, 0, 9, 10, 11, 12]]
    assert torch.equal(unskew(skewed, 4), x)


def test_diagonal_lstm_is_a_2d_lstm_over_the_pixels_above_and_left():
    """The skewed column scan equals a cell-by-cell loop in which each cell reads (r-1, c) and (r, c-1)."""
    torch.manual_seed(0)
    lstm = DiagonalLSTM(4, 3, groups=1).double()
    x = torch.randn(2, 4, 3, 5, dtype=torch.float64)
    gates = lstm.input_to_state(x)
    hidden = torch.zeros(2, 3, 3, 5, dtype=torch.float64)
    cell = torch.zeros_like(hidden)
    zeros = torch.zeros(2, 3, dtype=torch.float64)
    for r in range(3):
        for c in range(5):
            above = hidden[:, :, r - 1, c] if r > 0 else zeros
            before, cell_before = (hidden[:, :, r, c - 1], cell[:, :, r, c - 1]) if c > 0 else (zeros, zeros)
            hidden[:, :, r, c], cell[:, :, r, c] = lstm.step(gates[:, :, r, c], above, before, cell_before)
    torch.testing.assert_close(lstm(x), hidden)


def test_row_lstm_matches_a_loop_over_rows_and_columns():
    torch.manual_seed(0)
    lstm = RowLSTM(4, 3, groups=1, kernel=3).double()
    x = torch.randn(2, 4, 3, 5, dtype=torch.float64)
    gates_in = lstm.input_to_state(x)
    hidden = torch.zeros(2, 3, 5, dtype=torch.float64)
    cell = torch.zeros_like(hidden)
    rows = []
    for r in range(3):
        weight, bias = lstm.state_to_state.weight, lstm.state_to_state.bias  # (4h, h, 3)
        padded = torch.nn.functional.pad(hidden, (1, 1))
        state = torch.stack([torch.einsum("bik,oik->bo", padded[:, :, c : c + 3], weight) + bias for c in range(5)], -1)
        hidden, cell = lstm_cell(gates_in[:, :, r] + state, cell)
        rows.append(hidden)
    torch.testing.assert_close(lstm(x), torch.stack(rows, 2))


def test_bilstm_right_to_left_output_is_shifted_down_so_the_first_row_sees_only_left_to_right():
    torch.manual_seed(0)
    bilstm = DiagonalBiLSTM(2, 2, groups=1).double()
    x = torch.randn(1, 2, 3, 4, dtype=torch.float64)
    out = bilstm(x)
    torch.testing.assert_close(out[:, :, 0], bilstm.left_to_right(x)[:, :, 0])
    backward = bilstm.right_to_left(x.flip(3)).flip(3)
    torch.testing.assert_close(out[:, :, 1:] - bilstm.left_to_right(x)[:, :, 1:], backward[:, :, :-1])


@pytest.mark.parametrize("height, width", [(1, 1), (5, 3), (2, 7), (6, 6)])
def test_skew_matches_its_definition_on_any_shape_and_its_gradient_is_unskew(height, width):
    x = torch.randn(2, 3, height, width, requires_grad=True)
    skewed = skew(x)  # (2, 3, H, W + H - 1)
    expected = torch.zeros(2, 3, height, width + height - 1)
    for row in range(height):
        expected[:, :, row, row : row + width] = x[:, :, row]
    assert torch.equal(skewed, expected)
    assert torch.equal(unskew(skewed, width), x)
    upstream = torch.randn_like(skewed)
    (grad,) = torch.autograd.grad(skewed, x, upstream)
    assert torch.equal(grad, unskew(upstream, width))
