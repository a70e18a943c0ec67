"""Checkpoint files: atomic writes, refusal of anything that is not a genzoo safetensors file."""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from genzoo_testing.training import make_config
from safetensors.torch import save_file

from genzoo.errors import CheckpointError
from genzoo.train import find_checkpoint, load_model, read_checkpoint_info, resume_config, train
from genzoo.runs import checkpoint as checkpoint_module
from genzoo.train import random_streams
from genzoo.runs.checkpoint import FORMAT_VERSION, read_checkpoint, write_checkpoint
from genzoo.train.logging import read_metrics

HERE = Path(__file__).resolve().parent  # train_test_models.py, for scripts run in a subprocess


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("trained") / "run"
    result = train(make_config(steps=4, ema_decay=0.5), run)
    assert result.status == "finished"
    return run


def test_load_model_uses_ema_weights_in_eval_mode(trained_run):
    checkpoint = read_checkpoint(trained_run / "checkpoints" / "last.safetensors")
    model, info = load_model(trained_run, which="last")
    raw, _ = load_model(trained_run, which="last", ema=False)
    assert not model.training and info.has_ema and info.step == 4
    for name, param in model.named_parameters():
        assert torch.equal(param, checkpoint.tensors[f"ema.{name}"])
        assert torch.equal(dict(raw.named_parameters())[name], checkpoint.tensors[f"model.{name}"])
    assert not torch.equal(model.to_latent.weight, raw.to_latent.weight)
    assert torch.equal(model.latent_covariance, checkpoint.tensors["model.latent_covariance"])  # buffers kept


