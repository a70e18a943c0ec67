"""The training loop end to end on tiny runs: files, exact resume, divergence, best, phases."""

from __future__ import annotations

import json
import math
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from genzoo_testing.training import make_config
from PIL import Image

from genzoo.data import Preprocessor, load_dataset
from genzoo.errors import CheckpointError, ConfigError, DataError, TrainingDiverged
from genzoo.train import load_model, read_checkpoint_info, resume_config, train
from genzoo.train import trainer as trainer_module
from genzoo.train.stopping import StopSignal
from genzoo.runs.checkpoint import read_checkpoint
from genzoo.runs.config import run_config_from_dict
from genzoo.train.logging import read_metrics


def test_run_directory_files(tmp_path):
    config = make_config(steps=6, log_every=2, eval_every=3, sample_every=3, checkpoint_every=3, sample_count=9)
    result = train(config, tmp_path / "run")
    run = tmp_path / "run"
    assert result.status == "finished" and result.step == 6 and result.message == ""

    saved = run_config_from_dict(yaml.safe_load((run / "config.yaml").read_text()))
    assert saved.model == "ae" and saved.model_options == config.model_options
    assert saved.train == config.train and saved.data.preprocess == ()  # resolved from the model's default

    record = json.loads((run / "run.json").read_text())
    assert record["seed"] == 0 and record["torch"] == torch.__version__ and record["world_size"] == 1
    assert record["dataset"]["name"] == "shapes" and record["device"] == "cpu" and "git_commit" in record

    metrics = read_metrics(run / "metrics.jsonl")
    train_records = [m for m in metrics if m["split"] == "train"]
    test_records = [m for m in metrics if m["split"] == "test"]
    assert [m["step"] for m in train_records] == [2, 4, 6]
    assert [m["step"] for m in test_records] == [3, 6]
    for m in train_records:
        assert {"epoch", "loss", "recon", "lr", "images_per_s", "time"} <= set(m) and math.isfinite(m["loss"])
    assert train_records[-1]["epoch"] == pytest.approx(6 / 8)  # 6 batches of 8 out of 64 images
    assert result.final_metrics["recon"] == pytest.approx(test_records[-1]["recon"])

    for name in ("step_000003.png", "final.png"):
        image = np.asarray(Image.open(run / "samples" / name))
        assert image.shape == (3 * 30 + 2, 3 * 30 + 2)  # 3x3 grid of 28x28 with 2-pixel padding
    assert not (run / "samples" / "step_000006.png").exists()  # the last step writes final.png instead
    assert result.last_checkpoint == run / "checkpoints" / "last.safetensors"
    assert read_checkpoint_info(result.last_checkpoint).step == 6


def _interrupt_at(monkeypatch, step: int) -> None:
    """Deliver a real SIGINT to this process right after training step `step`."""
    original = trainer_module.Trainer._after_step

    def after_step(self, stop, bar):
        if self.step == step:
            signal.raise_signal(signal.SIGINT)
        return original(self, stop, bar)

    monkeypatch.setattr(trainer_module.Trainer, "_after_step", after_step)


def _losses(run: Path) -> list[tuple]:
    keep = ("step", "epoch", "split", "loss", "recon", "mse", "lr")
    return [tuple(m.get(k) for k in keep) for m in read_metrics(run / "metrics.jsonl")]


def test_exact_resume_matches_uninterrupted_run(tmp_path, monkeypatch):
    # Everything that carries state: cosine schedule with warmup, EMA, dynamic binarization
    # (data generator), denoising noise (global torch RNG), a log window cut by the interruption.
    config = make_config(
        model_options={"channels": 4, "latent_dim": 4, "reconstruction": "bce", "denoising": 0.2},
        preprocess=("binarize-dynamic",),
        steps=14, log_every=3, eval_every=4, sample_every=5, checkpoint_every=6,
        schedule="cosine", warmup_steps=3, ema_decay=0.9, seed=3,
    )
    whole = train(config, tmp_path / "whole")

    _interrupt_at(monkeypatch, 7)
    handler = signal.getsignal(signal.SIGINT)
    first = train(config, tmp_path / "split")
    assert first.status == "interrupted" and first.step == 7
    assert f"genzoo train --resume --out {tmp_path / 'split'}" in first.message
    assert signal.getsignal(signal.SIGINT) is handler  # handlers restored
    monkeypatch.undo()
    second = train(None, tmp_path / "split", resume=True)
    assert second.status == "finished" and second.step == whole.step == 14

    assert _losses(tmp_path / "split") == _losses(tmp_path / "whole")
    a = read_checkpoint(tmp_path / "whole" / "checkpoints" / "last.safetensors").tensors
    b = read_checkpoint(tmp_path / "split" / "checkpoints" / "last.safetensors").tensors
    weights = [k for k in a if k.startswith(("model.", "ema.", "optimizer."))]
    assert weights and set(a) == set(b)
    for key in weights:
        assert torch.equal(a[key], b[key]), key
    run = json.loads((tmp_path / "split" / "run.json").read_text())
    assert [r["step"] for r in run["resumes"]] == [7]


