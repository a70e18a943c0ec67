"""Variance of the Laplacian: closed forms (flat, linear, quadratic, checkerboard) and blur lowers it."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from genzoo.metrics.sharpness import laplacian_variance, sharpness_ratio


def checkerboard(size: int) -> torch.Tensor:
    rows, columns = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    return ((rows + columns) % 2).double()[None, None]  # (1, 1, size, size) in {0, 1}


def box_blur(images: torch.Tensor) -> torch.Tensor:
    kernel = torch.full((images.shape[1], 1, 3, 3), 1 / 9, dtype=images.dtype)
    return F.conv2d(F.pad(images, (1, 1, 1, 1), mode="replicate"), kernel, groups=images.shape[1])


def test_flat_linear_and_quadratic_images_have_zero_or_constant_laplacian():
    rows, columns = torch.meshgrid(torch.arange(8.0), torch.arange(8.0), indexing="ij")
    flat = torch.full((1, 1, 8, 8), 0.3, dtype=torch.float64)
    ramp = (0.1 * rows + 0.05 * columns)[None, None].double()
    bowl = (rows**2 + columns**2)[None, None].double()  # Laplacian 4 everywhere: variance 0
    assert laplacian_variance(torch.cat([flat, ramp, bowl])).tolist() == pytest.approx([0.0, 0.0, 0.0], abs=1e-12)
    # 200/255 is not exact in binary: the Laplacian of a flat image is 0 up to rounding (4.9e-33 on some CPUs)
    assert laplacian_variance(torch.full((2, 3, 5, 5), 200, dtype=torch.uint8)).tolist() == pytest.approx([0.0, 0.0], abs=1e-12)


def test_checkerboard_has_variance_16_in_both_value_scales():
    # each interior pixel v has 4 neighbours 1 - v: Laplacian 4 - 8v = +-4, half each on a 4x4 interior
    assert laplacian_variance(checkerboard(6)).item() == pytest.approx(16.0)
    assert laplacian_variance((checkerboard(6) * 255).to(torch.uint8)).item() == pytest.approx(16.0)  # uint8 scaled by 1/255
    assert laplacian_variance(checkerboard(6).expand(1, 3, 6, 6)).item() == pytest.approx(16.0)  # over all channels


def test_blur_lowers_sharpness_and_the_ratio_says_so():
    images = torch.rand(16, 1, 12, 12, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    blurred = box_blur(images)
    assert (laplacian_variance(blurred) < laplacian_variance(images)).all()
    assert sharpness_ratio(images, images) == pytest.approx(1.0)
    assert 0 < sharpness_ratio(blurred, images) < 0.5 < 2 < sharpness_ratio(images, blurred)
    assert sharpness_ratio(box_blur(blurred), images) < sharpness_ratio(blurred, images)  # more blur, lower ratio


def test_bad_inputs_are_one_line_errors():
    with pytest.raises(ValueError, match="H, W >= 3"):
        laplacian_variance(torch.zeros(1, 1, 2, 8))
    with pytest.raises(ValueError, match="no detail"):
        sharpness_ratio(checkerboard(6), torch.zeros(2, 1, 6, 6))


def test_large_sets_are_measured_in_chunks_with_the_same_result():
    images = torch.randint(0, 256, (2500, 1, 6, 6), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    per_image = torch.stack([laplacian_variance(image[None])[0] for image in images[:: 499]])
    assert torch.allclose(laplacian_variance(images)[:: 499], per_image, rtol=1e-9, atol=1e-12) and laplacian_variance(images).shape == (2500,)
