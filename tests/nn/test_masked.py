"""Masked convolutions: the masks of PixelRNN's Figure 2/3, and the one-position evaluation used by fast sampling."""

import pytest
import torch

from genzoo.nn.masked import MaskedConv2d, MaskedOutputHead, causal_mask, channel_groups, shift_down


def test_channel_groups_are_contiguous_and_cover_every_group():
    assert channel_groups(3, 3).tolist() == [0, 1, 2]
    assert channel_groups(7, 3).tolist() == [0, 0, 0, 1, 1, 2, 2]
    assert channel_groups(5, 1).tolist() == [0] * 5
    with pytest.raises(ValueError, match="at least 3"):
        channel_groups(2, 3)


@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_mask_sees_rows_above_pixels_left_and_earlier_groups_at_the_centre(mask_type):
    in_groups, out_groups = channel_groups(3, 3), channel_groups(6, 3)  # RGB in, 6 hidden (2 per group)
    mask = causal_mask((5, 5), in_groups, out_groups, mask_type)  # (6, 3, 5, 5)
    assert mask[:, :, :2].eq(1).all() and mask[:, :, 3:].eq(0).all()  # rows above: all; rows below: none
    assert mask[:, :, 2, :2].eq(1).all() and mask[:, :, 2, 3:].eq(0).all()  # same row: left only
    centre = mask[:, :, 2, 2]  # (out, in)
    for out in range(6):
        for inp in range(3):
            g_out, g_in = int(out_groups[out]), int(in_groups[inp])
            expected = g_out > g_in if mask_type == "A" else g_out >= g_in
            assert centre[out, inp] == float(expected), (out, inp)


def test_single_group_masks_are_pixel_level():
    a = causal_mask((3, 3), channel_groups(3, 1), channel_groups(4, 1), "A")
    b = causal_mask((3, 3), channel_groups(3, 1), channel_groups(4, 1), "B")
    assert a[:, :, 1, 1].eq(0).all() and b[:, :, 1, 1].eq(1).all()


def test_bad_mask_type_and_even_kernel_are_rejected():
    with pytest.raises(ValueError, match="choose one of A, B"):
        causal_mask((3, 3), channel_groups(1, 1), channel_groups(1, 1), "C")
    with pytest.raises(ValueError, match="odd"):
        MaskedConv2d(1, 2, 4, mask_type="A")


@pytest.mark.parametrize("kernel", [(7, 7), (3, 3), (1, 3), (1, 1)])
def test_at_equals_the_full_convolution_at_every_position(kernel):
    torch.manual_seed(0)
    conv = MaskedConv2d(3, 6, kernel, mask_type="A", groups=3).double()
    x = torch.randn(2, 3, 5, 6, dtype=torch.float64)
    full = conv(x)
    for row in range(5):
        for col in range(6):
            torch.testing.assert_close(conv.at(x, row, col), full[:, :, row, col])


def test_pointwise_equals_the_map_version():
    torch.manual_seed(0)
    head = MaskedOutputHead(6, 4, 9, groups=3, out_groups=torch.arange(3).repeat_interleave(3)).double()
    h = torch.randn(2, 6, 3, 4, dtype=torch.float64)
    torch.testing.assert_close(head.pointwise(h[:, :, 1, 2]), head(h)[:, :, 1, 2])
    with pytest.raises(ValueError, match="1x1"):
        MaskedConv2d(2, 2, 3, mask_type="B").pointwise(torch.zeros(1, 2))


def test_masked_conv_output_does_not_depend_on_future_inputs():
    torch.manual_seed(0)
    conv = MaskedConv2d(2, 4, 3, mask_type="A", groups=2).double()
    x = torch.randn(1, 2, 4, 4, dtype=torch.float64, requires_grad=True)
    conv(x)[0, 2:, 1, 1].sum().backward()  # group 1 outputs at (1, 1)
    grad = x.grad[0]
    assert grad[:, 2:].eq(0).all() and grad[:, 1, 2:].eq(0).all() and grad[1, 1, 1] == 0  # future and itself
    assert grad[0, 1, 1] != 0 and grad[:, 0].abs().sum() > 0  # earlier channel of the same pixel, row above


def test_shift_down_moves_rows_and_fills_zeros():
    x = torch.arange(6.0).view(1, 1, 3, 2)
    assert shift_down(x).view(3, 2).tolist() == [[0, 0], [0, 1], [2, 3]]


def test_cached_masked_weight_follows_weight_updates():
    conv = MaskedConv2d(3, 6, 3, mask_type="B", groups=3)
    with torch.no_grad():
        before = conv.masked_weight().clone()
        conv.weight.add_(1.0)  # what an optimizer step does, in place
        after = conv.masked_weight()
    assert not torch.equal(before, after)
    assert torch.equal(after, conv.weight * conv.mask)
    assert conv.masked_weight().requires_grad  # with autograd on, never the cached tensor


def test_cached_per_pixel_kernels_follow_weight_updates():
    conv = MaskedConv2d(3, 6, 3, mask_type="B", groups=3)
    pointwise = MaskedConv2d(3, 6, 1, mask_type="B", groups=3)
    x = torch.randn(2, 3, 4, 5)
    with torch.no_grad():
        for _ in range(2):
            full, full_pointwise = conv(x), pointwise(x)  # (2, 6, 4, 5)
            for row, col in [(0, 0), (2, 2), (3, 4), (1, 0)]:  # corners and interior: different cached windows
                assert torch.allclose(conv.at(x, row, col), full[:, :, row, col], atol=1e-6)
                assert torch.allclose(pointwise.pointwise(x[:, :, row, col]), full_pointwise[:, :, row, col], atol=1e-6)
            conv.weight.mul_(-2.0)  # an in-place update between the two rounds
            pointwise.weight.add_(0.5)
