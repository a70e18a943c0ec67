"""Drawing images from a trained model in display form (uint8), batched and seeded.

Below metrics/, explore/ and report/, which all sample: the evaluation measures the same images
the explorer shows. genzoo.explore.sampling re-exports these names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from genzoo.data.format import DataFormat
from genzoo.models.base import GenerativeModel


def to_display(x: torch.Tensor, data_format: DataFormat) -> torch.Tensor:
    """Float images in the model's value range -> uint8 (N, C, H, W) for PNG files."""
    low, high = data_format.value_range
    unit = ((x.float() - low) / (high - low)).clamp(0.0, 1.0)
    return (unit * 255.0).round().to(torch.uint8)


@torch.no_grad()
def sample_images(
    model: GenerativeModel,
    n: int,
    *,
    labels: torch.Tensor | None = None,
    temperature: float = 1.0,
    seed: int = 0,
    batch_size: int = 256,
    progress: bool = False,
    **sample_options: Any,
) -> torch.Tensor:
    """n samples as uint8 (n, C, H, W), drawn in eval mode from a generator seeded with `seed`.

    Class-conditional models get `labels` (n,), default: classes in turn (0, 1, ..., K-1, 0, ...).
    `sample_options` go to `model.sample` (e.g. method="naive" for autoregressive models).
    progress: a bar over image rows for the sequential (autoregressive) samplers, the slow ones.
    """
    if n < 1:
        raise ValueError(f"number of samples must be >= 1, got {n}")
    was_training = model.training
    model.eval()
    device = model.device
    generator = torch.Generator(device=device).manual_seed(seed)
    if labels is None and model.capabilities.label_conditional and model.data_format.num_classes:
        labels = torch.arange(n, device=device) % model.data_format.num_classes
    chunks = []
    with row_progress(model, batches=-(-n // batch_size), enabled=progress) as on_row:
        if on_row is not None:
            sample_options = {**sample_options, "on_row": on_row}
        for start in range(0, n, batch_size):
            count = min(batch_size, n - start)
            chunk_labels = None if labels is None else labels[start : start + count].to(device)
            images = model.sample(count, labels=chunk_labels, temperature=temperature, generator=generator, **sample_options)
            chunks.append(to_display(images, model.data_format).cpu())
    model.train(was_training)
    return torch.cat(chunks)


@contextmanager
def row_progress(model: GenerativeModel, *, batches: int, enabled: bool) -> Iterator[Callable[[], None] | None]:
    """A progress bar over the image rows an autoregressive model draws (None when off or not sequential)."""
    if not (enabled and model.capabilities.exact_likelihood):
        yield None
        return
    from genzoo.progress import progress_bar

    height = model.data_format.image_shape[1]
    with progress_bar(total=batches * height, desc=f"sampling {model.name}", unit="row", leave=False) as bar:
        yield lambda: bar.update(1)
