"""Several CPU processes under torchrun (gloo) train like one process on the same global batches.

Rank r takes perm[r::W] of each epoch, so the W per-rank batches of B / W together are the
single process's batch of B; the ranks share the global RNG and keep their rows of the
batch's noise (a GAN's z), and DDP averages gradients: the runs agree up to float rounding.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
import torch
from genzoo_testing.training import TINY_DATA, make_config
from torchrun_launch import image_hash, interrupting_at, recording_batches, torchrun, train_in_processes

from genzoo.cli import main as cli_main
from genzoo.data import load_dataset
from genzoo.train import train
from genzoo.runs.checkpoint import read_checkpoint
from genzoo.train.logging import read_metrics
from genzoo.train.resume import resume_config

pytestmark = pytest.mark.slow  # each test starts torchrun and several Python processes

# An MLP GAN with dropout in D (masks drawn for the global batch, genzoo.nn.dropout), k = 2.
TINY_GAN = {"latent_dim": 4, "generator_hidden": [16], "discriminator_hidden": [16, 16], "maxout_pieces": 2, "dropout": 0.5, "d_steps": 2}


def _train_records(run) -> list[dict]:
    return [m for m in read_metrics(run / "metrics.jsonl") if m["split"] == "train"]


def _assert_same_losses(a: list[dict], b: list[dict], keys: tuple[str, ...]) -> None:
    assert [m["step"] for m in a] == [m["step"] for m in b]
    for key in keys:
        assert [m[key] for m in a] == pytest.approx([m[key] for m in b], rel=1e-5, abs=1e-6), key


def _assert_close_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert set(a) == set(b)
    for name in a:
        assert torch.allclose(a[name].float(), b[name].float(), rtol=1e-5, atol=1e-6), name


def _assert_ranks_agree(ranks: list[dict]) -> None:
    """Every rank ends with rank 0's parameters and buffers, and the same all-reduced evaluation,
    and freed its DDP wrapper on closing."""
    first = ranks[0]
    assert all(rank["ddp_released"] for rank in ranks), "Trainer.close() kept the DDP wrapper past the process group"
    for other in ranks[1:]:
        assert other["status"] == first["status"] and other["step"] == first["step"]
        assert other["metrics"] == first["metrics"]
        for name, value in first["state"].items():
            assert torch.equal(value, other["state"][name]), name


def _last_weights(run) -> dict[str, torch.Tensor]:
    return read_checkpoint(run / "checkpoints" / "last.safetensors").section("model")


def test_two_process_gloo_run_matches_one_process(tmp_path):
    """With dynamic binarization (noise drawn for the global batch) and 33 test images, which
    2 ranks cannot split evenly: the evaluation still sees each of them once."""
    config = make_config(
        "test-probe", {}, preprocess=["binarize-dynamic"], steps=5, log_every=1, eval_every=2, checkpoint_every=2, eval_batch_size=16,
    )
    config = dataclasses.replace(config, data=dataclasses.replace(config.data, options={**config.data.options, "n_test": 33}))
    single = train(config, tmp_path / "single")
    ranks = train_in_processes(tmp_path / "ranks", tmp_path / "multi", config=config)

    assert all(r["status"] == "finished" and r["step"] == 5 for r in ranks)
    _assert_ranks_agree(ranks)  # evaluation all-reduced
    assert ranks[0]["metrics"]["loss"] == pytest.approx(single.final_metrics["loss"], rel=1e-5)
    multi = _train_records(tmp_path / "multi")
    assert [m["step"] for m in multi] == [1, 2, 3, 4, 5]  # rank 0 alone writes
    _assert_same_losses(multi, _train_records(tmp_path / "single"), ("loss",))
    _assert_close_weights(_last_weights(tmp_path / "multi"), _last_weights(tmp_path / "single"))


def test_gan_in_two_processes_matches_one_process(tmp_path):
    """Both players under one DDP wrapper: each phase steps only its own player, the other's
    parameters get no gradient, and the two shards of z are the one-process draw."""
    config = make_config("gan", TINY_GAN, steps=4, log_every=1, eval_every=2, checkpoint_every=2)
    single = train(config, tmp_path / "single")
    ranks = train_in_processes(tmp_path / "ranks", tmp_path / "multi", config=config)

    assert ranks[0]["status"] == "finished" and ranks[0]["step"] == 4
    _assert_ranks_agree(ranks)
    assert ranks[0]["metrics"] == pytest.approx(single.final_metrics, rel=1e-5, abs=1e-6)
    keys = ("discriminator/loss", "discriminator/d_real", "discriminator/d_fake", "generator/loss", "generator/d_fake")
    _assert_same_losses(_train_records(tmp_path / "multi"), _train_records(tmp_path / "single"), keys)
    weights = _last_weights(tmp_path / "multi")
    assert any(name.startswith("generator_net.") for name in weights) and any(name.startswith("discriminator_net.") for name in weights)
    _assert_close_weights(weights, _last_weights(tmp_path / "single"))


def test_autoencoder_in_two_processes_keeps_the_latent_moments_of_the_global_batch(tmp_path):
    """Denoising noise drawn for the global batch, and the running mean and covariance of the
    codes (the sampling density) summed over both ranks: buffers and weights match one process."""
    options = {"architecture": "mlp", "hidden": 16, "latent_dim": 3, "denoising": 0.2, "latent_momentum": 0.5}
    config = make_config("ae", options, preprocess=["dequantize"], steps=4, log_every=1, checkpoint_every=2)
    train(config, tmp_path / "single")
    ranks = train_in_processes(tmp_path / "ranks", tmp_path / "multi", config=config)

    _assert_ranks_agree(ranks)
    _assert_same_losses(_train_records(tmp_path / "multi"), _train_records(tmp_path / "single"), ("loss",))
    single, multi = _last_weights(tmp_path / "single"), _last_weights(tmp_path / "multi")
    assert not torch.allclose(single["latent_covariance"], torch.eye(3))  # the moments did move
    _assert_close_weights(multi, single)


def test_dcgan_in_two_processes_matches_one_process_and_rank_zero_writes(tmp_path):
    """BatchNorm in G and D normalises over both ranks' 4 images (GlobalBatchNorm on the CPU):
    losses, weights and running statistics are those of one process with batches of 8."""
    options = {"latent_dim": 4, "generator_channels": 4, "discriminator_channels": 4, "instance_noise": 0.1}
    config = make_config("dcgan", options, steps=3, log_every=1, sample_every=2, checkpoint_every=2)
    train(config, tmp_path / "single")
    ranks = train_in_processes(tmp_path / "ranks", tmp_path / "run", config=config)

    assert ranks[0]["status"] == "finished" and ranks[0]["step"] == 3
    _assert_ranks_agree(ranks)
    assert any("running_mean" in name for name in ranks[0]["state"])
    run = tmp_path / "run"
    assert [m["step"] for m in _train_records(run)] == [1, 2, 3]
    keys = ("discriminator/loss", "generator/loss")
    _assert_same_losses(_train_records(run), _train_records(tmp_path / "single"), keys)
    _assert_close_weights(_last_weights(run), _last_weights(tmp_path / "single"))  # BN running statistics included
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["last.safetensors"]  # a GAN keeps no `best`
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["final.png", "step_000002.png"]
    saved = _last_weights(run)
    for name, value in ranks[0]["state"].items():
        assert torch.equal(saved[name], value), name


@pytest.mark.parametrize("first_processes, then_processes", [(1, 2), (2, 1)])
def test_resume_under_another_number_of_processes(tmp_path, first_processes, then_processes):
    """Interrupted mid-epoch at step 3 (6 of the 8 batches of epoch 0: a GAN step takes two),
    resumed with the other world size: the same run as an uninterrupted one-process run.
    Ranks act on a Ctrl-C one step after it (their stop vote), so they get it after step 2."""
    config = make_config("gan", {**TINY_GAN, "d_steps": 1}, steps=6, log_every=2, checkpoint_every=0)
    train(config, tmp_path / "whole")
    split = tmp_path / "split"

    def session(processes: int, *, fresh: bool, interrupt_at: int | None) -> tuple[list[tuple[int, str]], str, int]:
        if processes > 1:
            signal_step = None if interrupt_at is None else interrupt_at - 1
            ranks = train_in_processes(
                tmp_path / f"ranks-{processes}", split, config=config if fresh else None, interrupt_at=signal_step,
            )
            _assert_ranks_agree(ranks)
            return [tuple(b) for r in ranks for b in r["batches"]], ranks[0]["status"], ranks[0]["step"]
        with recording_batches() as seen, interrupting_at(interrupt_at):
            result = train(config, split) if fresh else train(resume_config(split), split, resume=True)
        return seen, result.status, result.step

    first_seen, status, step = session(first_processes, fresh=True, interrupt_at=3)
    assert (status, step) == ("interrupted", 3)
    then_seen, status, step = session(then_processes, fresh=False, interrupt_at=None)
    assert (status, step) == ("finished", 6)

    train_images = load_dataset("shapes", "train", **TINY_DATA).images
    epoch_zero = [digest for epoch, digest in first_seen + then_seen if epoch == 0]
    assert Counter(epoch_zero) == Counter(image_hash(image) for image in train_images)  # each image once
    keys = ("loss", "discriminator/loss", "generator/loss")
    _assert_same_losses(_train_records(split), _train_records(tmp_path / "whole"), keys)  # steps 2, 4, 6
    _assert_close_weights(_last_weights(split), _last_weights(tmp_path / "whole"))
    sessions = json.loads((split / "run.json").read_text())
    assert (sessions["world_size"], [r["world_size"] for r in sessions["resumes"]]) == (first_processes, [then_processes])


def test_ranks_signalled_at_different_steps_stop_together_and_resume_exactly(tmp_path):
    """torchrun forwards Ctrl-C to its workers one by one, so ranks see it at different steps.
    Here rank 0 after step 2 (not a logging step: no collective of its own) and rank 1 after
    step 3: both must stop at step 3 with one checkpoint, and the resumed run must be the
    uninterrupted one. A rank acting on its own flag issues a collective the other does not
    (a hang or a gloo error)."""
    config = make_config("gan", {**TINY_GAN, "d_steps": 1}, steps=6, log_every=4, checkpoint_every=0)
    train(config, tmp_path / "whole")
    split = tmp_path / "split"
    ranks = train_in_processes(tmp_path / "first", split, config=config, interrupt_at=[2, 3])
    _assert_ranks_agree(ranks)
    assert (ranks[0]["status"], ranks[0]["step"]) == ("interrupted", 3)
    assert read_checkpoint(split / "checkpoints" / "last.safetensors").metadata["trainer"]["step"] == 3
    ranks = train_in_processes(tmp_path / "then", split)
    _assert_ranks_agree(ranks)
    assert (ranks[0]["status"], ranks[0]["step"]) == ("finished", 6)
    _assert_same_losses(_train_records(split), _train_records(tmp_path / "whole"), ("loss", "discriminator/loss", "generator/loss"))
    _assert_close_weights(_last_weights(split), _last_weights(tmp_path / "whole"))


CLI_RUN = [
    "train", "vae", "--data", "shapes", "--steps", "4", "--batch-size", "8", "--no-progress",
    "--set", "data.options.n_train=64", "--set", "data.options.n_test=32", "--set", "data.options.channels=1",
    "--set", "model.latent_dim=4", "--set", "model.channels=4", "--set", "model.iwae_samples=0",
    "--set", "train.log_every=1", "--set", "train.eval_every=2", "--set", "train.eval_batch_size=16",
    "--set", "train.sample_every=2", "--set", "train.sample_count=4", "--set", "train.checkpoint_every=2",
]


def test_torchrun_genzoo_train_matches_one_process_and_only_rank_zero_writes(tmp_path):
    assert cli_main([*CLI_RUN, "--out", str(tmp_path / "single")]) == 0
    done = torchrun(["-m", "genzoo", *CLI_RUN, "--out", str(tmp_path / "multi")])
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.count("status: finished") == 1  # rank 0 reports for all

    run = tmp_path / "multi"
    records = read_metrics(run / "metrics.jsonl")
    assert [m["step"] for m in records if m["split"] == "train"] == [1, 2, 3, 4]  # one line per step
    assert [m["step"] for m in records if m["split"] == "test"] == [2, 4]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.safetensors", "last.safetensors"]
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["final.png", "step_000002.png"]
    # The VAE's epsilon is drawn per global batch, so even its sampled ELBO matches one process.
    _assert_same_losses(_train_records(run), _train_records(tmp_path / "single"), ("loss", "recon", "kl"))


def test_compiled_dcgan_in_two_processes_matches_eager_one_process(tmp_path):
    """torch.compile over DDP with find_unused_parameters (a GAN's two phases) and GlobalBatchNorm's
    collectives inside the compiled forward: the same losses as one eager process."""
    run = ["train", "dcgan", "--data", "shapes", "--steps", "3", "--batch-size", "8", "--no-progress",
           "--set", "data.options.n_train=64", "--set", "data.options.n_test=32", "--set", "data.options.channels=1",
           "--set", "model.latent_dim=4", "--set", "model.generator_channels=4", "--set", "model.discriminator_channels=4",
           "--set", "train.log_every=1", "--set", "train.eval_every=0", "--set", "train.sample_every=0", "--set", "train.final_eval=false"]
    assert cli_main([*run, "--out", str(tmp_path / "eager")]) == 0
    done = torchrun(["-m", "genzoo", *run, "--set", "train.compile=true", "--out", str(tmp_path / "compiled")], timeout_s=300)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "training continues without it" not in done.stderr  # compiled, not the eager fallback
    keys = ("loss", "discriminator/d_loss", "generator/g_loss")
    _assert_same_losses(_train_records(tmp_path / "compiled"), _train_records(tmp_path / "eager"), keys)


def test_ctrl_c_to_torchrun_stops_every_rank_at_one_step_with_a_checkpoint(tmp_path):
    """The real path: SIGINT to the torchrun agent, which forwards it to its workers one by one."""
    run = tmp_path / "run"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "genzoo",
               *CLI_RUN, "--steps", "100000", "--set", "train.eval_every=0", "--set", "train.sample_every=0",
               "--set", "train.checkpoint_every=0", "--out", str(run)]
    agent = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(_lines(run / "metrics.jsonl")) < 5:
            time.sleep(0.2)
        assert agent.poll() is None, agent.stderr.read()[-4000:]
        agent.send_signal(signal.SIGINT)
        stdout, stderr = agent.communicate(timeout=60)
    finally:
        agent.kill()
    stopped = re.search(r"status: interrupted  step: (\d+)", stdout)
    assert stopped, stdout[-2000:] + stderr[-4000:]
    assert stdout.count("status: interrupted") == 1
    step = int(stopped.group(1))
    assert read_checkpoint(run / "checkpoints" / "last.safetensors").metadata["trainer"]["step"] == step
    assert max(m["step"] for m in read_metrics(run / "metrics.jsonl")) <= step


def _lines(path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_torchrun_with_a_batch_not_divisible_by_the_processes_says_so(tmp_path):
    done = torchrun(["-m", "genzoo", "train", "ae", "--data", "shapes", "--steps", "1", "--batch-size", "7", "--out", str(tmp_path / "run")])
    assert done.returncode != 0
    assert "genzoo: error: train.batch_size 7 is not divisible by the 2 processes: choose a multiple of 2" in done.stderr
    assert "genzoo/train" not in done.stderr  # no traceback from genzoo (torchrun prints its own report)
