"""The running sums behind the next line of metrics.jsonl, kept on the device and saved with the run.

Each logged metric is the mean of its per-batch means since the last line; the sums survive a
checkpoint, so a resumed run logs the very line the uninterrupted one would.
"""

from __future__ import annotations

from typing import Any

import torch

from genzoo.train import distributed
from genzoo.train.saved_state import TRAINER_STATE, CheckpointParts

SUM_PREFIX = "trainer.log_sum"


class LogWindow:
    """Sums and counts of each metric, and the images seen, since the last log line."""

    restore_problem = TRAINER_STATE

    def __init__(self, world_size: int, device: torch.device) -> None:
        self.world_size, self.device = world_size, device
        self.sums: dict[str, torch.Tensor] = {}  # metric -> running sum of batch means (on device)
        self.counts: dict[str, int] = {}
        self.images = 0
        self.started_s = 0.0  # training clock at the last log line

    def add(self, name: str, mean: torch.Tensor) -> None:
        self.sums[name] = self.sums[name] + mean if name in self.sums else mean.clone()
        self.counts[name] = self.counts.get(name, 0) + 1

    def means(self) -> dict[str, float]:
        """Each metric's mean over the window and over the ranks (one all-reduce)."""
        names = sorted(self.sums)
        if not names:
            return {}
        sums = distributed.all_reduce_sum(torch.stack([self.sums[name] for name in names])) / self.world_size
        return {name: total / self.counts[name] for name, total in zip(names, sums.tolist())}

    def images_per_s(self, training_clock: float) -> float | None:
        interval = training_clock - self.started_s
        return self.images / interval if interval > 0 else None

    def reset(self, training_clock: float) -> None:
        self.sums, self.counts, self.images, self.started_s = {}, {}, 0, training_clock

    def average_over_ranks(self) -> None:
        """Each rank's partial sums -> their mean over ranks, so that rank 0's checkpoint holds
        the global ones and a resume with any number of processes logs the same line."""
        if self.world_size == 1 or not self.sums:
            return
        names = sorted(self.sums)
        sums = distributed.all_reduce_sum(torch.stack([self.sums[name] for name in names])) / self.world_size
        self.sums = {name: total.clone() for name, total in zip(names, sums)}  # separate tensors for safetensors

    def save(self, parts: CheckpointParts) -> None:
        parts.tensors.update({f"{SUM_PREFIX}.{name}": value for name, value in self.sums.items()})
        parts.trainer.update(log_counts=self.counts, log_images=self.images, log_started_s=self.started_s)

    def restore(self, parts: CheckpointParts) -> None:
        trainer: dict[str, Any] = parts.trainer
        self.counts = {name: int(count) for name, count in trainer.get("log_counts", {}).items()}
        self.images = int(trainer.get("log_images", 0))
        self.started_s = float(trainer.get("log_started_s", 0.0))
        self.sums = {name: value.to(self.device) for name, value in parts.section(SUM_PREFIX).items()}
