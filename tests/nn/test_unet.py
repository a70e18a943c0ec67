"""The U-Net of the image-to-image models: depth from the image size, output at the target's size, skips used."""

import pytest
import torch

from genzoo.nn.dropout import ShardedDropout
from genzoo.nn.unet import UNet, at_size, exact_halvings


def test_depth_is_the_number_of_exact_halvings_capped():
    assert [exact_halvings(side, side, 4) for side in (28, 32, 64, 27, 8)] == [2, 4, 4, 0, 3]
    assert exact_halvings(28, 16, 4) == 2 and exact_halvings(32, 32, 1) == 1
    assert UNet(1, 1, (28, 28), width=4).depth == 2  # Fashion-MNIST: 28 -> 14 -> 7


@pytest.mark.parametrize("condition_shape, size", [((1, 7, 7), (28, 28)), ((3, 32, 32), (32, 32)), ((1, 16, 16), (64, 64)), ((2, 9, 9), (9, 9))])
def test_outputs_have_the_target_size_whatever_the_condition_size(condition_shape, size):
    net = UNet(condition_shape[0], 3, size, width=4, max_depth=3)
    assert net(torch.rand(2, *condition_shape)).shape == (2, 3, *size)


def test_smaller_conditions_are_upsampled_bilinearly_and_equal_sizes_pass_through():
    condition = torch.rand(2, 1, 4, 4)
    assert at_size(condition, (4, 4)) is condition
    assert at_size(condition, (8, 8)).shape == (2, 1, 8, 8)
    row = at_size(torch.tensor([[[[0.0, 1.0]]]]), (1, 4))  # pixel centres at 1/4 and 3/4 of the way between the inputs
    torch.testing.assert_close(row, torch.tensor([[[[0.0, 0.25, 0.75, 1.0]]]]))


def test_every_output_pixel_sees_the_whole_input_and_every_parameter_gets_a_gradient():
    torch.manual_seed(0)
    net = UNet(1, 2, (8, 8), width=8, max_depth=3)  # 8 -> 4 -> 2 -> 1
    x = torch.rand(1, 1, 8, 8, requires_grad=True)
    net(x)[0, :, 0, 0].sum().backward()  # the top-left output pixel
    assert (x.grad != 0).all()  # reads the bottom-right corner too
    assert all(p.grad is not None and p.grad.any() for p in net.parameters())


def test_dropout_sits_in_the_three_deepest_decoder_blocks_only():
    net = UNet(1, 1, (32, 32), width=4, max_depth=4, dropout=0.5)
    with_dropout = [any(isinstance(m, ShardedDropout) for m in block.modules()) for block in net.up]  # deepest first
    assert with_dropout == [True, True, True, False]
    assert not any(isinstance(m, ShardedDropout) for m in UNet(1, 1, (32, 32), width=4).modules())
    with pytest.raises(ValueError, match="width >= 1"):
        UNet(1, 1, (8, 8), width=0)
