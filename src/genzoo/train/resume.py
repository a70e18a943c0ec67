"""Resuming a run: its saved config, the user's changes on top, and which changes are allowed.

A resumed run may change its length and bookkeeping (steps, intervals, device, precision,
fast paths); anything that would make it another experiment (model, data, optimisation)
must match the saved config.yaml.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from genzoo.config import load_yaml
from genzoo.errors import CheckpointError, ConfigError
from genzoo.runs import RunDir
from genzoo.runs.config import RunConfig, resolve_run_config, run_config_from_dict
from genzoo.train.run import resolve_preprocess

# TrainConfig / DataConfig fields a resumed run may change: bookkeeping, hardware, and the
# length of the run. Anything else (model, data, optimisation) must match the saved config.
RESUMABLE_CHANGES = {
    "train": {
        "steps", "epochs", "log_every", "eval_every", "eval_batches", "final_eval", "eval_batch_size", "sample_every",
        "sample_count", "checkpoint_every", "progress", "device", "precision", "deterministic",
        "on_device_data", "divergence_factor", "threads", "compile", "channels_last",
    },
    "data": {"data_dir", "download"},
}


def resume_config(run_dir: str | os.PathLike[str], changes: dict[str, Any] | None = None, flags: dict[str, Any] | None = None) -> RunConfig:
    """The saved RUN_DIR/config.yaml with the user's changes on top, each layer checked like a new run's.

    changes: `--set` overrides, then flags: the CLI's flags, both in the YAML layout (e.g. {"train": {"steps": 4000}}).
    A new run length replaces the old one, whichever of steps / epochs each names.
    """
    saved = read_saved_config(Path(run_dir)).to_dict()
    for layer in (changes, flags):
        _replace_length(saved, (layer or {}).get("train") or {})
    return resolve_run_config(base=saved, overrides=changes, flags=flags)


def _replace_length(saved: dict[str, Any], train_changes: dict[str, Any]) -> None:
    if "steps" in train_changes and "epochs" not in train_changes:
        saved["train"]["epochs"] = None
    if "epochs" in train_changes and "steps" not in train_changes:
        saved["train"]["steps"] = None


def read_saved_config(run_dir: Path) -> RunConfig:
    """RUN_DIR/config.yaml, or a CheckpointError saying what the directory holds instead."""
    path = RunDir(run_dir).config
    if not path.is_file():
        what = ", ".join(sorted(p.name for p in run_dir.iterdir())) if run_dir.is_dir() else "it does not exist"
        raise CheckpointError(f"cannot resume {run_dir}: no config.yaml there ({what or 'empty'}); start a new run instead")
    return run_config_from_dict(load_yaml(str(path)))


def check_resume_changes(saved: RunConfig, given: RunConfig) -> None:
    """ConfigError naming the first setting `given` changes that a resumed run may not change."""
    old, new = resolve_preprocess(saved).to_dict(), resolve_preprocess(given).to_dict()
    for section in ("model", "data", "train"):
        for key in sorted(set(old[section]) | set(new[section])):
            before, after = old[section].get(key), new[section].get(key)
            if before != after and key not in RESUMABLE_CHANGES.get(section, set()):
                raise ConfigError(
                    f"cannot change {section}.{key} when resuming ({before!r} -> {after!r}): "
                    "drop that flag, or start a new run in another directory"
                )
