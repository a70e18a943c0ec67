"""Optional speed-ups of the training forward: `torch.compile` and channels-last memory format.

Both change how the arithmetic is scheduled, never what is computed: losses agree with the
plain fp32 eager run up to floating-point noise (tests/train/test_fast_paths.py checks it).

- `train.compile`: the training forward (the DDP-wrapped model under torchrun, as the
  PyTorch DDP + compile docs advise) goes through `torch.compile`. Inductor keeps eager's
  random numbers (`fallback_random`), so a model that draws noise in its loss (VAE, GANs)
  follows the same trajectory compiled or not. When torch.compile is missing or fails,
  at wrapping or at a call (no C++ compiler, unsupported Python, a backend bug), one warning
  is logged and training goes on eagerly; the failed call is redone eagerly. Evaluation,
  sampling and checkpoints always use the plain module, so state_dict keys never gain
  torch.compile's `_orig_mod.` prefix.
- `train.channels_last`: parameters, buffers and input batches in NHWC layout, which cuDNN's
  tensor-core convolutions prefer; `auto` turns it on for CUDA models with 2-D convolutions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from genzoo.train.logging import log

COMPILE_BACKEND = "inductor"  # torch.compile backend; tests swap in "aot_eager" (no C++ build)


def _first_line(error: BaseException) -> str:
    """`Type: first line` of the root cause (dynamo wraps a backend's error in BackendCompilerFailed)."""
    for _ in range(8):
        inner = getattr(error, "inner_exception", None) or error.__cause__
        if not isinstance(inner, BaseException):
            break
        error = inner
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:200] if text else ''}"


def _backward_compiled_with_forward() -> contextlib.AbstractContextManager:
    """AOTAutograd compiles the backward lazily, inside loss.backward(), where a failure could not
    fall back; this asks for it at the forward call instead (a private flag: skipped if absent)."""
    config = getattr(torch._functorch, "config", None)
    if config is None or not hasattr(config, "force_non_lazy_backward_lowering"):
        return contextlib.nullcontext()
    return config.patch(force_non_lazy_backward_lowering=True)


class CompiledForward:
    """Calls `compiled(...)`, or `eager(...)` for good once a compiled call has failed."""

    def __init__(self, eager: Callable[..., Any], compiled: Callable[..., Any] | None) -> None:
        self.eager, self.compiled = eager, compiled

    @property
    def active(self) -> bool:
        """Whether calls still go through torch.compile."""
        return self.compiled is not None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.compiled is None:
            return self.eager(*args, **kwargs)
        try:
            with _backward_compiled_with_forward():
                return self.compiled(*args, **kwargs)
        except Exception as error:  # noqa: BLE001  (any compiler failure; a model bug fails again eagerly)
            self.compiled = None
            log.warning("train.compile: torch.compile failed (%s); training continues without it", _first_line(error))
            return self.eager(*args, **kwargs)


def compile_forward(model: nn.Module, enabled: bool) -> CompiledForward:
    """`model`'s forward through torch.compile when enabled and available, else the eager one."""
    if not enabled:
        return CompiledForward(model, None)
    if not callable(getattr(torch, "compile", None)):
        log.warning("train.compile: this torch (%s) has no torch.compile; training continues without it", torch.__version__)
        return CompiledForward(model, None)
    backend = COMPILE_BACKEND
    options = {"fallback_random": True} if backend == "inductor" else None
    try:
        compiled = torch.compile(model, backend=backend, options=options)
    except Exception as error:  # noqa: BLE001  (e.g. "Dynamo is not supported on Python 3.x")
        log.warning("train.compile: torch.compile is unavailable (%s); training continues without it", _first_line(error))
        return CompiledForward(model, None)
    return CompiledForward(model, compiled)


def has_2d_convolutions(model: nn.Module) -> bool:
    """Whether any submodule is a 2-D (transposed) convolution: the layers channels-last speeds up."""
    return any(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) for m in model.modules())


def use_channels_last(mode: str, device: torch.device, model: nn.Module) -> bool:
    """train.channels_last resolved: yes / no as given; auto on CUDA for models with 2-D convolutions."""
    if mode == "yes":
        return True
    if mode == "no":
        return False
    return device.type == "cuda" and has_2d_convolutions(model)


def to_channels_last(x: torch.Tensor) -> torch.Tensor:
    """A 4-D batch (B, C, H, W) in NHWC memory layout (same shape and values); other tensors as they are."""
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x
