"""Learning-rate schedules of `TrainConfig.schedule`, with linear warmup.

Each schedule is a multiplier f(s) of the base learning rate at optimizer step s = 0, 1, ...
(one scheduler step per training step, whatever the phase repeats):

    warmup    s < W:  f(s) = (s + 1) / W          (never a wasted step at lr = 0)
    then, with progress p = min(1, (s - W) / max(1, T - W)) over the remaining T - W steps,
    constant          f = 1
    cosine            f = r + (1 - r) * (1 + cos(pi * p)) / 2      (Loshchilov & Hutter 2017)
    linear            f = 1 - (1 - r) * p
    exponential       f = gamma ** (s - W)
where r = `min_lr_ratio` and T the run's total steps. The schedulers are `LambdaLR` over a
plain function, so their state_dict holds only numbers (JSON in the checkpoint).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from genzoo.errors import unknown_choice
from genzoo.runs.config import TrainConfig

SCHEDULES = ("constant", "cosine", "linear", "exponential")


def lr_multiplier(
    schedule: str,
    *,
    total_steps: int,
    warmup_steps: int = 0,
    min_lr_ratio: float = 0.0,
    gamma: float = 0.9999,
) -> Callable[[int], float]:
    """f(step) of the module docstring."""
    if schedule not in SCHEDULES:
        raise unknown_choice("train.schedule", schedule, SCHEDULES)
    warmup = max(0, int(warmup_steps))
    decay_steps = max(1, int(total_steps) - warmup)

    def multiplier(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / decay_steps)
        if schedule == "cosine":
            return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
        if schedule == "linear":
            return 1.0 - (1.0 - min_lr_ratio) * progress
        if schedule == "exponential":
            return gamma ** (step - warmup)
        return 1.0

    return multiplier


def build_scheduler(optimizer: Optimizer, config: TrainConfig, total_steps: int) -> LambdaLR:
    """The LambdaLR of `config.schedule` over `total_steps` training steps."""
    return LambdaLR(
        optimizer,
        lr_multiplier(
            config.schedule,
            total_steps=total_steps,
            warmup_steps=config.warmup_steps,
            min_lr_ratio=config.min_lr_ratio,
            gamma=config.gamma,
        ),
    )


def sync_learning_rates(scheduler: LambdaLR) -> None:
    """After loading a scheduler's state, set each group's lr from the (possibly new) schedule.

    Needed when a resumed run changes its length (T): the lr of the next step then follows the
    new schedule. With an unchanged schedule it rewrites the same values, bit for bit, because
    it is the same expression LambdaLR uses.
    """
    for group, base_lr, multiplier in zip(scheduler.optimizer.param_groups, scheduler.base_lrs, scheduler.lr_lambdas):
        group["lr"] = base_lr * multiplier(scheduler.last_epoch)
    scheduler._last_lr = [group["lr"] for group in scheduler.optimizer.param_groups]  # what get_last_lr() reports