def test_resume_extends_the_run_and_refuses_model_changes(tmp_path):
    run = tmp_path / "run"
    train(make_config(steps=4), run)
    with pytest.raises(ConfigError, match="already holds a run"):
        train(make_config(steps=4), run)
    changed = resume_config(run, {"model": {"latent_dim": 8}, "train": {"steps": 6}})
    with pytest.raises(ConfigError, match="cannot change model.latent_dim"):
        train(changed, run, resume=True)
    with pytest.raises(ConfigError, match="cannot change train.lr"):
        train(resume_config(run, {"train": {"lr": 0.5}}), run, resume=True)
    result = train(resume_config(run, {"train": {"steps": 6}}), run, resume=True)
    assert result.status == "finished" and result.step == 6
    assert [m["step"] for m in read_metrics(run / "metrics.jsonl") if m["split"] == "train"] == [2, 4, 6]
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["steps"] == 6


@pytest.mark.parametrize("check_every_step", [True, False], ids=["cpu-checks", "gpu-style-deferred-checks"])
def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch, check_every_step):
    config = make_config("test-probe", {"nan_from_call": 8}, steps=20, checkpoint_every=3, log_every=1 if check_every_step else 5)
    if not check_every_step:  # as on a GPU: losses are checked when something is logged or saved
        original = trainer_module.Trainer._setup

        def setup(self, *args):
            original(self, *args)
            self.check_every_step = False

        monkeypatch.setattr(trainer_module.Trainer, "_setup", setup)
    result = train(config, tmp_path / "run")
    last = tmp_path / "run" / "checkpoints" / "last.safetensors"
    assert result.status == "diverged" and result.step == (8 if check_every_step else 9)  # noticed at the save of step 9
    assert result.message == f"training diverged at step 8 (loss=nan); last good checkpoint: {last} (step 6)"
    with pytest.raises(TrainingDiverged, match="diverged at step 8"):
        result.raise_for_status()
    checkpoint = read_checkpoint(last)
    assert checkpoint.info.step == 6
    assert all(torch.isfinite(t).all() for k, t in checkpoint.tensors.items() if t.is_floating_point())
    losses = [m["loss"] for m in read_metrics(tmp_path / "run" / "metrics.jsonl")]
    assert len(losses) == (7 if check_every_step else 1) and all(math.isfinite(v) for v in losses)


def test_exploding_loss_is_divergence(tmp_path):
    config = make_config("test-probe", {"explode_from_call": 30}, steps=40, log_every=5)
    result = train(config, tmp_path / "run")
    assert result.status == "diverged" and result.step == 30
    assert "running median" in result.message and "no checkpoint was saved" in result.message
    assert result.last_checkpoint is None


def test_best_checkpoint_follows_selection_metric(tmp_path):
    # Evaluations at steps 2, 4, 6, 8 and the final one at 10 score 3, 1, 2, 0.5, 4.
    config = make_config("test-probe", {"scores": (3.0, 1.0, 2.0, 0.5, 4.0)}, steps=10, eval_every=2, eval_batch_size=64)
    result = train(config, tmp_path / "run")
    best = read_checkpoint_info(result.best_checkpoint)
    assert best.step == 8 and best.metrics["score"] == 0.5 and best.kind == "best"
    model, info = load_model(tmp_path / "run")
    assert info.step == 8 and not model.training
    _, last = load_model(tmp_path / "run", which="last")
    assert last.step == 10 and last.metrics["score"] == 4.0
    scores = [m["score"] for m in read_metrics(tmp_path / "run" / "metrics.jsonl") if m["split"] == "test"]
    assert scores == [3.0, 1.0, 2.0, 0.5, 4.0]


def test_final_eval_off_skips_only_the_end_of_run_evaluation(tmp_path):
    config = make_config("test-probe", {"scores": (3.0, 1.0, 2.0)}, steps=6, eval_every=2, final_eval=False)
    result = train(config, tmp_path / "run")
    assert result.status == "finished" and result.step == 6
    steps = [m["step"] for m in read_metrics(tmp_path / "run" / "metrics.jsonl") if m["split"] == "test"]
    assert steps == [2, 4]  # the periodic ones; the end of the run (step 6) is not evaluated
    assert result.final_metrics["score"] == 1.0  # the latest evaluation's
    assert read_checkpoint_info(result.last_checkpoint).step == 6


