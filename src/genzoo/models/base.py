"""The contract every genzoo model follows.

A model computes; the trainer loops. Each model is a `GenerativeModel` with
  - a frozen dataclass config (`config_class`) and a `DataFormat` given at construction,
  - declared `capabilities` that the CLI, evaluation and report read instead of names,
  - `loss(x, y, phase)` returning per-example losses (B,) with their parts beside them,
  - `training_phases()`: one phase for likelihood models, several for adversarial ones
    (e.g. k discriminator steps then one generator step, Goodfellow et al. 2014, Alg. 1);
    each phase has its own optimizer over `phase_parameters(name)`,
  - `sample`, and `log_prob` / `encode` / `decode` where the capabilities say so.

`forward` is `loss`, so the trainer can wrap the model in DistributedDataParallel and call
it directly: gradient synchronisation hooks only fire through `forward`. Per-example noise
of a loss (a GAN's z, a VAE's epsilon) goes through `per_example_noise`, and dropout through
`genzoo.nn.dropout.ShardedDropout`, so that W processes draw exactly the noise one process
would for the same global batch (see `genzoo.sharding`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from genzoo.data.format import DataFormat
from genzoo.sharding import WHOLE_BATCH, BatchShard, rows_of_global_draw


@dataclass(frozen=True)
class Capabilities:
    """What a model can do; read by the CLI and evaluation, never guessed from names."""

    exact_likelihood: bool = False  # log_prob(x) is exact (autoregressive models)
    likelihood_bound: bool = False  # log_prob(x) is a bound or estimate (VAE: ELBO/IWAE)
    encoder: bool = False  # encode(x) -> z
    latent_decoder: bool = False  # decode(z) -> x, and a prior/latent to sample z from
    label_conditional: bool = False  # loss/sample accept class labels
    image_to_image: bool = False  # translate(condition) -> target for the data's paired task (genzoo.data.tasks)

    def names(self) -> list[str]:
        return [name for name, value in vars(self).items() if value]


@dataclass(frozen=True)
class TrainingPhase:
    """One optimisation phase of a training step.

    A step runs every phase in order, each `repeats` times, each repeat on a fresh batch.
    `lr` and `betas` override the run's optimizer settings for this phase (DCGAN's
    Adam(2e-4, beta1 = 0.5) lives in the model, not in every user's command line).
    """

    name: str = "model"
    repeats: int = 1
    lr: float | None = None
    betas: tuple[float, float] | None = None


class GenerativeModel(nn.Module):
    """Base class of every registered model (see module docstring for the contract)."""

    name: ClassVar[str] = ""
    config_class: ClassVar[type]
    capabilities: ClassVar[Capabilities] = Capabilities()
    # Preprocessing steps a dataset should get when the user names none (genzoo.data.preprocess).
    default_preprocess: ClassVar[tuple[str, ...]] = ()
    # Name of the eval metric that selects the `best` checkpoint (lower is better); None when no
    # held-out loss ranks checkpoints (adversarial models): then `best` is never written.
    selection_metric: ClassVar[str | None] = "loss"

    def __init__(self, config: Any, data_format: DataFormat) -> None:
        super().__init__()
        self.config = config
        self.data_format = data_format

    # ---- training -------------------------------------------------------------------
    def training_phases(self) -> list[TrainingPhase]:
        return [TrainingPhase("model")]

    def on_train_step(self, step: int) -> None:
        """Called by the trainer before optimisation step `step` (0-based): schedules such as KL warm-up."""

    def phase_parameters(self, phase: str) -> Iterator[nn.Parameter]:
        """Parameters the optimizer of `phase` updates (all of them for one-phase models)."""
        return self.parameters()

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, phase: str = "model") -> dict[str, torch.Tensor]:
        """Per-example objective: {"loss": (B,), and parts such as "nll", "kl", "recon"}."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, phase: str = "model") -> dict[str, torch.Tensor]:
        return self.loss(x, y, phase)

    @property
    def batch_shard(self) -> BatchShard:
        """This process's share of each global batch: set by the trainer under torchrun, the whole batch otherwise."""
        return self.__dict__.get("_batch_shard", WHOLE_BATCH)

    @batch_shard.setter
    def batch_shard(self, shard: BatchShard) -> None:
        self.__dict__["_batch_shard"] = shard
        for module in self.modules():  # layers that draw per-example noise themselves (ShardedDropout)
            if module is not self and hasattr(module, "batch_shard"):
                module.batch_shard = shard

    def per_example_noise(self, n: int, draw: Callable[[int], torch.Tensor]) -> torch.Tensor:
        """Noise (n, ...) for this process's n examples: `draw(count)` (count, ...) for the global batch,
        then the rows of `batch_shard`; one process simply gets draw(n)."""
        return rows_of_global_draw(self.batch_shard, n, draw)  # (n, ...)

    def per_example_randn(self, like: torch.Tensor) -> torch.Tensor:
        """Standard normal noise shaped like `like` (B, ...), this process's rows of the global batch's."""
        return self.per_example_noise(like.shape[0], lambda count: torch.randn(
            count, *like.shape[1:], dtype=like.dtype, device=like.device))

    def evaluate(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Per-example metrics on held-out data; defaults to the loss of the first phase."""
        return self.loss(x, y, self.training_phases()[0].name)

    # ---- generation -----------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        labels: torch.Tensor | None = None,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Draw n images (n, C, H, W) in the model's data format."""
        raise NotImplementedError(f"{self.name} cannot sample")

    # ---- optional capabilities --------------------------------------------------------
    def log_prob(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """log p(x) in nats, summed over sub-pixels, per image: (B,)."""
        raise NotImplementedError(f"{self.name} has no likelihood")

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, C, H, W) -> code (B, D); class-conditional encoders also take labels y (B,)."""
        raise NotImplementedError(f"{self.name} has no encoder")

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """z (B, D) -> images (B, C, H, W) in the data's value range (latent_decoder models)."""
        raise NotImplementedError(f"{self.name} has no decoder")

    def sample_latent(self, n: int, *, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """n codes (n, D) from the model's latent distribution (prior, or fitted density for an AE)."""
        raise NotImplementedError(f"{self.name} has no latent distribution")

    @property
    def device(self) -> torch.device:
        for tensor in self.parameters():
            return tensor.device
        return torch.device("cpu")

    def check_labels(self, y: torch.Tensor, batch: int, num_classes: int) -> torch.Tensor:
        """Class labels y -> (B,) int64 on the model's device; a one-line ValueError when malformed.

        The value range is checked except for accelerator tensors in training, where the check
        would stall the device every step (and break a compiled graph): those labels come from
        a dataset whose labels were checked against num_classes when it was loaded.
        """
        if y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool:
            raise ValueError(f"labels must be integers, got {y.dtype}: pass class indices 0..{num_classes - 1}")
        if y.numel() != batch:
            raise ValueError(f"got {y.numel()} labels for {batch} examples: pass one class index per example")
        y = y.reshape(-1)
        trusted = self.training and y.device.type != "cpu" or torch.compiler.is_compiling()
        if not trusted and y.numel() and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(f"labels must lie in 0..{num_classes - 1}, got values in {int(y.min())}..{int(y.max())}")
        return y.to(self.device, torch.int64)

    def check_input(self, x: torch.Tensor) -> None:
        """Raise a one-line ValueError when a batch does not match the declared image shape."""
        expected = self.data_format.image_shape
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"{self.name} was built for images of shape (B, {', '.join(map(str, expected))}), "
                f"got {tuple(x.shape)}: rebuild the model for this data or resize the images"
            )
