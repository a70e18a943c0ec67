"""The `genzoo` command line: parses, calls the library, prints. No logic of its own.

    genzoo train MODEL --data DATASET [--steps N | --epochs N] [--out RUN_DIR] [--config FILE|PRESET]
                 [--set key=value ...] [--device DEV] [--seed N] [--resume]
    genzoo sample RUN_DIR|CKPT [-n 64] [--out grid.png] [--temperature T] [--label K] [--seed N]
    genzoo info RUN_DIR|CKPT
    genzoo datasets                      list datasets, where each was found or why not
    genzoo datasets show NAME            write a grid of real images
    genzoo models                        list models and their capabilities
    genzoo reconstruct RUN_DIR           test images over their reconstructions
    genzoo traverse RUN_DIR              one row per latent dimension (or --manifold for a 2-D latent)
    genzoo interpolate RUN_DIR           decode along the path between two codes (--a/--b images or test indices)
    genzoo finetune RUN_DIR              the encoder as a classifier's start vs random init, for several K
    genzoo complete RUN_DIR              image completion: originals, masked inputs, completions
    genzoo arithmetic RUN_DIR [--expr E] latent vector arithmetic (DCGAN paper), e.g. "red,circle - red,square + blue,square"
    genzoo translate RUN_DIR             image-to-image: input, baseline, k outputs, target (--from-test N.. or --input FILE..)
    genzoo eval RUN_DIR                  likelihood (nats, bits/dim), FID/KID/precision-recall, speed, sharpness
    genzoo features train --data NAME    train and cache the feature classifier behind FID/KID/P&R
    genzoo explore RUN_DIR...            the runs as a live page in the browser: sliders, paths, arithmetic, drawing, the GAN game
    genzoo report RUN_DIR... --out DIR   runs side by side: metric and properties tables, samples, family figures, curves
    genzoo demo                          one small model per family on real data: metrics and a report

Every user error (unknown model, missing file, bad option) is one line on stderr and exit
status 2; a run stopped by Ctrl-C exits 130 after saving; a diverged run exits 3.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from genzoo.errors import GenzooError

BUDGETS = ("paper", "cpu")  # --budget; genzoo.presets.BUDGETS (repeated: --help imports nothing)


# ---- argument parsing -------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genzoo", description="Train, sample, measure and explore deep generative models of images.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = commands.add_parser("train", help="train a model (or resume a run)")
    train.add_argument("model", nargs="?", help="model name (see `genzoo models`); optional with --resume")
    train.add_argument("--data", help="dataset name (see `genzoo datasets`)")
    budget = train.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, help="optimisation steps")
    budget.add_argument("--epochs", type=float, help="passes over the training split")
    train.add_argument("--out", help="run directory (default: runs/MODEL-DATASET); a fresh run needs it new, empty, or a genzoo run without checkpoint")
    train.add_argument("--config", help="YAML file or preset name from configs/ (default: configs/MODEL-DATASET.yaml if present)")
    train.add_argument("--budget", choices=BUDGETS, default="paper",
                       help="which preset: paper (the paper's size, for GPUs; default) or cpu (MODEL-DATASET-cpu.yaml: minutes on a laptop)")
    train.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override, e.g. train.lr=3e-4 model.latent_dim=16 (repeatable)")
    train.add_argument("--device", help="auto (cuda > mps > cpu), cpu, cuda, cuda:1, mps")
    train.add_argument("--seed", type=int, help="random seed")
    train.add_argument("--batch-size", type=int, help="global batch size")
    train.add_argument("--lr", type=float, help="learning rate")
    train.add_argument("--data-dir", help="directory holding the dataset files (searched alone; downloads land there)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out (or RUN_DIR given as MODEL) from its last checkpoint")
    train.add_argument("--no-progress", action="store_true", help="no progress bar (logs still go to metrics.jsonl)")

    sample = commands.add_parser("sample", help="draw samples from a trained model into a PNG grid")
    sample.add_argument("path", metavar="RUN_DIR|CKPT")
    sample.add_argument("-n", type=int, help="number of samples (default 64; 2500 points for a toy2d run's scatter plot)")
    sample.add_argument("--out", help="PNG file (default: RUN_DIR/samples/sample.png)")
    sample.add_argument("--temperature", type=float, default=1.0)
    sample.add_argument("--label", type=int, help="class label for class-conditional models")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--nrow", type=int, help="images per row")
    sample.add_argument("--scale", type=int, help="enlarge each image N times, nearest neighbour (default: about 80 px a cell)")
    sample.add_argument("--which", choices=("best", "last"), default="best", help="checkpoint of a run dir (default best)")
    sample.add_argument("--device", default="cpu")
    sample.add_argument("--sampler", choices=("fast", "naive"), help="autoregressive models: cached fast sampler or one full pass per sub-pixel")

    info = commands.add_parser("info", help="config, step, metrics and size of a run or checkpoint")
    info.add_argument("path", metavar="RUN_DIR|CKPT")
    info.add_argument("--which", choices=("best", "last"), default="last")
    info.add_argument("--json", action="store_true", help="machine-readable output")

    datasets = commands.add_parser("datasets", help="list datasets, or `datasets show NAME` for a grid of images")
    datasets.add_argument("action", nargs="?", choices=("list", "show"), default="list")
    datasets.add_argument("name", nargs="?")
    datasets.add_argument("--data-dir")
    datasets.add_argument("--split", default="train")
    datasets.add_argument("-n", type=int, default=64)
    datasets.add_argument("--out", help="PNG file (default: NAME-SPLIT.png)")
    datasets.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="dataset option, e.g. size=64 (repeatable)")
    datasets.add_argument("--download", action="store_true", help="with show: download when missing")

    commands.add_parser("models", help="list models and their capabilities")

    def explorer(name: str, help_text: str, default_out: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help_text)
        command.add_argument("path", metavar="RUN_DIR|CKPT")
        command.add_argument("--out", help=f"PNG file (default: RUN_DIR/{default_out})")
        command.add_argument("--which", choices=("best", "last"), default="best")
        command.add_argument("--device", default="cpu")
        command.add_argument("--data-dir", help="where the run's dataset lives, if not where it was found at training")
        command.add_argument("--seed", type=int, default=0)
        return command

    reconstruct = explorer("reconstruct", "test images over their reconstructions", "reconstructions.png")
    reconstruct.add_argument("-n", type=int, default=32, help="number of test images (default 32)")
    reconstruct.add_argument("--per-row", type=int, default=8)
    reconstruct.add_argument("--scale", type=int, help="enlarge each image N times, nearest neighbour (default: about 80 px a cell)")

    traverse = explorer("traverse", "sweep each latent dimension over the prior's quantiles", "traversal.png")
    traverse.add_argument("--dims", help="comma-separated latent dimensions (default: the active ones by KL, highest first, at most 16)")
    traverse.add_argument("--usage-images", type=int, default=1000, help="test images to measure each dimension's KL / activity on (default 1000)")
    traverse.add_argument("--scale", type=int, help="enlarge each image N times, nearest neighbour (default: about 80 px a cell)")
    traverse.add_argument("--steps", type=int, default=9)
    traverse.add_argument("--from-test", type=int, help="hold the other dimensions at this test image's code (default: the prior mean)")
    traverse.add_argument("--manifold", action="store_true", help="2-D latent: decode the whole inverse-CDF grid")
    traverse.add_argument("--label", type=int, help="class label for class-conditional models")

    interpolate = explorer("interpolate", "decode along the path between two latent codes", "interpolation.png")
    interpolate.add_argument("--a", help="image file for the start (default: test image --from-test A)")
    interpolate.add_argument("--b", help="image file for the end")
    interpolate.add_argument("--from-test", type=int, nargs=2, metavar=("A", "B"), help="test image indices for the two ends")
    interpolate.add_argument("--pairs", type=int, default=4, help="without images: number of random latent pairs")
    interpolate.add_argument("--steps", type=int, default=10)
    interpolate.add_argument("--kind", choices=("linear", "slerp"), default="linear")
    interpolate.add_argument("--scale", type=int, help="enlarge each image N times, nearest neighbour (default: about 80 px a cell)")

    finetune = explorer("finetune", "encoder as the start of a classifier, vs random initialisation", "finetune.json")
    finetune.add_argument("--labels-per-class", type=int, nargs="+", default=[10, 100, 1000], metavar="K")
    finetune.add_argument("--head", choices=("linear", "mlp"), default="linear")
    finetune.add_argument("--finetune-encoder", action="store_true", help="train the encoder too (default: frozen features)")
    finetune.add_argument("--steps", type=int, default=300, help="optimisation steps per classifier")

    complete = explorer("complete", "complete occluded images (autoregressive models)", "completions.png")
    source = complete.add_mutually_exclusive_group()
    source.add_argument("--image", nargs="+", help="image file(s) to complete")
    source.add_argument("--from-test", type=int, nargs="+", metavar="N", help="test image indices (default: 0..7)")
    complete.add_argument("--keep", choices=("top-half", "left-half", "center"), default="top-half", help="what is kept; the rest is sampled")
    complete.add_argument("-n", type=int, default=5, help="completions per image")
    complete.add_argument("--temperature", type=float, default=1.0)
    complete.add_argument("--sampler", choices=("fast", "naive"))
    complete.add_argument("--scale", type=int, help="enlarge each image N times, nearest neighbour (default: about 80 px a cell)")

    arithmetic = explorer("arithmetic", "latent vector arithmetic A - B + C (mean code of exemplars per concept)", "arithmetic.png")
    arithmetic.set_defaults(which="last")
    arithmetic.add_argument("--expr", help='concepts joined by " + " / " - ", each key=value or bare values joined by commas; '
                            'default on shapes "red,circle - red,square + blue,square"; also e.g. "green,triangle - green + yellow", '
                            '"large,square - square + circle", "x=left,red - x=left + x=right"')
    arithmetic.add_argument("--source", choices=("auto", "encode", "classify", "invert"), default="auto",
                            help="where exemplar codes come from: encode real images (models with an encoder), classify prior samples "
                                 "with the attribute classifier, or invert the generator on real images; auto (default): encode if the "
                                 "model has an encoder, else classify on datasets with attributes, else invert")
    arithmetic.add_argument("--exemplars", type=int, default=3, help="exemplars per concept (the paper averages 3)")
    arithmetic.add_argument("--no-match", action="store_true",
                            help="random exemplars whose mean codes are combined, as in the paper (default where the dataset has attributes: "
                                 "exemplar i of every concept shares the attributes the concept leaves free, one result per i)")
    arithmetic.add_argument("--results", type=int, default=9, help="result images: G(Y), then G(Y + noise)")
    arithmetic.add_argument("--noise", type=float, default=0.25,
                            help="half-width of the uniform noise around the result, as a fraction of the latent spread (paper: 0.25 of U[-1, 1])")
    arithmetic.add_argument("--score", action="store_true", help="measure how often results show the expected attributes, against chance")
    arithmetic.add_argument("--trials", type=int, default=10, help="with --score: repetitions with fresh exemplars")
    arithmetic.add_argument("--candidates", type=int, default=2048, help="prior samples judged for --source classify and for the chance rate")
    arithmetic.add_argument("--classifier-steps", type=int, default=300, help="training steps of the attribute classifier (cached per dataset and recipe)")
    arithmetic.add_argument("--scale", type=int, help="enlarge each image N times, nearest neighbour (default: about 80 px a cell)")

    translate = explorer("translate", "image-to-image models: each input, the baseline, k outputs and the target", "translation.png")
    inputs = translate.add_mutually_exclusive_group()
    inputs.add_argument("--from-test", type=int, nargs="+", metavar="N", help="test image indices (default: 0..3)")
    inputs.add_argument("--input", nargs="+", metavar="FILE", help="your own input images (a low-resolution image, a grey photo, a sketch), "
                        "converted to the model's input channels and size; sketches drawn dark on light are inverted")
    translate.add_argument("-n", type=int, help="outputs per input (default 4; one for a deterministic model)")
    translate.add_argument("--temperature", type=float, default=1.0)
    translate.add_argument("--scale", type=int, help="enlarge each image N times, nearest neighbour (default: about 80 px a cell)")

    evaluate = commands.add_parser("eval", help="likelihood, FID/KID/precision-recall, speed and sharpness of a trained run "
                                   "(image-to-image runs: PSNR/SSIM, consistency, diversity and realism, beside the task's baseline)")
    evaluate.add_argument("path", metavar="RUN_DIR|CKPT")
    evaluate.add_argument("--metrics", default="likelihood,fid,kid,pr,classifier_score,recognised,speed,sharpness,latent_usage",
                          help="comma-separated subset of likelihood, fid, kid, pr, classifier_score, recognised, speed, sharpness, latent_usage, modes "
                               "(modes: toy2d runs only, where it replaces the image metrics; image-to-image runs get the translation "
                               "yardstick instead: PSNR/SSIM, consistency, diversity, FID/KID if a sample metric is asked, conditional NLL "
                               "if likelihood is, the task's baseline beside the model)")
    evaluate.add_argument("--num-samples", type=int, default=10_000, help="generated images for FID/KID/P&R (default 10k, Lucic et al. 2018)")
    evaluate.add_argument("--iwae-k", type=int, default=5000, help="importance samples for the VAE's IWAE bound")
    evaluate.add_argument("--test-images", type=int, help="test images for the likelihood and latent usage (default: the whole split); "
                          "image-to-image runs: for the translation yardstick (default: --num-samples, capped at the split)")
    evaluate.add_argument("--batch-size", type=int, default=256)
    evaluate.add_argument("--device", default="auto")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--which", choices=("best", "last"), default="best")
    evaluate.add_argument("--inception-weights", help="pytorch-fid Inception-v3 weights file: use it instead of genzoo's classifier")
    evaluate.add_argument("--features", metavar="FILE", help="a feature classifier file (.safetensors from `genzoo features train`) "
                          "instead of the cached one of the dataset (default recipe first, else the most accurate)")
    evaluate.add_argument("--no-cache", action="store_true", help="recompute reference statistics and features")
    evaluate.add_argument("--no-progress", action="store_true")
    evaluate.add_argument("--samples-per-input", type=int, default=4,
                          help="image-to-image models: outputs per test image for diversity and the mean output (default 4; 1 when deterministic)")
    evaluate.add_argument("--out", help="JSON file (default: RUN_DIR/evaluation.json)")

    features = commands.add_parser("features", help="the per-dataset feature classifier used by FID/KID/P&R")
    features.add_argument("action", choices=("train",))
    features.add_argument("--data", required=True, help="dataset name")
    features.add_argument("--data-dir")
    features.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="dataset option, e.g. size=32")
    features.add_argument("--epochs", type=float, help="training epochs (default: the default recipe's 1.5, about a minute "
                          "on Fashion-MNIST; 6 for a stronger classifier)")
    features.add_argument("--seed", type=int, default=0)
    features.add_argument("--device", default="cpu")
    features.add_argument("--threads", type=int, help="CPU threads (1 is often fastest on a shared 2-core machine)")

    report = commands.add_parser("report", help="compare runs side by side in one HTML/Markdown report")
    report.add_argument("runs", nargs="+", metavar="RUN_DIR")
    report.add_argument("--out", default="report", help="output folder (index.html, report.md, assets/)")
    report.add_argument("--title", default="genzoo report")
    report.add_argument("--which", choices=("best", "last"), default="last")
    report.add_argument("--data-dir")

    demo = commands.add_parser("demo", help="one model per family on real data with its CPU preset, and the toy GAN game: evaluated, compared in a report")
    demo.add_argument("--out", default="runs/demo")
    demo.add_argument("--steps-scale", type=float, default=1.0, help="multiply every preset's training budget (default 1; 0.25 for a quick look)")
    demo.add_argument("--models", nargs="+", metavar="NAME",
                      help="runs to make (default: gated-pixelcnn vae dcgan toy2d; also pixelcnn, pixelrnn-row, pixelrnn-diag, ae, gan)")
    demo.add_argument("--num-samples", type=int, default=500, help="generated images for FID/KID/P&R (default 500)")
    demo.add_argument("--test-images", type=int, default=1000, help="test images for likelihoods and latent usage (default 1000)")
    demo.add_argument("--threads", type=int, help="torch CPU threads (default: torch's; 1 is often fastest on a busy 2-core machine)")
    demo.add_argument("--data-dir")
    demo.add_argument("--device")

    from genzoo.explore.server.command import add_explore_command  # torch-free: --help stays fast

    add_explore_command(commands)
    return parser


# ---- commands ---------------------------------------------------------------------------
def command_train(args: argparse.Namespace) -> int:
    from genzoo.config import parse_overrides
    from genzoo.presets import resolve_preset
    from genzoo.errors import ConfigError
    from genzoo.train import train
    from genzoo.runs.config import resolve_run_config
    from genzoo.train.resume import resume_config

    if args.resume and args.model and not args.out and Path(args.model).is_dir():
        args.out, args.model = args.model, None
    if args.resume:
        if not args.out:
            raise ConfigError("--resume needs the run directory: genzoo train --resume --out RUN_DIR")
        flags = _train_flags(args)
        if args.data:  # checked against the saved dataset like every other setting
            flags.setdefault("data", {})["name"] = args.data
        if args.config or args.budget != "paper":
            raise ConfigError("--resume continues the run's saved config.yaml: drop --config/--budget (change what may change with --set)")
        config = resume_config(args.out, parse_overrides(args.overrides), flags)
        if args.model and args.model != config.model:
            raise ConfigError(f"--resume: run {args.out} trains {config.model!r}, not {args.model!r}")
        run_dir = Path(args.out)
    else:
        if not args.model:
            raise ConfigError("no model given: e.g. `genzoo train ae --data fashion-mnist` (see `genzoo models`)")
        if args.config and args.budget != "paper":
            raise ConfigError("--budget picks a preset and --config names one: give only one of them")
        preset, preset_path = resolve_preset(args.config, args.model, args.data, args.budget)  # genzoo.presets
        preset_data = preset.get("data", {})
        dataset = args.data or (preset_data.get("name") if isinstance(preset_data, dict) else preset_data)
        if not dataset:
            raise ConfigError("no dataset given: add --data NAME (see `genzoo datasets`)")
        if preset_path is not None and _is_main_process():
            print(f"preset: {preset_path}")
        flags = _train_flags(args)
        flags["model"] = {"name": args.model}
        flags.setdefault("data", {})["name"] = dataset
        config = resolve_run_config(preset=preset, overrides=parse_overrides(args.overrides), flags=flags)
        run_dir = Path(args.out or f"runs/{config.model}-{config.data.name}")
    if config.train.steps is None and config.train.epochs is None:
        raise ConfigError("no training budget: add --steps N or --epochs N (or train.steps in the config)")
    result = train(config, run_dir, resume=args.resume)
    return _report_train_result(result)


def _train_flags(args: argparse.Namespace) -> dict[str, Any]:
    """CLI flags in the config's YAML layout (only those given)."""
    train_section: dict[str, Any] = {}
    for flag, key in (("steps", "steps"), ("epochs", "epochs"), ("device", "device"), ("seed", "seed"), ("batch_size", "batch_size"), ("lr", "lr")):
        value = getattr(args, flag, None)
        if value is not None:
            train_section[key] = value
    if train_section.get("steps") is not None:
        train_section["epochs"] = None
    if train_section.get("epochs") is not None:
        train_section["steps"] = None
    if getattr(args, "no_progress", False):
        train_section["progress"] = False
    flags: dict[str, Any] = {"train": train_section} if train_section else {}
    if getattr(args, "data_dir", None):
        flags["data"] = {"data_dir": args.data_dir}
    return flags


