"""When a run stops early: Ctrl-C / SIGTERM, and diverging losses."""

from __future__ import annotations

import math
import signal
import statistics
import sys
import threading
from collections import deque
from typing import Any

import torch
from tqdm.auto import tqdm

from genzoo.train import distributed
from genzoo.train.saved_state import TRAINER_STATE, CheckpointParts

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
            tqdm.write("stopping at the end of the step and saving a checkpoint (Ctrl-C again to quit at once)", file=sys.stderr)

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()


class StopVote:
    """Ranks agree on the step at which a Ctrl-C / SIGTERM stops them.

    The signal reaches the ranks at different steps (torchrun forwards Ctrl-C to its workers
    one after another; a scheduler's SIGTERM lands anywhere in a step), so a rank's own flag
    cannot decide when to stop: ranks that disagree issue different collectives and hang.
    Each step, every rank all-reduces (max) its flag without waiting and reads the result one
    step later, so all ranks see the same answer at the same step, at the cost of one step of
    delay and no blocking collective per step. On CUDA the result is copied to pinned host
    memory behind an event, so reading it waits for the previous step only, never for the
    kernels queued since.
    """

    def __init__(self, device: torch.device) -> None:
        self.on_cuda = device.type == "cuda"
        self._votes = torch.tensor([0.0, 1.0], device=device)  # (2,) no, yes: a vote is a device-side copy
        self._pending: tuple[Any, torch.Tensor, Any] | None = None  # (work to wait, result, CUDA event)

    def poll(self, requested: bool) -> bool:
        """Vote `requested` for this step; True when some rank had asked by the previous one."""
        decided = self._collect()
        flag = self._votes[int(requested)].clone()  # () on the device
        work = distributed.all_reduce_max_async(flag)
        if self.on_cuda:
            if work is not None:
                work.wait()  # NCCL: the current stream waits for the collective; the host does not
            result = torch.empty((), pin_memory=True)
            result.copy_(flag, non_blocking=True)
            event = torch.cuda.Event()
            event.record()
            self._pending = (None, result, event)
        else:
            self._pending = (work, flag, None)
        return decided

    def finish(self) -> None:
        """Wait for the vote in flight (before the process group goes)."""
        self._collect()

    def _collect(self) -> bool:
        if self._pending is None:
            return False
        work, result, event = self._pending
        self._pending = None
        if work is not None:
            work.wait()
        if event is not None:
            event.synchronize()
        return bool(result.item())


class DivergenceMonitor:
    """Non-finite losses, and losses above `factor` x the running median of recent ones.

    The reference is max(|median|, 1): losses near zero (a winning GAN discriminator) must
    not make every ordinary fluctuation look like an explosion.
    """

    restore_problem = TRAINER_STATE

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

    def save(self, parts: CheckpointParts) -> None:
        parts.trainer["divergence_history"] = self.state_dict()

    def restore(self, parts: CheckpointParts) -> None:
        self.load_state_dict(parts.trainer.get("divergence_history", {}))
