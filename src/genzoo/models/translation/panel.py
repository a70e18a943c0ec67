"""A figure of an image-to-image model at work: rows of input | output | target."""

from __future__ import annotations

import torch

from genzoo.models.translation.base import TranslationModel

PANEL_COLUMNS = ("input", "output", "target")


@torch.no_grad()
def translation_panel(model: TranslationModel, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Batch x (B, C, H, W') -> (3B, C, H, W): per example its input drawn at the target's size, one output, the target."""
    condition, target = model.split(x)  # (B, Cc, Hc, Wc), (B, C, H, W)
    output = model.translate(condition, generator=generator)  # (B, C, H, W)
    shown = model.task.as_image(condition, model.target_shape)  # (B, C, H, W)
    return torch.stack([shown, output.to(target.dtype), target], dim=1).flatten(0, 1)  # (3B, C, H, W)
