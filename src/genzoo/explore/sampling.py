"""Drawing images from a trained model, in display form (uint8), batched and seeded; class rows.

`to_display`, `sample_images` and `row_progress` live in genzoo.models.sampling (the evaluation
samples too) and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from genzoo.models.base import GenerativeModel
from genzoo.models.sampling import row_progress, sample_images, to_display

__all__ = ["class_rows", "row_progress", "sample_images", "to_display"]


def class_rows(model: GenerativeModel, per_class: int, *, class_names: Sequence[str] | None = None, seed: int = 0,
               temperature: float = 1.0, progress: bool = False, **sample_options: Any) -> tuple[torch.Tensor, list[str]]:
    """A class-conditional model's samples, one row of `per_class` per class: (uint8 (K * per_class, C, H, W), row labels)."""
    classes = model.data_format.num_classes
    if not (model.capabilities.label_conditional and classes):
        raise ValueError(f"model {model.name!r} is not class-conditional: sample without class rows")
    labels = torch.arange(classes).repeat_interleave(per_class)  # (K * per_class,): class k fills row k
    images = sample_images(model, len(labels), labels=labels, seed=seed, temperature=temperature, progress=progress, **sample_options)
    names = list(class_names) if class_names and len(class_names) == classes else [f"class {k}" for k in range(classes)]
    return images, [f"{k}: {name}" for k, name in enumerate(names)]
