"""GlobalBatchNorm: nn.BatchNorm's function, state and running statistics, with statistics over all processes.

The multi-process behaviour (2 Gloo ranks normalising like one process) is tested in
tests/train/test_distributed.py; here the global-statistics path runs in one process with
the all-reduce as the identity (a world of one), against nn.BatchNorm.
"""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist
from torch import nn

from genzoo.nn import global_batch_norm
from genzoo.nn.global_batch_norm import GlobalBatchNorm, convert_to_global_batch_norm


@pytest.fixture
def world_of_one(monkeypatch, tmp_path):
    """Take the all-reduce path (real gloo collectives) in a process group whose only member is this process."""
    monkeypatch.setattr(global_batch_norm, "_group_active", lambda: True)
    dist.init_process_group("gloo", store=dist.FileStore(str(tmp_path / "store"), 1), rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("shape", [(6, 3, 5, 4), (7, 2)])
def test_global_path_matches_batch_norm(world_of_one, momentum, shape):
    torch.manual_seed(0)
    reference = (nn.BatchNorm2d if len(shape) == 4 else nn.BatchNorm1d)(shape[1], momentum=momentum)
    with torch.no_grad():
        reference.weight.uniform_(0.5, 1.5)
        reference.bias.uniform_(-0.5, 0.5)
    ours = convert_to_global_batch_norm(nn.Sequential(reference)).get_submodule("0")
    copy = (nn.BatchNorm2d if len(shape) == 4 else nn.BatchNorm1d)(shape[1], momentum=momentum)
    copy.load_state_dict(reference.state_dict())
    for _ in range(3):
        x = torch.randn(shape, requires_grad=True) * 3 + 1
        (grad_ours,) = torch.autograd.grad((ours(x) * torch.arange(x.numel()).view(shape)).sum(), x)
        (grad_reference,) = torch.autograd.grad((copy(x) * torch.arange(x.numel()).view(shape)).sum(), x)
        assert torch.allclose(grad_ours, grad_reference, rtol=1e-4, atol=1e-4)
    for name, value in copy.state_dict().items():
        assert torch.allclose(ours.state_dict()[name].float(), value.float(), rtol=1e-5, atol=1e-6), name
    ours.eval(), copy.eval()
    x = torch.randn(shape)
    assert torch.allclose(ours(x), copy(x), rtol=1e-5, atol=1e-5)


def test_conversion_keeps_parameters_buffers_and_keys():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)))
    keys, weight = list(model.state_dict()), model[1].weight
    converted = convert_to_global_batch_norm(model)
    assert isinstance(converted[1], GlobalBatchNorm) and isinstance(converted[2][1], GlobalBatchNorm)
    assert converted[1].weight is weight  # optimizers made before the conversion still hold it
    assert list(converted.state_dict()) == keys


def test_outside_a_process_group_it_is_batch_norm():
    torch.manual_seed(1)
    x = torch.randn(8, 3, 4, 4)
    reference = nn.BatchNorm2d(3)
    ours = GlobalBatchNorm(3)
    assert torch.allclose(ours(x), reference(x), atol=1e-6)
    assert torch.allclose(ours.running_var, reference.running_var)
    with pytest.raises(ValueError, match=r"expects \(B, C, ...\) input"):
        ours(torch.randn(3))
