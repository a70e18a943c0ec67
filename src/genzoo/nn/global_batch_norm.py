"""Batch normalisation over the global batch of a data-parallel run, on any backend (Gloo too).

BatchNorm (Ioffe & Szegedy 2015, Alg. 1) normalises each channel with its batch statistics,

    y = (x - mu_B) / sqrt(sigma_B^2 + eps) * gamma + beta,

and keeps running averages of mu_B and the unbiased sigma_B^2 for evaluation. Under torchrun
each of W processes holds B / W examples. PyTorch's SyncBatchNorm computes the statistics
over all W shares but refuses CPU tensors; `GlobalBatchNorm` does the same on any device with
two differentiable all-reduces per layer (sum, then sum of squared deviations: the two-pass
variance; `all_reduce_sum`, whose backward all-reduces the gradient, so every rank's loss
reaches every rank's inputs through mu_B and sigma_B^2). W processes then normalise exactly
like one process holding the whole batch.

Outside a multi-process group, and in eval mode, it is nn.BatchNorm: same parameters, buffers
and state-dict keys, so checkpoints load either way.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def _group_active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class _AllReduceSum(torch.autograd.Function):
    """y = sum_r x_r on every rank r; dL/dx_r = sum_r' dL_r'/dy, since every rank's loss uses y.

    Written here: torch.distributed.nn.functional's version now warns that it is deprecated,
    and functional collectives are differentiable only in recent torch releases.
    """

    @staticmethod
    def forward(ctx: object, x: torch.Tensor) -> torch.Tensor:
        total = x.clone()
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx: object, grad: torch.Tensor) -> torch.Tensor:
        total = grad.clone()
        dist.all_reduce(total)
        return total


def all_reduce_sum(x: torch.Tensor) -> torch.Tensor:
    """Differentiable sum of `x` over the processes of the group."""
    return _AllReduceSum.apply(x)


class GlobalBatchNorm(_BatchNorm):
    """BatchNorm over (B, C, ...) whose training statistics span every process's share of the batch."""

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"GlobalBatchNorm expects (B, C, ...) input, got shape {tuple(x.shape)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(x)
        if not (self.training and _group_active()):
            return super().forward(x)
        x = x.float()  # statistics in fp32 under autocast too (as autocast runs batch_norm)
        dims = [0, *range(2, x.dim())]  # every axis but the channels
        shape = (1, -1) + (1,) * (x.dim() - 2)  # broadcast (C,) over (B, C, ...)
        local_count = x.new_full((1,), x.numel() // x.shape[1])
        totals = all_reduce_sum(torch.cat([x.sum(dims), local_count]))  # (C + 1,)
        count = totals[-1]
        mean = totals[:-1] / count  # (C,) mu_B
        centred = x - mean.view(shape)
        variance = all_reduce_sum(centred.square().sum(dims)) / count  # (C,) sigma_B^2
        y = centred * torch.rsqrt(variance + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats:
            self._update_running_statistics(mean.detach(), variance.detach() * count / (count - 1).clamp(min=1))
        return y

    @torch.no_grad()
    def _update_running_statistics(self, mean: torch.Tensor, unbiased_variance: torch.Tensor) -> None:
        """nn.BatchNorm's rule: an exponential average with `momentum`, a cumulative one when it is None."""
        self.num_batches_tracked.add_(1)
        rate = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        self.running_mean.lerp_(mean.to(self.running_mean.dtype), rate)
        self.running_var.lerp_(unbiased_variance.to(self.running_var.dtype), rate)


def convert_to_global_batch_norm(module: nn.Module) -> nn.Module:
    """Every BatchNorm1d/2d/3d in `module` replaced by a GlobalBatchNorm holding the same parameters and buffers."""
    if isinstance(module, _BatchNorm) and not isinstance(module, (GlobalBatchNorm, nn.SyncBatchNorm)):
        converted = GlobalBatchNorm(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats)
        if module.affine:
            converted.weight, converted.bias = module.weight, module.bias  # the same Parameter objects
        converted.running_mean, converted.running_var = module.running_mean, module.running_var
        converted.num_batches_tracked = module.num_batches_tracked
        converted.train(module.training)
        return converted
    for name, child in module.named_children():
        replacement = convert_to_global_batch_norm(child)
        if replacement is not child:
            setattr(module, name, replacement)
    return module
