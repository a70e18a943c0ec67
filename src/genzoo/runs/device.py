"""Device choice: `resolve_device("auto")` picks CUDA, then Apple MPS, then the CPU; explicit names are checked."""

from __future__ import annotations

import torch

from genzoo.errors import ConfigError


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(spec: str = "auto", *, local_rank: int | None = None) -> torch.device:
    """`auto` -> cuda > mps > cpu; explicit names are checked. Under torchrun CUDA uses cuda:LOCAL_RANK."""
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        if torch.cuda.is_available():
            spec = "cuda"
        elif _mps_available():
            spec = "mps"
        else:
            spec = "cpu"
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise ConfigError(f"bad value {spec!r} for train.device: choose auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("train.device is cuda but no CUDA GPU is available: use train.device=cpu or auto")
        if local_rank is not None:
            device = torch.device("cuda", local_rank)
        elif device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        if device.index >= torch.cuda.device_count():
            raise ConfigError(f"train.device is {device} but only {torch.cuda.device_count()} CUDA device(s) exist")
        torch.cuda.set_device(device)
    elif device.type == "mps":
        if not _mps_available():
            raise ConfigError("train.device is mps but MPS is not available: use train.device=cpu or auto")
    elif device.type != "cpu":
        raise ConfigError(f"bad value {spec!r} for train.device: choose auto, cpu, cuda, cuda:N or mps")
    return device
