"""The run's clock: wall seconds summed over its sessions, less what evaluating, sampling and saving took."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from genzoo.train.saved_state import TRAINER_STATE, CheckpointParts


class RunClock:
    """`now()`: this run's wall seconds over all its sessions (metrics.jsonl's `time`);
    `training()`: the same less the overhead (the denominator of images_per_s)."""

    restore_problem = TRAINER_STATE

    def __init__(self) -> None:
        self.elapsed_before_s = 0.0  # seconds of earlier sessions of this run
        self.overhead_s = 0.0  # seconds spent evaluating, sampling and saving
        self.session_started = time.perf_counter()

    def restart(self) -> None:
        """Start this session's clock now, so setup time (data loading) is not counted."""
        self.session_started = time.perf_counter()

    def now(self) -> float:
        return self.elapsed_before_s + time.perf_counter() - self.session_started

    def training(self) -> float:
        return self.now() - self.overhead_s

    @contextlib.contextmanager
    def overhead(self) -> Iterator[None]:
        """Count the block as overhead, not training."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.overhead_s += time.perf_counter() - started

    def save(self, parts: CheckpointParts) -> None:
        parts.trainer.update(elapsed_s=self.now(), overhead_s=self.overhead_s)

    def restore(self, parts: CheckpointParts) -> None:
        self.elapsed_before_s = float(parts.trainer.get("elapsed_s", 0.0))
        self.overhead_s = float(parts.trainer.get("overhead_s", 0.0))
