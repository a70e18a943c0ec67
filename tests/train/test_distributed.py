"""Two CPU processes under torchrun (gloo) train like one process on the same global batches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from conftest import HERE, make_config

from genzoo.train import train
from genzoo.train.checkpoint import read_checkpoint
from genzoo.train.logging import read_metrics


def test_two_process_gloo_run_matches_one_process(tmp_path):
    # Rank r takes perm[r::2] of each epoch, so the two per-rank batches of 4 together are
    # exactly the single process's batch of 8, and averaged gradients give the same steps.
    settings = {"steps": 5, "log_every": 1, "eval_every": 2, "checkpoint_every": 2}
    single = train(make_config("test-probe", {}, **settings), tmp_path / "single")
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(
        f"""
        import json, os, sys
        sys.path.insert(0, {str(HERE)!r})
        from conftest import make_config
        import train_test_models
        train_test_models.register()
        from genzoo.train import train
        result = train(make_config("test-probe", {{}}, **{settings!r}), {str(tmp_path / "multi")!r})
        rank = os.environ["RANK"]
        with open({str(tmp_path)!r} + f"/rank{{rank}}.json", "w") as handle:
            json.dump({{"status": result.status, "step": result.step, "metrics": result.final_metrics}}, handle)
        """
    ))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert all(r["status"] == "finished" and r["step"] == 5 for r in ranks)
    assert ranks[0]["metrics"] == ranks[1]["metrics"]  # evaluation all-reduced
    assert ranks[0]["metrics"]["loss"] == pytest.approx(single.final_metrics["loss"], rel=1e-5)

    multi = read_metrics(tmp_path / "multi" / "metrics.jsonl")
    assert [m["step"] for m in multi if m["split"] == "train"] == [1, 2, 3, 4, 5]  # rank 0 alone writes
    one = [m["loss"] for m in read_metrics(tmp_path / "single" / "metrics.jsonl") if m["split"] == "train"]
    assert [m["loss"] for m in multi if m["split"] == "train"] == pytest.approx(one, rel=1e-5)
    a = read_checkpoint(tmp_path / "single" / "checkpoints" / "last.safetensors").section("model")
    b = read_checkpoint(tmp_path / "multi" / "checkpoints" / "last.safetensors").section("model")
    for name in a:
        assert torch.allclose(a[name], b[name], atol=1e-6), name
