"""LR schedules: the multiplier at known steps, as an optimizer actually sees it."""

from __future__ import annotations

import math

import pytest
import torch

from genzoo.errors import ConfigError
from genzoo.runs.config import TrainConfig
from genzoo.train.schedules import build_scheduler, lr_multiplier


def lrs_seen(config: TrainConfig, total_steps: int, steps: int) -> list[float]:
    """The lr of each optimizer step 0..steps-1 under the trainer's stepping (one per step)."""
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=config.lr)
    scheduler = build_scheduler(optimizer, config, total_steps)
    seen = []
    for _ in range(steps):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return seen


def test_warmup_then_cosine_values():
    config = TrainConfig(lr=2.0, schedule="cosine", warmup_steps=4, min_lr_ratio=0.1)
    seen = lrs_seen(config, total_steps=14, steps=16)
    assert seen[:4] == pytest.approx([0.5, 1.0, 1.5, 2.0])  # (s + 1) / W
    assert seen[4] == pytest.approx(2.0)  # decay starts at full lr
    assert seen[9] == pytest.approx(2.0 * (0.1 + 0.9 * 0.5))  # halfway: cos(pi/2) = 0
    assert seen[6] == pytest.approx(2.0 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.2))))
    assert seen[14] == pytest.approx(0.2) and seen[15] == pytest.approx(0.2)  # floor after the end


def test_linear_exponential_constant_values():
    linear = lrs_seen(TrainConfig(lr=1.0, schedule="linear", min_lr_ratio=0.0), total_steps=10, steps=11)
    assert linear == pytest.approx([1.0 - s / 10 for s in range(11)])
    exponential = lrs_seen(TrainConfig(lr=1.0, schedule="exponential", gamma=0.5, warmup_steps=2), total_steps=10, steps=6)
    assert exponential == pytest.approx([0.5, 1.0, 1.0, 0.5, 0.25, 0.125])
    assert lrs_seen(TrainConfig(lr=0.3), total_steps=5, steps=5) == pytest.approx([0.3] * 5)


def test_scheduler_state_round_trips_through_json():
    import json

    config = TrainConfig(lr=1.0, schedule="cosine", warmup_steps=2)
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=1.0)
    scheduler = build_scheduler(optimizer, config, 20)
    for _ in range(7):
        optimizer.step()
        scheduler.step()
    state = json.loads(json.dumps(scheduler.state_dict()))
    fresh_optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    fresh = build_scheduler(fresh_optimizer, config, 20)
    fresh.load_state_dict(state)
    for _ in range(3):
        fresh_optimizer.step(), optimizer.step()
        fresh.step(), scheduler.step()
    assert fresh.get_last_lr() == scheduler.get_last_lr()


def test_unknown_schedule_is_a_config_error():
    with pytest.raises(ConfigError, match="cosine"):
        lr_multiplier("triangle", total_steps=10)
