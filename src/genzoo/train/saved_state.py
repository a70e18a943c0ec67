"""What a checkpoint holds, written and read by the objects that own each part of it.

Every piece of training state (the clock, the log window, each phase's optimizer, the data
position, the random streams, ...) saves itself into a `CheckpointParts` and restores itself
from one, so the trainer never copies fields by hand: `save_all` / `restore_all` go over the
owners in order. Restoring wraps the owner's failure into one CheckpointError naming its part.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Protocol

import torch

from genzoo.errors import CheckpointError

TRAINER_STATE = "trainer or RNG state this genzoo cannot restore"  # what a failed restore of the loop's counters is called
RESTORE_FAILURES = (KeyError, TypeError, ValueError, IndexError, RuntimeError, AttributeError)


@dataclass
class CheckpointParts:
    """A checkpoint's tensors (safetensors) and JSON metadata, with the trainer's own record inside it."""

    tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None  # the file restored from (named in errors)

    @property
    def trainer(self) -> dict[str, Any]:
        """metadata["trainer"]: the counters of the loop (step, clock, log window, data position, ...)."""
        return self.metadata.setdefault("trainer", {})

    def section(self, prefix: str) -> dict[str, torch.Tensor]:
        """Tensors named `prefix.<name>`, keyed by <name>."""
        start = f"{prefix}."
        return {name[len(start):]: value for name, value in self.tensors.items() if name.startswith(start)}


class SavedState(Protocol):
    """A piece of training state that writes itself into a checkpoint and reads itself back."""

    restore_problem: str  # what a failed restore is called: "trainer or RNG state", "optimizer state", ...

    def save(self, parts: CheckpointParts) -> None: ...

    def restore(self, parts: CheckpointParts) -> None: ...


def save_all(owners: Iterable[SavedState], parts: CheckpointParts) -> CheckpointParts:
    for owner in owners:
        owner.save(parts)
    return parts


def restore_all(owners: Iterable[SavedState], parts: CheckpointParts, *, path: Path) -> None:
    """Each owner restores its part; a part that does not fit ends in one CheckpointError naming it."""
    for owner in owners:
        try:
            owner.restore(parts)
        except CheckpointError:
            raise
        except RESTORE_FAILURES as error:
            raise CheckpointError(f"{path} holds {owner.restore_problem} ({type(error).__name__}: {error}): "
                                  "use another checkpoint") from None
