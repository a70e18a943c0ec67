"""EMA of the weights against a hand computation."""

from __future__ import annotations

import torch
from torch import nn

from genzoo.train.ema import EMA


def test_ema_matches_hand_computation_and_swaps_back():
    model = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, -2.0]]))
    ema = EMA(model, decay=0.9)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[3.0, 0.0]]))
    ema.update(model)
    # 0.9 * [1, -2] + 0.1 * [3, 0] = [1.2, -1.8]
    assert torch.allclose(ema.shadow["weight"], torch.tensor([[1.2, -1.8]]))
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[-1.0, 4.0]]))
    ema.update(model)
    # 0.9 * [1.2, -1.8] + 0.1 * [-1, 4] = [0.98, -1.22]
    assert torch.allclose(ema.shadow["weight"], torch.tensor([[0.98, -1.22]]))

    with ema.applied(model):
        assert torch.allclose(model.weight, torch.tensor([[0.98, -1.22]]))
    assert torch.equal(model.weight, torch.tensor([[-1.0, 4.0]]))  # trained weights restored


def test_ema_state_round_trip():
    model = nn.Linear(3, 2)
    ema = EMA(model, decay=0.5)
    with torch.no_grad():
        model.weight.add_(1.0)
    ema.update(model)
    other = EMA(nn.Linear(3, 2), decay=0.5)
    other.load_state_dict(ema.state_dict())
    for name, value in ema.state_dict().items():
        assert torch.equal(other.shadow[name], value)


def test_decay_warms_up_with_the_step_so_short_runs_are_not_the_initialisation():
    import torch
    from torch import nn

    from genzoo.train.ema import EMA

    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    ema = EMA(model, 0.999)
    assert ema.decay_at(0) == 0.1 and ema.decay_at(90) == 0.91 and ema.decay_at(10**6) == 0.999
    with torch.no_grad():
        model.weight.fill_(1.0)
    for step in range(400):
        ema.update(model, step)
    # Without warm-up 0.999**400 = 67% of the initial 0 would remain; with it, almost none.
    assert ema.shadow["weight"].item() > 0.95
