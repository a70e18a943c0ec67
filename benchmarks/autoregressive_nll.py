"""Exact test NLL (nats per image) and bits/dim of genzoo's autoregressive models on Fashion-MNIST.

Each model is trained with the project's trainer (`genzoo.train.train`) from its preset
configs/MODEL-fashion-mnist.yaml, with the training length replaced by --steps and any
--set overrides on top, into runs/bench/nll/MODEL[-8bit]/ (an existing run dir is replaced).
Training data: dynamically binarized Fashion-MNIST (the preset), or 8-bit pixels with
--eight-bit (data.preprocess=[] -> 256-way softmax per pixel).

The trainer itself ends every run with an evaluation over the whole test split (its own
dynamic binarization); that number is reported beside ours.

Test NLL: -log p(x) summed over the 784 pixels, exact (`model.log_prob`), averaged over the
first --test-images images of the test split (default: all 10,000). Binary variant: the test
images are binarized ONCE with a Bernoulli draw from torch.Generator seeded with
--binarize-seed (default 0), the same images for every model. bits/dim = nats / (784 ln 2).

    nice python benchmarks/autoregressive_nll.py --models pixelcnn --steps 2000 \
        --set pixelcnn:model.hidden=64 --set pixelcnn:model.residual_blocks=5 --test-images 2000

--set MODEL:key=value applies to one model, --set key=value to all. Prints the machine,
the command and a Markdown table; --out-json appends one JSON record.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import describe_machine, finish, machine, preset_run_config, train_fresh  # noqa: E402

from genzoo.data import Preprocessor, load_dataset  # noqa: E402

MODELS = ("pixelcnn", "gated-pixelcnn", "pixelrnn-row", "pixelrnn-diag")


def run_config_for(name: str, steps: int, overrides: list[str], eight_bit: bool, seed: int):
    """The preset of `name` on Fashion-MNIST with a step budget, quiet bookkeeping and `overrides` on top."""
    return preset_run_config(f"{name}-fashion-mnist", steps=steps, seed=seed, warmup_cap=500, overrides=overrides,
                             eight_bit=eight_bit, extra={"train": {"eval_batches": 1}})


def final_test_record(run_dir: Path) -> dict:
    """The trainer's last evaluation record: its final evaluation covers the whole test split."""
    record: dict = {}
    with open(run_dir / "metrics.jsonl") as handle:
        for line in handle:
            entry = json.loads(line)
            if entry.get("split") == "test":
                record = entry
    return record


@torch.no_grad()
def test_nll_nats(model, images: torch.Tensor, batch_size: int) -> torch.Tensor:
    """-log p(x) in nats (summed over sub-pixels) for every image: (N,)."""
    nlls = [-model.log_prob(images[start:start + batch_size]) for start in range(0, images.shape[0], batch_size)]
    return torch.cat(nlls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--steps", type=int, default=2000, help="training steps per model (batch 64 from the preset)")
    parser.add_argument("--steps-for", action="append", default=[], metavar="MODEL=N", help="per-model step budget")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="[MODEL:]key=value",
                        help="config override, e.g. pixelcnn:model.hidden=64 or train.lr=3e-4 (repeatable)")
    parser.add_argument("--test-images", type=int, default=10000, help="first N images of the test split")
    parser.add_argument("--binarize-seed", type=int, default=0, help="seed of the one fixed binarization of the test set")
    parser.add_argument("--eight-bit", action="store_true", help="8-bit pixels (data.preprocess=[], 256-way softmax)")
    parser.add_argument("--seed", type=int, default=0, help="training seed")
    parser.add_argument("--eval-batch-size", type=int, default=250)
    parser.add_argument("--runs-dir", default="runs/bench/nll")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out-json", help="append one JSON record (machine, command, rows) to this file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    date = datetime.now(timezone.utc).isoformat(timespec="seconds")
    info = machine()
    print(f"date: {date}\ncommand: {command}\n{describe_machine(info)}\n", flush=True)
    steps_for = {key: int(value) for key, _, value in (item.partition("=") for item in args.steps_for)}

    test_set = load_dataset("fashion-mnist", "test")
    raw = test_set.images[: args.test_images]  # (N, 1, 28, 28) uint8
    steps = () if args.eight_bit else ("binarize-dynamic",)
    preprocessor = Preprocessor(steps, source_levels=test_set.info.levels)
    test_images = preprocessor(raw, generator=torch.Generator().manual_seed(args.binarize_seed))  # (N, 1, 28, 28)
    dims = test_images[0].numel()

    rows = []
    for name in args.models:
        overrides = [o for o in args.overrides if ":" not in o.split("=", 1)[0]]
        overrides += [o.split(":", 1)[1] for o in args.overrides if o.split("=", 1)[0].startswith(f"{name}:")]
        budget = steps_for.get(name, args.steps)
        config = run_config_for(name, budget, overrides, args.eight_bit, args.seed)
        run_dir = Path(args.runs_dir) / (f"{name}-8bit" if args.eight_bit else name)
        result, train_s, model = train_fresh(config, run_dir, name)
        started = time.perf_counter()
        nll = test_nll_nats(model, test_images, args.eval_batch_size)
        eval_s = time.perf_counter() - started
        finite = bool(torch.isfinite(nll).all())
        trainer_eval = final_test_record(run_dir)
        mean = nll[torch.isfinite(nll)].mean().item()
        row = {
            "model": name,
            "model_options": config.model_options,
            "parameters": sum(p.numel() for p in model.parameters()),
            "steps": result.step,
            "status": result.status,
            "train_s": train_s,
            "test_images": int(nll.numel()),
            "test_nll_nats": mean,
            "test_nll_stderr_nats": (nll.std().item() / math.sqrt(nll.numel())) if finite else None,
            "bits_per_dim": mean / (dims * math.log(2)),
            "all_finite": finite,
            "eval_s": eval_s,
            "trainer_final_test_nll_nats": trainer_eval.get("nll"),  # full test split, the trainer's own binarization
            "run_dir": str(run_dir),
        }
        rows.append(row)
        print(f"{name}: {json.dumps(row)}", file=sys.stderr, flush=True)

    data = "8-bit (256-way softmax)" if args.eight_bit else f"binarized, one Bernoulli draw, seed {args.binarize_seed}"
    print(f"test set: first {args.test_images} Fashion-MNIST test images, {data}\n")
    print("| model | options | parameters | steps (batch 64) | train() wall min, incl. its final eval | test NLL nats (± s.e.) | bits/dim | trainer's final eval, all 10k test, nats |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        options = ", ".join(f"{k}={v}" for k, v in row["model_options"].items()) or "defaults"
        stderr = "" if row["test_nll_stderr_nats"] is None else f" ± {row['test_nll_stderr_nats']:.2f}"
        flag = "" if row["all_finite"] else " (non-finite values dropped!)"
        print(f"| {row['model']} | {options} | {row['parameters']:,} | {row['steps']} | {row['train_s'] / 60:.1f} | "
              f"{row['test_nll_nats']:.2f}{stderr}{flag} | {row['bits_per_dim']:.4f} | "
              f"{'-' if row['trainer_final_test_nll_nats'] is None else format(row['trainer_final_test_nll_nats'], '.2f')} |")
    finish(info, args.out_json, {"benchmark": "autoregressive_nll", "date": date, "command": command,
                  "settings": vars(args), "rows": rows})


if __name__ == "__main__":
    main()
