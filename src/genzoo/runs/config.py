"""Run configuration: model, data and training sections, resolved from presets and overrides.

A run is described by one `RunConfig`, built from (lowest to highest priority) the
defaults below, a YAML preset (`configs/*.yaml`), `--set section.key=value` overrides and
explicit CLI flags. The resolved config is saved as `config.yaml` in the run directory and
inside every checkpoint, so `--resume`, `genzoo sample` and `genzoo info` rebuild the exact
model and data pipeline without the original command line.

YAML layout:
    model: {name: ae, latent_dim: 32}          # other keys: the model's config fields
    data: {name: fashion-mnist, preprocess: [binarize-dynamic], options: {}}
    train: {steps: 2000, batch_size: 64, lr: 1e-3}
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from genzoo.config import build_dataclass, coerce_fields, deep_merge, to_dict
from genzoo.errors import ConfigError


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and bookkeeping of one run (the trainer owns the loop; models own losses)."""

    steps: int | None = None  # optimisation steps; exclusive with epochs
    epochs: float | None = None  # passes over the training split (fractions allowed)
    batch_size: int = 64  # global batch size (split across ranks under torchrun)
    eval_batch_size: int = 256
    optimizer: Literal["adam", "adamw", "sgd", "rmsprop"] = "adam"
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.9  # sgd / rmsprop
    weight_decay: float = 0.0
    schedule: Literal["constant", "cosine", "linear", "exponential"] = "constant"
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0  # final lr / lr for cosine and linear decay
    gamma: float = 0.9999  # per-step factor of the exponential schedule
    grad_clip: float | None = None  # max global gradient norm
    ema_decay: float | None = None  # exponential moving average of the weights, e.g. 0.999
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"  # auto: bf16 (fp16 + loss scaling before Ampere) autocast on CUDA, fp32 elsewhere
    deterministic: bool = False  # torch.use_deterministic_algorithms
    seed: int = 0
    device: str = "auto"  # auto (cuda > mps > cpu), cpu, cuda, cuda:1, mps
    log_every: int = 50  # steps between metrics.jsonl training records
    eval_every: int = 500  # steps between evaluations on the test split (0: only at the end)
    eval_batches: int | None = None  # cap on test batches per periodic evaluation (None: whole split)
    final_eval: bool = True  # evaluate on the whole test split when training ends (off: leave it to `genzoo eval`)
    sample_every: int = 1000  # steps between sample grids (0: only at the end)
    sample_count: int = 64
    checkpoint_every: int = 500  # steps between `last` checkpoints
    divergence_factor: float = 1.0e3  # loss above this x its running median counts as exploded
    on_device_data: Literal["auto", "yes", "no"] = "auto"  # keep the uint8 dataset on the accelerator
    compile: bool = False  # torch.compile the training forward; falls back to eager (one warning) if it fails
    channels_last: Literal["auto", "yes", "no"] = "auto"  # NHWC weights and batches; auto: on for CUDA conv models
    threads: int | None = None  # CPU threads for torch (None: torch's default); 1 avoids oversubscription on busy machines
    progress: bool = True

    def __post_init__(self) -> None:
        if self.steps is not None and self.epochs is not None:
            raise ConfigError("train.steps and train.epochs are both set: give only one of them")
        # Written as `not (x > bound)` so that NaN fails every check.
        _require(self, "batch_size", 1)
        _require(self, "eval_batch_size", 1)
        _require(self, "sample_count", 1)
        _require(self, "log_every", 1)
        for name in ("eval_every", "sample_every", "checkpoint_every", "warmup_steps"):
            _require(self, name, 0, hint="0: only at the end of the run" if name != "warmup_steps" else "0: no warm-up")
        if self.steps is not None:
            _require(self, "steps", 1)
        if self.eval_batches is not None:
            _require(self, "eval_batches", 1)
        if self.threads is not None:
            _require(self, "threads", 1)
        if self.epochs is not None and not (0 < self.epochs < math.inf):
            raise ConfigError(f"train.epochs must be > 0 and finite, got {self.epochs}")
        if not (0 < self.lr < math.inf):
            raise ConfigError(f"train.lr must be > 0 and finite, got {self.lr}")
        if not all(0 <= beta < 1 for beta in self.betas):
            raise ConfigError(f"train.betas must both be in [0, 1), got {list(self.betas)}: e.g. [0.9, 0.999]")
        if not (0 <= self.momentum < math.inf):
            raise ConfigError(f"train.momentum must be >= 0 and finite, got {self.momentum}")
        if not (0 <= self.weight_decay < math.inf):
            raise ConfigError(f"train.weight_decay must be >= 0 and finite, got {self.weight_decay}")
        if not (0 <= self.min_lr_ratio <= 1):
            raise ConfigError(f"train.min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}")
        if not (0 < self.gamma <= 1):
            raise ConfigError(f"train.gamma must be in (0, 1], got {self.gamma}")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise ConfigError(f"train.ema_decay must be in (0, 1), got {self.ema_decay}")
        if self.grad_clip is not None and not (0 < self.grad_clip < math.inf):
            raise ConfigError(f"train.grad_clip must be > 0 and finite, got {self.grad_clip}")
        if not self.divergence_factor > 1:  # inf: only non-finite losses count as divergence
            raise ConfigError(f"train.divergence_factor must be > 1, got {self.divergence_factor}")
        if not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"train.seed must be in [0, 2**63 - 1], got {self.seed}")


