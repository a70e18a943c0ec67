"""The report redraws a run's figures only when its checkpoint changed, and says which evaluation it used."""

from __future__ import annotations

import json
import os

import pytest

from genzoo.report import runs as report_runs
from genzoo.report.runs import FIGURES_DIR, run_figures, saved_evaluation


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from genzoo.train import train
    from genzoo.runs.config import DataConfig, RunConfig, TrainConfig

    run_dir = tmp_path_factory.mktemp("figure-cache") / "vae"
    config = RunConfig(
        model="vae", model_options={"latent_dim": 2, "channels": 4, "iwae_samples": 0},
        data=DataConfig(name="shapes", preprocess=["binarize-dynamic"], options={"n_train": 64, "n_test": 32, "size": 28, "channels": 1}),
        train=TrainConfig(steps=2, batch_size=16, progress=False, eval_every=0, sample_every=0, checkpoint_every=0, final_eval=False),
    )
    assert train(config, run_dir).status == "finished"
    return run_dir


def _fail(*args, **kwargs):
    raise AssertionError("the figures were drawn again")


def test_figures_are_reused_until_the_checkpoint_changes(tiny_run, monkeypatch, capsys):
    _, _, first = run_figures(tiny_run)
    assert "drawing the figures" in capsys.readouterr().err
    assert {path.parent.name for path in first.values()} == {FIGURES_DIR}
    contents = {caption: path.read_bytes() for caption, path in first.items() if caption != "training loss"}
    monkeypatch.setattr(report_runs, "draw_figures", _fail)
    _, _, second = run_figures(tiny_run)
    assert "drawing the figures" not in capsys.readouterr().err
    assert {caption: second[caption].read_bytes() for caption in contents} == contents
    checkpoint = tiny_run / "checkpoints" / "last.safetensors"
    status = checkpoint.stat()
    os.utime(checkpoint, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000_000))  # a newer checkpoint
    with pytest.raises(AssertionError, match="drawn again"):
        run_figures(tiny_run)


def test_a_missing_figure_file_is_redrawn(tiny_run, monkeypatch):
    _, _, figures = run_figures(tiny_run)
    figures["samples"].unlink()
    monkeypatch.setattr(report_runs, "draw_figures", _fail)
    with pytest.raises(AssertionError, match="drawn again"):
        run_figures(tiny_run)


def test_saved_evaluation_names_the_command_when_missing_stale_or_corrupt(tmp_path):
    assert saved_evaluation(tmp_path, 5) == (None, f"not evaluated: run `genzoo eval {tmp_path}` to add its metrics")
    (tmp_path / "evaluation.json").write_text(json.dumps({"step": 3, "summary": ["x"]}))
    result, note = saved_evaluation(tmp_path, 5)
    assert result["step"] == 3 and "measured step 3, the checkpoint is at step 5" in note and f"genzoo eval {tmp_path}" in note
    assert saved_evaluation(tmp_path, 3)[1] == "metrics from evaluation.json (step 3)"
    (tmp_path / "evaluation.json").write_text('{"step": 3, "summ')  # torn write
    assert saved_evaluation(tmp_path, 3)[0] is None and "unreadable" in saved_evaluation(tmp_path, 3)[1]


def test_atomic_write_leaves_no_temporary_and_keeps_the_old_file_on_failure(tmp_path):
    from genzoo.atomic_file import atomic_output, atomic_write

    path = atomic_write(tmp_path / "a" / "f.json", "old")
    with pytest.raises(RuntimeError), atomic_output(path) as temporary:
        temporary.write_text("half")
        raise RuntimeError("interrupted")
    assert path.read_text() == "old" and sorted(p.name for p in path.parent.iterdir()) == ["f.json"]
    atomic_write(path, b"new")
    assert path.read_text() == "new"
