"""Each piece of training state saves itself into a checkpoint and restores itself from one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from genzoo.errors import CheckpointError
from genzoo.train.clock import RunClock
from genzoo.train.log_window import LogWindow
from genzoo.train.saved_state import TRAINER_STATE, CheckpointParts, restore_all, save_all
from genzoo.train.selection import BestSelection
from genzoo.train.stopping import DivergenceMonitor


def _through_json(parts: CheckpointParts) -> CheckpointParts:
    """What a checkpoint file gives back: the metadata through JSON, the tensors as saved."""
    return CheckpointParts(dict(parts.tensors), json.loads(json.dumps(parts.metadata)), source=Path("x.safetensors"))


def test_the_loop_counters_come_back_as_they_were_saved():
    clock, window, best, monitor = RunClock(), LogWindow(1, torch.device("cpu")), BestSelection(), DivergenceMonitor(10.0)
    clock.elapsed_before_s, clock.overhead_s = 12.5, 3.25
    window.add("loss", torch.tensor(2.0))
    window.add("loss", torch.tensor(4.0))
    window.images, window.started_s = 96, 7.5
    assert best.offer(3.0, 10) and not best.offer(3.5, 20) and not best.offer(float("nan"), 30)
    for value in (1.0, 2.0, 3.0):
        monitor.check("loss", value)
    parts = _through_json(save_all([clock, window, best, monitor], CheckpointParts()))

    fresh = RunClock(), LogWindow(1, torch.device("cpu")), BestSelection(), DivergenceMonitor(10.0)
    restore_all(fresh, parts, path=Path("x.safetensors"))
    clock2, window2, best2, monitor2 = fresh
    assert clock2.elapsed_before_s == pytest.approx(clock.now(), abs=1.0) and clock2.overhead_s == 3.25
    assert window2.means() == {"loss": 3.0} and window2.images == 96 and window2.started_s == 7.5
    assert (best2.metric, best2.step) == (3.0, 10)
    assert monitor2.state_dict() == {"loss": [1.0, 2.0, 3.0]}


def test_a_part_that_does_not_fit_is_one_checkpoint_error_naming_it():
    parts = CheckpointParts(metadata={"trainer": {"log_counts": {"loss": "many"}}})
    with pytest.raises(CheckpointError, match=f"x.safetensors holds {TRAINER_STATE} \\(ValueError") as error:
        restore_all([LogWindow(1, torch.device("cpu"))], parts, path=Path("x.safetensors"))
    assert "\n" not in str(error.value)


def test_the_clock_counts_overhead_apart_from_training():
    clock = RunClock()
    with clock.overhead():
        torch.ones(10).sum()
    assert 0 < clock.overhead_s <= clock.now() and clock.training() == pytest.approx(clock.now() - clock.overhead_s, abs=0.05)
