"""Image completion with an autoregressive model: keep some pixels, sample the rest.

PixelRNN's occlusion completions (van den Oord et al. 2016, Figure 1): the kept sub-pixels
are forced and every other sub-pixel is drawn from p(x_i | x_<i) in raster order. A sampled
sub-pixel sees the kept ones before it, never those after it, so the natural mask keeps a
prefix of the image (`top-half`); `left-half` and `center` show what the ordering cannot use.
`completion_rows` lays out original, masked input and completions per image, with
`completion_column_labels`; `completion_figure` draws the labelled figure (CLI and report alike).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch

from genzoo.data.format import DataFormat
from genzoo.data.labelled_grid import save_labelled_grid
from genzoo.explore.sampling import to_display
from genzoo.models.autoregressive import AutoregressiveModel
from genzoo.models.base import GenerativeModel

Region = Literal["top-half", "left-half", "center"]
REGIONS: tuple[str, ...] = ("top-half", "left-half", "center")


def keep_mask(region: Region, image_shape: tuple[int, int, int]) -> torch.Tensor:
    """Boolean mask (C, H, W), True where pixels are kept.

    top-half: keep rows < H/2, complete the bottom (PixelRNN's occlusion);
    left-half: keep columns < W/2, complete the right;
    center: keep everything but the central H/2 x W/2 box, complete the box (inpainting).
    """
    channels, height, width = image_shape
    rows = torch.arange(height)[:, None].expand(height, width)
    cols = torch.arange(width)[None, :].expand(height, width)
    if region == "top-half":
        kept = rows < height // 2
    elif region == "left-half":
        kept = cols < width // 2
    elif region == "center":
        top, left = height // 4, width // 4
        inside = (rows >= top) & (rows < top + (height + 1) // 2) & (cols >= left) & (cols < left + (width + 1) // 2)
        kept = ~inside
    else:
        raise ValueError(f"bad region {region!r}: choose one of {', '.join(REGIONS)}")
    return kept[None].expand(channels, height, width).clone()


@torch.no_grad()
def complete(
    model: GenerativeModel,
    images: torch.Tensor,
    keep: torch.Tensor,
    *,
    n: int = 1,
    labels: torch.Tensor | None = None,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    method: Literal["fast", "naive"] | None = None,
) -> torch.Tensor:
    """n completions of each image: (B, n, C, H, W) in the model's value space.

    images: (B, C, H, W) in the model's data format; keep: (C, H, W) or (B, C, H, W) booleans,
    True where the image's sub-pixels are forced. labels: (B,) for class-conditional models.
    Runs in eval mode; kept sub-pixels are returned exactly (snapped to the nearest level).
    """
    if not isinstance(model, AutoregressiveModel):
        raise ValueError(f"completion needs an autoregressive model (pixelcnn, gated-pixelcnn, pixelrnn-*), got {model.name!r}")
    if n < 1:
        raise ValueError(f"number of completions must be >= 1, got {n}")
    if images.dim() != 4:
        raise ValueError(f"images must be (B, C, H, W), got {tuple(images.shape)}")
    batch = images.shape[0]
    keep = keep.to(torch.bool)
    if keep.dim() == 3:
        keep = keep[None].expand(batch, *keep.shape)
    if keep.shape != images.shape:
        raise ValueError(f"keep mask {tuple(keep.shape)} does not match images {tuple(images.shape)}")
    repeated = images.repeat_interleave(n, dim=0)  # (B*n, C, H, W), image b's completions together
    repeated_keep = keep.repeat_interleave(n, dim=0)
    repeated_labels = None if labels is None else labels.repeat_interleave(n, dim=0)
    was_training = model.training
    model.eval()
    try:
        completed = model.complete(
            repeated, repeated_keep, labels=repeated_labels, temperature=temperature, generator=generator, method=method
        )
    finally:
        model.train(was_training)
    return completed.view(batch, n, *images.shape[1:])


def completion_rows(images: torch.Tensor, keep: torch.Tensor, completions: torch.Tensor, data_format: DataFormat) -> torch.Tensor:
    """uint8 rows of (original, masked input, completion 1..n): (B * (2 + n), C, H, W).

    images (B, C, H, W) and completions (B, n, C, H, W) in the model's value space; keep (C, H, W)
    or (B, C, H, W). The hidden part of the masked input is shown mid-gray.
    """
    low, high = data_format.value_range
    keep = keep.to(device=images.device, dtype=torch.bool)
    masked = torch.where(keep, images, torch.full_like(images, (low + high) / 2))  # (B, C, H, W)
    rows = torch.cat([images[:, None], masked[:, None], completions.to(images.device)], dim=1)  # (B, 2 + n, C, H, W)
    return to_display(rows.flatten(0, 1), data_format).cpu()


def completion_column_labels(n: int, region: str) -> tuple[str, ...]:
    """("original", "kept: top half", "sample 1", ..., "sample n") for `completion_rows`."""
    if region not in REGIONS:
        raise ValueError(f"bad region {region!r}: choose one of {', '.join(REGIONS)}")
    kept = {"top-half": "top half", "left-half": "left half", "center": "border"}[region]
    return ("original", f"kept: {kept}", *(f"sample {i}" for i in range(1, n + 1)))


def completion_figure(
    model: GenerativeModel,
    images: torch.Tensor,
    region: Region,
    path: Path,
    *,
    n: int,
    row_labels: tuple[str, ...],
    labels: torch.Tensor | None = None,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    method: Literal["fast", "naive"] | None = None,
    scale: int | None = None,
    title: str = "",
) -> Path:
    """`complete` images (B, C, H, W) with `region` kept, drawn as labelled rows of (original, masked input, n completions)."""
    keep = keep_mask(region, model.data_format.image_shape)  # (C, H, W) bool
    completions = complete(model, images, keep, n=n, labels=labels, temperature=temperature, generator=generator, method=method)
    rows = completion_rows(images, keep, completions, model.data_format)  # (B * (2 + n), C, H, W), hidden part mid-gray
    return save_labelled_grid(rows, path, nrow=2 + n, scale=scale, row_labels=row_labels,
                              column_labels=completion_column_labels(n, region), title=title)
