"""The optimizers `train.optimizer` names (Adam, AdamW, SGD, RMSprop), and their state packed for a checkpoint."""

from __future__ import annotations

from collections.abc import Mapping
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
    - Shapes: a state tensor (exp_avg, momentum_buffer) of another shape than its parameter is a ValueError.
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
            if torch.is_tensor(value) and value.dim() > 0 and value.shape != parameter.shape:  # load_state_dict does not check
                raise ValueError(f"optimizer state {key!r} has shape {tuple(value.shape)}, its parameter {tuple(parameter.shape)}")
            if torch.is_tensor(value) and value.shape == parameter.shape and value.stride() != parameter.stride():
                parameter_state[key] = torch.empty_like(parameter, dtype=value.dtype).copy_(value)


def pack_optimizer(phase: str, optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Optimizer state -> (`optimizer.<phase>.<index>.<key>` tensors, JSON of the rest)."""
    state_dict = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    other: dict[str, dict[str, Any]] = {}
    for index, entries in state_dict["state"].items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{phase}.{index}.{key}"] = value
            else:
                other.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state_dict["param_groups"], "state": other}


def unpack_optimizer(phase: str, tensors: Mapping[str, torch.Tensor], packed: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of `pack_optimizer`: a state_dict for `optimizer.load_state_dict`."""
    prefix = f"optimizer.{phase}."
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith(prefix):
            index, name = key[len(prefix) :].split(".", 1)
            state.setdefault(int(index), {})[name] = value
    for index, entries in packed.get("state", {}).items():
        state.setdefault(int(index), {}).update(entries)
    groups = []
    for group in packed["param_groups"]:
        # JSON turned tuples (betas) into lists; optimizers expect the original types.
        groups.append({k: (tuple(v) if isinstance(v, list) and k != "params" else v) for k, v in group.items()})
    return {"state": state, "param_groups": groups}
