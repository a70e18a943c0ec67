"""Training throughput and sampling time of genzoo's autoregressive models on 28x28 binarized Fashion-MNIST.

For each model at its default size (no config overrides) this measures
  - training images/s: forward + backward + Adam step on batches of real, dynamically
    binarized Fashion-MNIST training images (warmup steps first, then timed steps);
  - sampling seconds per image: the fast (incremental, cached-activation) sampler and the
    naive one (one whole-network pass per sub-pixel), back to back in the same process with
    the same generator seed; the two must draw identical images (asserted). For the
    PixelRNNs the fast sampler is the row-by-row one (the naive one is measured only with
    --naive-rnn).
The project's target: fast >= 10x naive for a 28x28 PixelCNN on CPU.

    nice python benchmarks/autoregressive_speed.py [--models pixelcnn gated-pixelcnn] \
        [--batch-size 64] [--sample-count 4] [--threads 2] [--out-json results.json]

Prints the machine, the command and a Markdown table; --out-json appends one record.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from genzoo.data import Preprocessor, load_dataset
from genzoo.models.registry import build_model_from_format

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import describe_machine, finish, machine  # noqa: E402

MODELS = ("pixelcnn", "gated-pixelcnn", "pixelrnn-row", "pixelrnn-diag")
NAIVE_BY_DEFAULT = ("pixelcnn", "gated-pixelcnn")


def training_images_per_s(model: torch.nn.Module, images: torch.Tensor, preprocessor: Preprocessor,
                          batch_size: int, warmup_steps: int, timed_steps: int, seed: int) -> float:
    """Forward + backward + Adam step on consecutive batches of `images` (uint8); images per second."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()

    def step(index: int) -> None:
        start = (index * batch_size) % (images.shape[0] - batch_size)
        x = preprocessor(images[start:start + batch_size], generator=generator)  # (B, 1, 28, 28) in {0, 1}
        loss = model.loss(x)["loss"].mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if not torch.isfinite(loss):
            raise RuntimeError(f"non-finite training loss {loss.item()} at step {index}")

    for index in range(warmup_steps):
        step(index)
    started = time.perf_counter()
    for index in range(warmup_steps, warmup_steps + timed_steps):
        step(index)
    return timed_steps * batch_size / (time.perf_counter() - started)


def sampling_seconds(model, count: int, method: str, seed: int) -> tuple[float, torch.Tensor]:
    """Wall seconds to draw `count` images in one batch with `method`, and the images."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    started = time.perf_counter()
    images = model.sample(count, generator=generator, method=method)  # (n, 1, 28, 28)
    return time.perf_counter() - started, images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--batch-size", type=int, default=64, help="training batch size")
    parser.add_argument("--warmup-steps", type=int, default=3)
    parser.add_argument("--timed-steps", type=int, default=10)
    parser.add_argument("--sample-count", type=int, default=4, help="images per sampling batch (naive is slow)")
    parser.add_argument("--naive-rnn", action="store_true", help="also time the naive sampler of the PixelRNNs")
    parser.add_argument("--no-naive", action="store_true", help="skip every naive sampler")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-json", help="append one JSON record (machine, command, rows) to this file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    date = datetime.now(timezone.utc).isoformat(timespec="seconds")
    info = machine()
    print(f"date: {date}\ncommand: {command}\n{describe_machine(info)}\n", flush=True)

    train_set = load_dataset("fashion-mnist", "train")
    preprocessor = Preprocessor(("binarize-dynamic",), source_levels=train_set.info.levels)
    data_format = preprocessor.output_format(train_set.info)
    needed = args.batch_size * (args.warmup_steps + args.timed_steps + 1)
    images = train_set.images[:needed]  # (N, 1, 28, 28) uint8

    rows = []
    for name in args.models:
        torch.manual_seed(args.seed)
        model = build_model_from_format(name, data_format, {})
        parameters = sum(p.numel() for p in model.parameters())
        ips = training_images_per_s(model, images, preprocessor, args.batch_size, args.warmup_steps, args.timed_steps, args.seed)
        fast_s, fast_images = sampling_seconds(model, args.sample_count, "fast", args.seed)
        naive_s = None
        run_naive = not args.no_naive and (name in NAIVE_BY_DEFAULT or args.naive_rnn)
        if run_naive:
            naive_s, naive_images = sampling_seconds(model, args.sample_count, "naive", args.seed)
            if not torch.equal(fast_images, naive_images):
                differing = (fast_images != naive_images).sum().item()
                raise AssertionError(f"{name}: fast and naive samplers drew different images ({differing} sub-pixels differ)")
        row = {
            "model": name,
            "parameters": parameters,
            "train_images_per_s": ips,
            "fast_s_per_image": fast_s / args.sample_count,
            "naive_s_per_image": None if naive_s is None else naive_s / args.sample_count,
            "speedup_fast_over_naive": None if naive_s is None else naive_s / fast_s,
            "samplers_identical": True if run_naive else None,
        }
        rows.append(row)
        print(f"{name}: {json.dumps(row)}", file=sys.stderr, flush=True)

    def fmt(value, spec):
        return "-" if value is None else format(value, spec)

    print(f"training: batch {args.batch_size}, {args.warmup_steps} warmup + {args.timed_steps} timed steps (Adam); "
          f"sampling: {args.sample_count} images per batch, seed {args.seed}\n")
    print("| model | parameters | train images/s | fast sampler s/image | naive sampler s/image | naive / fast | identical draws |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for row in rows:
        identical = "-" if row["samplers_identical"] is None else "yes"
        print(f"| {row['model']} | {row['parameters']:,} | {row['train_images_per_s']:.1f} | {row['fast_s_per_image']:.3f} | "
              f"{fmt(row['naive_s_per_image'], '.3f')} | {fmt(row['speedup_fast_over_naive'], '.1f')}{'' if row['speedup_fast_over_naive'] is None else 'x'} | {identical} |")
    finish(info, args.out_json, {"benchmark": "autoregressive_speed", "date": date, "command": command,
                  "settings": vars(args), "rows": rows})


if __name__ == "__main__":
    main()
