"""PixelRNN training step with this checkout's LSTM layers against those of an earlier revision.

The Row LSTM and Diagonal BiLSTM run a Python loop over rows / skewed columns, so how each
step indexes its input decides the cost of the backward pass. This script times forward +
backward of the whole model (default size: 7 layers, h = 16, 28x28 binarized) with the layer
code of this checkout and with `genzoo/nn/recurrent.py` as it was at `--baseline` (read with
`git show`, so run it inside the git checkout), in one process, alternating the two so that
machine load hits both alike. The two must compute the same loss and gradients (asserted):
only the speed may differ.

    nice python benchmarks/recurrent_speed.py [--baseline 7c0d902] [--models pixelrnn-row pixelrnn-diag] \
        [--batch-size 64] [--repeats 5] [--device cpu] [--threads 1] [--out-json results.json]

Prints the machine, the command and a Markdown table (median seconds per step, speed-up);
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
from datetime import datetime, timezone
from pathlib import Path

import torch

from genzoo.models.registry import build_model
from genzoo.nn import recurrent

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import describe_machine, finish, machine  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
LAYER_FILE = "src/genzoo/nn/recurrent.py"
MODELS = ("pixelrnn-row", "pixelrnn-diag")
# Before the per-row/per-column indexing of the input gates became unbind (each index's backward
# wrote a full-size zero tensor) and skew/unskew became one pad + reshape.
DEFAULT_BASELINE = "7c0d902"


def load_baseline_layers(revision: str) -> types.ModuleType:
    """genzoo.nn.recurrent as it was at `revision`, as a separate module object."""
    try:
        source = subprocess.run(
            ["git", "-C", str(REPO), "show", f"{revision}:{LAYER_FILE}"], check=True, capture_output=True, text=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", "") or str(error)
        raise SystemExit(f"recurrent_speed: cannot read {LAYER_FILE} at {revision!r} ({detail.strip()}): run inside the git checkout and pass --baseline REV") from None
    module = types.ModuleType(f"genzoo_recurrent_{revision}")
    exec(compile(source, f"{revision}:{LAYER_FILE}", "exec"), module.__dict__)  # our own file at an earlier commit
    return module


def use_layers(layers: types.ModuleType) -> None:
    """Point the PixelRNN layer classes' forward passes at `layers`' implementation."""
    recurrent.RowLSTM.forward = layers.RowLSTM.forward
    recurrent.DiagonalLSTM.forward = layers.DiagonalLSTM.forward
    recurrent.DiagonalBiLSTM.forward = layers.DiagonalBiLSTM.forward


def training_step(model: torch.nn.Module, x: torch.Tensor) -> tuple[float, float, torch.Tensor]:
    """Seconds for forward + backward (the device synchronized), the loss, and every gradient flattened."""
    model.zero_grad(set_to_none=True)
    synchronize = torch.cuda.synchronize if x.is_cuda else (lambda: None)
    synchronize()
    start = time.perf_counter()
    loss = model(x)["loss"].mean()
    loss.backward()
    synchronize()
    seconds = time.perf_counter() - start
    return seconds, loss.item(), torch.cat([p.grad.flatten() for p in model.parameters()])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="git revision whose layers to compare with")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per implementation (after one warm-up each)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-json", default=None)
    args = parser.parse_args(argv)
    if args.batch_size < 1 or args.repeats < 1:
        parser.error("--batch-size and --repeats must be >= 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: CUDA is not available here; use --device cpu")

    layer_classes = (recurrent.RowLSTM, recurrent.DiagonalLSTM, recurrent.DiagonalBiLSTM)
    current = types.SimpleNamespace(**{cls.__name__: types.SimpleNamespace(forward=cls.forward) for cls in layer_classes})
    baseline = load_baseline_layers(args.baseline)
    info = machine()
    print(f"# PixelRNN layers: this checkout vs {args.baseline}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(describe_machine(info) + (f", device {torch.cuda.get_device_name(device)}" if device.type == "cuda" else ""))
    print("command: python benchmarks/recurrent_speed.py " + shlex.join(sys.argv[1:] if argv is None else argv))
    print()
    print(f"| model | batch | {args.baseline} s/step | this checkout s/step | speed-up | max grad difference |")
    print("|---|---:|---:|---:|---:|---:|")
    rows = []
    for name in args.models:
        torch.manual_seed(args.seed)
        model = build_model(name, (1, 28, 28), levels=2).to(device)
        x = (torch.rand(args.batch_size, 1, 28, 28) < 0.3).float().to(device)  # (B, 1, 28, 28) binary
        times: dict[str, list[float]] = {"baseline": [], "current": []}
        results: dict[str, tuple[float, torch.Tensor]] = {}
        for repeat in range(args.repeats + 1):  # the first round warms up both
            for label, layers in (("baseline", baseline), ("current", current)):
                use_layers(layers)
                seconds, loss, grads = training_step(model, x)
                results[label] = (loss, grads)
                if repeat > 0:
                    times[label].append(seconds)
        use_layers(current)
        (loss_old, grads_old), (loss_new, grads_new) = results["baseline"], results["current"]
        difference = (grads_old - grads_new).abs().max().item()
        if abs(loss_old - loss_new) > 1e-4 * abs(loss_old) or not torch.allclose(grads_old, grads_new, rtol=1e-4, atol=1e-6):
            raise SystemExit(f"recurrent_speed: {name} computes another function than at {args.baseline} (max grad difference {difference:.3g})")
        old, new = statistics.median(times["baseline"]), statistics.median(times["current"])
        rows.append({"model": name, "batch": args.batch_size, "baseline_s": old, "current_s": new, "speedup": old / new, "max_grad_difference": difference})
        print(f"| {name} | {args.batch_size} | {old:.3f} | {new:.3f} | {old / new:.2f}x | {difference:.2g} |")
    finish(info, args.out_json, {"benchmark": "recurrent_speed", "baseline": args.baseline, "rows": rows})


if __name__ == "__main__":
    main()
