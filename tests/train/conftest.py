"""Shared helpers of the trainer tests: tiny configs on the procedural `shapes` dataset."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import train_test_models  # noqa: E402

from genzoo.train.config import DataConfig, RunConfig, TrainConfig  # noqa: E402

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


@pytest.fixture(autouse=True)
def test_models():
    """The tiny test models, registered for the duration of each test only."""
    train_test_models.register()
    yield
    train_test_models.unregister()
