"""Data-parallel scaling: training images/s of one preset with 1, 2, ... processes under torchrun.

For each process count W this runs `python -m torch.distributed.run --standalone
--nproc-per-node W -m genzoo train ...` on the preset (configs/PRESET.yaml) with the same
global batch, `--steps` steps, no periodic or final evaluation, sampling or checkpoints in
between, and reads the trainer's own images/s from metrics.jsonl (the median of the log
windows after the first, which holds start-up). Speed-up is images/s over the one-process
figure; efficiency is speed-up / W. On the CPU each process gets `--threads` torch threads
and the Gloo backend; with `--device cuda` each process takes one GPU (NCCL).

    nice python benchmarks/scaling.py [--preset vae-fashion-mnist] [--processes 1 2] [--steps 60] \
        [--batch-size 128] [--threads 1] [--device cpu] [--set train.lr=1e-3] [--runs-dir runs/bench/scaling] \
        [--out-json results.json]

Prints the machine, the command and a Markdown table; --out-json appends one record.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from genzoo.train.logging import read_metrics

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PRESET_DIR, describe_machine, finish, machine, preset_run_config  # noqa: E402


def run_config_file(args: argparse.Namespace, directory: Path) -> tuple[str, Path]:
    """The preset as one resolved YAML config for `genzoo train --config`: (model name, path)."""
    overrides = [
        f"train.batch_size={args.batch_size}", f"train.device={args.device}", "train.final_eval=false",
        f"train.log_every={args.log_every}", f"train.checkpoint_every={args.steps}", *args.set,
    ]
    config = preset_run_config(args.preset, steps=args.steps, seed=0, warmup_cap=0, overrides=overrides, eight_bit=False)
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    return config.model, path


def train_with(processes: int, model: str, config_path: Path, run_dir: Path, threads: int | None) -> list[dict[str, Any]]:
    """Train under torchrun with `processes` ranks; the training records of metrics.jsonl."""
    if run_dir.exists():
        shutil.rmtree(run_dir)
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(processes),
        "-m", "genzoo", "train", model, "--config", str(config_path), "--out", str(run_dir), "--no-progress",
    ]
    if threads:
        command += ["--set", f"train.threads={threads}"]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads or 1)}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"scaling: {processes} process(es) failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return [m for m in read_metrics(run_dir / "metrics.jsonl") if m["split"] == "train"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="vae-fashion-mnist", help="a configs/*.yaml name")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--log-every", type=int, default=10, help="steps per images/s window")
    parser.add_argument("--batch-size", type=int, default=128, help="the global batch (a multiple of every process count)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process (CPU)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (one GPU per process)")
    parser.add_argument("--set", action="append", default=[], help="extra config override, e.g. train.lr=1e-3")
    parser.add_argument("--runs-dir", default=None, help="where the runs go (default: a temporary folder, removed)")
    parser.add_argument("--out-json", default=None)
    args = parser.parse_args(argv)
    if not (PRESET_DIR / f"{args.preset}.yaml").exists():
        parser.error(f"--preset {args.preset}: no configs/{args.preset}.yaml")
    if any(w < 1 or args.batch_size % w for w in args.processes):
        parser.error(f"--batch-size {args.batch_size} must be a multiple of every --processes value (>= 1)")
    if args.steps < 2 * args.log_every:
        parser.error("--steps must be at least 2 x --log-every (the first window is start-up and not counted)")

    info = machine()
    print(f"# data-parallel scaling of {args.preset}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(describe_machine(info))
    print("command: python benchmarks/scaling.py " + shlex.join(sys.argv[1:] if argv is None else argv))
    print()
    print("| processes | global batch | per-process batch | images/s (median window) | speed-up | efficiency |")
    print("|---:|---:|---:|---:|---:|---:|")
    temporary = None if args.runs_dir else tempfile.TemporaryDirectory(prefix="genzoo-scaling-")
    root = Path(args.runs_dir or temporary.name)  # type: ignore[union-attr]
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        model, config_path = run_config_file(args, root)
        for processes in args.processes:
            records = train_with(processes, model, config_path, root / f"processes-{processes}", args.threads)
            windows = [m["images_per_s"] for m in records[1:] if m.get("images_per_s")]
            images_per_s = statistics.median(windows)
            base = rows[0]["images_per_s"] if rows else images_per_s
            baseline_processes = rows[0]["processes"] if rows else processes
            speedup = images_per_s / base
            efficiency = speedup / (processes / baseline_processes)
            rows.append({"processes": processes, "images_per_s": images_per_s, "speedup": speedup, "efficiency": efficiency})
            print(f"| {processes} | {args.batch_size} | {args.batch_size // processes} | {images_per_s:.0f} | "
                  f"{speedup:.2f}x | {efficiency:.0%} |", flush=True)
    finally:
        if temporary is not None:
            temporary.cleanup()
    finish(info, args.out_json, {"benchmark": "scaling", "preset": args.preset, "steps": args.steps, "rows": rows})


if __name__ == "__main__":
    main()
