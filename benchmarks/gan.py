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

arithmetic: a DCGAN on `shapes` (configs/dcgan-shapes.yaml with --arith-set overrides, trained
    for --arith-steps steps; or an existing run given by --arith-run) and the DCGAN paper's latent
    arithmetic (Radford et al. 2015, Sec. 6.3.2: mean z of 3 exemplars per concept, the signed
    sum decoded with +-0.25 uniform noise around it). An attribute classifier trained on the
    exact factors of `shapes` (its test accuracy per attribute is printed) judges each result
    image; the success rate is the share showing every attribute the expression implies
    (red circle - red square + blue square -> blue circle). Baseline: the share of plain prior
    samples G(z) that happen to show the same attribute mix (what arithmetic must beat).

    nice python benchmarks/gan.py --parts toy --seeds 0 1 2 --threads 1
    nice python benchmarks/gan.py --parts dcgan --dcgan-steps 500 1000 --num-samples 2000 \
        --set model.generator_channels=32 --set model.discriminator_channels=32 --threads 1

    nice python benchmarks/gan.py --parts arithmetic --arith-run runs/bench/dcgan-shapes --threads 1

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
from genzoo.metrics.results import EvaluationSections  # noqa: E402
from genzoo.train import load_model, resolve_run_config, resume_config, train  # noqa: E402

from genzoo.presets import PRESET_DIR  # noqa: E402
LOSSES = ("minimax", "non-saturating")
# Each expression changes one factor of the first concept; the expected mix follows from the signs.
ARITHMETIC_EXPRESSIONS = (
    "colour=red,shape=circle - colour=red,shape=square + colour=blue,shape=square",
    "colour=green,shape=triangle - colour=green,shape=diamond + colour=yellow,shape=diamond",
    "shape=square,size=large - shape=square,size=small + shape=circle,size=small",
)


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
        sections = EvaluationSections.of(evaluation)
        quality, speed = sections.sample_quality, sections.speed
        row = {"steps": result.step, "status": result.status, "train_s": train_s, "eval_s": eval_s,
               "model_options": config.model_options, "batch_size": config.train.batch_size,
               "ema_decay": config.train.ema_decay, "num_samples": quality.num_samples,
               "reference_images": quality.test_images, "feature_extractor": quality.feature_extractor,
               "fid": quality.samples.fid, "kid": quality.samples.kid, "precision": quality.samples.precision,
               "recall": quality.samples.recall, "training_images_per_s": speed.training_images_per_s,
               "sampling_seconds_per_image": speed.sampling_seconds_per_image}
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


