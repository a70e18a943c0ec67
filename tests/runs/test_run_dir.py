"""genzoo.runs.RunDir: the names inside a run directory are a file format; they never change by accident."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from genzoo.runs import RunDir


def test_every_file_of_a_run_has_its_fixed_name(tmp_path):
    run = RunDir(tmp_path / "vae")
    assert {
        "config": run.config,
        "run_record": run.run_record,
        "metrics_log": run.metrics_log,
        "evaluation": run.evaluation,
        "checkpoints": run.checkpoints,
        "last": run.checkpoint("last"),
        "best": run.checkpoint("best"),
        "samples": run.samples,
        "report_figures": run.report_figures,
        "tensorboard": run.tensorboard,
        "lock": run.lock,
    } == {
        "config": tmp_path / "vae" / "config.yaml",
        "run_record": tmp_path / "vae" / "run.json",
        "metrics_log": tmp_path / "vae" / "metrics.jsonl",
        "evaluation": tmp_path / "vae" / "evaluation.json",
        "checkpoints": tmp_path / "vae" / "checkpoints",
        "last": tmp_path / "vae" / "checkpoints" / "last.safetensors",
        "best": tmp_path / "vae" / "checkpoints" / "best.safetensors",
        "samples": tmp_path / "vae" / "samples",
        "report_figures": tmp_path / "vae" / "report-figures",
        "tensorboard": tmp_path / "vae" / "tensorboard",
        "lock": tmp_path / "vae" / ".genzoo.lock",
    }
    assert run / "finetune.json" == tmp_path / "vae" / "finetune.json"
    assert not (tmp_path / "vae").exists()  # naming paths creates nothing


def test_a_string_root_becomes_a_path_and_the_value_is_frozen():
    run = RunDir("runs/vae")
    assert run.root == Path("runs/vae") and run == RunDir(Path("runs/vae"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.root = Path("elsewhere")  # type: ignore[misc]


@pytest.mark.parametrize(
    ("checkpoint", "root"),
    [
        ("runs/vae/checkpoints/best.safetensors", "runs/vae"),
        ("downloads/vae-step-4000.safetensors", "downloads"),  # a checkpoint outside a run: its folder
    ],
)
def test_the_run_of_a_checkpoint(checkpoint, root):
    assert RunDir.of_checkpoint(checkpoint).root == Path(root)


def test_the_training_layers_use_the_same_names(tmp_path):
    from genzoo.report.runs import FIGURES_DIR
    from genzoo.train import run_dir_of
    from genzoo.train.run_directory import LOCK_NAME, RunDirectoryLock

    run = RunDir(tmp_path)
    assert FIGURES_DIR == run.report_figures.name
    assert LOCK_NAME == run.lock.name and RunDirectoryLock(tmp_path).path == run.lock
    assert run_dir_of(run.checkpoint("last")) == tmp_path
