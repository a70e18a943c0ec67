"""The training batch stream: the order of genzoo.data.sampling across epochs, and its position."""

from __future__ import annotations

from typing import Any

import torch

from genzoo.train.saved_state import TRAINER_STATE, CheckpointParts


class BatchStream:
    """Training batches in the order of genzoo.data.sampling, across epochs, with its position."""

    restore_problem = TRAINER_STATE

    def __init__(self, dataset: Any, batch_size: int, *, seed: int, rank: int, world_size: int, device: torch.device) -> None:
        self.dataset, self.batch_size, self.seed = dataset, batch_size, seed
        self.rank, self.world_size, self.device = rank, world_size, device
        self.epoch = 0
        self.batch_in_epoch = 0  # batches consumed in `epoch` (per rank = global batches)
        self._iterator: Any = None

    def seek(self, epoch: int, batch_in_epoch: int) -> None:
        self.epoch, self.batch_in_epoch, self._iterator = epoch, batch_in_epoch, None

    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        while True:
            if self._iterator is None:
                self._iterator = iter(self.dataset.batches(
                    self.batch_size, epoch=self.epoch, seed=self.seed, shuffle=True, drop_last=True,
                    start_batch=self.batch_in_epoch, rank=self.rank, world_size=self.world_size,
                ))
            try:
                images, labels = next(self._iterator)
            except StopIteration:
                self.epoch, self.batch_in_epoch, self._iterator = self.epoch + 1, 0, None
                continue
            self.batch_in_epoch += 1
            images = images.to(self.device, non_blocking=True)  # (B, C, H, W) uint8
            labels = None if labels is None else labels.to(self.device, non_blocking=True)  # (B,)
            return images, labels

    def save(self, parts: CheckpointParts) -> None:
        parts.trainer.update(epoch=self.epoch, batch_in_epoch=self.batch_in_epoch)

    def restore(self, parts: CheckpointParts) -> None:
        self.seek(int(parts.trainer["epoch"]), int(parts.trainer["batch_in_epoch"]))
