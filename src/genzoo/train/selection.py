"""Which evaluation was the best so far: the `best` checkpoint's step and its selection metric."""

from __future__ import annotations

import math

from genzoo.train.saved_state import TRAINER_STATE, CheckpointParts


class BestSelection:
    """The lowest finite value of the model's selection metric seen, and its step."""

    restore_problem = TRAINER_STATE

    def __init__(self) -> None:
        self.metric: float | None = None
        self.step: int | None = None

    def offer(self, value: float, step: int) -> bool:
        """True (and recorded) when `value` beats every earlier one."""
        if not math.isfinite(value) or (self.metric is not None and value >= self.metric):
            return False
        self.metric, self.step = value, step
        return True

    def save(self, parts: CheckpointParts) -> None:
        parts.trainer.update(best_metric=self.metric, best_step=self.step)

    def restore(self, parts: CheckpointParts) -> None:
        self.metric, self.step = parts.trainer.get("best_metric"), parts.trainer.get("best_step")
