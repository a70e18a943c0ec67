"""The run's random streams (torch CPU and GPU, the data generator, NumPy, Python), saved and restored."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from genzoo.train.logging import log
from genzoo.train.saved_state import TRAINER_STATE, CheckpointParts


def capture_rng(data_generator: torch.Generator | None, device: torch.device) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """RNG states: torch CPU, the training GPU's and the data generator as uint8 tensors, NumPy
    and python as JSON. The GPU state is the training device's alone, saved without its index:
    a run on cuda:1 resumes exactly on cuda:0, and every torchrun rank continues rank 0's stream."""
    tensors = {"rng.torch": torch.get_rng_state()}
    if device.type == "cuda":
        tensors["rng.cuda"] = torch.cuda.get_rng_state(device)
    if data_generator is not None:
        tensors["rng.data"] = data_generator.get_state()
    bit_generator, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    version, python_state, gauss_next = random.getstate()
    packed = {
        "numpy": [bit_generator, keys.tolist(), int(position), int(has_gauss), float(cached_gaussian)],
        "python": [version, list(python_state), gauss_next],
    }
    return tensors, packed


def restore_rng(
    tensors: Mapping[str, torch.Tensor], packed: Mapping[str, Any], data_generator: torch.Generator | None, device: torch.device,
) -> bool:
    """Restore what `capture_rng` saved, the GPU state into `device`; False when a state did not fit.

    A run resumed on another kind of device (a CPU checkpoint continued on a GPU) cannot
    restore CUDA or data-generator states; those streams then start afresh (not bitwise
    exact, which is only promised on the same kind of device).
    """
    exact = True
    torch.set_rng_state(tensors["rng.torch"])
    cuda_state = tensors.get("rng.cuda", tensors.get("rng.cuda.0"))  # rng.cuda.N: checkpoints before 2026-11-24
    if device.type == "cuda":
        if cuda_state is None:
            exact = False
        else:
            torch.cuda.set_rng_state(cuda_state, device)
    elif cuda_state is not None:
        exact = False
    if data_generator is not None and "rng.data" in tensors:
        try:
            data_generator.set_state(tensors["rng.data"])
        except RuntimeError:  # a CPU generator's state given to a CUDA one, or the reverse
            exact = False
    if "numpy" in packed:
        bit_generator, keys, position, has_gauss, cached_gaussian = packed["numpy"]
        np.random.set_state((bit_generator, np.asarray(keys, dtype=np.uint32), position, has_gauss, cached_gaussian))
    if "python" in packed:
        version, python_state, gauss_next = packed["python"]
        random.setstate((version, tuple(python_state), gauss_next))
    return exact


class RandomStreams:
    """Every RNG a training step draws from. Under torchrun every rank keeps rank 0's streams
    (each draws the noise of the whole global batch and keeps its rows: genzoo.sharding).

    reseed(step): the data generator's fresh seed when a checkpoint's streams do not fit this
    device (a CPU run resumed on a GPU): the run continues, not bit for bit.
    """

    restore_problem = TRAINER_STATE

    def __init__(self, data_generator: torch.Generator, device: torch.device, reseed: Callable[[int], int]) -> None:
        self.data_generator, self.device, self.reseed = data_generator, device, reseed

    def save(self, parts: CheckpointParts) -> None:
        tensors, packed = capture_rng(self.data_generator, self.device)
        parts.tensors.update(tensors)
        parts.metadata["rng"] = packed

    def restore(self, parts: CheckpointParts) -> None:
        if not restore_rng(parts.tensors, parts.metadata.get("rng", {}), self.data_generator, self.device):
            self.data_generator.manual_seed(self.reseed(int(parts.trainer["step"])))
            log.warning("resumed on another kind of device: random streams restart, the run continues but not bit for bit")
