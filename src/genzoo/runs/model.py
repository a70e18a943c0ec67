"""A trained model back from its run directory or checkpoint file, ready for inference."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Literal

import torch

from genzoo.errors import CheckpointError, ConfigError
from genzoo.runs.checkpoint import CheckpointInfo, check_finite_weights, find_checkpoint, load_module_state, read_checkpoint
from genzoo.runs.device import resolve_device

if TYPE_CHECKING:
    from genzoo.models.base import GenerativeModel


def load_model(
    path: str | os.PathLike[str],
    *,
    which: Literal["last", "best"] = "best",
    device: str | torch.device = "cpu",
    ema: bool = True,
) -> tuple["GenerativeModel", CheckpointInfo]:
    """Rebuild a trained model from a run directory or checkpoint file, in eval() mode.

    Uses the EMA weights when the checkpoint has them and `ema` is true.
    """
    from genzoo.models.registry import build_model_from_format

    checkpoint = read_checkpoint(find_checkpoint(path, which))
    info = checkpoint.info
    try:
        model = build_model_from_format(info.run_config.model, info.data_format, info.run_config.model_options)
    except ConfigError as error:
        raise CheckpointError(f"{info.path} names a model this genzoo cannot build ({error})") from None
    load_module_state(model, checkpoint.section("model"), path=info.path)
    if ema and info.has_ema:
        shadows = checkpoint.section("ema")
        check_finite_weights(shadows, path=info.path, what="EMA weights")
        with torch.no_grad():
            for name, param in model.named_parameters():
                if name not in shadows:
                    raise CheckpointError(f"{info.path} lacks the EMA weight {name!r}: load it with ema=False")
                param.copy_(shadows[name])
    check_finite_weights({name: value for name, value in checkpoint.section("model").items()
                          if not (ema and info.has_ema and name in dict(model.named_parameters()))}, path=info.path)
    target = resolve_device(device) if isinstance(device, str) else device
    model.to(target).eval()
    return model, info
