"""Image-to-image figures: each input beside the task's baseline, k outputs of the model and the target.

    condition, target = pairs_of_test_images(info, model.task, [0, 1, 2])
    figure = translation_figure(model, condition, target, n=4, generator=generator)
    save_labelled_grid(figure.images, "translation.png", nrow=len(figure.column_labels), column_labels=figure.column_labels)

One row per input: input (the condition drawn at the target's size, `Task.as_image`) | baseline
(bicubic, grey; where the task has one) | sample 1 .. sample k (one "output" for a deterministic
model) | target (test inputs only). Inputs come from the run's test split (filtered by
data.classes, as in training) or from the user's image files (`condition_files`):

  - channels: converted to the condition's (grey: ITU-R 601 luma, Pillow's "L"; a grey image
    given where the condition is RGB is copied to R, G and B); transparent pixels are drawn on
    white; 16-bit and float images are refused (save them as 8-bit PNG);
  - size: resized to the condition's size with a note (area average when shrinking, as the
    superres task degrades its targets; bicubic when enlarging);
  - edges: a sketch is binarized at mid-grey at its own resolution. The task draws edges
    bright on dark (the value range's high on its low); a drawing whose median pixel is light
    (dark lines on white paper) is inverted first. Shrinking keeps a cell as an edge when any
    of its pixels is one (max pooling), so thin lines survive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from genzoo.data.tasks import Task
from genzoo.errors import ConfigError, DataError

UNSUPPORTED_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")  # more than 8 bits per channel


@dataclass(frozen=True)
class TranslationFigure:
    """uint8 cells (rows * columns, C, H, W), row-major, the label of each column, and the outputs drawn per input."""

    images: torch.Tensor
    column_labels: tuple[str, ...]
    samples_per_input: int


# ---- inputs ----------------------------------------------------------------------------------------
def pairs_of_test_images(info: Any, task: Task, indices: Sequence[int], *, data_dir: str | None = None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Test images `indices` of the run (its test split filtered by data.classes), preprocessed and split: condition, target."""
    from genzoo.runs.test_split import load_test_split

    dataset = load_test_split(info.run_config.data, data_dir=data_dir)
    bad = [index for index in indices if not 0 <= index < len(dataset)]
    if bad:
        raise ConfigError(f"test image index {bad[0]} out of range: the run's test split has {len(dataset)} images (0..{len(dataset) - 1})")
    images = dataset.images[torch.as_tensor(list(indices), dtype=torch.long)]  # (B, C, H, W') uint8
    x = info.make_preprocessor()(images, generator=torch.Generator().manual_seed(seed))
    return task.split(x)


def condition_files(paths: Sequence[str | Path], task: Task, condition_shape: tuple[int, int, int]) -> tuple[torch.Tensor, list[str]]:
    """The user's image files as conditions (B, Cc, Hc, Wc) in the task's value space, and notes on what was changed."""
    conditions, notes = [], []
    for path in paths:
        pixels, file_notes = _read_condition(Path(path), task, condition_shape)
        conditions.append(pixels)
        notes += file_notes
    low, high = task.value_range
    return low + (high - low) * torch.stack(conditions), notes  # (B, Cc, Hc, Wc)


def _read_condition(path: Path, task: Task, condition_shape: tuple[int, int, int]) -> tuple[torch.Tensor, list[str]]:
    """One file -> (Cc, Hc, Wc) floats in [0, 1], with notes."""
    channels, height, width = condition_shape
    image = _open(path)
    image, notes = _with_channels(image, channels, path)
    pixels = torch.from_numpy(np.asarray(image, dtype=np.uint8).copy())  # (H, W) or (H, W, 3)
    pixels = (pixels[None] if pixels.dim() == 2 else pixels.permute(2, 0, 1)).float() / 255.0  # (Cc, H, W) in [0, 1]
    if task.name == "edges":
        pixels, edge_notes = _sketch_edges(pixels, path)
        notes += edge_notes
    if tuple(pixels.shape[1:]) != (height, width):
        notes.append(f"{path.name}: resized from {pixels.shape[1]}x{pixels.shape[2]} to {height}x{width}, the model's input size")
        pixels = _resized(pixels, height, width, binary=task.name == "edges")
    return pixels, notes


def _open(path: Path) -> Any:
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise ConfigError(f"image file {str(path)!r} not found: check the path")
    try:
        with Image.open(path) as image:
            image.load()
            return image
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise DataError(f"cannot read image {str(path)!r} ({error.__class__.__name__}): give a PNG or JPEG file") from None


