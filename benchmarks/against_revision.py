"""genzoo's hot loops in this checkout against the same code at an earlier git revision, in one process.

Two kinds of case, each timed with this checkout's implementation and with the one at
`--baseline` (read with `git show`, so run it inside the git checkout), alternating so that
machine load hits both alike; each pair must compute the same thing (asserted), so only the
speed may differ:
  - `train:MODEL` (pixelrnn-row, pixelrnn-diag): forward + backward of the default-size model
    (7 layers, h = 16) on a batch of 28x28 binary images, with the LSTM layers'
    forward passes of `genzoo/nn/recurrent.py` at either revision; same loss and gradients;
  - `sample:MODEL` (pixelcnn, gated-pixelcnn, pixelrnn-row, pixelrnn-diag): the fast
    sampler drawing `--sample-count` 28x28 binary images at the default size, with the
    per-pixel methods of `MaskedConv2d` (`masked_weight`, `at`, `pointwise`, in
    `genzoo/nn/masked.py`) and the Diagonal LSTM's cell step (`genzoo/nn/recurrent.py`) at
    either revision; identical images from the same seed.

    nice python benchmarks/against_revision.py [--baseline 7c0d902] [--cases train:pixelrnn-diag sample:pixelcnn] \
        [--batch-size 64] [--sample-count 8] [--repeats 3] [--device cpu] [--threads 1] [--out-json results.json]

Prints the machine, the command and a Markdown table (median seconds per call, speed-up);
--out-json appends one record.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from genzoo.models.registry import build_model
from genzoo.nn import masked, recurrent

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import describe_machine, finish, machine  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
# Before this session's changes: per-step indexing of the LSTM gate maps (a full-size zero
# tensor per step in backward) and einsum + uncached kernel slices in the per-pixel sampler.
DEFAULT_BASELINE = "7c0d902"
TRAIN_MODELS = ("pixelrnn-row", "pixelrnn-diag")
SAMPLE_MODELS = ("pixelcnn", "gated-pixelcnn", "pixelrnn-row", "pixelrnn-diag")
CASES = tuple(f"train:{m}" for m in TRAIN_MODELS) + tuple(f"sample:{m}" for m in SAMPLE_MODELS)
# What each kind of case swaps: [(source file, module, {class name: methods})]. A method the
# baseline lacks keeps this checkout's version (the baseline's own methods never call it).
SWAPPED = {
    "train": [("src/genzoo/nn/recurrent.py", recurrent, {"RowLSTM": ("forward",), "DiagonalLSTM": ("forward",), "DiagonalBiLSTM": ("forward",)})],
    "sample": [
        ("src/genzoo/nn/masked.py", masked, {"MaskedConv2d": ("masked_weight", "at", "pointwise")}),
        ("src/genzoo/nn/recurrent.py", recurrent, {"DiagonalLSTM": ("step",)}),  # the right-to-left pass per row
    ],
}


def module_at_revision(path: str, revision: str) -> types.ModuleType:
    """The genzoo source file `path` as it was at `revision`, loaded as a separate module object."""
    try:
        source = subprocess.run(
            ["git", "-C", str(REPO), "show", f"{revision}:{path}"], check=True, capture_output=True, text=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        detail = (getattr(error, "stderr", "") or str(error)).strip()
        raise SystemExit(f"against_revision: cannot read {path} at {revision!r} ({detail}): run inside the git checkout and pass --baseline REV") from None
    module = types.ModuleType(f"genzoo_at_{revision}")
    exec(compile(source, f"{revision}:{path}", "exec"), module.__dict__)  # our own file at an earlier commit
    return module


class Implementations:
    """Switches the methods of one kind of case between this checkout and the baseline."""

    def __init__(self, kind: str, revision: str) -> None:
        self.versions: dict[str, list[tuple[type, str, Any]]] = {"current": [], "baseline": []}
        for path, current_module, methods in SWAPPED[kind]:
            baseline_module = module_at_revision(path, revision)
            for name, method_names in methods.items():
                target = getattr(current_module, name)
                for method in method_names:
                    self.versions["current"].append((target, method, getattr(target, method)))
                    old = getattr(getattr(baseline_module, name), method, None)
                    self.versions["baseline"].append((target, method, old or getattr(target, method)))

    def use(self, label: str) -> None:
        for target, method, function in self.versions[label]:
            setattr(target, method, function)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, call: Callable[[], Any]) -> tuple[float, Any]:
    synchronize(device)
    start = time.perf_counter()
    result = call()
    synchronize(device)
    return time.perf_counter() - start, result


def training_call(model: torch.nn.Module, x: torch.Tensor) -> Callable[[], tuple[float, torch.Tensor]]:
    def call() -> tuple[float, torch.Tensor]:
        model.zero_grad(set_to_none=True)
        loss = model(x)["loss"].mean()
        loss.backward()
        return loss.item(), torch.cat([p.grad.flatten() for p in model.parameters()])
    return call


def sampling_call(model: Any, count: int, seed: int, device: torch.device) -> Callable[[], torch.Tensor]:
    def call() -> torch.Tensor:
        generator = torch.Generator(device=device).manual_seed(seed)
        return model.sample(count, generator=generator, method="fast")
    return call


def check_same(case: str, baseline: Any, current: Any) -> float:
    """Largest difference between the two results; exits when they are not the same computation."""
    if case.startswith("train:"):
        (loss_old, grads_old), (loss_new, grads_new) = baseline, current
        difference = (grads_old - grads_new).abs().max().item()
        same = abs(loss_old - loss_new) <= 1e-4 * abs(loss_old) and torch.allclose(grads_old, grads_new, rtol=1e-4, atol=1e-6)
    else:
        difference = (baseline - current).abs().max().item()
        same = torch.equal(baseline, current)
    if not same:
        raise SystemExit(f"against_revision: {case} computes something else than at the baseline (max difference {difference:.3g})")
    return difference


def run_case(case: str, args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    kind, name = case.split(":")
    implementations = Implementations(kind, args.baseline)
    torch.manual_seed(args.seed)
    model = build_model(name, (1, 28, 28), levels=2).to(device)
    if kind == "train":
        x = (torch.rand(args.batch_size, 1, 28, 28) < 0.3).float().to(device)  # (B, 1, 28, 28) binary
        call, per_call = training_call(model, x), args.batch_size
    else:
        model.eval()
        call, per_call = sampling_call(model, args.sample_count, args.seed, device), args.sample_count
    times: dict[str, list[float]] = {"baseline": [], "current": []}
    results: dict[str, Any] = {}
    try:
        for repeat in range(args.repeats + 1):  # round 0 warms both up
            for label in ("baseline", "current"):
                implementations.use(label)
                seconds, results[label] = timed(device, call)
                if repeat > 0:
                    times[label].append(seconds)
    finally:
        implementations.use("current")
    difference = check_same(case, results["baseline"], results["current"])
    old, new = statistics.median(times["baseline"]), statistics.median(times["current"])
    return {"case": case, "images_per_call": per_call, "baseline_s": old, "current_s": new, "speedup": old / new, "max_difference": difference}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="git revision to compare with")
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    parser.add_argument("--batch-size", type=int, default=64, help="training cases: images per step")
    parser.add_argument("--sample-count", type=int, default=8, help="sampling cases: images per call")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per implementation (after one warm-up each)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-json", default=None)
    args = parser.parse_args(argv)
    if min(args.batch_size, args.sample_count, args.repeats) < 1:
        parser.error("--batch-size, --sample-count and --repeats must be >= 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: CUDA is not available here; use --device cpu")

    info = machine()
    print(f"# genzoo hot loops: this checkout vs {args.baseline}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(describe_machine(info) + (f", device {torch.cuda.get_device_name(device)}" if device.type == "cuda" else ""))
    print("command: python benchmarks/against_revision.py " + shlex.join(sys.argv[1:] if argv is None else argv))
    print()
    print(f"| case | images per call | {args.baseline} s/call | this checkout s/call | speed-up | max difference |")
    print("|---|---:|---:|---:|---:|---:|")
    rows = []
    for case in args.cases:
        row = run_case(case, args, device)
        rows.append(row)
        print(f"| {case} | {row['images_per_call']} | {row['baseline_s']:.3f} | {row['current_s']:.3f} | {row['speedup']:.2f}x | {row['max_difference']:.2g} |", flush=True)
    finish(info, args.out_json, {"benchmark": "against_revision", "baseline": args.baseline, "rows": rows})


if __name__ == "__main__":
    main()
