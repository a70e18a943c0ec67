"""The optimizers `train.optimizer` names: Adam, AdamW, SGD and RMSprop."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from genzoo.errors import ConfigError


def make_optimizer(name: str, params: list[nn.Parameter], *, lr: float, betas: tuple[float, float], config: Any, cuda: bool) -> torch.optim.Optimizer:
    """Optimizer `name` over params; on CUDA its fused (else multi-tensor) implementation where it has one."""
    if name in ("adam", "adamw"):
        cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        kwargs: dict[str, Any] = dict(lr=lr, betas=tuple(betas), weight_decay=config.weight_decay)
    elif name == "sgd":
        cls, kwargs = torch.optim.SGD, dict(lr=lr, momentum=config.momentum, weight_decay=config.weight_decay)
    elif name == "rmsprop":
        cls, kwargs = torch.optim.RMSprop, dict(lr=lr, momentum=config.momentum, weight_decay=config.weight_decay)
    else:
        raise ConfigError(f"bad value {name!r} for train.optimizer: choose one of adam, adamw, rmsprop, sgd")
    if cuda:
        # Fused kernels where the optimizer has them, else the multi-tensor path.
        for fast in ({"fused": True}, {"foreach": True}):
            try:
                return cls(params, **kwargs, **fast)
            except (TypeError, RuntimeError, ValueError):
                continue
    return cls(params, **kwargs)


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """optimizer.load_state_dict(state), keeping what belongs to this run rather than the saved one.

    - The implementation flags (`fused`, `foreach`): a run saved on the CPU and resumed on a
      GPU keeps the fused kernel it was built with (the saved groups would switch it off).
    - The memory layout of per-parameter state: load_state_dict restores contiguous tensors,
      while channels-last parameters are NHWC; fused kernels refuse mixed layouts, so each
      state tensor takes its parameter's strides (values unchanged).
    """
    flags = {key: optimizer.defaults[key] for key in ("fused", "foreach") if key in optimizer.defaults}
    optimizer.load_state_dict(state)
    for group in optimizer.param_groups:
        group.update(flags)
    for parameter, parameter_state in optimizer.state.items():
        for key, value in parameter_state.items():
            if torch.is_tensor(value) and value.shape == parameter.shape and value.stride() != parameter.stride():
                parameter_state[key] = torch.empty_like(parameter, dtype=value.dtype).copy_(value)
