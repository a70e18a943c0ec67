"""Dropout whose masks do not depend on how a batch is split across processes.

Inverted dropout (Srivastava et al. 2014): h * m / (1 - p) with m ~ Bernoulli(1 - p) per
unit, the identity in eval mode. The masks are drawn as m = [u < 1 - p], u ~ U[0, 1), for
the whole global batch and this process keeps its rows (`genzoo.sharding`), so W processes
under torchrun drop the same units of each example as one process would. nn.Dropout would
give every process the same masks for its local rows instead.
"""

from __future__ import annotations

import torch
from torch import nn

from genzoo.sharding import WHOLE_BATCH, BatchShard, rows_of_global_draw


class ShardedDropout(nn.Module):
    """Dropout with rate p over (B, ...) activations; `batch_shard` is set by the owning model."""

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {p}")
        self.p = p
        self.batch_shard: BatchShard = WHOLE_BATCH

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return h
        keep = 1.0 - self.p
        uniform = rows_of_global_draw(
            self.batch_shard, h.shape[0], lambda count: torch.rand(count, *h.shape[1:], device=h.device)
        )  # (B, ...)
        return h * (uniform < keep).to(h.dtype) / keep
