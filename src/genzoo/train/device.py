"""Mixed precision, seeding and deterministic mode (device choice: genzoo.runs.device).

Mixed precision is autocast: `train.precision=auto` gives bfloat16 on GPUs that compute it natively (compute
capability 8.0 and up: A100, H100, RTX 30xx/40xx) and float16 on older ones (V100, T4,
RTX 20xx), where bfloat16 is only emulated and slow; float16 needs loss scaling (the trainer's
GradScaler), bfloat16 does not. fp32 elsewhere unless bf16 or fp16 is asked for explicitly.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator

import numpy as np
import torch



def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bfloat16 in hardware (NVIDIA compute capability >= 8.0, or ROCm's say)."""
    if device.type != "cuda":
        return False
    if torch.version.hip:
        return torch.cuda.is_bf16_supported()
    return torch.cuda.get_device_capability(device) >= (8, 0)


def autocast_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """The autocast dtype for `train.precision` on `device`, or None for plain fp32."""
    if precision == "fp32" or device.type == "mps":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision == "fp16":
        return torch.float16
    if device.type == "cuda":  # auto
        return torch.bfloat16 if native_bf16(device) else torch.float16
    return None


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """bf16 autocast context for `dtype`, a no-op context when dtype is None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def seed_everything(seed: int) -> None:
    """Seed python `random`, NumPy and torch (CPU and every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def configure_backends(device: torch.device, *, deterministic: bool) -> None:
    """Deterministic algorithms when asked; otherwise the fast CUDA paths (TF32, cuDNN autotune)."""
    if deterministic:
        # cuBLAS needs a fixed workspace to be deterministic (CUDA docs, "Reproducibility").
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    elif device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


@contextlib.contextmanager
def isolated_rng(device: torch.device) -> Iterator[None]:
    """Run a block (evaluation, sampling) without consuming the training RNG streams.

    Training then follows the same trajectory whatever eval_every / sample_every are, which
    is what makes an interrupted and resumed run identical to an uninterrupted one.
    """
    devices = [device] if device.type == "cuda" else []
    python_state, numpy_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=devices, device_type="cuda" if devices else "cpu"):
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)
