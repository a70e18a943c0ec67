"""Sample sharpness: the variance of the Laplacian of images, and its ratio to real images.

The variance of the (3x3, 4-neighbour) Laplacian is a classic focus measure (Pech-Pacheco
et al. 2000, "Diatom autofocusing in brightfield microscopy"): edges and fine texture give
large second derivatives, blur removes them. A constant or linear image has 0.

The lecture's claim that VAE samples are blurrier (CS231n lecture 13) is measured as

    sharpness_ratio(samples, test_images) = mean_i var(Laplacian(sample_i)) / mean_j var(Laplacian(test_j))

< 1: the samples have less fine detail than the real images they imitate; > 1: more (noise
counts as detail, so a ratio far above 1 is not "sharper" in the good sense). Pure functions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LAPLACIAN_KERNEL = ((0.0, 1.0, 0.0), (1.0, -4.0, 1.0), (0.0, 1.0, 0.0))


def laplacian_variance(images: torch.Tensor) -> torch.Tensor:
    """Per-image variance (population) of the Laplacian over the interior pixels of all channels, (N,) float64.

    images: (N, C, H, W), uint8 (scaled to [0, 1] by /255) or float (taken as is), H and W >= 3.
    """
    if images.dim() != 4 or images.shape[2] < 3 or images.shape[3] < 3:
        raise ValueError(f"laplacian_variance expects (N, C, H, W) images with H, W >= 3, got shape {tuple(images.shape)}")
    channels = images.shape[1]
    kernel = torch.tensor(LAPLACIAN_KERNEL, dtype=torch.float64, device=images.device).expand(channels, 1, 3, 3)
    variances = []
    for chunk in images.split(1024):  # float64 copies of 10k CIFAR images would take ~250 MB at once
        x = chunk.double() / 255.0 if chunk.dtype == torch.uint8 else chunk.double()  # (n, C, H, W)
        laplacian = F.conv2d(x, kernel, groups=channels)  # (n, C, H-2, W-2), no padding: borders would add fake edges
        variances.append(laplacian.flatten(1).var(dim=1, unbiased=False))  # (n,)
    return torch.cat(variances)


def sharpness_ratio(samples: torch.Tensor, reference: torch.Tensor) -> float:
    """Mean Laplacian variance of `samples` over that of `reference` (same value scale); < 1: blurrier."""
    reference_variance = float(laplacian_variance(reference).mean())
    if reference_variance <= 0.0:
        raise ValueError("reference images have no detail (Laplacian variance 0): the sharpness ratio is undefined")
    return float(laplacian_variance(samples).mean()) / reference_variance
