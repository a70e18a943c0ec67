"""Helpers of the multi-process tests: launch torchrun on the CPU (gloo), read what each rank did.

`torchrun(args)` runs `python -m torch.distributed.run --standalone --nproc_per_node N ARGS`
with one thread per process. `train_in_processes(spec_dir, ...)` trains through
`ddp_worker.py`, which writes each rank's result and final weights (see there).
`recording_batches()` records the images the trainer draws, by content hash and epoch;
`interrupting_at(step)` sends the process a real SIGINT right after training step `step`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

HERE = Path(__file__).resolve().parent
WORKER = HERE / "ddp_worker.py"


def torchrun(args: list[str], *, processes: int = 2, timeout_s: float = 120) -> subprocess.CompletedProcess:
    """`torchrun --standalone --nproc_per_node PROCESSES ARGS` (ARGS: a script or `-m module ...`).

    A run that outlives `timeout_s` fails the test with every worker's Python stacks: the
    workers run with faulthandler on, and get SIGABRT, which makes each print where it hangs.
    """
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes), *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONFAULTHANDLER": "1"}
    agent = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        stdout, stderr = agent.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        for worker in _children(agent.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker, signal.SIGABRT)
        try:
            stdout, stderr = agent.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            agent.kill()
            stdout, stderr = agent.communicate()
        raise AssertionError(f"torchrun ran past {timeout_s:g} s; the workers' stacks:\n{stderr[-8000:]}") from None
    finally:
        if agent.poll() is None:
            agent.kill()
    return subprocess.CompletedProcess(command, agent.returncode, stdout, stderr)


def _children(pid: int) -> list[int]:
    """Process ids whose parent is `pid` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, ...
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def train_in_processes(
    work_dir: Path,
    run_dir: Path,
    *,
    config: Any = None,
    resume_changes: dict[str, Any] | None = None,
    interrupt_at: int | list[int | None] | None = None,
    processes: int = 2,
) -> list[dict[str, Any]]:
    """Train `config` (a RunConfig) into `run_dir`, or resume it with `resume_changes` when config is None;
    every rank gets a SIGINT after step `interrupt_at` when given (a list: one step per rank).

    Returns one dict per rank: status, step, metrics (final evaluation), batches
    ([epoch, image hash] per image drawn) and state (the rank's final model state_dict).
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "config": None if config is None else config.to_dict(),
        "resume_changes": resume_changes,
        "interrupt_at": interrupt_at,
        "run_dir": str(run_dir),
        "out_dir": str(work_dir),
    }
    spec_path = work_dir / "spec.json"
    spec_path.write_text(json.dumps(spec))
    done = torchrun([str(WORKER), str(spec_path)], processes=processes)
    assert done.returncode == 0, done.stderr[-4000:]
    ranks = []
    for rank in range(processes):
        result = json.loads((work_dir / f"rank{rank}.json").read_text())
        result["state"] = load_file(work_dir / f"rank{rank}.safetensors")
        ranks.append(result)
    return ranks


def image_hash(image: torch.Tensor) -> str:
    return hashlib.sha1(image.cpu().contiguous().numpy().tobytes()).hexdigest()


@contextlib.contextmanager
def recording_batches() -> Iterator[list[tuple[int, str]]]:
    """(epoch, image hash) of every training image the trainer's BatchStream yields in the block."""
    from genzoo.train.batches import BatchStream

    seen: list[tuple[int, str]] = []
    original = BatchStream.next

    def next_recorded(self: BatchStream) -> tuple[torch.Tensor, torch.Tensor | None]:
        images, labels = original(self)
        seen.extend((self.epoch, image_hash(image)) for image in images)  # epoch after a rollover is the batch's
        return images, labels

    BatchStream.next = next_recorded
    try:
        yield seen
    finally:
        BatchStream.next = original


@contextlib.contextmanager
def interrupting_at(step: int | None) -> Iterator[None]:
    """Deliver a real SIGINT to this process right after training step `step` (nothing when None)."""
    from genzoo.train.trainer import Trainer

    original = Trainer._after_step

    def after_step(self: Trainer, stop: Any, bar: Any) -> Any:
        if self.step == step:
            signal.raise_signal(signal.SIGINT)
        return original(self, stop, bar)

    Trainer._after_step = after_step
    try:
        yield
    finally:
        Trainer._after_step = original