def _is_main_process() -> bool:
    """False on torchrun's ranks other than 0, which train without printing (rank 0 reports)."""
    from genzoo.train.distributed import detect

    return detect().is_main


def _report_train_result(result: Any) -> int:
    result.raise_for_status()  # diverged: one line naming the last good checkpoint, exit 3
    if _is_main_process():
        print(f"run: {result.run_dir}  status: {result.status}  step: {result.step}")
        if result.final_metrics:
            print("metrics: " + ", ".join(f"{k}={_fmt(v)}" for k, v in result.final_metrics.items()))
        for label, path in (("last checkpoint", result.last_checkpoint), ("best checkpoint", result.best_checkpoint)):
            if path:
                print(f"{label}: {path}")
        if result.message:
            print(result.message)
    if result.status == "interrupted":
        return 130
    return 0


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def command_sample(args: argparse.Namespace) -> int:
    import torch

    from genzoo.data.grid import save_image_grid
    from genzoo.data.toy2d import point_mixture
    from genzoo.errors import ConfigError
    from genzoo.explore.sampling import sample_images
    from genzoo.runs.model import load_model

    if args.n is not None and args.n < 1:
        raise ConfigError(f"-n must be >= 1, got {args.n}")
    model, info = load_model(args.path, which=args.which, device=args.device)
    if model.capabilities.image_to_image:
        raise ConfigError(f"{model.name} translates inputs, it draws nothing from nothing: use `genzoo translate {args.path} --from-test 0 1 2`")
    mixture = point_mixture(info.run_config.data.name, info.run_config.data.options)  # toy2d: points, drawn as a scatter
    args.n = args.n or (SCATTER_POINTS if mixture else 64)
    labels = None
    if args.label is not None:
        classes = model.data_format.num_classes
        if not model.capabilities.label_conditional:
            raise ConfigError(f"--label: model {model.name!r} is not class-conditional; drop --label")
        if classes is None or not 0 <= args.label < classes:
            raise ConfigError(f"--label {args.label} out of range: choose 0..{(classes or 1) - 1}")
        labels = torch.full((args.n,), args.label, dtype=torch.long)
    options = {"method": args.sampler} if args.sampler else {}
    if options and not model.capabilities.exact_likelihood:
        raise ConfigError(f"--sampler: model {model.name!r} is not autoregressive; drop --sampler")
    if mixture is not None:
        return _sample_scatter(args, model, info, mixture, labels)
    if labels is None and model.capabilities.label_conditional and model.data_format.num_classes and args.nrow is None:
        return _sample_class_rows(args, model, info, options)
    images = sample_images(model, args.n, labels=labels, temperature=args.temperature, seed=args.seed, progress=True, **options)
    out = Path(args.out) if args.out else _run_dir_of(info.path).samples / "sample.png"
    save_image_grid(images, out, nrow=args.nrow, scale=_checked_scale(args.scale))
    print(f"wrote {args.n} samples of {model.name} (step {info.step}) to {out}")
    return 0


