"""The one training loop of genzoo's helper classifiers (FID features, attributes, transfer probes).

Adam on a scalar batch loss for a fixed number of steps, under one of three learning-rate
schedules: cosine decay to zero, one-cycle (linear warm-up over the first 10%, then cosine
annealing; Smith & Topin 2019) or constant. The caller supplies the batches through
`batch_loss(step)`, so each classifier keeps its own data order, augmentation and loss.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Literal

import torch
from torch import nn

Schedule = Literal["cosine", "one-cycle", "constant"]
ONE_CYCLE_WARMUP = 0.1  # share of the steps spent warming the learning rate up


def _scheduler(optimizer: torch.optim.Optimizer, schedule: Schedule, steps: int, lr: float) -> torch.optim.lr_scheduler.LRScheduler | None:
    if schedule == "constant":
        return None
    if schedule == "one-cycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=ONE_CYCLE_WARMUP)
    if schedule == "cosine":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, steps) / steps)))
    raise ValueError(f"unknown schedule {schedule!r}: choose cosine, one-cycle or constant")


def fit_classifier(
    parameters: Iterable[nn.Parameter],
    batch_loss: Callable[[int], torch.Tensor],
    *,
    steps: int,
    lr: float,
    schedule: Schedule,
    weight_decay: float = 0.0,
    after_step: Callable[[int, torch.Tensor], None] | None = None,
) -> None:
    """`steps` Adam steps on batch_loss(step) (a scalar); after_step(step, loss) after each (a progress bar).

    Ctrl-C (KeyboardInterrupt) propagates between steps: the caller's classifier is simply not kept.
    """
    optimizer = torch.optim.Adam([p for p in parameters if p.requires_grad], lr=lr, weight_decay=weight_decay)
    scheduler = _scheduler(optimizer, schedule, steps, lr)
    for step in range(steps):
        loss = batch_loss(step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        if after_step is not None:
            after_step(step, loss)
