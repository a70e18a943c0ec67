"""What every benchmark script shares: the machine a timing was taken on, and its record.

Imported by the scripts beside it (`sys.path` holds this folder when a script runs).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import torch

from genzoo.config import deep_merge, load_yaml, parse_overrides
from genzoo.train import RunConfig, resolve_run_config

from genzoo.presets import PRESET_DIR  # noqa: E402


def machine() -> dict[str, object]:
    """CPU model, cores, torch version and threads, load average: the context of every timing."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
    }


def describe_machine(info: dict[str, object]) -> str:
    load = ", ".join(f"{value:.2f}" for value in info["load_average"])  # type: ignore[union-attr]
    return (
        f"machine: {info['cpu']}, {info['cores']} cores, torch {info['torch']}, {info['threads']} thread(s), "
        f"python {info['python']}, load average {load}"
    )


def finish(info: dict[str, Any], out_json: str | None, record: dict[str, Any]) -> None:
    """Print the load average at the end and append `record` (plus the machine) to `out_json`."""
    info["load_average_end"] = os.getloadavg()
    print(f"\nload average at the end: {', '.join(f'{v:.2f}' for v in info['load_average_end'])}")
    if out_json:
        with open(out_json, "a") as handle:
            handle.write(json.dumps({**record, "machine": info}) + "\n")


def preset_run_config(preset: str, *, steps: int, seed: int, warmup_cap: int, overrides: list[str], eight_bit: bool,
                      extra: dict[str, Any] | None = None) -> RunConfig:
    """configs/<preset>.yaml with a step budget, quiet bookkeeping, `extra` and then `overrides` on top.

    One evaluation at the end only (each benchmark measures its own test figures); eight_bit
    switches the data to 8-bit pixels (data.preprocess=[]).
    """
    config = load_yaml(str(PRESET_DIR / f"{preset}.yaml"))
    config.get("train", {}).pop("epochs", None)  # the budget is `steps`
    bench: dict[str, Any] = {"train": {
        "steps": steps, "warmup_steps": min(warmup_cap, steps // 10), "eval_every": 0, "sample_every": 0,
        "sample_count": 4, "checkpoint_every": steps, "progress": False, "seed": seed, "device": "cpu",
    }}
    if eight_bit:
        bench["data"] = {"preprocess": []}
    bench = deep_merge(bench, extra or {})
    return resolve_run_config(preset=config, overrides=deep_merge(bench, parse_overrides(overrides)))


def train_fresh(config: RunConfig, run_dir: Path, label: str = "") -> tuple[Any, float, Any]:
    """Train `config` into an emptied `run_dir`: (TrainResult, wall seconds, the last model in eval mode).

    A run that did not finish is reported on stderr, not raised: its figures are still printed.
    """
    from genzoo.train import load_model, train

    if run_dir.exists():
        shutil.rmtree(run_dir)
    started = time.perf_counter()
    result = train(config, run_dir)
    train_s = time.perf_counter() - started
    if result.status != "finished":
        print(f"{label or config.model}: training {result.status}: {result.message}", file=sys.stderr)
    model, _ = load_model(run_dir, which="last")
    return result, train_s, model
