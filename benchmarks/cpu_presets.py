"""Train the CPU-budget presets (configs/*-cpu.yaml) through the real CLI, then time a 64-image sample grid.

For each preset named on the command line (default: every configs/*-cpu.yaml), in turn, one
process at a time:

1. `genzoo train MODEL --config PRESET --out RUNS_DIR/PRESET --set train.threads=T --no-progress`
   (OMP_NUM_THREADS=T): the preset's own budget, or --steps instead; wall minutes of the whole
   command, and the 1-minute load average read every 30 s while it runs (min / mean / max: on a
   shared machine the wall time means little without it);
2. `genzoo info RUN --json`: parameters and the step reached;
3. `genzoo eval RUN --metrics likelihood --test-images N`, for models with a likelihood: exact
   test NLL (autoregressive) or the ELBO / IWAE bounds (VAE), nats per image and bits/dim;
4. `genzoo sample RUN -n 64 --nrow 8` timed as a user runs it (process start, loading, sampling,
   writing the PNG); for class-conditional models also one `genzoo sample RUN --label K -n 8`
   per class, stitched into one grid with a row per class and its name on the left.

Writes OUT_DIR/results.md (the machine, every command, the table) and appends one JSON record
per preset to OUT_DIR/results.jsonl. `--skip-train` measures runs trained earlier.

    nice python benchmarks/cpu_presets.py --presets pixelcnn-fashion-mnist-cpu dcgan-fashion-mnist-cpu --threads 1
    nice python benchmarks/cpu_presets.py --steps 20 --test-images 100 --runs-dir runs/cpu-smoke   # plumbing only

5. `genzoo eval RUN --metrics fid,kid,pr,recognised --num-samples N --which last` (N = --quality-samples,
   default 1000; 0 skips it): FID, precision / recall and the recognised share of N samples against N test
   images, each beside the same figure for N held-out real training images.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from PIL import Image, ImageDraw

from common import PRESET_DIR, describe_machine, machine
from genzoo.metrics.likelihood_result import Likelihood
from genzoo.metrics.results import SampleQuality

LOAD_POLL_S = 30.0


def cpu_presets() -> list[str]:
    """Names of every CPU-budget preset, configs/*-cpu.yaml."""
    return sorted(path.stem for path in PRESET_DIR.glob("*-cpu.yaml"))


def preset_model(preset: str) -> str:
    """The model a preset trains (its model.name)."""
    config = yaml.safe_load((PRESET_DIR / f"{preset}.yaml").read_text()) or {}
    return config["model"]["name"]


class LoadWatcher:
    """Reads the 1-minute load average every `every_s` seconds in a daemon thread until stopped."""

    def __init__(self, every_s: float = LOAD_POLL_S) -> None:
        self.every_s, self.readings = every_s, [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.wait(self.every_s):
            self.readings.append(os.getloadavg()[0])

    def __enter__(self) -> "LoadWatcher":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.readings.append(os.getloadavg()[0])

    def summary(self) -> dict[str, float]:
        values = self.readings
        return {"min": min(values), "mean": sum(values) / len(values), "max": max(values)}


def genzoo(args: list[str], threads: int, log: Path) -> tuple[float, str]:
    """Run `python -m genzoo ARGS` with T threads; (wall seconds, stdout). Output goes to `log` too; failure raises."""
    command = [sys.executable, "-m", "genzoo", *args]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    wall_s = time.perf_counter() - started
    with log.open("a") as handle:
        handle.write(f"$ {shlex.join(['genzoo', *args])}\n{done.stdout}{done.stderr}\n")
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"`genzoo {' '.join(args[:2])}` failed (exit {done.returncode}): {tail[0]}; see {log}")
    return wall_s, done.stdout


def label_rows(rows: list[np.ndarray], names: list[str], path: Path) -> Path:
    """Stack per-class grids (H, W) or (H, W, C) uint8 one under another, each class name written at its left."""
    label_width = 8 + 7 * max(len(name) for name in names)
    height = sum(row.shape[0] for row in rows)
    width = label_width + max(row.shape[1] for row in rows)
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    top = 0
    for row, name in zip(rows, names):
        canvas.paste(Image.fromarray(row).convert("RGB"), (label_width, top))
        draw.text((4, top + row.shape[0] // 2 - 5), name, fill="black")
        top += row.shape[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return path


def class_rows(run: Path, classes: list[str], per_class: int, threads: int, log: Path) -> tuple[Path, float]:
    """One `genzoo sample --label K` per class, stitched: (PNG path, total wall seconds)."""
    rows, total_s = [], 0.0
    for label in range(len(classes)):
        part = run / "samples" / f"class-{label}.png"
        wall_s, _ = genzoo(["sample", str(run), "--label", str(label), "-n", str(per_class), "--nrow", str(per_class),
                            "--seed", str(label), "--out", str(part)], threads, log)
        total_s += wall_s
        rows.append(np.asarray(Image.open(part)))
    return label_rows(rows, classes, run / "samples" / "per-class.png"), total_s


def measure(preset: str, args: argparse.Namespace, log: Path) -> dict[str, Any]:
    """Train (unless --skip-train), evaluate and sample one preset; its record."""
    model = preset_model(preset)
    run = Path(args.runs_dir) / preset
    record: dict[str, Any] = {"preset": preset, "model": model, "run_dir": str(run)}
    train_args = ["train", model, "--config", preset, "--out", str(run), "--no-progress", "--set", f"train.threads={args.threads}"]
    if args.steps:
        train_args += ["--steps", str(args.steps)]
    record["train_command"] = shlex.join(["genzoo", *train_args])
    if not args.skip_train:
        if (run / "config.yaml").exists():
            raise RuntimeError(f"{run} holds a run already: remove it, pass another --runs-dir, or --skip-train")
        with LoadWatcher() as load:
            record["train_wall_s"], _ = genzoo(train_args, args.threads, log)
        record["load_during_train"] = load.summary()
    _, info_text = genzoo(["info", str(run), "--json"], args.threads, log)
    info = json.loads(info_text)
    record.update(parameters=info["parameters"], step=info["step"], capabilities=info["capabilities"],
                  preprocess=info["preprocess"])
    if {"exact_likelihood", "likelihood_bound"} & set(info["capabilities"]):
        out = run / "evaluation-cpu-presets.json"
        eval_args = ["eval", str(run), "--metrics", "likelihood", "--test-images", str(args.test_images), "--no-progress",
                     "--out", str(out)]
        if "likelihood_bound" in info["capabilities"]:
            eval_args += ["--iwae-k", str(args.iwae_k)]
        record["eval_wall_s"], _ = genzoo(eval_args, args.threads, log)
        record["likelihood"] = json.loads(out.read_text())["likelihood"]
    if args.quality_samples:
        out = run / "evaluation-cpu-presets-quality.json"
        quality_args = ["eval", str(run), "--metrics", "fid,kid,pr,recognised", "--num-samples", str(args.quality_samples),
                        "--which", "last", "--no-progress", "--out", str(out)]
        record["quality_wall_s"], _ = genzoo(quality_args, args.threads, log)
        record["sample_quality"] = json.loads(out.read_text())["sample_quality"]
    grid = run / "samples" / "cpu-presets-64.png"
    record["sample_64_wall_s"], _ = genzoo(["sample", str(run), "-n", "64", "--nrow", "8", "--out", str(grid)], args.threads, log)
    record["sample_png"] = str(grid)
    if "label_conditional" in info["capabilities"]:
        from genzoo.data import dataset_info

        data = info["config"]["data"]
        names = dataset_info(data["name"], **data.get("options", {})).class_names
        classes = list(names) if names else [str(k) for k in range(info["data_format"]["num_classes"])]
        record["per_class_png"], record["per_class_wall_s"] = class_rows(run, classes, args.per_class, args.threads, log)
        record["per_class_png"] = str(record["per_class_png"])
    return record


def likelihood_cell(section: dict[str, Any] | None) -> str:
    likelihood = Likelihood.from_dict(section)
    if likelihood is None or not likelihood.available:
        return "-"
    n = likelihood.num_test_images
    if likelihood.kind == "exact":
        return f"{likelihood.exact.nats:.1f} nats, {likelihood.exact.bits_per_dim:.3f} bits/dim (exact, N={n})"
    return f"<= {likelihood.iwae.nats:.1f} nats (IWAE k={likelihood.iwae_k}, N={n})"


def quality_cells(section: dict[str, Any] | None) -> str:
    """FID (real), precision / recall (real), recognised (test images): each beside real images' own figure."""
    quality = SampleQuality.from_dict(section)
    if quality is None or not quality.available:
        return "- | - | -"
    samples, real, recognised = quality.samples, quality.real, quality.recognised
    return (f"{samples.fid:.1f} ({real.fid:.1f}) | {samples.precision:.2f} / {samples.recall:.2f} "
            f"({real.precision:.2f} / {real.recall:.2f}) | {recognised.samples:.1%} ({recognised.test_images:.1%})")


def table(records: list[dict[str, Any]]) -> str:
    lines = ["| preset | parameters | steps | train wall min | load avg during (min / mean / max) | test NLL "
             "| FID (real) | precision / recall (real) | recognised (test) | `sample -n 64` s | samples |",
             "|---|---:|---:|---:|---|---|---:|---|---:|---:|---|"]
    for r in records:
        if "error" in r:
            lines.append(f"| {r['preset']} | failed: {r['error']} | | | | | | | | | |")
            continue
        load = r.get("load_during_train")
        load_cell = f"{load['min']:.1f} / {load['mean']:.1f} / {load['max']:.1f}" if load else "-"
        wall = f"{r['train_wall_s'] / 60:.1f}" if "train_wall_s" in r else "-"
        pngs = r["sample_png"] + (f", {r['per_class_png']}" if "per_class_png" in r else "")
        lines.append(f"| {r['preset']} | {r['parameters']:,} | {r['step']} | {wall} | {load_cell} | {likelihood_cell(r.get('likelihood'))} "
                     f"| {quality_cells(r.get('sample_quality'))} | {r['sample_64_wall_s']:.1f} | {pngs} |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", help="preset names (default: every configs/*-cpu.yaml)")
    parser.add_argument("--runs-dir", default="runs/cpu", help="run directories go to RUNS_DIR/PRESET (default runs/cpu)")
    parser.add_argument("--out-dir", help="results.md and results.jsonl (default: RUNS_DIR)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of every command (default 1)")
    parser.add_argument("--steps", type=int, help="train this many steps instead of the preset's budget (smoke runs)")
    parser.add_argument("--test-images", type=int, default=1000, help="test images for the likelihood (default 1000)")
    parser.add_argument("--iwae-k", type=int, default=100, help="importance samples of the VAE's IWAE bound (default 100)")
    parser.add_argument("--per-class", type=int, default=8, help="samples per class of conditional models (default 8)")
    parser.add_argument("--quality-samples", type=int, default=1000,
                        help="samples (and test images) for FID / precision-recall / recognised, `genzoo eval --which last` (0: skip)")
    parser.add_argument("--skip-train", action="store_true", help="measure runs already in RUNS_DIR")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    known = cpu_presets()
    presets = args.presets or known
    unknown = [name for name in presets if name not in known]
    if unknown:
        print(f"cpu_presets.py: unknown preset {unknown[0]!r}: choose from {', '.join(known)}", file=sys.stderr)
        return 2
    out_dir = Path(args.out_dir or args.runs_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    info = machine()
    info["threads"] = args.threads
    started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    header = [f"# CPU presets, started {started}", "", describe_machine(info), "",
              "    " + shlex.join(["python", "benchmarks/cpu_presets.py", *(argv if argv is not None else sys.argv[1:])]), ""]
    print("\n".join(header), flush=True)
    records = []
    for preset in presets:
        print(f"{preset}: {'measuring' if args.skip_train else 'training'} ...", flush=True)
        try:
            record = measure(preset, args, out_dir / "commands.log")
        except RuntimeError as error:
            record = {"preset": preset, "error": str(error)}
        record["date"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        records.append(record)
        with (out_dir / "results.jsonl").open("a") as handle:
            handle.write(json.dumps({**record, "machine": info}, default=str) + "\n")
        print(table(records[-1:]).splitlines()[-1], flush=True)
    commands = [f"    {r['train_command']}" for r in records if "train_command" in r]
    text = "\n".join([*header, "Training commands (each with OMP_NUM_THREADS set to --threads):", "", *commands, "", table(records), ""])
    (out_dir / "results.md").write_text(text)
    print(f"\n{table(records)}\n\nwrote {out_dir / 'results.md'}; run dirs for FID: " + ", ".join(r.get("run_dir", "-") for r in records))
    return 1 if any("error" in r for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