MAX_SEED = 2**63 - 1  # the largest seed torch.manual_seed and the derived streams take


def _require(config: TrainConfig, name: str, minimum: int, hint: str = "") -> None:
    value = getattr(config, name)
    if not value >= minimum:
        raise ConfigError(f"train.{name} must be >= {minimum}, got {value}" + (f" ({hint})" if hint else ""))


@dataclass(frozen=True)
class DataConfig:
    """Which dataset, where to find it, and how to preprocess it."""

    name: str = "shapes"
    preprocess: tuple[str, ...] | None = None  # None: the model's default_preprocess
    data_dir: str | None = None
    download: bool = True
    options: dict[str, Any] = field(default_factory=dict)  # dataset-specific (size, channels, path, ...)
    task: str | None = None  # paired image-to-image task (genzoo.data.tasks): superres:4, colorize, edges, paired
    classes: tuple[int, ...] | None = None  # keep only these class labels (e.g. [8]: Fashion-MNIST bags)

    def __post_init__(self) -> None:
        if self.task is not None:
            from genzoo.data.tasks import parse_task

            parse_task(self.task)  # a bad spec is refused when the config is built
        if self.classes is not None and (not self.classes or min(self.classes) < 0):
            raise ConfigError(f"data.classes must list class indices >= 0, got {list(self.classes)}: e.g. data.classes=[8]")


@dataclass(frozen=True)
class RunConfig:
    model: str
    model_options: dict[str, Any] = field(default_factory=dict)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        """The YAML layout of the module docstring (round-trips through `run_config_from_dict`)."""
        return {
            "model": {"name": self.model, **self.model_options},
            "data": to_dict(self.data),
            "train": to_dict(self.train),
        }


def run_config_from_dict(values: dict[str, Any]) -> RunConfig:
    """Build a RunConfig from the YAML layout, with one-line errors for unknown sections/keys."""
    unknown = sorted(set(values) - {"model", "data", "train"})
    if unknown:
        raise ConfigError(f"unknown config section {unknown[0]!r}: choose one of data, model, train")
    model_section = values.get("model")
    if isinstance(model_section, str):
        model_section = {"name": model_section}
    model_section = dict(model_section or {})
    model_name = model_section.pop("name", None)
    if not model_name:
        raise ConfigError("no model given: name one, e.g. `genzoo train ae --data fashion-mnist`")
    data_section = values.get("data") or {}
    if isinstance(data_section, str):
        data_section = {"name": data_section}
    data = build_dataclass(DataConfig, data_section, section="data")
    train = build_dataclass(TrainConfig, values.get("train") or {}, section="train")
    return RunConfig(model=str(model_name), model_options=model_section, data=data, train=train)


def resolve_run_config(
    *,
    base: dict[str, Any] | None = None,
    preset: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
    flags: dict[str, Any] | None = None,
) -> RunConfig:
    """Merge base < preset < overrides < flags (each in the YAML layout) into a RunConfig."""
    merged: dict[str, Any] = {}
    for layer in (base, preset, overrides, flags):
        if layer:
            layer = _normalise_sections(layer)
            for section, cls in (("train", TrainConfig), ("data", DataConfig)):
                if isinstance(layer.get(section), dict):
                    coerce_fields(cls, layer[section], section=section)  # refused even where a later layer wins
            merged = deep_merge(merged, layer)
    return run_config_from_dict(merged)


def _normalise_sections(layer: dict[str, Any]) -> dict[str, Any]:
    out = dict(layer)
    for key in ("model", "data"):
        if isinstance(out.get(key), str):
            out[key] = {"name": out[key]}
    return out


def with_train(config: RunConfig, **changes: Any) -> RunConfig:
    """A copy of `config` with some TrainConfig fields replaced."""
    return replace(config, train=replace(config.train, **changes))
