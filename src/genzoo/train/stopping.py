"""When a run stops early: Ctrl-C / SIGTERM, and diverging losses."""

from __future__ import annotations

import math
import signal
import statistics
import sys
import threading
from collections import deque
from typing import Any

from tqdm.auto import tqdm

from genzoo.train import distributed

DIVERGENCE_WINDOW = 200  # recent losses whose median is the reference for "exploded"
DIVERGENCE_WARMUP = 20  # losses seen before the explosion test starts


class StopSignal:
    """Ctrl-C / SIGTERM set a flag checked after each step; a second Ctrl-C stops at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "StopSignal":
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        if distributed.is_main():
            tqdm.write("stopping after this step and saving a checkpoint (Ctrl-C again to quit at once)", file=sys.stderr)

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()


class DivergenceMonitor:
    """Non-finite losses, and losses above `factor` x the running median of recent ones.

    The reference is max(|median|, 1): losses near zero (a winning GAN discriminator) must
    not make every ordinary fluctuation look like an explosion.
    """

    def __init__(self, factor: float) -> None:
        self.factor = factor
        self.history: dict[str, deque[float]] = {}

    def check(self, key: str, value: float) -> str | None:
        """None when fine, else the reason, e.g. "loss=nan"."""
        if not math.isfinite(value):
            return f"loss={value}"
        recent = self.history.setdefault(key, deque(maxlen=DIVERGENCE_WINDOW))
        if len(recent) >= DIVERGENCE_WARMUP:
            median = statistics.median(recent)
            if abs(value) > self.factor * max(abs(median), 1.0):
                return f"loss={value:.4g}, over {self.factor:g}x the running median {median:.4g}"
        recent.append(value)
        return None

    def state_dict(self) -> dict[str, list[float]]:
        return {key: list(values) for key, values in self.history.items()}

    def load_state_dict(self, state: dict[str, list[float]]) -> None:
        self.history = {key: deque(values, maxlen=DIVERGENCE_WINDOW) for key, values in state.items()}