def _with_channels(image: Any, channels: int, path: Path) -> tuple[Any, list[str]]:
    """A Pillow image converted to "L" (channels 1) or "RGB" (channels 3), with notes."""
    from PIL import Image

    if image.mode in UNSUPPORTED_MODES:
        raise DataError(f"image {str(path)!r} has {image.mode!r} pixels (more than 8 bits): save it as an 8-bit grey or RGB PNG")
    notes = []
    if image.mode in ("P", "PA"):
        image = image.convert("RGBA")
    if image.mode in ("LA", "RGBA", "La", "RGBa"):
        notes.append(f"{path.name}: transparent pixels drawn on white")
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    wanted = "L" if channels == 1 else "RGB"
    if image.mode == wanted:
        return image, notes
    try:
        converted = image.convert(wanted)
    except ValueError:
        raise DataError(f"image {str(path)!r} has {image.mode!r} pixels that cannot become {'grey' if channels == 1 else 'RGB'}: "
                        "save it as an 8-bit grey or RGB PNG") from None
    if channels == 1 and len(image.getbands()) > 1:
        notes.append(f"{path.name}: colour converted to grey (luma) for a grey input")
    elif channels == 3 and len(image.getbands()) == 1:
        notes.append(f"{path.name}: grey image copied to R, G and B for a colour input")
    return converted, notes


def _sketch_edges(pixels: torch.Tensor, path: Path) -> tuple[torch.Tensor, list[str]]:
    """A grey drawing (1, H, W) in [0, 1] -> an edge map of 0/1 (edges 1), inverted first when its median is light."""
    notes = []
    if float(pixels.median()) > 0.5:
        pixels = 1.0 - pixels
        notes.append(f"{path.name}: dark lines on a light background inverted to the task's bright edges on dark")
    edges = (pixels >= 0.5).float()
    notes.append(f"{path.name}: binarized at mid-grey, {int(edges.sum())} edge pixels")
    return edges, notes


def _resized(pixels: torch.Tensor, height: int, width: int, *, binary: bool) -> torch.Tensor:
    """(C, h, w) -> (C, height, width): any-pixel max pooling for edge maps, else area average (shrinking) or bicubic."""
    batch = pixels[None]  # (1, C, h, w)
    if binary:
        larger = F.interpolate(batch, size=(max(height, pixels.shape[1]), max(width, pixels.shape[2])), mode="nearest")
        return F.adaptive_max_pool2d(larger, (height, width))[0]
    if pixels.shape[1] >= height and pixels.shape[2] >= width:
        return F.interpolate(batch, size=(height, width), mode="area")[0]
    return F.interpolate(batch, size=(height, width), mode="bicubic", align_corners=False)[0].clamp(0.0, 1.0)


# ---- the figure ------------------------------------------------------------------------------------
def input_label(task: Task, condition_shape: tuple[int, int, int]) -> str:
    """The input column's label: its size for superres ("input 7x7"), else what it shows."""
    _, height, width = condition_shape
    kinds = {"colorize": "input (grey)", "edges": "input (edges)", "paired": "input"}
    return kinds.get(task.name, f"input {height}x{width}")


@torch.no_grad()
def translation_figure(
    model: Any, condition: torch.Tensor, target: torch.Tensor | None, *, n: int, temperature: float = 1.0, generator: torch.Generator | None = None,
) -> TranslationFigure:
    """Rows of input | baseline | n outputs (one for a deterministic model) | target (when given), as uint8 cells."""
    from genzoo.models.sampling import to_display

    if n < 1:
        raise ValueError(f"number of outputs must be >= 1, got {n}")
    task, target_shape = model.task, tuple(model.target_shape)
    model.check_condition(condition)
    count = n if model.stochastic else 1
    outputs = model.translate(condition.repeat_interleave(count, dim=0), temperature=temperature, generator=generator)
    outputs = outputs.view(len(condition), count, *target_shape)  # (B, k, C, H, W)
    columns, labels = [task.as_image(condition, target_shape)], [input_label(task, model.condition_shape)]
    if task.baseline_name is not None:
        columns.append(task.baseline(condition))
        labels.append(task.baseline_name)
    columns += list(outputs.unbind(dim=1))
    labels += [f"sample {i}" for i in range(1, count + 1)] if model.stochastic else ["output"]
    if target is not None:
        columns.append(target.to(condition.device))
        labels.append("target")
    cells = torch.stack(columns, dim=1).flatten(0, 1)  # (B * columns, C, H, W), row-major
    return TranslationFigure(to_display(cells, model.data_format).cpu(), tuple(labels), count)


def translation_title(model: Any, step: int, temperature: float) -> str:
    """The figure's title: model, step, task, and the temperature where outputs are drawn."""
    if model.capabilities.exact_likelihood:  # the sampler's temperature; the other models ignore it
        drawn = f", temperature {temperature:g}"
    else:
        drawn = ", outputs vary by the model's noise" if model.stochastic else " (deterministic)"
    return f"{model.name} (step {step}), task {model.task.spec}{drawn}"
