"""This process's share of a global batch, and random numbers drawn as if for the whole batch.

Under torchrun, `genzoo.data.sampling` deals each global batch of B examples round-robin:
process `rank` of W holds examples rank, rank + W, ... (B / W of them). Every process keeps
the same random state, so drawing the noise of all B examples and keeping this process's
rows gives each example the noise one process would have drawn for it: data-parallel
training then follows the one-process run up to float rounding, whatever uses noise (a GAN's
z, a VAE's epsilon, dropout masks, binarization and dequantization noise).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class BatchShard:
    """Process `rank` of `world_size` holds rows rank, rank + world_size, ... of each global batch."""

    rank: int = 0
    world_size: int = 1


WHOLE_BATCH = BatchShard()


def rows_of_global_draw(shard: BatchShard, n: int, draw: Callable[[int], torch.Tensor]) -> torch.Tensor:
    """This process's n rows (n, ...) of `draw(n * world_size)`; one process simply gets draw(n)."""
    if shard.world_size == 1:
        return draw(n)
    return draw(n * shard.world_size)[shard.rank :: shard.world_size]


def sum_over_shards(shard: BatchShard, tensor: torch.Tensor) -> torch.Tensor:
    """Sum of `tensor` over the processes of the batch (in place under torchrun); itself otherwise."""
    if shard.world_size > 1 and dist.is_available() and dist.is_initialized():
        dist.all_reduce(tensor)
    return tensor
