"""Paired image-to-image tasks: a batch x -> (condition c, target t), computed on the fly.

A task turns any dataset genzoo reads into pairs, deterministically, so every dataset gets
every task that fits it (`data.task` in a run's config):

    superres:F        c = F x F area average of t (t: the image)           (C, H/F, W/F)
    colorize          c = luma Y = 0.299 R + 0.587 G + 0.114 B of t (ITU-R BT.601)   (1, H, W)
    edges[:LOW:HIGH]  c = Canny edges of the luma of t: Gaussian sigma 1 (5 x 5), Sobel
                      gradients, non-maximum suppression, hysteresis between LOW and HIGH
                      (default 0.1 and 0.2 of the gradient magnitude on [0, 1] images),
                      drawn as the value range's high value on its low value       (1, H, W)
    paired[:AtoB|BtoA] x is a side-by-side A|B image (C, H, 2W), as the pix2pix datasets
                      store them; c is one half, t the other (default AtoB)

Every map works in the data's value space (`value_range`, after preprocessing): the area
average and the luma commute with the affine map between [0, 1] and [-1, 1], and the edge
detector reads the images mapped back to [0, 1]. `condition_of(t)` recomputes the condition
of any image of the target's shape: consistency of an output with its input.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from genzoo.errors import ConfigError

TASK_NAMES = ("superres", "colorize", "edges", "paired")
LUMA_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601
EDGE_THRESHOLDS = (0.1, 0.2)
EDGE_KERNEL, EDGE_SIGMA = 5, 1.0
Shape = tuple[int, int, int]


@dataclass(frozen=True)
class Task:
    """One parsed task: `split` a batch, `condition_of` a target, shapes and a training-free baseline."""

    name: str
    factor: int = 1  # superres
    thresholds: tuple[float, float] = EDGE_THRESHOLDS  # edges
    direction: str = "AtoB"  # paired
    value_range: tuple[float, float] = (0.0, 1.0)

    @property
    def spec(self) -> str:
        """The text that parses back to this task (`superres:4`, `edges:0.1:0.2`, ...)."""
        if self.name == "superres":
            return f"superres:{self.factor}"
        if self.name == "edges" and self.thresholds != EDGE_THRESHOLDS:
            return f"edges:{self.thresholds[0]:g}:{self.thresholds[1]:g}"
        if self.name == "paired" and self.direction != "AtoB":
            return f"paired:{self.direction}"
        return self.name

    @property
    def baseline_name(self) -> str | None:
        """The baseline without training (`baseline(c)`), or None where the task has none."""
        return {"superres": "bicubic", "colorize": "grey"}.get(self.name)

    @property
    def derived(self) -> bool:
        """True when the condition is computed from the target (`condition_of` works)."""
        return self.name != "paired"

    # ---- shapes -------------------------------------------------------------------------
    def check(self, image_shape: Shape) -> None:
        """Raise a one-line ConfigError when the task does not fit images of `image_shape`."""
        channels, height, width = image_shape
        if self.name == "superres" and (height % self.factor or width % self.factor):
            raise ConfigError(
                f"task {self.spec} needs image sizes divisible by {self.factor}, got {height}x{width}: "
                "choose a factor that divides them or resize the data (e.g. data.options.size)"
            )
        if self.name == "colorize" and channels != 3:
            raise ConfigError(f"task colorize needs RGB images, the data has {channels} channel(s): use an RGB dataset (shapes, cifar10, a folder)")
        if self.name == "paired" and width % 2:
            raise ConfigError(f"task {self.spec} reads side-by-side A|B images of even width, got width {width}: load the pairs unsplit")

    def target_shape(self, image_shape: Shape) -> Shape:
        self.check(image_shape)
        channels, height, width = image_shape
        return (channels, height, width // 2) if self.name == "paired" else (channels, height, width)

    def condition_shape(self, image_shape: Shape) -> Shape:
        channels, height, width = self.target_shape(image_shape)
        if self.name == "superres":
            return (channels, height // self.factor, width // self.factor)
        if self.name in ("colorize", "edges"):
            return (1, height, width)
        return (channels, height, width)

    # ---- maps ---------------------------------------------------------------------------
    def split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, C, H, W) as the data pipeline delivers it -> condition (B, Cc, Hc, Wc), target (B, Ct, Ht, Wt)."""
        if self.name == "paired":
            left, right = x.chunk(2, dim=3)  # (B, C, H, W/2) each
            return (left, right) if self.direction == "AtoB" else (right, left)
        return self.condition_of(x), x

    def condition_of(self, target: torch.Tensor) -> torch.Tensor:
        """The condition of images shaped like the target (B, C, H, W): what an output must stay consistent with."""
        if self.name == "superres":
            return F.avg_pool2d(target, self.factor)  # (B, C, H/F, W/F)
        if self.name == "colorize":
            return luma(target)  # (B, 1, H, W)
        if self.name == "edges":
            return self._edges(target)
        raise ConfigError(f"task {self.spec} takes its condition from the data: there is no condition_of an output")

    def baseline(self, condition: torch.Tensor) -> torch.Tensor:
        """The training-free answer: bicubic upsampling (superres), the luma as grey (colorize)."""
        low, high = self.value_range
        if self.name == "superres":
            upsampled = F.interpolate(condition, scale_factor=self.factor, mode="bicubic", align_corners=False)
            return upsampled.clamp(low, high)  # (B, C, H, W)
        if self.name == "colorize":
            return condition.expand(-1, 3, -1, -1).clone()  # (B, 3, H, W)
        raise ConfigError(f"task {self.spec} has no baseline without training")

    def _edges(self, target: torch.Tensor) -> torch.Tensor:
        from kornia.filters import canny  # imported here: kornia is only needed for this task

        low, high = self.value_range
        grey = (luma(target) - low) / (high - low)  # (B, 1, H, W) in [0, 1]
        _, edges = canny(grey.float(), self.thresholds[0], self.thresholds[1], (EDGE_KERNEL, EDGE_KERNEL), (EDGE_SIGMA, EDGE_SIGMA))
        return (low + (high - low) * (edges > 0.5).to(target.dtype))  # (B, 1, H, W) two values

    def as_image(self, condition: torch.Tensor, target_shape: Shape) -> torch.Tensor:
        """A condition (B, Cc, Hc, Wc) drawn at the target's shape for figures: nearest upsampling, grey to RGB."""
        channels, height, width = target_shape
        shown = F.interpolate(condition, size=(height, width), mode="nearest") if condition.shape[-2:] != (height, width) else condition
        return shown.expand(-1, channels, -1, -1) if shown.shape[1] == 1 and channels != 1 else shown