SCATTER_POINTS = 2500  # PacGAN's sample count for mode coverage


def _sample_class_rows(args: argparse.Namespace, model: Any, info: Any, options: dict[str, Any]) -> int:
    """`sample` on a class-conditional model without --label: one labelled row per class, -n images in all (rounded up)."""
    from genzoo.explore.figure import save_labelled_grid
    from genzoo.explore.sampling import class_rows

    classes = model.data_format.num_classes
    per_class = -(-args.n // classes)
    images, row_labels = class_rows(model, per_class, class_names=info.dataset.get("class_names"), seed=args.seed,
                                    temperature=args.temperature, progress=True, **options)
    out = Path(args.out) if args.out else _run_dir_of(info.path).samples / "sample.png"
    save_labelled_grid(images, out, nrow=per_class, row_labels=row_labels, scale=_checked_scale(args.scale),
                       title=f"{model.name} (step {info.step}): {per_class} samples per class, one row each")
    print(f"wrote {len(images)} samples of {model.name} (step {info.step}), one row per class, to {out}")
    return 0


def _sample_scatter(args: argparse.Namespace, model: Any, info: Any, mixture: str, labels: Any) -> int:
    """`sample` on a toy2d run: a scatter of the samples over the true modes (not an image grid)."""
    from genzoo.data.toy2d import mixture_modes
    from genzoo.errors import ConfigError
    from genzoo.explore.scatter import draw_mode_scatter, run_heading
    from genzoo.metrics.modes import describe, mode_statistics, sample_points

    if args.nrow is not None or getattr(args, "scale", None) is not None:
        raise ConfigError("--nrow and --scale lay out image grids; a toy2d run's samples are drawn as a scatter plot: drop them")
    points = sample_points(model, mixture, args.n, seed=args.seed, temperature=args.temperature, labels=labels)  # (n, 2)
    stats = mode_statistics(points, *mixture_modes(mixture))
    out = Path(args.out) if args.out else _run_dir_of(info.path).samples / "sample.png"
    draw_mode_scatter(points, mixture, stats, out, heading=run_heading(model, info.step) + f", sampling seed {args.seed}")
    print(f"wrote a scatter of {args.n} samples of {model.name} (step {info.step}) over the toy2d {mixture} modes to {out}: {describe(stats)}")
    return 0


def _run_dir_of(checkpoint: Path) -> Any:
    """The RunDir of a checkpoint (`/ name` gives a path inside it)."""
    from genzoo.runs import RunDir

    return RunDir.of_checkpoint(checkpoint)


def command_info(args: argparse.Namespace) -> int:
    from genzoo.runs.model import load_model

    model, info = load_model(args.path, which=args.which, device="cpu")
    parameters = sum(p.numel() for p in model.parameters())
    summary = {
        "checkpoint": str(info.path),
        "model": model.name,
        "capabilities": model.capabilities.names(),
        "parameters": parameters,
        "step": info.step,
        "epoch": info.epoch,
        "data_format": info.data_format.to_dict(),
        "preprocess": list(info.preprocess),
        "metrics": info.metrics,
        "config": info.run_config.to_dict(),
    }
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
        return 0
    import yaml

    print(f"checkpoint:   {summary['checkpoint']}")
    print(f"model:        {model.name} ({parameters:,} parameters; {', '.join(summary['capabilities']) or 'sampling only'})")
    print(f"step:         {info.step} (epoch {info.epoch})")
    print(f"data:         {info.run_config.data.name} {tuple(info.data_format.image_shape)}, preprocess: {', '.join(info.preprocess) or 'none'}")
    if info.metrics:
        print("metrics:      " + ", ".join(f"{k}={_fmt(v)}" for k, v in info.metrics.items()))
    print("config:")
    print("  " + yaml.safe_dump(summary["config"], sort_keys=False).rstrip().replace("\n", "\n  "))
    return 0


def command_datasets(args: argparse.Namespace) -> int:
    from genzoo.config import parse_overrides
    from genzoo.data import dataset_info, list_datasets, load_dataset, locate_dataset
    from genzoo.data.grid import save_image_grid
    from genzoo.errors import ConfigError

    options = parse_overrides(args.overrides)
    if args.action == "show":
        if not args.name:
            raise ConfigError("datasets show needs a NAME: e.g. `genzoo datasets show fashion-mnist`")
        data = load_dataset(args.name, args.split, data_dir=args.data_dir, download=args.download, **options)
        count = min(args.n, len(data))
        out = Path(args.out or f"{args.name}-{args.split}.png")
        save_image_grid(data.images[:count], out)
        print(f"wrote {count} {args.split} images of {args.name} {tuple(data.info.image_shape)} to {out}")
        return 0
    rows = []
    for name in list_datasets():
        try:
            info = dataset_info(name)
            shape = "x".join(map(str, info.image_shape))
            classes = str(info.num_classes or "-")
        except GenzooError:
            shape, classes = "?", "?"
        location = locate_dataset(name, args.data_dir)
        where = (location.path or location.detail or "generated on demand") if location.found else f"not found ({location.detail})"
        rows.append((name, shape, classes, where))
    widths = [max(len(row[i]) for row in rows + [("dataset", "shape", "classes", "")]) for i in range(3)]
    print(f"{'dataset':<{widths[0]}}  {'shape':<{widths[1]}}  {'classes':<{widths[2]}}  location")
    for name, shape, classes, where in rows:
        print(f"{name:<{widths[0]}}  {shape:<{widths[1]}}  {classes:<{widths[2]}}  {where}")
    return 0


def command_models(args: argparse.Namespace) -> int:
    from genzoo.model_catalog import catalog_lines  # no torch: the listing answers at once

    print("\n".join(catalog_lines()))
    return 0


def command_demo(args: argparse.Namespace) -> int:
    from genzoo.demo import run_demo

    report = run_demo(Path(args.out), steps_scale=args.steps_scale, data_dir=args.data_dir, device=args.device,
                      models=tuple(args.models) if args.models else None, num_samples=args.num_samples, test_images=args.test_images,
                      threads=args.threads)
    print(f"report: {report}")
    return 0


def _load_for_exploring(args: argparse.Namespace, need: str):
    from genzoo.errors import ConfigError
    from genzoo.runs.model import load_model

    _checked_scale(getattr(args, "scale", None))  # before the model loads: a bad --scale fails at once
    model, info = load_model(args.path, which=args.which, device=args.device)
    if need and not getattr(model.capabilities, need):
        raise ConfigError(f"model {model.name!r} has no {need.replace('_', ' ')}: `genzoo {args.command}` needs one (see `genzoo models`)")
    return model, info


def _checked_scale(scale: int | None) -> int | None:
    from genzoo.errors import ConfigError

    if scale is not None and scale < 1:
        raise ConfigError(f"--scale must be an integer >= 1, got {scale}")
    return scale


def _write_labelled(images, args: argparse.Namespace, info, default_name: str, nrow: int, **labels) -> Path:
    """A labelled grid (`genzoo.data.labelled_grid`) at --out or RUN_DIR/default_name, cells enlarged by --scale."""
    from genzoo.explore.figure import save_labelled_grid

    path = Path(args.out) if args.out else _run_dir_of(info.path) / default_name
    return save_labelled_grid(images, path, nrow=nrow, scale=_checked_scale(args.scale), **labels)


def command_reconstruct(args: argparse.Namespace) -> int:
    from genzoo.explore.inputs import test_images
    from genzoo.explore.reconstruction import reconstruction_row_labels, reconstruction_rows

    model, info = _load_for_exploring(args, "encoder")
    x, y = test_images(info, range(args.n), data_dir=args.data_dir, seed=args.seed)
    images, per_row = reconstruction_rows(model, x, y, per_row=args.per_row)
    path = _write_labelled(images, args, info, "reconstructions.png", per_row, row_labels=reconstruction_row_labels(args.n, per_row),
                           title=f"{model.name} (step {info.step}): test images over their reconstructions")
    print(f"wrote {args.n} test images (odd rows) and their reconstructions (even rows) to {path}")
    return 0


def command_traverse(args: argparse.Namespace) -> int:
    from genzoo.errors import ConfigError
    from genzoo.explore.inputs import test_images
    from genzoo.explore.traversal import MAX_TRAVERSAL_ROWS, dims_to_show, latent_dim_of, latent_manifold, traverse_latents
    from genzoo.metrics.latent_usage import latent_usage

    model, info = _load_for_exploring(args, "latent_decoder")
    title, usage = f"{model.name} (step {info.step})", None
    try:
        if args.manifold:
            grid = latent_manifold(model, steps=args.steps, label=args.label)
            title += ": decoder over the 2-D latent"
        else:
            if args.dims:
                try:
                    dims = [int(d) for d in args.dims.split(",")]
                except ValueError:
                    raise ConfigError(f"--dims must be comma-separated integers, got {args.dims!r}") from None
            else:
                dims = None
            if model.capabilities.encoder:
                usage = latent_usage(model, *_usage_images(info, args))
                dims = dims if dims is not None else dims_to_show(usage)
            elif dims is None:  # no encoder, no usage to rank by: the first dimensions
                dims = list(range(min(latent_dim_of(model), MAX_TRAVERSAL_ROWS)))
            x = test_images(info, [args.from_test], data_dir=args.data_dir)[0] if args.from_test is not None else None
            grid = traverse_latents(model, x=x, label=args.label, dims=dims, steps=args.steps, usage=usage)
            order = "as in --dims" if args.dims else ("by KL, highest first" if usage is not None and usage.kl_nats is not None
                                                      else "by code variance" if usage is not None else "")
            title += (": each row sweeps one latent dim" + (f" ({order})" if order else "")
                      + (f", others at test image {args.from_test}'s code" if x is not None else ", others at the latent mean"))
    except ValueError as error:
        raise ConfigError(str(error).splitlines()[0]) from None
    path = _write_labelled(grid.images, args, info, "traversal.png", grid.nrow, title=title, **grid.labels())
    if usage is not None:
        shown = ", ".join(label.replace("  ", " ") for label in grid.row_labels)
        if usage.active is not None:
            active = [d for d in usage.order() if bool(usage.active[d])]
            print(f"{len(active)} of {len(usage.activity)} latent dims active (Cov_x E_q[z_u] > {usage.threshold:g}, {usage.num_images} test images): "
                  + (", ".join(f"z{d}" for d in active) or "none"))
        print(f"rows shown ({'--dims' if args.dims else 'most used first'}): {shown}")
    elif not args.manifold:
        print(f"rows shown (no encoder to measure latent usage with): {', '.join(grid.row_labels)}")
    print(f"wrote a {'manifold' if args.manifold else 'latent traversal'} grid ({len(grid.images)} images) to {path}")
    return 0


def _usage_images(info, args: argparse.Namespace):
    """The first --usage-images test images (at most the split), preprocessed, with labels."""
    from genzoo.data import load_dataset
    from genzoo.errors import ConfigError
    from genzoo.explore.inputs import test_images

    if args.usage_images < 2:
        raise ConfigError(f"--usage-images must be >= 2, got {args.usage_images}")
    data = info.run_config.data
    available = len(load_dataset(data.name, "test", data_dir=args.data_dir or data.data_dir, download=False, progress=False, **data.options))
    return test_images(info, range(min(args.usage_images, available)), data_dir=args.data_dir, seed=args.seed)


def command_interpolate(args: argparse.Namespace) -> int:
    import torch

    from genzoo.errors import ConfigError
    from genzoo.explore.inputs import image_files, test_images
    from genzoo.explore.interpolation import decode_path, interpolate_images, interpolation_column_labels
    from genzoo.explore.sampling import to_display

    model, info = _load_for_exploring(args, "latent_decoder")
    if args.steps < 2:
        raise ConfigError(f"--steps must be >= 2 (the two ends), got {args.steps}")
    if (args.a is None) != (args.b is None):
        raise ConfigError("give both --a and --b image files (or --from-test A B)")
    if args.a or args.from_test:
        if not model.capabilities.encoder:
            raise ConfigError(f"model {model.name!r} has no encoder to place images in latent space: drop --a/--b/--from-test")
        if args.a:
            x_a, x_b = image_files(info, [args.a]), image_files(info, [args.b])
            labels = None
            ends = (f"A = {Path(args.a).name}", f"B = {Path(args.b).name}")
        else:
            x, labels = test_images(info, args.from_test, data_dir=args.data_dir)
            x_a, x_b = x[:1], x[1:]
            labels = labels[:1] if labels is not None and model.capabilities.label_conditional else None
            ends = (f"A = test {args.from_test[0]}", f"B = test {args.from_test[1]}")
        images = interpolate_images(model, x_a, x_b, args.steps, args.kind, labels)
        title = f"{model.name} (step {info.step}): {args.kind} path between the codes of {ends[0]} and {ends[1]}"
        row_labels: tuple[str, ...] = ()
    else:
        generator = torch.Generator(device=model.device).manual_seed(args.seed)
        z = model.sample_latent(2 * args.pairs, generator=generator)  # (2P, D)
        images = decode_path(model, z[: args.pairs], z[args.pairs :], args.steps, args.kind)
        title = f"{model.name} (step {info.step}): {args.kind} paths between random latent pairs A, B (seed {args.seed})"
        row_labels = tuple(f"pair {i + 1}" for i in range(args.pairs))
    path = _write_labelled(to_display(images, model.data_format), args, info, "interpolation.png", args.steps, title=title,
                           row_labels=row_labels, column_labels=interpolation_column_labels(args.steps))
    print(f"wrote a {args.kind} interpolation ({len(images) // args.steps} rows of {args.steps}) to {path}")
    return 0


def command_finetune(args: argparse.Namespace) -> int:
    import torch

    from genzoo.data import load_dataset
    from genzoo.errors import ConfigError
    from genzoo.metrics.transfer import TransferSettings, transfer_table

    model, info = _load_for_exploring(args, "encoder")
    data = info.run_config.data
    load = lambda split: load_dataset(data.name, split, data_dir=args.data_dir or data.data_dir, download=False, progress=False, **data.options)  # noqa: E731
    train_set, test_set = load("train"), load("test")
    if train_set.labels is None:
        raise ConfigError(f"dataset {data.name!r} has no labels to fine-tune a classifier on")
    preprocessor = info.make_preprocessor()
    generator = torch.Generator().manual_seed(args.seed)
    train_x, test_x = preprocessor(train_set.images, generator=generator), preprocessor(test_set.images, generator=generator)
    settings = TransferSettings(head=args.head, finetune=args.finetune_encoder, steps=args.steps, seed=args.seed)
    rows = transfer_table(model, train_x, train_set.labels, test_x, test_set.labels, shots=tuple(args.labels_per_class), settings=settings, progress=True)
    print(f"{'K/class':>8} {'train':>7} {'pretrained':>11} {'random init':>12} {'chance':>7}")
    for row in rows:
        print(f"{row['per_class']:>8} {row['train_images']:>7} {row['pretrained_accuracy']:>11.4f} {row['random_init_accuracy']:>12.4f} {row['chance']:>7.3f}")
    out = Path(args.out) if args.out else _run_dir_of(info.path) / "finetune.json"
    out.write_text(json.dumps({"model": model.name, "step": info.step, "settings": vars(settings) if hasattr(settings, "__dict__") else str(settings), "rows": rows}, indent=2, default=str))
    print(f"table written to {out}")
    return 0


def command_complete(args: argparse.Namespace) -> int:
    import torch

    from genzoo.errors import ConfigError
    from genzoo.explore.completion import completion_figure
    from genzoo.explore.inputs import image_files, test_images

    model, info = _load_for_exploring(args, "exact_likelihood")
    if args.n < 1:
        raise ConfigError(f"-n must be >= 1, got {args.n}")
    labels = None
    if args.image:
        x = image_files(info, args.image, seed=args.seed)
    else:
        x, labels = test_images(info, args.from_test or list(range(8)), data_dir=args.data_dir, seed=args.seed)
    if not model.capabilities.label_conditional:
        labels = None
    if args.image:
        row_labels = tuple(Path(name).name for name in args.image)
    else:
        row_labels = tuple(f"test {i}" for i in (args.from_test or range(8)))
    path = completion_figure(
        model, x, args.keep, Path(args.out) if args.out else _run_dir_of(info.path) / "completions.png", n=args.n,
        row_labels=row_labels, labels=labels, temperature=args.temperature, generator=torch.Generator(device=model.device).manual_seed(args.seed),
        method=args.sampler, scale=_checked_scale(args.scale),
        title=f"{model.name} (step {info.step}): {args.keep} kept, the rest sampled (temperature {args.temperature:g})")
    print(f"wrote {len(x)} rows (original, masked input, {args.n} completions) to {path}")
    return 0


def command_translate(args: argparse.Namespace) -> int:
    import torch

    from genzoo.errors import ConfigError
    from genzoo.explore.translation import condition_files, pairs_of_test_images, translation_figure, translation_title

    model, info = _load_for_exploring(args, "image_to_image")
    if args.n is not None and args.n < 1:
        raise ConfigError(f"-n must be >= 1, got {args.n}")
    target = None
    if args.input:
        condition, notes = condition_files(args.input, model.task, model.condition_shape)
        for note in notes:
            print(f"note: {note}")
        row_labels = tuple(Path(name).name for name in args.input)
    else:
        indices = args.from_test or list(range(4))
        condition, target = pairs_of_test_images(info, model.task, indices, data_dir=args.data_dir, seed=args.seed)
        row_labels = tuple(f"test {i}" for i in indices)
    generator = torch.Generator(device=model.device).manual_seed(args.seed)
    figure = translation_figure(model, condition.to(model.device), target, n=args.n or 4, temperature=args.temperature, generator=generator)
    if args.n is not None and figure.samples_per_input < args.n:
        print(f"note: {model.name} is deterministic: one output per input (-n {args.n} ignored)")
    path = _write_labelled(figure.images, args, info, "translation.png", len(figure.column_labels), row_labels=row_labels,
                           column_labels=figure.column_labels,
                           title=translation_title(model, info.step, args.temperature))
    print(f"wrote {len(condition)} row{'s' if len(condition) != 1 else ''} ({', '.join(figure.column_labels)}) to {path}")
    return 0


def command_arithmetic(args: argparse.Namespace) -> int:
    import time

    from genzoo.errors import ConfigError
    from genzoo.explore import arithmetic as arith
    from genzoo.train import build_run

    model, info = _load_for_exploring(args, "latent_decoder")
    config = info.run_config
    if args.data_dir:
        from dataclasses import replace

        config = replace(config, data=replace(config.data, data_dir=args.data_dir))
    run = build_run(config, progress=False)
    expression = args.expr or arith.DEFAULT_EXPRESSIONS.get(config.data.name)
    if not expression:
        raise ConfigError(f"no --expr given and no default expression for dataset {config.data.name!r}: e.g. --expr \"'ankle boot' - sneaker + sandal\"")
    if args.trials < 1 or args.candidates < 1 or args.classifier_steps < 1:
        raise ConfigError("--trials, --candidates and --classifier-steps must be >= 1")
    classifier = _attribute_classifier(run, config, args.classifier_steps) if getattr(run.train_set, "attribute_values", None) else None
    if args.score and classifier is None:
        raise ConfigError(f"--score needs a dataset with attributes (shapes); {config.data.name} has none")
    try:
        source = arith.resolve_source(args.source, model, classifier is not None)
        matched = arith.resolve_matched(False if args.no_match else None, source, run.train_set)
        terms = arith.parse_expression(expression)
        for term in terms:
            arith.resolve_concept(term.concept, run.train_set)  # unknown values fail here, in one line
        expected = _expected_mix(arith, terms, classifier, required=args.score)
    except ValueError as error:
        raise ConfigError(str(error).splitlines()[0]) from None
    how = "the default for this model" if args.source == "auto" else "--source"
    if matched:
        print(f"method: {source} ({how}), matched: {args.exemplars} analogies, each from {arith.SOURCE_DESCRIPTIONS[source]}, "
              "sharing the attributes their concept leaves free (size, place, ...)")
    else:
        print(f"method: {source} ({how}): the mean code of {args.exemplars} {arith.SOURCE_DESCRIPTIONS[source]}")
    print(f"expression: {arith.expression_name(terms)}" + (f"  (expected: {', '.join(f'{k}={v}' for k, v in expected.items())})" if expected else ""))
    options = dict(dataset=run.train_set, preprocessor=run.preprocessor, source=source, matched=matched,
                   exemplars=args.exemplars, results=args.results, noise=args.noise, candidates=args.candidates)
    score = None
    progress = _ScoreProgress()
    try:
        if args.score:
            started = time.perf_counter()
            score = arith.arithmetic_success_rate(model, classifier, terms, expected=expected, trials=args.trials, seed=args.seed,
                                                  progress=progress, **options)
            seconds = time.perf_counter() - started
            result = score.example
        else:
            result = arith.latent_arithmetic(model, terms, classifier=classifier, seed=args.seed, **options)
    except ValueError as error:
        raise ConfigError(str(error).splitlines()[0]) from None
    finally:
        progress.close()  # erase the bar, so an error or Ctrl-C message starts its own line
    verdicts = arith.result_verdicts(classifier, result.results, expected) if expected else None
    figure = arith.arithmetic_figure(result, verdicts=verdicts, expected=expected, heading=f"{model.name} step {info.step}: ")
    path = _write_labelled(figure.images, args, info, "arithmetic.png", figure.nrow, **figure.labels())
    print(f"wrote {len(terms)} concept rows ({args.exemplars} exemplars{'' if matched else ', decoded mean'}) and {args.results} results to {path}")
    if score is not None:
        per = ", ".join(f"{k} {v:.2f}" for k, v in score.attribute_rates.items())
        chance_per = ", ".join(f"{k} {v:.2f}" for k, v in score.chance_attribute_rates.items())
        print(f"success rate {score.success_rate:.3f} ({per}) over {score.images} result images ({score.trials} trials x {args.results})")
        print(f"chance rate  {score.chance_rate:.3f} ({chance_per}) over {score.chance_samples} plain prior samples; "
              f"uniform guess {score.uniform_chance:.3f}; scored in {seconds:.1f} s")
    return 0


def _expected_mix(arith: Any, terms: Any, classifier: Any, *, required: bool) -> dict[str, str] | None:
    """The attribute mix the expression implies (for --score and the figure's verdicts); None if it implies none."""
    if classifier is None:
        return None
    try:
        return arith.expected_attributes(terms, classifier.attribute_values)
    except ValueError as error:
        if required:
            raise
        print(f"no verdicts in the figure: {str(error).splitlines()[0]}")
        return None


def _attribute_classifier(run: Any, config: Any, steps: int):
    """The cached attribute classifier of the run's dataset, fitted (with a progress bar) when missing."""
    from genzoo.metrics.attributes import AttributeTraining, classifier_path, classifier_recipe, load_attribute_classifier

    training = AttributeTraining(steps=steps)
    options = dict(config.data.options)
    recipe = classifier_recipe(run.train_set.info.name, options, tuple(run.train_set.info.image_shape), run.train_set.attribute_values, training)
    path = classifier_path(recipe)
    if not path.is_file():
        print(f"fitting the attribute classifier ({steps} steps; once per dataset, cached at {path}) ...", flush=True)
    loaded = load_attribute_classifier(run.train_set, options, test_set=run.test_set, training=training, progress=True)
    accuracy = ", ".join(f"{k} {v:.3f}" for k, v in (loaded.test_accuracy or {}).items()) or "not measured"
    when = f"fitted in {loaded.train_seconds:.0f} s" if loaded.fitted_now else f"cached, {loaded.path}"
    print(f"attribute classifier ({when}): test accuracy {accuracy}", flush=True)
    return loaded.classifier


class _ScoreProgress:
    """A bar on stderr over the scoring work: decoding the prior samples (chance rate), then the trials."""

    def __init__(self) -> None:
        self.bar = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="scoring (prior samples, then trials)", unit="step", file=sys.stderr, leave=False)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def command_explore(args: argparse.Namespace) -> int:
    from genzoo.explore.server.command import run_explore

    return run_explore(args)