def test_crash_while_writing_keeps_previous_checkpoint(trained_run, tmp_path, monkeypatch):
    last = trained_run / "checkpoints" / "last.safetensors"
    target = tmp_path / "last.safetensors"
    shutil.copy(last, target)
    before = target.read_bytes()

    def crash_half_way(path, data):
        with open(path, "wb") as handle:
            handle.write(data[: len(data) // 2])
        raise KeyboardInterrupt  # e.g. Ctrl-C in the middle of the write

    monkeypatch.setattr(checkpoint_module, "_write_file", crash_half_way)
    with pytest.raises(KeyboardInterrupt):
        write_checkpoint(target, {"model.w": torch.ones(1000)}, {"model": "ae"})
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.safetensors"]  # temporary removed
    assert read_checkpoint_info(target).step == 4


def test_killed_process_while_writing_leaves_last_loadable(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    last = run / "checkpoints" / "last.safetensors"
    before = last.read_bytes()
    script = textwrap.dedent(
        f"""
        import os, torch
        from genzoo.runs import checkpoint
        def die_half_way(path, data):
            with open(path, "wb") as handle:
                handle.write(data[: len(data) // 2])
                handle.flush()
            os._exit(9)  # the process is killed: no cleanup runs
        checkpoint._write_file = die_half_way
        checkpoint.write_checkpoint({str(last)!r}, {{"model.w": torch.ones(1000)}}, {{"model": "ae"}})
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert done.returncode == 9, done.stderr.decode()
    leftovers = [p.name for p in last.parent.iterdir() if p.name.startswith(".last.safetensors.tmp-")]
    assert leftovers  # the torn file is only ever a temporary
    assert last.read_bytes() == before
    assert find_checkpoint(run, "last") == last
    model, info = load_model(run, which="last")
    assert info.step == 4
    result = train(None, run, resume=True)  # nothing to do, but the stale temporary is cleaned
    assert result.status == "finished"
    assert not any(p.name.startswith(".last") for p in last.parent.iterdir())


class _Payload:
    """Unpickling this object creates a marker file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("writer", ["pickle", "torch"])
def test_pickled_checkpoint_is_refused_and_never_unpickled(trained_run, tmp_path, writer):
    marker = tmp_path / "payload-ran"
    proof = tmp_path / "proof"
    pickle.loads(pickle.dumps(_Payload(str(proof))))  # the payload really would run
    assert proof.exists()

    evil = tmp_path / "run" / "checkpoints" / "last.safetensors"
    evil.parent.mkdir(parents=True)
    shutil.copy(trained_run / "config.yaml", tmp_path / "run" / "config.yaml")
    if writer == "pickle":
        evil.write_bytes(pickle.dumps({"model": _Payload(str(marker))}))
    else:
        torch.save({"model": _Payload(str(marker))}, evil)
    for attempt in (
        lambda: read_checkpoint(evil),
        lambda: read_checkpoint_info(evil),
        lambda: load_model(tmp_path / "run", which="last"),
        lambda: train(None, tmp_path / "run", resume=True),
    ):
        with pytest.raises(CheckpointError, match="not a genzoo checkpoint") as error:
            attempt()
        assert "\n" not in str(error.value)
    assert not marker.exists()


def _rewrite(source, target, *, drop=(), metadata_change=None, plain=False):
    checkpoint = read_checkpoint(source)
    tensors = {k: v for k, v in checkpoint.tensors.items() if k not in drop}
    metadata = dict(checkpoint.metadata)
    if metadata_change:
        metadata.update(metadata_change)
    save_file(tensors, str(target), metadata=None if plain else {"genzoo": json.dumps(metadata)})


@pytest.mark.parametrize(
    "damage, message",
    [
        ("truncated", "not a valid safetensors file"),
        ("garbage", "not a genzoo checkpoint"),
        ("plain", "without genzoo metadata"),
        ("version", f"this genzoo reads version {FORMAT_VERSION}"),
        ("missing-tensor", "tensor 'model.to_latent.weight' missing"),
        ("missing-metadata", "metadata lacks 'run_config'"),
    ],
)
def test_damaged_checkpoints_raise_one_line_errors(trained_run, tmp_path, damage, message):
    source = trained_run / "checkpoints" / "last.safetensors"
    target = tmp_path / "bad.safetensors"
    if damage == "truncated":
        target.write_bytes(source.read_bytes()[:-100])
    elif damage == "garbage":
        target.write_bytes(os.urandom(4096))
    elif damage == "plain":
        _rewrite(source, target, plain=True)
    elif damage == "version":
        _rewrite(source, target, metadata_change={"format_version": FORMAT_VERSION + 1})
    elif damage == "missing-tensor":
        _rewrite(source, target, drop=("model.to_latent.weight",))
    else:
        checkpoint = read_checkpoint(source)
        metadata = {k: v for k, v in checkpoint.metadata.items() if k != "run_config"}
        save_file(checkpoint.tensors, str(target), metadata={"genzoo": json.dumps(metadata)})
    with pytest.raises(CheckpointError, match=message) as error:
        load_model(target)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("trainer", "oops", "'trainer' is a str, not a mapping"),
        ("rng", [1, 2], "'rng' is a list, not a mapping"),
        ("rng.numpy", "x", "rng.numpy is not a list of 5 items"),
        ("trainer.step", -3, "trainer.step is -3, not an integer >= 0"),
        ("trainer.step", "abc", "trainer.step is 'abc', not an integer >= 0"),
        ("trainer.epoch", None, "trainer.epoch is None"),
        ("trainer.log_counts", 5, "trainer.log_counts is 5, not a mapping of counts"),
        ("schedulers", "s", "'schedulers' is a str"),
        ("metrics", [1], "'metrics' is a list"),
    ],
)
def test_wrong_typed_metadata_is_one_line_everywhere(trained_run, tmp_path, field, value, message):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    for name in ("last", "best"):
        path = run / "checkpoints" / f"{name}.safetensors"
        checkpoint = read_checkpoint(path)
        metadata = json.loads(json.dumps(checkpoint.metadata))
        *parents, leaf = field.split(".")
        node = metadata
        for part in parents:
            node = node[part]
        node[leaf] = value
        save_file(checkpoint.tensors, str(path), metadata={"genzoo": json.dumps(metadata)})
    for attempt in (
        lambda: read_checkpoint_info(run),
        lambda: load_model(run, which="last"),
        lambda: train(None, run, resume=True),
    ):
        with pytest.raises(CheckpointError, match=f"damaged metadata \\({re.escape(message)}") as error:
            attempt()
        assert "\n" not in str(error.value)


def test_unrestorable_trainer_state_is_one_line(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    path = run / "checkpoints" / "last.safetensors"
    checkpoint = read_checkpoint(path)
    metadata = dict(checkpoint.metadata)
    metadata["rng"] = {**metadata["rng"], "numpy": [1, 2, 3, 4, 5]}  # the right shape, not a NumPy state
    save_file(checkpoint.tensors, str(path), metadata={"genzoo": json.dumps(metadata)})
    with pytest.raises(CheckpointError, match="holds trainer or RNG state this genzoo cannot restore"):
        train(None, run, resume=True)


def test_weights_that_do_not_fit_the_model(trained_run, tmp_path):
    source = trained_run / "checkpoints" / "last.safetensors"
    checkpoint = read_checkpoint(source)
    tensors = dict(checkpoint.tensors)
    tensors["model.to_latent.weight"] = torch.zeros(3, 3)
    metadata = dict(checkpoint.metadata)
    save_file(tensors, str(tmp_path / "shape.safetensors"), metadata={"genzoo": json.dumps(metadata)})
    with pytest.raises(CheckpointError, match=r"to_latent.weight has shape \(3, 3\)"):
        load_model(tmp_path / "shape.safetensors")


def test_find_checkpoint_says_what_exists(tmp_path, trained_run):
    (tmp_path / "empty" / "checkpoints").mkdir(parents=True)
    (tmp_path / "empty" / "checkpoints" / "notes.txt").write_text("x")
    with pytest.raises(CheckpointError, match=r"no best checkpoint in .*checkpoints \(it holds: notes.txt\)"):
        find_checkpoint(tmp_path / "empty")
    with pytest.raises(CheckpointError, match="does not exist"):
        find_checkpoint(tmp_path / "nowhere")
    assert find_checkpoint(trained_run).name == "best.safetensors"
    os.remove(tmp_path / "empty" / "checkpoints" / "notes.txt")
    shutil.copy(trained_run / "checkpoints" / "last.safetensors", tmp_path / "empty" / "checkpoints")
    assert find_checkpoint(tmp_path / "empty").name == "last.safetensors"  # best falls back to last


def test_sigint_in_subprocess_saves_then_resume_finishes(tmp_path):
    run = tmp_path / "run"
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.path[:0] = [{str(HERE)!r}, {str(HERE.parent)!r}]
        from genzoo_testing.training import make_config
        import train_test_models
        train_test_models.register()
        from genzoo.train import train
        config = make_config("test-probe", {{"sleep_s": 0.02}}, steps=3000, log_every=1)  # 60 s: Ctrl-C lands in training on a busy machine too
        result = train(config, {str(run)!r})
        print(json.dumps({{"status": result.status, "step": result.step, "message": result.message}}))
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        metrics = run / "metrics.jsonl"
        for _ in range(600):
            if metrics.exists() and metrics.stat().st_size > 0:
                break
            if process.poll() is not None:
                break
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err.decode()
    outcome = json.loads(out.decode().strip().splitlines()[-1])
    assert outcome["status"] == "interrupted" and 0 < outcome["step"] < 3000
    assert f"--resume --out {run}" in outcome["message"]
    assert read_checkpoint_info(run / "checkpoints" / "last.safetensors").step == outcome["step"]

    end = outcome["step"] + 10  # resumed with a shorter run, so that it finishes soon
    result = train(resume_config(run, {"train": {"steps": end}}), run, resume=True)
    assert result.status == "finished" and result.step == end
    steps = [m["step"] for m in read_metrics(run / "metrics.jsonl") if m["split"] == "train"]
    assert steps == list(range(1, end + 1))  # no step lost or logged twice


def test_resumed_optimizer_state_takes_the_parameters_layout_and_keeps_the_runs_flags():
    """Checkpoints hold contiguous state; channels-last parameters need NHWC state (fused CUDA
    kernels refuse mixed layouts), and the saved groups must not switch off this run's kernels."""
    from torch import nn

    from genzoo.train.optimizers import load_optimizer_state

    conv = nn.Conv2d(2, 3, 3).to(memory_format=torch.channels_last)
    saved = torch.optim.Adam(conv.parameters(), foreach=False)
    conv(torch.randn(2, 2, 5, 5).to(memory_format=torch.channels_last)).sum().backward()
    saved.step()
    state = saved.state_dict()
    for parameter_state in state["state"].values():  # what a checkpoint round trip gives back
        for key, value in list(parameter_state.items()):
            if torch.is_tensor(value) and value.dim() == 4:
                parameter_state[key] = value.contiguous()

    resumed = torch.optim.Adam(conv.parameters(), foreach=True)
    load_optimizer_state(resumed, state)
    assert resumed.param_groups[0]["foreach"] is True
    restored = resumed.state[conv.weight]
    assert restored["exp_avg"].stride() == conv.weight.stride() != restored["exp_avg"].contiguous().stride()
    assert torch.equal(restored["exp_avg"], saved.state[conv.weight]["exp_avg"])
    assert torch.equal(restored["exp_avg_sq"], saved.state[conv.weight]["exp_avg_sq"])


def test_gpu_rng_state_is_the_training_devices_without_its_index(monkeypatch):
    """A run on cuda:1 resumes exactly on cuda:0 (and every torchrun rank takes rank 0's stream):
    the CUDA calls are stubbed, the bookkeeping around them is real."""
    restored: dict[int, torch.Tensor] = {}
    monkeypatch.setattr(torch.cuda, "get_rng_state", lambda device: torch.full((4,), device.index, dtype=torch.uint8))
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda state, device: restored.__setitem__(device.index, state))
    gpu1, gpu0, cpu = torch.device("cuda", 1), torch.device("cuda", 0), torch.device("cpu")

    tensors, packed = random_streams.capture_rng(None, gpu1)
    assert set(tensors) == {"rng.torch", "rng.cuda"}
    assert random_streams.restore_rng(tensors, packed, None, gpu0)
    assert torch.equal(restored[0], torch.full((4,), 1, dtype=torch.uint8))
    assert not random_streams.restore_rng(tensors, packed, None, cpu)  # a GPU run continued on the CPU

    cpu_tensors, cpu_packed = random_streams.capture_rng(None, cpu)
    assert "rng.cuda" not in cpu_tensors and random_streams.restore_rng(cpu_tensors, cpu_packed, None, cpu)
    assert not random_streams.restore_rng(cpu_tensors, cpu_packed, None, gpu0)  # no GPU stream to continue


def test_optimizer_state_that_does_not_fit_is_one_line(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    path = run / "checkpoints" / "last.safetensors"
    checkpoint = read_checkpoint(path)
    tensors = {name: (torch.zeros(2, 2) if name.startswith("optimizer.") and name.endswith("exp_avg") else value)
               for name, value in checkpoint.tensors.items()}
    save_file(tensors, str(path), metadata={"genzoo": json.dumps(checkpoint.metadata)})
    with pytest.raises(CheckpointError, match="holds optimizer state that does not fit this model") as error:
        train(None, run, resume=True)
    assert "\n" not in str(error.value)

    metadata = dict(checkpoint.metadata, optimizers={})
    save_file(checkpoint.tensors, str(path), metadata={"genzoo": json.dumps(metadata)})
    with pytest.raises(CheckpointError, match="lacks the optimizer of phase 'model': was the model code changed"):
        train(None, run, resume=True)
