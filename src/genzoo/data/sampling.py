"""The order in which a dataset's examples are visited: a pure function of (seed, epoch).

Every rank computes the same permutation from a CPU `torch.Generator` seeded from
(seed, epoch), takes `perm[rank::world_size]`, truncated so that every rank gets the same
count, and cuts it into batches. Resuming at `start_batch` skips exactly that many batches,
so an interrupted epoch continues with the batches it would have produced.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator

import torch

from genzoo.errors import ConfigError


def epoch_seed(seed: int, epoch: int) -> int:
    """A 63-bit generator seed mixing (seed, epoch), so nearby pairs give unrelated orders."""
    digest = hashlib.sha256(f"genzoo-order:{int(seed)}:{int(epoch)}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def _check(batch_size: int, rank: int, world_size: int) -> None:
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    if world_size < 1 or not 0 <= rank < world_size:
        raise ConfigError(f"rank must be in [0, world_size) with world_size >= 1, got rank={rank}, world_size={world_size}")


def num_batches(length: int, batch_size: int, *, world_size: int = 1, drop_last: bool = True) -> int:
    """Batches per epoch on one rank; `batch_size` is the per-rank batch."""
    _check(batch_size, 0, world_size)
    per_rank = length // world_size
    return per_rank // batch_size if drop_last else math.ceil(per_rank / batch_size)


def rank_order(length: int, *, epoch: int = 0, seed: int = 0, shuffle: bool = True, rank: int = 0, world_size: int = 1) -> torch.Tensor:
    """Indices this rank visits in epoch `epoch`, int64 (length // world_size,) on the CPU."""
    _check(1, rank, world_size)
    if shuffle:
        generator = torch.Generator(device="cpu").manual_seed(epoch_seed(seed, epoch))
        order = torch.randperm(length, generator=generator)  # (N,)
    else:
        order = torch.arange(length)
    per_rank = length // world_size
    return order[rank::world_size][:per_rank]


def index_batches(
    length: int,
    batch_size: int,
    *,
    epoch: int = 0,
    seed: int = 0,
    shuffle: bool = True,
    drop_last: bool = True,
    start_batch: int = 0,
    rank: int = 0,
    world_size: int = 1,
) -> Iterator[torch.Tensor]:
    """Index tensors (B,) of this rank's batches, from batch `start_batch` on."""
    _check(batch_size, rank, world_size)
    if start_batch < 0:
        raise ConfigError(f"start_batch must be >= 0, got {start_batch}")
    order = rank_order(length, epoch=epoch, seed=seed, shuffle=shuffle, rank=rank, world_size=world_size)
    count = num_batches(length, batch_size, world_size=world_size, drop_last=drop_last)
    for batch in range(start_batch, count):
        yield order[batch * batch_size : (batch + 1) * batch_size]