def luma(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 1, H, W): Y = 0.299 R + 0.587 G + 0.114 B; grey images pass through."""
    if images.shape[1] == 1:
        return images
    weights = images.new_tensor(LUMA_WEIGHTS).view(1, 3, 1, 1)
    return (images * weights).sum(dim=1, keepdim=True)


def parse_task(spec: str, value_range: tuple[float, float] = (0.0, 1.0)) -> Task:
    """`superres:4` -> Task("superres", factor=4); a one-line ConfigError naming the valid forms otherwise."""
    name, *arguments = str(spec).strip().split(":")
    forms = "superres:F, colorize, edges[:LOW:HIGH], paired[:AtoB|BtoA]"
    if name not in TASK_NAMES:
        raise ConfigError(f"unknown task {spec!r}: choose one of {forms}")
    value_range = (float(value_range[0]), float(value_range[1]))
    if name == "superres":
        factor = _integer(arguments[0]) if len(arguments) == 1 else None
        if factor is None or factor < 2:
            raise ConfigError(f"bad task {spec!r}: write superres:F with an integer factor F >= 2, e.g. superres:4")
        return Task(name, factor=factor, value_range=value_range)
    if name == "edges":
        if not arguments:
            return Task(name, value_range=value_range)
        thresholds = tuple(_number(a) for a in arguments)
        if len(thresholds) != 2 or None in thresholds or not 0 < thresholds[0] <= thresholds[1] < 1:  # type: ignore[operator]
            raise ConfigError(f"bad task {spec!r}: write edges:LOW:HIGH with 0 < LOW <= HIGH < 1, e.g. edges:0.1:0.2")
        return Task(name, thresholds=thresholds, value_range=value_range)  # type: ignore[arg-type]
    if name == "paired":
        direction = arguments[0] if arguments else "AtoB"
        if len(arguments) > 1 or direction not in ("AtoB", "BtoA"):
            raise ConfigError(f"bad task {spec!r}: write paired:AtoB or paired:BtoA")
        return Task(name, direction=direction, value_range=value_range)
    if arguments:
        raise ConfigError(f"bad task {spec!r}: {name} takes no argument")
    return Task(name, value_range=value_range)


def _integer(text: str) -> int | None:
    number = _number(text)
    return int(number) if number is not None and number.is_integer() else None


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
