"""The order in which a dataset's examples are visited: a pure function of (seed, epoch).

Every rank computes the same permutation from a CPU `torch.Generator` seeded from
(seed, epoch), takes `perm[rank::world_size]` and cuts it into batches. For training
(`drop_last`) each rank's share is truncated to the same count, so the ranks step in
lockstep on whole global batches; otherwise (evaluation) nothing is dropped: every example
goes to exactly one rank, and ranks may hold one example more than others. Resuming at
`start_batch` skips exactly that many batches, so an interrupted epoch continues with the
batches it would have produced.
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


def num_batches(length: int, batch_size: int, *, world_size: int = 1, drop_last: bool = True, rank: int = 0) -> int:
    """Batches per epoch on rank `rank`; `batch_size` is the per-rank batch."""
    _check(batch_size, rank, world_size)
    if drop_last:
        return (length // world_size) // batch_size
    return math.ceil(_share(length, rank, world_size) / batch_size)


def _share(length: int, rank: int, world_size: int) -> int:
    """How many of indices 0..length-1 fall on rank: those congruent to rank mod world_size."""
    return len(range(rank, length, world_size))


def rank_order(
    length: int, *, epoch: int = 0, seed: int = 0, shuffle: bool = True, rank: int = 0, world_size: int = 1, even: bool = True
) -> torch.Tensor:
    """Indices this rank visits in epoch `epoch`, int64 on the CPU: (length // world_size,) when
    `even`, else every index congruent to rank in the permutation's positions."""
    _check(1, rank, world_size)
    if shuffle:
        generator = torch.Generator(device="cpu").manual_seed(epoch_seed(seed, epoch))
        order = torch.randperm(length, generator=generator)  # (N,)
    else:
        order = torch.arange(length)
    share = order[rank::world_size]
    return share[: length // world_size] if even else share


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
    order = rank_order(length, epoch=epoch, seed=seed, shuffle=shuffle, rank=rank, world_size=world_size, even=drop_last)
    count = num_batches(length, batch_size, world_size=world_size, drop_last=drop_last, rank=rank)
    for batch in range(start_batch, count):
        yield order[batch * batch_size : (batch + 1) * batch_size]
