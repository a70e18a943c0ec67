"""Data-parallel training under `torchrun`: environment, process group, collectives.

torchrun sets WORLD_SIZE, RANK and LOCAL_RANK; without them the run is one process and
every helper here is a no-op. The process group uses NCCL on CUDA and Gloo on the CPU.
Rank 0 alone writes logs, samples and checkpoints.

BatchNorm normalises over the global batch, as one process would: the layers become
PyTorch's SyncBatchNorm on CUDA, and genzoo.nn.global_batch_norm.GlobalBatchNorm elsewhere
(SyncBatchNorm refuses CPU tensors), so W CPU processes train a BatchNorm model (dcgan)
exactly like one process. Every rank then holds the same running statistics;
DistributedDataParallel also broadcasts rank 0's buffers at every forward, and
`broadcast_buffers` before evaluation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn

from genzoo.errors import ConfigError
from genzoo.nn.global_batch_norm import convert_to_global_batch_norm

PROCESS_GROUP_TIMEOUT_MIN = 60  # collectives, including the barrier behind rank 0's first dataset download


@dataclass(frozen=True)
class DistributedEnv:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def detect() -> DistributedEnv:
    """Rank and world size from torchrun's environment variables (one process when unset)."""

    def read(name: str, default: int) -> int:
        raw = os.environ.get(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"environment variable {name}={raw!r} is not an integer: launch with torchrun") from None

    world_size = read("WORLD_SIZE", 1)
    rank = read("RANK", 0)
    local_rank = read("LOCAL_RANK", rank)
    if world_size < 1 or not 0 <= rank < world_size:
        raise ConfigError(f"bad torchrun environment: RANK={rank}, WORLD_SIZE={world_size}")
    return DistributedEnv(rank=rank, local_rank=local_rank, world_size=world_size)


def init_process_group(env: DistributedEnv, device: torch.device) -> bool:
    """Join the process group when running under torchrun; True when this call created it."""
    if not env.enabled or dist.is_initialized():
        return False
    backend = "nccl" if device.type == "cuda" else "gloo"
    # device_id binds NCCL to this rank's GPU from the first collective (else NCCL guesses it
    # from the rank); the timeout covers ranks waiting while rank 0 downloads the dataset.
    extra = {"device_id": device} if device.type == "cuda" else {}
    dist.init_process_group(
        backend=backend, rank=env.rank, world_size=env.world_size, timeout=timedelta(minutes=PROCESS_GROUP_TIMEOUT_MIN), **extra
    )
    return True


def destroy_process_group() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def is_active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def is_main() -> bool:
    return not is_active() or dist.get_rank() == 0


def barrier() -> None:
    if is_active():
        dist.barrier()


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """In-place sum over ranks (returned for chaining); identity in a single process."""
    if is_active():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def all_reduce_max(tensor: torch.Tensor) -> torch.Tensor:
    """In-place max over ranks, e.g. of divergence flags so every rank stops at the same step."""
    if is_active():
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return tensor


def all_reduce_max_async(tensor: torch.Tensor) -> dist.Work | None:
    """Start an in-place max over ranks without waiting: the handle to wait on (None in a single process)."""
    if not is_active():
        return None
    return dist.all_reduce(tensor, op=dist.ReduceOp.MAX, async_op=True)


def broadcast_buffers(module: nn.Module) -> None:
    """Give every rank rank 0's buffers (BatchNorm running statistics), e.g. before evaluation."""
    if is_active():
        for buffer in module.buffers():
            dist.broadcast(buffer, src=0)


def sync_batch_norm(module: nn.Module, device: torch.device) -> nn.Module:
    """BatchNorm layers normalising over the global batch when several processes train; unchanged otherwise.

    SyncBatchNorm on CUDA, GlobalBatchNorm on other devices. Parameters and buffers keep
    their names, so checkpoints load either way.
    """
    if not is_active():
        return module
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return convert_to_global_batch_norm(module)
