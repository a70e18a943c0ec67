"""Tiny training runs for the trainer tests: 64 images of 1x28x28 `shapes`, batch 8, quiet."""

from __future__ import annotations

from typing import Any

from genzoo.runs.config import DataConfig, RunConfig, TrainConfig

TINY_DATA = {"n_train": 64, "n_test": 32, "channels": 1, "size": 28}
TINY_AE = {"channels": 4, "latent_dim": 4, "downsamples": 2}
QUIET = {"progress": False, "sample_count": 4, "log_every": 2, "eval_every": 0, "sample_every": 0, "checkpoint_every": 0, "batch_size": 8}


def make_config(model: str = "ae", model_options: dict[str, Any] | None = None, *, preprocess=None, **train: Any) -> RunConfig:
    """A RunConfig for a tiny run: 64 training images of 1x28x28, batch 8, quiet."""
    options = TINY_AE if model == "ae" and model_options is None else (model_options or {})
    settings = {**QUIET, "steps": 4, **train}
    return RunConfig(
        model=model,
        model_options=dict(options),
        data=DataConfig(name="shapes", preprocess=preprocess, options=dict(TINY_DATA)),
        train=TrainConfig(**settings),
    )