def command_eval(args: argparse.Namespace) -> int:
    from genzoo.metrics.evaluate import EvaluationSettings, evaluate_run, summary_lines, write_metrics_json
    from genzoo.train import find_checkpoint

    metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
    extractor = None
    if args.features:
        from genzoo.metrics.features import FeatureExtractor

        extractor = FeatureExtractor.load(args.features)
        print(f"genzoo: feature classifier: {extractor.identifier} from {args.features}", file=sys.stderr)
    settings = EvaluationSettings(
        metrics=metrics, num_samples=args.num_samples, iwae_k=args.iwae_k, test_images=args.test_images, batch_size=args.batch_size,
        device=args.device, seed=args.seed, which=args.which, inception_weights=args.inception_weights, cache=not args.no_cache,
        progress=not args.no_progress, samples_per_input=args.samples_per_input,
    )
    result = evaluate_run(args.path, settings, feature_extractor=extractor)
    for line in result.get("summary") or summary_lines(result):
        print(line)
    out = Path(args.out) if args.out else _run_dir_of(find_checkpoint(args.path, args.which)).evaluation
    print(f"metrics written to {write_metrics_json(result, out)}")
    return 0


def command_features(args: argparse.Namespace) -> int:
    import torch

    from genzoo.config import parse_overrides
    from genzoo.metrics.features import FeatureTraining, train_feature_classifier

    if args.threads:
        torch.set_num_threads(args.threads)
    training = FeatureTraining(epochs=FeatureTraining.epochs if args.epochs is None else args.epochs, seed=args.seed)
    extractor = train_feature_classifier(args.data, data_dir=args.data_dir, dataset_options=parse_overrides(args.overrides),
                                         training=training, device=args.device)
    print(extractor.training_summary())
    print("`genzoo eval` and `genzoo demo` use the default-recipe classifier of a dataset when it is cached, else the most "
          "accurate one cached; `genzoo eval --features FILE` picks one")
    return 0


