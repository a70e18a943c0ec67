"""The lecture's applications on a CPU: train the image-to-image models with their CPU presets, evaluate, report.

Cases (each a task over real or procedural data):
    superres   Fashion-MNIST super-resolution x4 (7x7 -> 28x28), the reference case
    bags       sketch -> bag: Canny edges of Fashion-MNIST's class 8 (Bag) -> the bag
    colorize   `shapes` (28 px RGB): luma -> colour; its primary palette makes the colour a function of the luma
    colorize-ambiguous  `shapes` with palette=isoluminant: three hues per luma, the grey input leaves the colour open

For each case and model (regress, pix2pix, conditional-pixelcnn), through the real CLI:
1. `genzoo train MODEL --config MODEL-fashion-mnist-cpu [case settings] --out RUNS/CASE-MODEL --set train.threads=T`
   (OMP_NUM_THREADS=T; --steps-scale scales the preset's steps), wall minutes recorded;
2. `genzoo eval RUN --num-samples N --samples-per-input K`: the translation yardstick on N test images
   (the baseline, bicubic or grey, scored beside the model), FID/accuracy with the cached feature classifier;
then one `genzoo report` over every run (OUT/report/index.html) and, per case, its Applications table
printed as Markdown. --jobs trains that many runs at once (each with T threads).

    nice python benchmarks/applications.py --threads 1 --jobs 2
    python benchmarks/applications.py --cases superres --models regress --steps-scale 0.01 --test-images 32   # plumbing only
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from common import PRESET_DIR, describe_machine, finish, machine

CASES: dict[str, list[str]] = {
    "superres": [],  # the presets' own task
    "bags": ["--set", "data.task=edges", "--set", "data.classes=[8]"],
    "colorize": ["--data", "shapes", "--set", "data.task=colorize"],
    "colorize-ambiguous": ["--data", "shapes", "--set", "data.task=colorize", "--set", "data.options.palette=isoluminant"],
}
MODELS = ("regress", "pix2pix", "conditional-pixelcnn")


def genzoo(*arguments: str, threads: int) -> tuple[subprocess.CompletedProcess, float]:
    """Run the genzoo CLI with OMP_NUM_THREADS=threads; (the finished process, wall seconds). Fails loudly."""
    command = [sys.executable, "-m", "genzoo.cli", *arguments]
    start = time.perf_counter()
    process = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    seconds = time.perf_counter() - start
    if process.returncode:
        raise SystemExit(f"failed ({process.returncode}): {shlex.join(command)}\n{process.stderr[-2000:]}")
    return process, seconds


def train_command(case: str, model: str, run_dir: Path, *, threads: int, steps_scale: float) -> list[str]:
    preset = f"{model}-fashion-mnist-cpu"
    steps = yaml.safe_load((PRESET_DIR / f"{preset}.yaml").read_text())["train"]["steps"]
    return ["train", model, "--config", preset, *CASES[case], "--out", str(run_dir), "--no-progress",
            "--set", f"train.threads={threads}", "--set", f"train.steps={max(1, round(steps * steps_scale))}"]


def train_and_evaluate(case: str, model: str, args: argparse.Namespace) -> dict[str, Any]:
    """One run: trained (unless --skip-train), evaluated; its record."""
    run_dir = Path(args.runs_dir) / f"{case}-{model}"
    command = train_command(case, model, run_dir, threads=args.threads, steps_scale=args.steps_scale)
    train_seconds = None
    if not args.skip_train:
        _, train_seconds = genzoo(*command, threads=args.threads)
        print(f"trained {run_dir} in {train_seconds / 60:.1f} min", flush=True)
    _, eval_seconds = genzoo("eval", str(run_dir), "--which", "last", "--num-samples", str(args.test_images),
                             "--samples-per-input", str(args.samples_per_input), "--no-progress", threads=args.threads)
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    return {"case": case, "model": model, "run": str(run_dir), "command": "genzoo " + shlex.join(command),
            "train_minutes": None if train_seconds is None else round(train_seconds / 60, 2),
            "eval_minutes": round(eval_seconds / 60, 2), "step": evaluation["step"], "translation": evaluation.get("translation")}


def applications_tables(report_md: Path) -> str:
    """The report's Applications section (its tables and notes) as Markdown."""
    text = report_md.read_text()
    section = text.split("## Applications", 1)[1] if "## Applications" in text else ""
    return "## Applications" + section.split("\n## ", 1)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=tuple(CASES), default=list(CASES))
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--steps-scale", type=float, default=1.0, help="multiplies each preset's steps")
    parser.add_argument("--test-images", type=int, default=1000, help="N of the yardstick (genzoo eval --num-samples)")
    parser.add_argument("--samples-per-input", type=int, default=4, help="k outputs per input of a stochastic model")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=1, help="runs trained at once")
    parser.add_argument("--runs-dir", default="runs/applications")
    parser.add_argument("--out", default="runs/applications/results", help="report and results.md go here")
    parser.add_argument("--skip-train", action="store_true", help="evaluate and report runs trained earlier")
    parser.add_argument("--out-json")
    args = parser.parse_args()
    info = machine()
    pairs = [(case, model) for case in args.cases for model in args.models]
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        records = list(pool.map(lambda pair: train_and_evaluate(*pair, args), pairs))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    genzoo("report", *[record["run"] for record in records], "--out", str(out / "report"), "--title", "genzoo applications (CPU presets)",
           threads=args.threads)
    lines = [describe_machine(info), "", "| run | training command | train min | eval min |", "|---|---|---|---|"]
    lines += [f"| {r['case']}-{r['model']} (step {r['step']}) | `{r['command']}` | {r['train_minutes']} | {r['eval_minutes']} |" for r in records]
    lines += ["", applications_tables(out / "report" / "report.md")]
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    finish(info, args.out_json, {"benchmark": "applications", "runs": records})


if __name__ == "__main__":
    main()
