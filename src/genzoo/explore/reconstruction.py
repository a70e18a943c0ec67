"""Reconstructions: test images next to what an encoder-decoder model makes of them.

Laid out as pairs of rows, originals over their reconstructions; `reconstruction_row_labels`
names each row for `genzoo.explore.figure.save_labelled_grid`.
"""

from __future__ import annotations

import torch

from genzoo.explore.sampling import to_display
from genzoo.models.base import GenerativeModel


@torch.no_grad()
def reconstruct(model: GenerativeModel, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """decode(encode(x)) in eval mode: (B, C, H, W) floats in the model's value range."""
    if not (model.capabilities.encoder and model.capabilities.latent_decoder):
        raise ValueError(f"model {model.name!r} has no encoder/decoder pair to reconstruct with")
    was_training = model.training
    model.eval()
    x = x.to(model.device)
    y = y.to(model.device) if y is not None and model.capabilities.label_conditional else None
    out = model.decode(model.encode(x, y), y)
    model.train(was_training)
    return out


def reconstruction_rows(model: GenerativeModel, x: torch.Tensor, y: torch.Tensor | None = None, *, per_row: int = 8) -> tuple[torch.Tensor, int]:
    """uint8 images laid out as alternating rows: `per_row` originals, then their reconstructions.

    Returns (images (2 * B, C, H, W), per_row) ready for `save_image_grid(images, path, nrow=per_row)`.
    """
    recon = reconstruct(model, x, y)  # (B, C, H, W)
    originals = to_display(x, model.data_format).cpu()
    rebuilt = to_display(recon, model.data_format).cpu()
    rows = []
    for start in range(0, x.shape[0], per_row):
        rows += [originals[start : start + per_row], rebuilt[start : start + per_row]]
    return torch.cat(rows), per_row


def reconstruction_row_labels(count: int, per_row: int, *, first_index: int = 0) -> tuple[str, ...]:
    """Labels of the rows of `reconstruction_rows` for `count` images: "test 0-7", "reconstructed", ..."""
    if count < 1 or per_row < 1:
        raise ValueError(f"count and per_row must be >= 1, got {count} and {per_row}")
    labels: list[str] = []
    for start in range(0, count, per_row):
        end = min(start + per_row, count) - 1
        span = f"{first_index + start}" if end == start else f"{first_index + start}-{first_index + end}"
        labels += [f"test {span}", "reconstructed"]
    return tuple(labels)
