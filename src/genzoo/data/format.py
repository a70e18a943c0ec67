"""What a model sees: the shape and value space of preprocessed batches.

Datasets are stored as uint8 tensors; `genzoo.data.preprocess` turns them into float
tensors. `DataFormat` describes the result so that a model can be built for it (the image
shape is a constructor argument, never captured on the first forward).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DataFormat:
    """Shape and value space of the float batches a model receives.

    image_shape: (C, H, W).
    levels: number of discrete values per sub-pixel (2 after binarization, 256 for 8-bit
        data); None when values are continuous (after dequantization).
    value_range: (low, high); discrete level k of L maps to low + k * (high - low) / (L - 1).
    num_classes: number of labels for class-conditional models, None when unlabelled.
    task: a paired image-to-image task (`genzoo.data.tasks`, e.g. "superres:4") that splits
        each batch into (condition, target) for image-to-image models; None otherwise.
    """

    image_shape: tuple[int, int, int]
    levels: int | None = 256
    value_range: tuple[float, float] = (0.0, 1.0)
    num_classes: int | None = None
    task: str | None = None

    def __post_init__(self) -> None:
        shape = tuple(int(s) for s in self.image_shape)
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"image_shape must be (C, H, W) with positive sizes, got {self.image_shape}")
        object.__setattr__(self, "image_shape", shape)
        object.__setattr__(self, "value_range", tuple(float(v) for v in self.value_range))
        if self.levels is not None and self.levels < 2:
            raise ValueError(f"levels must be >= 2 (or None for continuous data), got {self.levels}")

    @property
    def channels(self) -> int:
        return self.image_shape[0]

    @property
    def dims(self) -> int:
        """Number of sub-pixels C*H*W, the denominator of bits/dim."""
        c, h, w = self.image_shape
        return c * h * w

    def to_scaled(self, x: Any) -> Any:
        """Values in value_range -> [-1, 1], the scale networks read and write (affine, differentiable)."""
        low, high = self.value_range
        return (x - low) * (2.0 / (high - low)) - 1.0

    def from_scaled(self, scaled: Any) -> Any:
        """[-1, 1] -> values in value_range (the inverse of `to_scaled`)."""
        low, high = self.value_range
        return low + (scaled + 1.0) * ((high - low) / 2.0)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "DataFormat":
        return cls(
            image_shape=tuple(values["image_shape"]),
            levels=values.get("levels"),
            value_range=tuple(values.get("value_range", (0.0, 1.0))),
            num_classes=values.get("num_classes"),
            task=values.get("task"),
        )
