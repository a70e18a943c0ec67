"""Where each file of a training run lives: one place that spells the names of RUN_DIR.

    RUN_DIR/
      config.yaml             the resolved run config (train/)
      run.json                versions, dataset, command of every session (train/)
      metrics.jsonl           one JSON record per log line (train/ writes, everyone reads)
      evaluation.json         `genzoo eval`'s result (metrics/ writes, report/ reads)
      checkpoints/            last.safetensors, best.safetensors
      samples/                sample grids written during training and by `genzoo sample`
      report-figures/         the report's drawings, reused while the checkpoint is unchanged
      tensorboard/            event files, when TensorBoard is installed
      .genzoo.lock            held by the process that trains in RUN_DIR

`RunDir` only builds paths: it reads nothing and creates nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

CONFIG = "config.yaml"
RUN_RECORD = "run.json"
METRICS_LOG = "metrics.jsonl"
EVALUATION = "evaluation.json"
CHECKPOINTS = "checkpoints"
SAMPLES = "samples"
REPORT_FIGURES = "report-figures"
TENSORBOARD = "tensorboard"
LOCK = ".genzoo.lock"
CHECKPOINT_SUFFIX = ".safetensors"


@dataclass(frozen=True)
class RunDir:
    """The paths of one run directory, e.g. `RunDir("runs/vae").metrics_log`."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @classmethod
    def of_checkpoint(cls, checkpoint: str | os.PathLike[str]) -> "RunDir":
        """The run a checkpoint belongs to: RUN_DIR for RUN_DIR/checkpoints/x, else the file's folder."""
        checkpoint = Path(checkpoint)
        folder = checkpoint.parent
        return cls(folder.parent if folder.name == CHECKPOINTS else folder)

    def __truediv__(self, name: str) -> Path:
        return self.root / name

    @property
    def config(self) -> Path:
        return self.root / CONFIG

    @property
    def run_record(self) -> Path:
        return self.root / RUN_RECORD

    @property
    def metrics_log(self) -> Path:
        return self.root / METRICS_LOG

    @property
    def evaluation(self) -> Path:
        return self.root / EVALUATION

    @property
    def checkpoints(self) -> Path:
        return self.root / CHECKPOINTS

    def checkpoint(self, which: Literal["last", "best"]) -> Path:
        """RUN_DIR/checkpoints/<which>.safetensors (whether or not it exists)."""
        return self.checkpoints / f"{which}{CHECKPOINT_SUFFIX}"

    @property
    def samples(self) -> Path:
        return self.root / SAMPLES

    @property
    def report_figures(self) -> Path:
        return self.root / REPORT_FIGURES

    @property
    def tensorboard(self) -> Path:
        return self.root / TENSORBOARD

    @property
    def lock(self) -> Path:
        return self.root / LOCK

    def read_metrics(self) -> list[dict[str, Any]]:
        """Every record of RUN_DIR/metrics.jsonl (see genzoo.runs.metrics_log.read_metrics)."""
        from genzoo.runs.metrics_log import read_metrics

        return read_metrics(self.metrics_log)
