"""What the image-to-image models (regress, pix2pix, conditional-pixelcnn) share.

Each is built for a DataFormat that carries a paired task (`genzoo.data.tasks`): every batch
x the trainer hands over splits into a condition c and a target t (`task.split(x)`), so the
one training loop, the checkpoints and `genzoo eval` serve these models unchanged. A model
adds `translate(c)`: one output per input, drawn from p(t | c) (the regression net gives its
one deterministic answer). Unconditional `sample` does not exist: an output needs an input.
"""

from __future__ import annotations

from typing import ClassVar

import torch

from genzoo.data.format import DataFormat
from genzoo.data.tasks import Task, parse_task
from genzoo.models.base import Capabilities, GenerativeModel


class TranslationModel(GenerativeModel):
    """Base of the image-to-image models: the task, the shapes of c and t, and `translate`."""

    capabilities: ClassVar[Capabilities] = Capabilities(image_to_image=True)
    # True when translate() draws different outputs for one input (pix2pix's noise, autoregressive sampling).
    stochastic: ClassVar[bool] = True

    def __init__(self, config: object, data_format: DataFormat) -> None:
        super().__init__(config, data_format)
        if data_format.task is None:
            raise ValueError("an image-to-image model needs a paired task: set data.task (e.g. superres:4)")
        self.task: Task = parse_task(data_format.task, data_format.value_range)
        self.condition_shape = self.task.condition_shape(data_format.image_shape)  # (Cc, Hc, Wc)
        self.target_shape = self.task.target_shape(data_format.image_shape)  # (C, H, W)

    def split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A batch as the data pipeline delivers it (B, C, H, W') -> condition, target (checked shapes)."""
        self.check_input(x)
        return self.task.split(x)

    def check_condition(self, condition: torch.Tensor) -> None:
        """Raise a one-line ValueError when `condition` does not have the task's condition shape."""
        if condition.dim() != 4 or tuple(condition.shape[1:]) != self.condition_shape:
            expected = ", ".join(map(str, self.condition_shape))
            raise ValueError(f"{self.name} for task {self.task.spec} takes inputs of shape (B, {expected}), got {tuple(condition.shape)}")

    @torch.no_grad()
    def translate(
        self, condition: torch.Tensor, *, temperature: float = 1.0, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """condition (B, Cc, Hc, Wc) -> one output (B, C, H, W) in the data's value space."""
        raise NotImplementedError

    def sample(self, n: int, *, labels=None, temperature: float = 1.0, generator=None) -> torch.Tensor:  # noqa: ANN001
        raise NotImplementedError(f"{self.name} translates inputs: use `genzoo translate RUN` (an output needs an input)")
