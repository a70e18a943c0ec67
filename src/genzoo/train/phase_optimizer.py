"""One training phase's optimisation: its parameters, optimizer, LR schedule and float16 loss scale.

A phase (a GAN's "discriminator", a VAE's only "train") steps its own optimizer over
`model.phase_parameters(phase)` and its own scheduler once per training step; with float16
autocast a dynamic loss scale per phase (Micikevicius et al. 2018), a pass-through otherwise.
It saves and restores all of it itself (`optimizer.<phase>.*` tensors, JSON in metadata).
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from genzoo.errors import CheckpointError
from genzoo.models.base import TrainingPhase
from genzoo.runs.config import TrainConfig
from genzoo.train.optimizers import load_optimizer_state, make_optimizer, pack_optimizer, unpack_optimizer
from genzoo.train.saved_state import CheckpointParts
from genzoo.train.schedules import build_scheduler, sync_learning_rates


class PhaseOptimizer:
    """`backward_and_step(loss)` per batch of the phase, `end_step()` once per training step."""

    restore_problem = "optimizer state that does not fit this model"

    def __init__(self, phase: str, params: list[nn.Parameter], optimizer: torch.optim.Optimizer,
                 scheduler: torch.optim.lr_scheduler.LambdaLR, scaler: torch.amp.GradScaler) -> None:
        self.phase, self.params = phase, params
        self.optimizer, self.scheduler, self.scaler = optimizer, scheduler, scaler
        self.last_lr = self.lr()

    @classmethod
    def build(cls, phase: TrainingPhase, params: list[nn.Parameter], settings: TrainConfig, *, total_steps: int,
              device: torch.device, float16: bool) -> "PhaseOptimizer":
        """The phase's optimizer and scheduler from the train settings (the phase's lr / betas win)."""
        optimizer = make_optimizer(
            settings.optimizer, params, lr=phase.lr or settings.lr, betas=phase.betas or settings.betas,
            config=settings, cuda=device.type == "cuda",
        )
        scaler = torch.amp.GradScaler(device.type, enabled=float16)
        return cls(phase.name, params, optimizer, build_scheduler(optimizer, settings, total_steps), scaler)

    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def backward_and_step(self, loss: torch.Tensor, grad_clip: float | None) -> None:
        """Backward through the (scaled) loss, clip the true gradients, step unless float16 overflowed."""
        self.scaler.scale(loss).backward()
        if grad_clip is not None:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.params, grad_clip)
        self.scaler.step(self.optimizer)  # skipped when float16 gradients overflowed (the scale then halves)
        self.scaler.update()

    def end_step(self) -> None:
        """Record the lr this step used, then advance the schedule."""
        self.last_lr = self.lr()
        if not self.scaler.is_enabled():
            self.scheduler.step()
            return
        with warnings.catch_warnings():  # a step the scaler skipped is no scheduling mistake
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)`", category=UserWarning)
            self.scheduler.step()

    def save(self, parts: CheckpointParts) -> None:
        tensors, packed = pack_optimizer(self.phase, self.optimizer)
        parts.tensors.update(tensors)
        parts.metadata.setdefault("optimizers", {})[self.phase] = packed
        parts.metadata.setdefault("schedulers", {})[self.phase] = self.scheduler.state_dict()
        parts.metadata.setdefault("grad_scalers", {})[self.phase] = self.scaler.state_dict()  # {} unless float16

    def restore(self, parts: CheckpointParts) -> None:
        if self.phase not in parts.metadata.get("optimizers", {}):
            raise CheckpointError(f"{parts.source} lacks the optimizer of phase {self.phase!r}: was the model code changed?")
        load_optimizer_state(self.optimizer, unpack_optimizer(self.phase, parts.tensors, parts.metadata["optimizers"][self.phase]))
        self.scheduler.load_state_dict(dict(parts.metadata["schedulers"][self.phase]))
        sync_learning_rates(self.scheduler)
        self.last_lr = self.lr()
        scaler_state = parts.metadata.get("grad_scalers", {}).get(self.phase)
        if scaler_state and self.scaler.is_enabled():  # fp16 before and now; else a fresh scale
            self.scaler.load_state_dict(scaler_state)
