"""GAN benchmarks: mode coverage on toy 2-D mixtures (minimax vs non-saturating G loss) and DCGAN sample quality.

Both parts train with the project's trainer (`genzoo.train.train`) into RUNS_DIR (existing run
dirs are replaced).

toy: the MLP GAN of configs/gan-toy2d.yaml on the 8-Gaussian ring (--mixtures ring grid adds the
    25-Gaussian grid), --toy-steps steps, for each generator loss in --losses and each seed in
    --seeds. Goodfellow et al. 2014 (Sec. 3) note that the minimax generator loss
    log(1 - D(G(z))) saturates early in training, when D rejects G's samples confidently; the
    non-saturating loss -log D(G(z)) has the same fixed point and strong early gradients.
    D(G(z)) of the generator phase, averaged over the first logging interval (the first train
    record of metrics.jsonl), shows whether D did reject G early.
    Reported per loss: modes covered and high-quality sample share (mean ± std over seeds) of
    --toy-samples samples (`genzoo.metrics.modes.sampled_mode_statistics`: within 3 std of a
    mode; a mode counts as covered with >= 20% of its expected share, PacGAN's criterion).
dcgan: configs/dcgan-fashion-mnist.yaml with --set overrides (e.g. reduced channels), trained
    to each step count in --dcgan-steps in turn (the run is resumed with a larger step budget),
    and after each the last checkpoint is scored by `genzoo.metrics.evaluate.evaluate_run`: FID,
    KID, precision/recall (k=3) of --num-samples samples against as many test images, in the
    feature space of genzoo's Fashion-MNIST classifier (its id is printed; not comparable with
    Inception-v3 FIDs), and the training images/s (median of metrics.jsonl train records).

    nice python benchmarks/gan.py --parts toy --seeds 0 1 2 --threads 1
    nice python benchmarks/gan.py --parts dcgan --dcgan-steps 500 1000 --num-samples 2000 \
        --set model.generator_channels=32 --set model.discriminator_channels=32 --threads 1

Prints the machine, the command and Markdown tables; --out-json appends one JSON record.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import describe_machine, finish, machine  # noqa: E402

from genzoo.config import deep_merge, load_yaml, parse_overrides  # noqa: E402
from genzoo.metrics.evaluate import evaluate_run  # noqa: E402
from genzoo.metrics.modes import sampled_mode_statistics  # noqa: E402
from genzoo.train import load_model, resolve_run_config, resume_config, train  # noqa: E402

PRESET_DIR = Path(__file__).resolve().parent.parent / "configs"
LOSSES = ("minimax", "non-saturating")


def preset(name: str) -> dict:
    config = load_yaml(str(PRESET_DIR / name))
    config.get("train", {}).pop("epochs", None)  # the budget is given in steps
    return config


def mean_std(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.2f} ± {spread:.2f}"


def toy_part(args, runs_dir: Path, threads: list[str]) -> list[dict]:
    rows = []
    for mixture in args.mixtures:
        for loss in args.losses:
            for seed in args.seeds:
                bench = {
                    "model": {"g_loss": loss},
                    "data": {"options": {"mixture": mixture, "n_train": args.toy_train_points, "n_test": 512}},
                    "train": {"steps": args.toy_steps, "seed": seed, "progress": False, "log_every": 100, "eval_every": 0,
                              "sample_every": 0, "checkpoint_every": 0, "sample_count": 16, "device": "cpu"},
                }
                config = resolve_run_config(preset=preset("gan-toy2d.yaml"),
                                            overrides=deep_merge(bench, parse_overrides(threads + args.toy_set)))
                run_dir = runs_dir / f"toy-{mixture}-{loss}-seed{seed}"
                if run_dir.exists():
                    shutil.rmtree(run_dir)
                started = time.perf_counter()
                result = train(config, run_dir)
                train_s = time.perf_counter() - started
                model, _ = load_model(run_dir, which="last")
                stats = sampled_mode_statistics(model, mixture, n=args.toy_samples, seed=seed)
                early = first_train_record(run_dir)
                row = {"mixture": mixture, "g_loss": loss, "seed": seed, "steps": result.step, "status": result.status,
                       "train_s": train_s, "model_options": config.model_options, "ema_decay": config.train.ema_decay,
                       "early_step": early.get("step"), "early_d_fake": early.get("generator/d_fake"), **stats.as_dict(), "counts": list(stats.counts)}
                rows.append(row)
                print(f"toy: {json.dumps(row)}", file=sys.stderr, flush=True)
    return rows


def first_train_record(run_dir: Path) -> dict:
    """The first train record of RUN_DIR/metrics.jsonl: early-training health (D(G(z)) of the G phase)."""
    with open(run_dir / "metrics.jsonl") as handle:
        for line in handle:
            record = json.loads(line)
            if record.get("split") == "train":
                return record
    return {}


def print_toy(rows: list[dict], args) -> None:
    options = ", ".join(f"{k}={v}" for k, v in rows[0]["model_options"].items() if k != "g_loss")
    print(f"\nToy 2-D GAN ({options}); {rows[0]['steps']} steps, batch from the preset; "
          f"EMA {rows[0]['ema_decay']}; {args.toy_samples} samples per run; seeds {', '.join(map(str, args.seeds))}\n")
    print(f"| mixture | G loss | modes covered (mean ± std) | per seed | high-quality share (mean ± std) | per seed | D(G(z)) mean over steps 1-{rows[0]['early_step']} (mean over seeds) | train s per run |")
    print("|---|---|---:|---|---:|---|---:|---:|")
    for mixture in args.mixtures:
        for loss in args.losses:
            group = [r for r in rows if r["mixture"] == mixture and r["g_loss"] == loss]
            modes = [r["modes_covered"] for r in group]
            quality = [r["high_quality_fraction"] for r in group]
            print(f"| {mixture} | {loss} | {mean_std(modes)} of {group[0]['num_modes']} | {', '.join(map(str, modes))} | "
                  f"{mean_std(quality)} | {', '.join(f'{q:.2f}' for q in quality)} | "
                  f"{statistics.mean(r['early_d_fake'] for r in group):.2f} | {statistics.mean(r['train_s'] for r in group):.0f} |")


def dcgan_part(args, runs_dir: Path, threads: list[str]) -> list[dict]:
    run_dir = runs_dir / "dcgan"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    rows = []
    for index, steps in enumerate(sorted(args.dcgan_steps)):
        started = time.perf_counter()
        if index == 0:
            bench = {"train": {"steps": steps, "seed": args.seed, "progress": False, "eval_every": 0, "sample_every": 0,
                               "checkpoint_every": steps, "device": "cpu"}}
            config = resolve_run_config(preset=preset("dcgan-fashion-mnist.yaml"),
                                        overrides=deep_merge(bench, parse_overrides(threads + args.overrides)))
            result = train(config, run_dir)
        else:
            config = resume_config(run_dir, {"train": {"steps": steps, "checkpoint_every": steps}})
            result = train(config, run_dir, resume=True)
        train_s = time.perf_counter() - started
        started = time.perf_counter()
        evaluation = evaluate_run(run_dir, metrics=("fid", "kid", "pr", "speed"), num_samples=args.num_samples,
                                  which="last", device="cpu", seed=args.seed, progress=False)
        eval_s = time.perf_counter() - started
        quality, speed = evaluation["sample_quality"], evaluation.get("speed", {})
        row = {"steps": result.step, "status": result.status, "train_s": train_s, "eval_s": eval_s,
               "model_options": config.model_options, "batch_size": config.train.batch_size,
               "ema_decay": config.train.ema_decay, "num_samples": quality["num_samples"],
               "reference_images": quality["reference"]["num_images"], "feature_extractor": quality["feature_extractor"],
               "fid": quality["fid"], "kid": quality["kid"], "precision": quality["precision"], "recall": quality["recall"],
               "training_images_per_s": speed.get("training_images_per_s"),
               "sampling_seconds_per_image": speed.get("sampling_seconds_per_image")}
        rows.append(row)
        print(f"dcgan: {json.dumps(row)}", file=sys.stderr, flush=True)
    return rows


def print_dcgan(rows: list[dict]) -> None:
    first = rows[0]
    extractor = first["feature_extractor"]
    options = ", ".join(f"{k}={v}" for k, v in first["model_options"].items()) or "preset defaults"
    print(f"\nDCGAN on Fashion-MNIST ({options}; batch {first['batch_size']}, EMA {first['ema_decay']}); "
          f"N = {first['num_samples']} samples vs {first['reference_images']} test images; features: {extractor['name']} "
          f"{extractor['id']} (test accuracy {extractor['test_accuracy']:.4f}, {extractor['feature_dim']}-d; not Inception-v3)\n")
    print("| steps | cumulative train s | FID | KID (± s.e.) | precision | recall | training images/s (median) | eval s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    total = 0.0
    for row in rows:
        total += row["train_s"]
        kid = row["kid"]
        ips = row["training_images_per_s"]
        print(f"| {row['steps']} | {total:.0f} | {row['fid']:.2f} | {kid['mean']:.4g} ± {kid['std_error']:.2g} | "
              f"{row['precision']:.3f} | {row['recall']:.3f} | {'-' if ips is None else format(ips, '.0f')} | {row['eval_s']:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["toy", "dcgan"], choices=("toy", "dcgan"))
    parser.add_argument("--mixtures", nargs="+", default=["ring"], choices=("ring", "grid"))
    parser.add_argument("--losses", nargs="+", default=list(LOSSES), choices=LOSSES)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--toy-steps", type=int, default=1500)
    parser.add_argument("--toy-train-points", type=int, default=8192)
    parser.add_argument("--toy-samples", type=int, default=2500, help="samples per mode-coverage measurement (PacGAN: 2500)")
    parser.add_argument("--toy-set", action="append", default=[], metavar="key=value", help="override for the toy runs (repeatable)")
    parser.add_argument("--dcgan-steps", type=int, nargs="+", default=[500, 1000], help="evaluate after each of these step counts")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="key=value",
                        help="override for the DCGAN run, e.g. model.generator_channels=32 (repeatable)")
    parser.add_argument("--num-samples", type=int, default=2000, help="samples (and test images) per FID/KID/P&R")
    parser.add_argument("--seed", type=int, default=0, help="DCGAN training and sampling seed")
    parser.add_argument("--runs-dir", default="runs/bench/gan")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out-json", help="append one JSON record (machine, command, rows) to this file")
    args = parser.parse_args()
    threads = []
    if args.threads:
        torch.set_num_threads(args.threads)
        threads = [f"train.threads={args.threads}"]

    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    date = datetime.now(timezone.utc).isoformat(timespec="seconds")
    info = machine()
    print(f"date: {date}\ncommand: {command}\n{describe_machine(info)}", flush=True)
    runs_dir = Path(args.runs_dir)
    toy_rows = toy_part(args, runs_dir, threads) if "toy" in args.parts else []
    dcgan_rows = dcgan_part(args, runs_dir, threads) if "dcgan" in args.parts else []
    if toy_rows:
        print_toy(toy_rows, args)
    if dcgan_rows:
        print_dcgan(dcgan_rows)
    finish(info, args.out_json, {"benchmark": "gan", "date": date, "command": command, "settings": vars(args),
                  "toy": toy_rows, "dcgan": dcgan_rows})


if __name__ == "__main__":
    main()
