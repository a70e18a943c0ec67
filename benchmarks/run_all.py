"""Run every model's benchmark at one budget and write one results file.

Each benchmark is one of the scripts beside this one, run as its own process (so one failure
does not stop the others) with the budget's arguments, `--threads` and `--out-json`. Its
printed tables go to OUT/NAME.md, its log to OUT/NAME.log, and OUT/results.md collects them
under a summary table (benchmark, status, wall time, command); OUT/records.jsonl holds every
script's JSON record.

Budgets:
    smoke  every script end to end in a few minutes on 2 CPU cores (checks, not figures)
    short  the CPU budgets of docs/benchmarks.md (one to two hours on 2 CPU cores)
    long   the presets' own training lengths and the literature's evaluation sizes
           (10k test images, IWAE k = 5000, 10k samples per FID): meant for a GPU

    nice python benchmarks/run_all.py --budget smoke --threads 1
    python benchmarks/run_all.py --budget long --only autoregressive-nll vae --device cuda
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from tqdm.auto import tqdm

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import describe_machine, machine  # noqa: E402

BUDGETS = ("smoke", "short", "long")
SMALL_PIXELCNN = ["--set", "pixelcnn:model.hidden=32", "--set", "pixelcnn:model.residual_blocks=3"]
SMALL_GATED = ["--set", "gated-pixelcnn:model.hidden=32", "--set", "gated-pixelcnn:model.layers=3",
               "--set", "gated-pixelcnn:model.output_hidden=32"]
SMALL_RNN = ["--set", "pixelrnn-row:model.hidden=16", "--set", "pixelrnn-row:model.layers=2",
             "--set", "pixelrnn-diag:model.hidden=16", "--set", "pixelrnn-diag:model.layers=2"]
SMALL_AUTOREGRESSIVE = SMALL_PIXELCNN + SMALL_GATED + SMALL_RNN
SMALL_DCGAN = ["--set", "model.generator_channels=32", "--set", "model.discriminator_channels=32"]


@dataclass(frozen=True)
class Benchmark:
    name: str
    script: str
    arguments: dict[str, list[str]]  # budget -> arguments
    takes: frozenset[str] = frozenset({"out-json", "runs-dir"})  # common options the script accepts


BENCHMARKS = (
    Benchmark("feature-classifier", "feature_classifier.py", {
        "smoke": ["--epochs", "0.05", "--no-cache"],
        "short": [],
        "long": [],
    }, takes=frozenset({"device"})),
    Benchmark("sample-quality-reference", "sample_quality_reference.py", {
        "smoke": ["--num-images", "100"],
        "short": ["--num-images", "500"],
        "long": ["--num-images", "10000"],
    }, takes=frozenset({"out-json"})),
    Benchmark("cpu-presets", "cpu_presets.py", {
        "smoke": ["--presets", "ae-fashion-mnist-cpu", "--steps", "3", "--test-images", "20"],
        "short": [],
        "long": [],
    }, takes=frozenset({"runs-dir"})),
    Benchmark("throughput", "throughput.py", {
        "smoke": ["--steps", "2", "--warmup", "1", "--batch-size", "8"],
        "short": ["--steps", "10", "--warmup", "3"],
        "long": ["--steps", "50", "--warmup", "10"],
    }, takes=frozenset({"device", "out-json"})),
    Benchmark("scaling", "scaling.py", {
        "smoke": ["--steps", "4", "--log-every", "2", "--batch-size", "8"],
        "short": ["--steps", "60", "--log-every", "10"],
        "long": ["--preset", "dcgan-64px-shapes", "--steps", "200", "--log-every", "20"],
    }, takes=frozenset({"device", "out-json", "runs-dir"})),
    Benchmark("autoregressive-speed", "autoregressive_speed.py", {
        "smoke": ["--warmup-steps", "1", "--timed-steps", "1", "--sample-count", "1", "--models", "pixelcnn"],
        "short": ["--warmup-steps", "1", "--timed-steps", "2", "--sample-count", "8"],
        "long": ["--warmup-steps", "3", "--timed-steps", "10", "--sample-count", "16", "--naive-rnn"],
    }, takes=frozenset({"out-json"})),
    Benchmark("against-revision", "against_revision.py", {
        "smoke": ["--cases", "train:pixelrnn-row", "sample:pixelcnn", "--batch-size", "4", "--sample-count", "1", "--repeats", "1"],
        "short": ["--repeats", "3"],
        "long": ["--repeats", "10", "--sample-count", "32"],
    }, takes=frozenset({"device", "out-json"})),
    Benchmark("autoregressive-nll", "autoregressive_nll.py", {
        "smoke": ["--steps", "3", "--test-images", "20", *SMALL_AUTOREGRESSIVE],
        "short": ["--steps-for", "pixelcnn=600", "--steps-for", "gated-pixelcnn=120", "--steps-for", "pixelrnn-row=300",
                  "--steps-for", "pixelrnn-diag=60", "--test-images", "2000", *SMALL_AUTOREGRESSIVE],
        "long": ["--steps", "100000", "--test-images", "10000"],
    }),
    Benchmark("autoregressive-nll-8bit", "autoregressive_nll.py", {
        "smoke": ["--eight-bit", "--steps", "3", "--test-images", "20", *SMALL_AUTOREGRESSIVE],
        "short": ["--eight-bit", "--steps-for", "pixelcnn=150", "--steps-for", "gated-pixelcnn=120",
                  "--steps-for", "pixelrnn-row=300", "--steps-for", "pixelrnn-diag=60", "--test-images", "1000",
                  *SMALL_AUTOREGRESSIVE],
        "long": ["--eight-bit", "--steps", "100000", "--test-images", "10000"],
    }),
    Benchmark("vae", "vae.py", {
        "smoke": ["--steps", "20", "--test-images", "4", "--iwae-k", "50", "--elbo-test-images", "100", "--transfer",
                  "--shots", "10", "--transfer-steps", "20"],
        "short": ["--steps", "3000", "--test-images", "100", "--iwae-k", "5000", "--transfer"],
        "long": ["--steps", "50000", "--test-images", "10000", "--iwae-k", "5000", "--transfer"],
    }),
    Benchmark("vae-8bit", "vae.py", {
        "smoke": ["--eight-bit", "--steps", "20", "--test-images", "4", "--iwae-k", "50", "--elbo-test-images", "100"],
        "short": ["--eight-bit", "--steps", "2000", "--test-images", "100", "--iwae-k", "1000"],
        "long": ["--eight-bit", "--steps", "50000", "--test-images", "10000", "--iwae-k", "5000"],
    }),
    Benchmark("gan-toy", "gan.py", {
        "smoke": ["--parts", "toy", "--seeds", "0", "--toy-steps", "50", "--toy-samples", "500"],
        "short": ["--parts", "toy", "--mixtures", "ring", "grid", "--seeds", "0", "1", "2", "--toy-set", "model.latent_dim=8",
                  "--toy-set", "model.d_steps=5"],
        "long": ["--parts", "toy", "--mixtures", "ring", "grid", "--seeds", "0", "1", "2", "3", "4", "--toy-steps", "10000",
                 "--toy-set", "model.d_steps=5"],
    }),
    Benchmark("dcgan-fid", "gan.py", {
        "smoke": ["--parts", "dcgan", "--dcgan-steps", "2", "4", "--num-samples", "200", *SMALL_DCGAN],
        "short": ["--parts", "dcgan", "--dcgan-steps", "400", "1200", "2400", "--num-samples", "2000", *SMALL_DCGAN],
        "long": ["--parts", "dcgan", "--dcgan-steps", "2000", "5000", "10000", "--num-samples", "10000"],
    }),
    Benchmark("explore-latency", "explore_latency.py", {
        "smoke": ["--steps", "5", "--requests", "60", "--in-flight", "1", "60", "--frames", "5"],
        "short": ["--steps", "600"],
        "long": ["--steps", "2500", "--requests", "1000", "--in-flight", "1", "16", "64", "1000"],
    }),
    Benchmark("applications", "applications.py", {
        "smoke": ["--cases", "superres", "--models", "regress", "--steps-scale", "0.01", "--test-images", "32"],
        "short": ["--steps-scale", "0.5", "--test-images", "500"],
        "long": ["--test-images", "10000", "--samples-per-input", "8"],
    }, takes=frozenset({"out-json", "runs-dir"})),
    Benchmark("dcgan-arithmetic", "gan.py", {
        "smoke": ["--parts", "arithmetic", "--arith-steps", "5", "--arith-set", "model.generator_channels=8",
                  "--arith-set", "model.discriminator_channels=8", "--arith-trials", "1", "--arith-sources", "invert",
                  "--arith-baseline-samples", "100"],
        "short": ["--parts", "arithmetic", "--arith-steps", "4000", "--arith-set", "model.generator_channels=32",
                  "--arith-set", "model.discriminator_channels=32"],
        "long": ["--parts", "arithmetic", "--arith-steps", "20000", "--arith-trials", "30"],
    }),
)
NAMES = tuple(b.name for b in BENCHMARKS)


@dataclass
class Outcome:
    benchmark: Benchmark
    command: list[str]
    status: str  # "ok", "failed (exit N)", "dry run"
    wall_s: float


def command_for(benchmark: Benchmark, args: argparse.Namespace, out_dir: Path) -> list[str]:
    command = [sys.executable, str(HERE / benchmark.script), *benchmark.arguments[args.budget]]
    if args.threads:
        command += ["--threads", str(args.threads)]
    if "device" in benchmark.takes and args.device:
        command += ["--device", args.device]
    if "out-json" in benchmark.takes:
        command += ["--out-json", str(out_dir / "records.jsonl")]
    if "runs-dir" in benchmark.takes:
        command += ["--runs-dir", str(out_dir / "runs" / benchmark.name)]
    return command


def run(benchmark: Benchmark, command: list[str], out_dir: Path) -> Outcome:
    started = time.perf_counter()
    with open(out_dir / f"{benchmark.name}.md", "w") as tables, open(out_dir / f"{benchmark.name}.log", "w") as log:
        done = subprocess.run(command, stdout=tables, stderr=log, cwd=HERE.parent, check=False)
    status = "ok" if done.returncode == 0 else f"failed (exit {done.returncode}, see {benchmark.name}.log)"
    return Outcome(benchmark, command, status, time.perf_counter() - started)


def write_results(outcomes: list[Outcome], out_dir: Path, header: str) -> Path:
    lines = [header, "", "| benchmark | status | wall min | command |", "|---|---|---:|---|"]
    for outcome in outcomes:
        shown = " ".join(shlex.quote(a) for a in ["python", os.path.relpath(outcome.command[1], HERE.parent), *outcome.command[2:]])
        lines.append(f"| {outcome.benchmark.name} | {outcome.status} | {outcome.wall_s / 60:.1f} | `{shown}` |")
    for outcome in outcomes:
        printed = out_dir / f"{outcome.benchmark.name}.md"
        body = printed.read_text().strip() if printed.exists() else ""
        lines += ["", f"## {outcome.benchmark.name}", "", body or "(no output)"]
    path = out_dir / "results.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", choices=BUDGETS, default="smoke")
    parser.add_argument("--only", nargs="+", choices=NAMES, help="run these benchmarks only (default: all)")
    parser.add_argument("--skip", nargs="+", choices=NAMES, default=[], help="leave these out")
    parser.add_argument("--threads", type=int, help="torch threads per script (1 on busy or 2-core machines)")
    parser.add_argument("--device", help="device for the scripts that take one (cpu, cuda)")
    parser.add_argument("--out", help="output folder (default runs/bench/all-BUDGET-DATE)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = parser.parse_args()

    date = datetime.now(timezone.utc)
    out_dir = Path(args.out or f"runs/bench/all-{args.budget}-{date:%Y%m%d-%H%M%S}")
    chosen = [b for b in BENCHMARKS if (not args.only or b.name in args.only) and b.name not in args.skip]
    commands = [(b, command_for(b, args, out_dir)) for b in chosen]
    if args.dry_run:
        for benchmark, command in commands:
            print(f"{benchmark.name}: {shlex.join(command)}")
        return 0
    out_dir.mkdir(parents=True, exist_ok=True)
    header = (f"# genzoo benchmarks, budget {args.budget}\n\ndate: {date.isoformat(timespec='seconds')}  \n"
              f"command: `python {shlex.join(sys.argv)}`  \n{describe_machine(machine())}")
    outcomes: list[Outcome] = []
    bar = tqdm(commands, unit="benchmark", desc=f"benchmarks ({args.budget})")
    for benchmark, command in bar:
        bar.set_postfix_str(benchmark.name)
        outcomes.append(run(benchmark, command, out_dir))
        tqdm.write(f"{benchmark.name}: {outcomes[-1].status} in {outcomes[-1].wall_s / 60:.1f} min")
        write_results(outcomes, out_dir, header)  # partial results survive an interruption
    path = write_results(outcomes, out_dir, header)
    print(f"results: {path}")
    return 0 if all(o.status == "ok" for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