def arithmetic_part(args, runs_dir: Path, threads: list[str]) -> list[dict]:
    from genzoo.explore.arithmetic import arithmetic_success_rate, expected_attributes, parse_expression
    from genzoo.metrics.attributes import attribute_accuracy, fit_attribute_classifier
    from genzoo.train import build_run

    if args.arith_run:
        run_dir, train_s = Path(args.arith_run), None
    else:
        run_dir = runs_dir / "dcgan-shapes"
        if run_dir.exists():
            shutil.rmtree(run_dir)
        bench = {"train": {"steps": args.arith_steps, "seed": args.seed, "progress": False, "eval_every": 0,
                           "sample_every": 0, "checkpoint_every": args.arith_steps, "device": "cpu"}}
        config = resolve_run_config(preset=preset("dcgan-shapes.yaml"),
                                    overrides=deep_merge(bench, parse_overrides(threads + args.arith_overrides)))
        started = time.perf_counter()
        train(config, run_dir).raise_for_status()
        train_s = time.perf_counter() - started
    model, info = load_model(run_dir, which="last")
    run = build_run(info.run_config)
    started = time.perf_counter()
    classifier = fit_attribute_classifier(run.train_set, seed=args.seed)
    accuracy = attribute_accuracy(classifier, run.test_set)
    classifier_s = time.perf_counter() - started
    print(f"attribute classifier test accuracy ({classifier_s:.0f} s): "
          + ", ".join(f"{k}={v:.3f}" for k, v in accuracy.items()), file=sys.stderr, flush=True)

    # Baseline: how often a plain sample shows the expected mix by chance.
    with torch.no_grad():
        z = model.sample_latent(args.arith_baseline_samples, generator=torch.Generator().manual_seed(args.seed))
        from genzoo.explore.sampling import to_display
        predictions = classifier.predict(to_display(model.decode(z), model.data_format))
    values = classifier.attribute_values
    rows = []
    for expression in args.arith_expressions:
        expected = expected_attributes(parse_expression(expression))
        chance = torch.stack([predictions[k] == values[k].index(v) for k, v in expected.items()]).all(0)
        for source in args.arith_sources:
            started = time.perf_counter()
            try:
                score = arithmetic_success_rate(
                    model, classifier, expression, trials=args.arith_trials, seed=args.seed, dataset=run.train_set,
                    preprocessor=run.preprocessor, source=source,
                )
            except ValueError as error:  # e.g. no prior sample shows a concept: recorded, not fatal
                score, failure = None, str(error).splitlines()[0]
            else:
                failure = None
            row = {"expression": expression, "source": source, "expected": expected, "failure": failure,
                   "success_rate": None if score is None else score.success_rate,
                   "attribute_rates": {} if score is None else score.attribute_rates,
                   "trials": args.arith_trials, "images": 0 if score is None else score.images,
                   "chance_rate": float(chance.double().mean()),
                   "baseline_samples": args.arith_baseline_samples, "seconds": time.perf_counter() - started,
                   "run_dir": str(run_dir), "train_s": train_s, "model_options": info.run_config.model_options,
                   "steps": info.step, "classifier_accuracy": accuracy}
            rows.append(row)
            print(f"arithmetic: {json.dumps(row)}", file=sys.stderr, flush=True)
    return rows


def print_arithmetic(rows: list[dict]) -> None:
    first = rows[0]
    accuracy = ", ".join(f"{k} {v:.3f}" for k, v in first["classifier_accuracy"].items())
    print(f"\nLatent arithmetic on shapes (run {first['run_dir']}); judge: attribute classifier, test accuracy {accuracy}; "
          f"chance: share of {first['baseline_samples']} prior samples showing the expected mix\n")
    print("| expression | expected | exemplars from | success rate | per attribute | chance rate | result images | s |")
    print("|---|---|---|---:|---|---:|---:|---:|")
    for row in rows:
        expected = ", ".join(f"{k}={v}" for k, v in row["expected"].items())
        per = ", ".join(f"{k} {v:.2f}" for k, v in row["attribute_rates"].items())
        rate = f"{row['success_rate']:.3f}" if row["failure"] is None else f"failed: {row['failure']}"
        print(f"| {row['expression']} | {expected} | {row['source']} | {rate} | {per or '-'} | "
              f"{row['chance_rate']:.3f} | {row['images']} | {row['seconds']:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["toy", "dcgan"], choices=("toy", "dcgan", "arithmetic"))
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
    parser.add_argument("--arith-run", help="existing DCGAN run on shapes to measure (default: train one)")
    parser.add_argument("--arith-steps", type=int, default=4000, help="training steps when no --arith-run is given")
    parser.add_argument("--arith-set", dest="arith_overrides", action="append", default=[], metavar="key=value",
                        help="override for the shapes DCGAN run (repeatable)")
    parser.add_argument("--arith-expressions", nargs="+", default=list(ARITHMETIC_EXPRESSIONS))
    parser.add_argument("--arith-sources", nargs="+", default=["invert", "classify"], choices=("invert", "classify"))
    parser.add_argument("--arith-trials", type=int, default=10, help="repetitions with fresh exemplars (9 result images each)")
    parser.add_argument("--arith-baseline-samples", type=int, default=2000)
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
    arithmetic_rows = arithmetic_part(args, runs_dir, threads) if "arithmetic" in args.parts else []
    if toy_rows:
        print_toy(toy_rows, args)
    if dcgan_rows:
        print_dcgan(dcgan_rows)
    if arithmetic_rows:
        print_arithmetic(arithmetic_rows)
    finish(info, args.out_json, {"benchmark": "gan", "date": date, "command": command, "settings": vars(args),
                  "toy": toy_rows, "dcgan": dcgan_rows, "arithmetic": arithmetic_rows})


if __name__ == "__main__":
    main()
