"""Test ELBO and IWAE NLL (nats per image) of genzoo's VAE on Fashion-MNIST, training speed and encoder transfer.

The VAE is trained with the project's trainer (`genzoo.train.train`) from the preset
configs/vae-fashion-mnist.yaml (dynamically binarized data, Bernoulli decoder), with the training
length replaced by --steps and any --set overrides on top, into RUNS_DIR/vae[-8bit]/ (an existing
run dir is replaced); model.iwae_samples=0 turns off the trainer's own k=100 IWAE in its final
evaluation (10,000 test images x 100 decoder passes), since the bounds here are computed
separately. --eight-bit trains on 8-bit pixels instead (data.preprocess=[] -> the discretized
logistic decoder) and reports bits/dim as well.

Test likelihood: the first --test-images images of the test split, binarized ONCE with a Bernoulli
draw from torch.Generator seeded with --binarize-seed (8-bit: the raw pixels). For each image the
ELBO and the k-sample IWAE bound (Burda et al. 2016, eq. 8; k = --iwae-k, 5000 in the paper) come
from the same k importance samples (`genzoo.metrics.iwae.likelihood_bounds`), so IWAE >= ELBO image
by image. Both are reported as NLL upper bounds: -ELBO >= -IWAE_k >= -log p(x). --elbo-test-images
adds a k=1 ELBO over more images (cheap; a single-sample, unbiased estimate of the mean ELBO).
Training images/s: median of the train records of the run's metrics.jsonl.

--transfer adds `genzoo.metrics.transfer.transfer_table`: test accuracy of the frozen VAE encoder
(posterior mean) + a linear head trained on K labelled images per class, vs the same classifier
on a randomly re-initialised encoder, for K in --shots.

    nice python benchmarks/vae.py --steps 3000 --test-images 100 --iwae-k 5000 --transfer --threads 1
    nice python benchmarks/vae.py --eight-bit --steps 2000 --test-images 100 --iwae-k 1000 --threads 1

Prints the machine, the command and Markdown tables; --out-json appends one JSON record.
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
from genzoo.metrics.evaluate import training_throughput  # noqa: E402
from genzoo.metrics.iwae import bits_per_dim, likelihood_bounds  # noqa: E402
from genzoo.metrics.transfer import TransferSettings, transfer_table  # noqa: E402
from genzoo.train import load_model  # noqa: E402



def run_config_for(steps: int, overrides: list[str], eight_bit: bool, seed: int):
    """The VAE preset with a step budget, quiet bookkeeping and `overrides` on top.

    The trainer's final evaluation covers the whole test split; with the VAE's default IWAE
    (k=100) that is 10,000 x 100 decoder passes, longer than a short run: the IWAE here is ours.
    """
    return preset_run_config("vae-fashion-mnist", steps=steps, seed=seed, warmup_cap=200, overrides=overrides,
                             eight_bit=eight_bit, extra={"model": {"iwae_samples": 0}})


def bounds_over(model, images: torch.Tensor, k: int, chunk: int, batch_size: int, seed: int) -> dict[str, torch.Tensor]:
    """{"elbo", "iwae"}: (N,) nats per image, in batches, importance samples from one seeded generator."""
    generator = torch.Generator().manual_seed(seed)
    parts: dict[str, list[torch.Tensor]] = {"elbo": [], "iwae": []}
    for start in range(0, len(images), batch_size):
        bounds = likelihood_bounds(model, images[start:start + batch_size], k=k, chunk=min(chunk, k), generator=generator)
        for name in parts:
            parts[name].append(bounds[name].double().cpu())
    return {name: torch.cat(values) for name, values in parts.items()}


def mean_and_stderr(values: torch.Tensor) -> tuple[float, float]:
    return float(values.mean()), float(values.std() / math.sqrt(len(values))) if len(values) > 1 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000, help="training steps (batch size from the preset: 128)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="key=value",
                        help="config override, e.g. model.channels=16 or train.batch_size=64 (repeatable)")
    parser.add_argument("--eight-bit", action="store_true", help="8-bit pixels (data.preprocess=[], discretized logistic decoder)")
    parser.add_argument("--test-images", type=int, default=1000, help="first N test images for ELBO / IWAE-k")
    parser.add_argument("--iwae-k", type=int, default=5000, help="importance samples per image (Burda et al.: 5000)")
    parser.add_argument("--iwae-chunk", type=int, default=250, help="importance samples per decoder pass")
    parser.add_argument("--iwae-batch", type=int, default=16, help="images per likelihood_bounds call")
    parser.add_argument("--elbo-test-images", type=int, default=10000, help="also a k=1 ELBO over the first N test images (0: skip)")
    parser.add_argument("--binarize-seed", type=int, default=0, help="seed of the one fixed binarization of the test (and transfer) images")
    parser.add_argument("--transfer", action="store_true", help="also the encoder-transfer table")
    parser.add_argument("--shots", type=int, nargs="+", default=[10, 100, 1000], help="labelled images per class")
    parser.add_argument("--transfer-steps", type=int, default=TransferSettings.steps, help="Adam steps per classifier")
    parser.add_argument("--transfer-head", default="linear", choices=("linear", "mlp"))
    parser.add_argument("--seed", type=int, default=0, help="training seed (also transfer and importance-sampling seed)")
    parser.add_argument("--runs-dir", default="runs/bench/vae")
    parser.add_argument("--from-run", metavar="RUN_DIR", help="measure this trained run instead of training one (--steps, --set ignored)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out-json", help="append one JSON record (machine, command, results) to this file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
        args.overrides = [f"train.threads={args.threads}", *args.overrides]

    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    date = datetime.now(timezone.utc).isoformat(timespec="seconds")
    info = machine()
    print(f"date: {date}\ncommand: {command}\n{describe_machine(info)}\n", flush=True)

    if args.from_run:  # measure a trained run again (e.g. with a larger k or more images)
        run_dir = Path(args.from_run)
        model, checkpoint = load_model(run_dir, which="last")
        config, train_s = checkpoint.run_config, None
        result = argparse.Namespace(step=checkpoint.step, status="finished (earlier run)")
        if bool(config.data.preprocess) == args.eight_bit:
            parser.error(f"{run_dir} was trained on {'binarized' if config.data.preprocess else '8-bit'} data: "
                         f"{'drop' if args.eight_bit else 'add'} --eight-bit")
    else:
        config = run_config_for(args.steps, args.overrides, args.eight_bit, args.seed)
        run_dir = Path(args.runs_dir) / ("vae-8bit" if args.eight_bit else "vae")
        result, train_s, model = train_fresh(config, run_dir)
    speed = training_throughput(run_dir)

    steps = () if args.eight_bit else ("binarize-dynamic",)
    test_set = load_dataset("fashion-mnist", "test")
    preprocessor = Preprocessor(steps, source_levels=test_set.info.levels)
    test_x = preprocessor(test_set.images, generator=torch.Generator().manual_seed(args.binarize_seed))  # (10000, 1, 28, 28)
    dims = test_x[0].numel()

    started = time.perf_counter()
    bounds = bounds_over(model, test_x[: args.test_images], args.iwae_k, args.iwae_chunk, args.iwae_batch, args.seed)
    iwae_s = time.perf_counter() - started
    elbo_k, elbo_k_se = mean_and_stderr(-bounds["elbo"])
    iwae, iwae_se = mean_and_stderr(-bounds["iwae"])
    gap = mean_and_stderr(bounds["iwae"] - bounds["elbo"])
    row = {
        "model_options": config.model_options, "preprocess": list(config.data.preprocess),
        "parameters": sum(p.numel() for p in model.parameters()), "steps": result.step, "status": result.status,
        "batch_size": config.train.batch_size, "train_s": train_s, **speed,
        "test_images": args.test_images, "iwae_k": args.iwae_k, "iwae_s": iwae_s,
        "nll_elbo_nats": elbo_k, "nll_elbo_stderr": elbo_k_se, "nll_iwae_nats": iwae, "nll_iwae_stderr": iwae_se,
        "iwae_minus_elbo_nats": gap[0], "iwae_minus_elbo_stderr": gap[1],
        "all_finite": bool(torch.isfinite(bounds["iwae"]).all() and torch.isfinite(bounds["elbo"]).all()),
        "iwae_ge_elbo_every_image": bool((bounds["iwae"] >= bounds["elbo"] - 1e-6).all()),
    }
    if args.elbo_test_images:
        started = time.perf_counter()
        one = bounds_over(model, test_x[: args.elbo_test_images], 1, 1, 500, args.seed + 1)
        row["elbo1_test_images"] = args.elbo_test_images
        row["nll_elbo1_nats"], row["nll_elbo1_stderr"] = mean_and_stderr(-one["elbo"])
        row["elbo1_s"] = time.perf_counter() - started
    print(json.dumps(row), file=sys.stderr, flush=True)

    data = "8-bit pixels, discretized logistic decoder" if args.eight_bit else f"binarized once (Bernoulli, seed {args.binarize_seed}), Bernoulli decoder"
    options = ", ".join(f"{k}={v}" for k, v in row["model_options"].items()) or "defaults"
    print(f"Fashion-MNIST test images: {data}; model: vae ({options}), {row['parameters']:,} parameters\n")
    print("| steps (batch) | train() wall min | training images/s (median) | test images | k | -ELBO nats (± s.e.) | -IWAE_k nats (± s.e.) | IWAE - ELBO nats | bits/dim (IWAE) | IWAE wall s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    ips = row.get("training_images_per_s")
    print(f"| {row['steps']} ({row['batch_size']}) | {'-' if train_s is None else format(train_s / 60, '.1f')} | {'-' if ips is None else format(ips, '.0f')} | "
          f"{args.test_images} | {args.iwae_k} | {elbo_k:.2f} ± {elbo_k_se:.2f} | {iwae:.2f} ± {iwae_se:.2f} | "
          f"{gap[0]:.2f} ± {gap[1]:.2f} | {bits_per_dim(iwae, dims):.4f} | {iwae_s:.0f} |")
    if args.elbo_test_images:
        print(f"\n-ELBO (k=1, one sample per image) over the first {args.elbo_test_images} test images: "
              f"{row['nll_elbo1_nats']:.2f} ± {row['nll_elbo1_stderr']:.2f} nats ({bits_per_dim(row['nll_elbo1_nats'], dims):.4f} bits/dim)")
    if not row["all_finite"] or not row["iwae_ge_elbo_every_image"]:
        print(f"\nWARNING: all finite: {row['all_finite']}, IWAE >= ELBO on every image: {row['iwae_ge_elbo_every_image']}")

    transfer_rows = []
    if args.transfer:
        train_set = load_dataset("fashion-mnist", "train")
        train_x = preprocessor(train_set.images, generator=torch.Generator().manual_seed(args.binarize_seed + 1))  # (60000, 1, 28, 28)
        settings = TransferSettings(head=args.transfer_head, steps=args.transfer_steps, seed=args.seed)
        started = time.perf_counter()
        transfer_rows = transfer_table(model, train_x, train_set.labels, test_x, test_set.labels, shots=args.shots, settings=settings)
        transfer_s = time.perf_counter() - started
        print(f"\nEncoder transfer (frozen encoder = posterior mean, {args.transfer_head} head, {args.transfer_steps} Adam steps "
              f"batch {settings.batch_size} lr {settings.lr}, seed {settings.seed}; all {len(test_x)} test images; {transfer_s:.0f} s)\n")
        print("| labelled images per class | train images | pretrained VAE encoder acc. | random-init encoder acc. | chance |")
        print("|---:|---:|---:|---:|---:|")
        for t in transfer_rows:
            print(f"| {t['per_class']} | {t['train_images']} | {t['pretrained_accuracy']:.3f} | {t['random_init_accuracy']:.3f} | {t['chance']:.2f} |")

    finish(info, args.out_json, {"benchmark": "vae", "date": date, "command": command, "settings": vars(args),
                  "result": row, "transfer": transfer_rows})


if __name__ == "__main__":
    main()
