"""Exponential moving average of the weights (Polyak averaging).

After every training step each parameter's shadow copy becomes

    shadow <- decay * shadow + (1 - decay) * param

starting from the initial weights. The trainer passes the step number, which warms the
decay up as min(decay, (1 + step) / (10 + step)) (the `num_updates` rule of TensorFlow's
ExponentialMovingAverage): with a fixed 0.999 the average would still hold 67% of the random
initialisation after 400 steps, which ruins short runs. Evaluation and
sampling use the shadows when EMA is on; buffers (BatchNorm statistics) are not averaged,
the model's own are used.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from genzoo.errors import CheckpointError
from genzoo.runs.checkpoint import check_finite_weights
from genzoo.train.saved_state import CheckpointParts


class EMA:
    """Shadow copies of `model`'s parameters, updated by `update(model)`."""

    restore_problem = "EMA weights that do not fit this model"

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = float(decay)
        self.shadow: dict[str, torch.Tensor] = {
            name: param.detach().clone() for name, param in model.named_parameters()
        }

    def decay_at(self, step: int | None) -> float:
        """The decay used at optimisation step `step` (0-based); the plain decay when None."""
        return self.decay if step is None else min(self.decay, (1.0 + step) / (10.0 + step))

    @torch.no_grad()
    def update(self, model: nn.Module, step: int | None = None) -> None:
        decay = self.decay_at(step)
        pairs = [(self.shadow[name], param.detach()) for name, param in model.named_parameters()]
        if not pairs:
            return
        shadows, current = (list(side) for side in zip(*pairs))
        torch._foreach_mul_(shadows, decay)
        torch._foreach_add_(shadows, current, alpha=1.0 - decay)

    @torch.no_grad()
    def copy_to(self, model: nn.Module) -> None:
        """Overwrite the model's parameters with the shadows (for a model kept for inference)."""
        for name, param in model.named_parameters():
            param.copy_(self.shadow[name])

    @contextlib.contextmanager
    def applied(self, model: nn.Module) -> Iterator[nn.Module]:
        """Swap the shadows in for the duration of the block, then restore the trained weights."""
        backup = {name: param.detach().clone() for name, param in model.named_parameters()}
        self.copy_to(model)
        try:
            yield model
        finally:
            with torch.no_grad():
                for name, param in model.named_parameters():
                    param.copy_(backup[name])

    def state_dict(self) -> dict[str, torch.Tensor]:
        return dict(self.shadow)

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        missing = sorted(set(self.shadow) - set(state))
        if missing:
            raise KeyError(f"EMA state lacks {missing[0]!r}")
        for name, shadow in self.shadow.items():
            shadow.copy_(state[name])

    def save(self, parts: CheckpointParts) -> None:
        parts.tensors.update({f"ema.{name}": shadow for name, shadow in self.shadow.items()})

    def restore(self, parts: CheckpointParts) -> None:
        shadows = parts.section("ema")
        if not shadows:
            raise CheckpointError(f"{parts.source} has no EMA weights but train.ema_decay is set: resume without it")
        check_finite_weights(shadows, path=parts.source, what="EMA weights")
        self.load_state_dict(shadows)  # copied into the shadows, which live on the model's device
