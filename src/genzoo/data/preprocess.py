"""Turning uint8 batches into the float values a model sees, and back for display.

Steps, in this order (each at most once):
  1. discretize, one of
     `binarize-static[:T]`  x = [u8/255 > T] (T = 0.5), 2 levels;
     `binarize-dynamic`     x ~ Bernoulli(u8/255), resampled at every call (Salakhutdinov &
                            Murray 2008), 2 levels;
     `quantize:B`           x = floor(u8 / 2^(8-B)) / (2^B - 1), 2^B levels (B in 1..8);
  2. `dequantize`           x = (k + u) / L with u ~ U[0, 1), continuous (Theis et al. 2016);
  3. `scale-symmetric`      [0, 1] -> [-1, 1] (tanh outputs of GANs).
Without steps x = u8 / 255 (256 levels in [0, 1]). Level k of L is k / (L - 1), the
convention of `DataFormat`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from genzoo.data.dataset import DatasetInfo
from genzoo.data.format import DataFormat
from genzoo.errors import ConfigError, DataError
from genzoo.sharding import WHOLE_BATCH, BatchShard, rows_of_global_draw

STEPS = ("binarize-static", "binarize-dynamic", "quantize", "dequantize", "scale-symmetric")
STAGE = {"binarize-static": 0, "binarize-dynamic": 0, "quantize": 0, "dequantize": 1, "scale-symmetric": 2}
DISCRETIZE = ("binarize-static", "binarize-dynamic", "quantize")
DEFAULT_THRESHOLD = 0.5
ONE_BELOW_ONE = 1.0 - 2.0**-24  # largest float32 below 1: keeps dequantized values in [0, 1)


@dataclass(frozen=True)
class Step:
    name: str
    argument: float | None = None

    def __str__(self) -> str:
        if self.argument is None:
            return self.name
        return f"{self.name}:{int(self.argument) if self.name == 'quantize' else self.argument:g}"


def parse_step(text: str) -> Step:
    """`quantize:5` -> Step("quantize", 5); ConfigError listing the valid steps otherwise."""
    name, _, argument = text.strip().partition(":")
    valid = "binarize-static[:T], binarize-dynamic, quantize:B, dequantize, scale-symmetric"
    if name not in STEPS:
        raise ConfigError(f"unknown preprocessing step {text!r}: choose from {valid}")
    if name == "binarize-static":
        if not argument:
            return Step(name)
        threshold = _number(text, argument)
        if not 0.0 <= threshold < 1.0:
            raise ConfigError(f"bad step {text!r}: the threshold T of binarize-static:T must be in [0, 1)")
        return Step(name, threshold)
    if name == "quantize":
        bits = _number(text, argument) if argument else None
        if bits is None or bits != int(bits) or not 1 <= bits <= 8:
            raise ConfigError(f"bad step {text!r}: write quantize:B with B bits in 1..8, e.g. quantize:5")
        return Step(name, int(bits))
    if argument:
        raise ConfigError(f"bad step {text!r}: {name} takes no argument")
    return Step(name)


def _number(text: str, argument: str) -> float:
    try:
        return float(argument)
    except ValueError:
        raise ConfigError(f"bad step {text!r}: {argument!r} is not a number") from None


def parse_steps(steps: Sequence[str] | str) -> tuple[Step, ...]:
    """Parse and validate a step list (a sequence, or one comma-separated string)."""
    if isinstance(steps, str):
        steps = [part for part in steps.split(",") if part.strip()]
    parsed = tuple(parse_step(step) for step in steps)
    for before, after in zip(parsed, parsed[1:]):
        if STAGE[before.name] == STAGE[after.name] == 0:
            raise ConfigError(f"steps {before} and {after} both discretize the data: keep one of them")
        if STAGE[after.name] <= STAGE[before.name]:
            order = "binarize-*/quantize, then dequantize, then scale-symmetric"
            raise ConfigError(f"step {after} cannot follow {before}: use the order {order}, each at most once")
    return parsed


class Preprocessor:
    """uint8 (B, C, H, W) -> float32 (B, C, H, W) by the given steps; `to_uint8` maps back for display."""

    def __init__(self, steps: Sequence[str] | str = (), source_levels: int = 256) -> None:
        if not 2 <= source_levels <= 256:
            raise ConfigError(f"source_levels must be in 2..256, got {source_levels}")
        parsed = parse_steps(steps)
        self.steps = tuple(str(step) for step in parsed)
        self.source_levels = source_levels
        self._discretize = next((s for s in parsed if s.name in DISCRETIZE), None)
        self._dequantize = any(s.name == "dequantize" for s in parsed)
        self._symmetric = any(s.name == "scale-symmetric" for s in parsed)
        if self._discretize is not None and self._discretize.name == "quantize" and 2 ** int(self._discretize.argument or 8) > source_levels:
            raise ConfigError(f"step {self._discretize} needs at least {2 ** int(self._discretize.argument or 8)} source levels, the data has {source_levels}")

    def __repr__(self) -> str:
        return f"Preprocessor({list(self.steps)!r}, source_levels={self.source_levels})"

    @property
    def discrete_levels(self) -> int:
        """Levels after discretization, before any dequantization."""
        step = self._discretize
        if step is None:
            return self.source_levels
        return 2 if step.name.startswith("binarize") else 2 ** int(step.argument or 8)

    @property
    def value_range(self) -> tuple[float, float]:
        return (-1.0, 1.0) if self._symmetric else (0.0, 1.0)

    def output_format(self, info: DatasetInfo) -> DataFormat:
        """Shape and value space of this preprocessor's output on dataset `info`."""
        if info.levels != self.source_levels:
            raise ConfigError(f"dataset {info.name} has {info.levels} levels but the preprocessor expects {self.source_levels}: pass source_levels={info.levels}")
        levels = None if self._dequantize else self.discrete_levels
        return DataFormat(image_shape=info.image_shape, levels=levels, value_range=self.value_range, num_classes=info.num_classes)

    def __call__(
        self, images: torch.Tensor, generator: torch.Generator | None = None, shard: BatchShard = WHOLE_BATCH
    ) -> torch.Tensor:
        """float32 (B, C, H, W) on the images' device; `generator` drives the random steps.

        Under torchrun `shard` says which rows of the global batch `images` are: the random
        steps draw for the whole global batch and keep those rows, as one process would.
        """
        if images.dtype != torch.uint8:
            raise DataError(f"Preprocessor expects uint8 images, got {images.dtype}")
        step = self._discretize
        levels = self.discrete_levels
        if step is None:
            level = images.float() if levels == 256 else torch.round(images.float() * ((levels - 1) / 255))
        elif step.name == "binarize-static":
            threshold = DEFAULT_THRESHOLD if step.argument is None else step.argument
            level = (images.float() > threshold * 255).float()
        elif step.name == "binarize-dynamic":
            level = (_uniform_like(images, generator, shard) < images.float() / 255).float()  # ~ Bernoulli(u8 / 255)
        else:
            level = torch.bitwise_right_shift(images, 8 - int(step.argument or 8)).float()
        if self._dequantize:
            noise = _uniform_like(level, generator, shard)  # U[0, 1)
            x = ((level + noise) / levels).clamp_(max=ONE_BELOW_ONE)
        else:
            x = level / (levels - 1)
        return x * 2 - 1 if self._symmetric else x

    def to_uint8(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 (B, C, H, W) for display from values in the output format (clamped; binary -> 0/255)."""
        low, high = self.value_range
        unit = (x.detach().float() - low) / (high - low)  # [0, 1]
        levels = self.discrete_levels
        if self._dequantize:
            level = torch.floor(unit * levels)
        else:
            level = torch.round(unit * (levels - 1))
        level = level.nan_to_num(0.0).clamp(0, levels - 1)
        return torch.round(level * (255 / (levels - 1))).to(torch.uint8)


def _uniform_like(images: torch.Tensor, generator: torch.Generator | None, shard: BatchShard) -> torch.Tensor:
    """U[0, 1) float32 shaped like `images` (B, C, H, W): this shard's rows of the global batch's draw."""
    return rows_of_global_draw(shard, images.shape[0], lambda count: torch.rand(
        (count, *images.shape[1:]), generator=generator, device=images.device))