def test_two_phases_use_own_optimizers_and_fresh_batches(tmp_path, monkeypatch):
    models = []
    original = trainer_module.build_run

    def keep_model(*args, **kwargs):
        run = original(*args, **kwargs)
        models.append(run.model)
        return run

    monkeypatch.setattr(trainer_module, "build_run", keep_model)
    steps = 3
    result = train(make_config("test-two-phase", {}, steps=steps, log_every=1, lr=0.1), tmp_path / "run")
    assert result.status == "finished"
    trace = models[0].trace
    assert [phase for phase, *_ in trace] == ["critic", "critic", "maker"] * steps

    # Every call sees the next batch of the data order: 3 fresh batches per step.
    train_set = load_dataset("shapes", "train", **make_config().data.options)
    preprocessor = Preprocessor(())
    expected = [  # 8 batches per epoch: the 9th call starts epoch 1
        float(preprocessor(images).double().sum()) for epoch in (0, 1) for images, _ in train_set.batches(8, epoch=epoch, seed=0)
    ]
    assert [checksum for _, checksum, _, _ in trace] == pytest.approx(expected[: 3 * steps], rel=1e-12)

    # A phase's optimizer changes its own parameters and nothing else.
    for (phase, _, critic_before, maker_before), (_, _, critic_after, maker_after) in zip(trace, trace[1:]):
        if phase == "critic":
            assert torch.equal(maker_before, maker_after) and not torch.equal(critic_before, critic_after)
        else:
            assert torch.equal(critic_before, critic_after) and not torch.equal(maker_before, maker_after)

    record = read_metrics(tmp_path / "run" / "metrics.jsonl")[0]
    assert record["critic/lr"] == 0.1 and record["maker/lr"] == 0.05  # phase lr overrides train.lr
    assert record["loss"] == pytest.approx(record["critic/loss"] + record["maker/loss"])
    assert not (tmp_path / "run" / "samples" / "final.png").exists()  # the model cannot sample


def test_epochs_budget_and_batch_divisibility(tmp_path):
    result = train(make_config(steps=None, epochs=1.5), tmp_path / "run")
    assert result.step == 12  # 64 images / batch 8 = 8 steps per epoch
    with pytest.raises(DataError, match="fewer than one batch"):
        train(make_config(batch_size=128), tmp_path / "other")


@pytest.mark.parametrize("model", ["test-probe", "test-conditional"])
def test_labels_reach_only_label_conditional_models(tmp_path, monkeypatch, model):
    models = []
    original = trainer_module.build_run
    monkeypatch.setattr(trainer_module, "build_run", lambda *a, **k: models.append(original(*a, **k)) or models[-1])
    train(make_config(model, {}, steps=2, sample_count=7), tmp_path / "run")
    probe = models[0].model
    if model == "test-probe":
        assert probe.labels_seen == [None, None] and probe.sample_labels is None
    else:
        train_set = load_dataset("shapes", "train", **make_config().data.options)
        expected = [labels for _, labels in train_set.batches(8, epoch=0, seed=0)][:2]
        assert all(torch.equal(seen, want) for seen, want in zip(probe.labels_seen, expected))
        assert probe.sample_labels.tolist() == [0, 1, 2, 3, 4, 0, 1]  # arange(n) % 5 shape classes


def test_resume_without_checkpoint_says_so(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump(make_config().to_dict()))
    with pytest.raises(CheckpointError, match="no checkpoints/last.safetensors .*start it again without --resume"):
        train(None, run, resume=True)
    with pytest.raises(CheckpointError, match="no config.yaml"):
        train(None, tmp_path / "elsewhere", resume=True)


def test_stop_signal_second_ctrl_c_quits_and_handlers_are_restored():
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with StopSignal() as stop:
        signal.raise_signal(signal.SIGTERM)
        assert stop.requested
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_non_finite_weights_are_never_saved_nor_resumed_nor_sampled(tmp_path, monkeypatch):
    original = trainer_module.Trainer._train_step

    def poison_after_step_two(self):
        original(self)
        if self.step == 1:  # the step being finished is 2: its loss is fine, its weights are not
            with torch.no_grad():
                self.module.decoder.bias[0] = float("nan")

    monkeypatch.setattr(trainer_module.Trainer, "_train_step", poison_after_step_two)
    result = train(make_config("test-probe", steps=6, checkpoint_every=2), tmp_path / "poisoned")
    assert result.status == "diverged" and result.step == 2
    assert result.message.startswith("training diverged at step 2 (decoder.bias became NaN or infinite); no checkpoint was saved")
    assert not (tmp_path / "poisoned" / "checkpoints" / "last.safetensors").exists()
    monkeypatch.undo()

    run = tmp_path / "run"
    train(make_config("test-probe", steps=2), run)
    last = run / "checkpoints" / "last.safetensors"
    checkpoint = read_checkpoint(last)
    tensors = {k: (v * float("nan") if k.startswith("model.") else v) for k, v in checkpoint.tensors.items()}
    from safetensors.torch import save_file

    save_file(tensors, str(last), metadata={"genzoo": json.dumps(checkpoint.metadata)})
    for attempt in (lambda: load_model(run, which="last"), lambda: train(resume_config(run, {"train": {"steps": 4}}), run, resume=True)):
        with pytest.raises(CheckpointError, match=r"holds non-finite weights \(decoder.bias has NaN or infinite values\): it was saved after"):
            attempt()