def command_report(args: argparse.Namespace) -> int:
    from genzoo.errors import ConfigError
    from genzoo.report.runs import report_runs

    for run in args.runs:
        if not Path(run).is_dir():
            raise ConfigError(f"run directory {run!r} not found: pass directories written by `genzoo train`")
    intro = "Metrics from each run's evaluation.json (`genzoo eval`); figures drawn from its checkpoint."
    page = report_runs([Path(run) for run in args.runs], Path(args.out), title=args.title, intro=intro, which=args.which, data_dir=args.data_dir)
    print(f"report: {page}")
    return 0


COMMANDS = {
    "explore": command_explore,
    "report": command_report,
    "eval": command_eval,
    "features": command_features,
    "arithmetic": command_arithmetic,
    "complete": command_complete,
    "translate": command_translate,
    "reconstruct": command_reconstruct,
    "traverse": command_traverse,
    "interpolate": command_interpolate,
    "finetune": command_finetune,
    "train": command_train,
    "sample": command_sample,
    "info": command_info,
    "datasets": command_datasets,
    "models": command_models,
    "demo": command_demo,
}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except GenzooError as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"genzoo: error: {message}", file=sys.stderr)
        return 3 if type(error).__name__ == "TrainingDiverged" else 2
    except KeyboardInterrupt:
        print("genzoo: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
