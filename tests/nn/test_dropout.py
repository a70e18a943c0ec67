"""ShardedDropout: inverted dropout whose masks are those of the global batch's draw."""

from __future__ import annotations

import pytest
import torch

from genzoo.models import build_model
from genzoo.nn.dropout import ShardedDropout
from genzoo.sharding import BatchShard


def test_rate_scale_and_eval_identity():
    dropout = ShardedDropout(0.25)
    h = torch.ones(4000, 50)
    torch.manual_seed(0)
    out = dropout(h)
    kept = out != 0
    assert kept.float().mean().item() == pytest.approx(0.75, abs=0.005)
    assert torch.allclose(out[kept], torch.full_like(out[kept], 1 / 0.75))  # inverted: E[out] = h
    assert torch.equal(dropout.eval()(h), h)
    assert torch.equal(ShardedDropout(0.0)(h), h)


def test_each_shard_gets_its_rows_of_the_one_process_masks():
    h = torch.randn(12, 7)
    torch.manual_seed(3)
    whole = ShardedDropout(0.5)(h)  # (12, 7)
    for rank in range(3):
        dropout = ShardedDropout(0.5)
        dropout.batch_shard = BatchShard(rank=rank, world_size=3)
        torch.manual_seed(3)
        assert torch.equal(dropout(h[rank::3]), whole[rank::3])


def test_the_model_hands_its_shard_to_its_dropout_layers():
    model = build_model("gan", (1, 8, 8), value_range=(-1.0, 1.0), discriminator_hidden=(8, 8, 8), generator_hidden=(8,), dropout=0.3)
    layers = [m for m in model.modules() if isinstance(m, ShardedDropout)]
    assert len(layers) == 2
    model.batch_shard = BatchShard(rank=1, world_size=2)
    assert all(m.batch_shard == BatchShard(rank=1, world_size=2) for m in layers)


def test_bad_rate():
    with pytest.raises(ValueError, match="dropout rate must be in"):
        ShardedDropout(1.0)

