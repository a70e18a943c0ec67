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
    genzoo arithmetic RUN_DIR --expr E   latent vector arithmetic (DCGAN paper), e.g. "red circle - red square + blue square"
    genzoo eval RUN_DIR                  likelihood (nats, bits/dim), FID/KID/precision-recall, speed, sharpness
    genzoo features train --data NAME    train and cache the feature classifier behind FID/KID/P&R
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

PRESET_DIR = Path(__file__).resolve().parents[2] / "configs"


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
    train.add_argument("--out", help="run directory (default: runs/MODEL-DATASET)")
    train.add_argument("--config", help="YAML file or preset name from configs/ (default: configs/MODEL-DATASET.yaml if present)")
    train.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override, e.g. train.lr=3e-4 model.latent_dim=16 (repeatable)")
    train.add_argument("--device", help="auto (cuda > mps > cpu), cpu, cuda, cuda:1, mps")
    train.add_argument("--seed", type=int, help="random seed")
    train.add_argument("--batch-size", type=int, help="global batch size")
    train.add_argument("--lr", type=float, help="learning rate")
    train.add_argument("--data-dir", help="directory holding the dataset files")
    train.add_argument("--resume", action="store_true", help="continue the run in --out (or RUN_DIR given as MODEL) from its last checkpoint")
    train.add_argument("--no-progress", action="store_true", help="no progress bar (logs still go to metrics.jsonl)")

    sample = commands.add_parser("sample", help="draw samples from a trained model into a PNG grid")
    sample.add_argument("path", metavar="RUN_DIR|CKPT")
    sample.add_argument("-n", type=int, default=64, help="number of samples (default 64)")
    sample.add_argument("--out", help="PNG file (default: RUN_DIR/samples/sample.png)")
    sample.add_argument("--temperature", type=float, default=1.0)
    sample.add_argument("--label", type=int, help="class label for class-conditional models")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--nrow", type=int, help="images per row")
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

    traverse = explorer("traverse", "sweep each latent dimension over the prior's quantiles", "traversal.png")
    traverse.add_argument("--dims", help="comma-separated latent dimensions (default: all, at most 16)")
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

    arithmetic = explorer("arithmetic", "latent vector arithmetic on a generator: A - B + C", "arithmetic.png")
    arithmetic.set_defaults(which="last")
    arithmetic.add_argument("--expr", required=True, help='e.g. "colour=red,shape=circle - colour=red,shape=square + colour=blue,shape=square"')
    arithmetic.add_argument("--source", choices=("invert", "classify"), default="invert",
                            help="exemplars' z: invert the generator on dataset images, or classify prior samples")
    arithmetic.add_argument("--exemplars", type=int, default=3, help="images averaged per concept (the paper uses 3)")
    arithmetic.add_argument("--results", type=int, default=9)
    arithmetic.add_argument("--noise", type=float, default=0.25, help="half-width of the uniform noise around the result")
    arithmetic.add_argument("--score", action="store_true", help="also measure how often the result shows the expected attributes")
    arithmetic.add_argument("--trials", type=int, default=10, help="with --score: repetitions with fresh exemplars")

    evaluate = commands.add_parser("eval", help="likelihood, FID/KID/precision-recall, speed and sharpness of a trained run")
    evaluate.add_argument("path", metavar="RUN_DIR|CKPT")
    evaluate.add_argument("--metrics", default="likelihood,fid,kid,pr,classifier_score,speed,sharpness",
                          help="comma-separated subset of likelihood, fid, kid, pr, classifier_score, speed, sharpness")
    evaluate.add_argument("--num-samples", type=int, default=10_000, help="generated images for FID/KID/P&R (default 10k, Lucic et al. 2018)")
    evaluate.add_argument("--iwae-k", type=int, default=5000, help="importance samples for the VAE's IWAE bound")
    evaluate.add_argument("--test-images", type=int, help="test images for the likelihood (default: the whole split)")
    evaluate.add_argument("--batch-size", type=int, default=256)
    evaluate.add_argument("--device", default="auto")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--which", choices=("best", "last"), default="best")
    evaluate.add_argument("--inception-weights", help="pytorch-fid Inception-v3 weights file: use it instead of genzoo's classifier")
    evaluate.add_argument("--no-cache", action="store_true", help="recompute reference statistics and features")
    evaluate.add_argument("--no-progress", action="store_true")
    evaluate.add_argument("--out", help="JSON file (default: RUN_DIR/evaluation.json)")

    features = commands.add_parser("features", help="the per-dataset feature classifier used by FID/KID/P&R")
    features.add_argument("action", choices=("train",))
    features.add_argument("--data", required=True, help="dataset name")
    features.add_argument("--data-dir")
    features.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="dataset option, e.g. size=32")
    features.add_argument("--epochs", type=float, default=6)
    features.add_argument("--seed", type=int, default=0)
    features.add_argument("--device", default="cpu")
    features.add_argument("--threads", type=int, help="CPU threads (1 is often fastest on a shared 2-core machine)")

    report = commands.add_parser("report", help="compare runs side by side in one HTML/Markdown report")
    report.add_argument("runs", nargs="+", metavar="RUN_DIR")
    report.add_argument("--out", default="report", help="output folder (index.html, report.md, assets/)")
    report.add_argument("--title", default="genzoo report")
    report.add_argument("--which", choices=("best", "last"), default="last")
    report.add_argument("--data-dir")

    demo = commands.add_parser("demo", help="one small model per family on real data, evaluated and compared in a report")
    demo.add_argument("--out", default="runs/demo")
    demo.add_argument("--steps-scale", type=float, default=1.0, help="multiply every model's training budget (default 1)")
    demo.add_argument("--models", nargs="+", help="subset of the demo's models (pixelcnn vae ae dcgan)")
    demo.add_argument("--with-sample-quality", action="store_true", help="train the feature classifier for FID/KID/P&R if not cached")
    demo.add_argument("--num-samples", type=int, default=500, help="generated images for FID/KID/P&R")
    demo.add_argument("--data-dir")
    demo.add_argument("--device")
    return parser


# ---- commands ---------------------------------------------------------------------------
def resolve_preset(name: str | None, model: str | None, dataset: str | None) -> tuple[dict[str, Any], Path | None]:
    """The YAML preset to start from: an explicit file or name, else configs/MODEL-DATASET.yaml if it exists."""
    from genzoo.config import load_yaml
    from genzoo.errors import ConfigError

    if name:
        path = Path(name)
        if not path.exists():
            candidate = PRESET_DIR / (name if name.endswith((".yaml", ".yml")) else f"{name}.yaml")
            if not candidate.exists():
                available = ", ".join(sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))) or "none"
                raise ConfigError(f"config {name!r} is neither a file nor a preset: give a YAML path or one of {available}")
            path = candidate
        return load_yaml(str(path)), path
    if model and dataset:
        candidate = PRESET_DIR / f"{model}-{dataset}.yaml"
        if candidate.exists():
            return load_yaml(str(candidate)), candidate
    return {}, None


def command_train(args: argparse.Namespace) -> int:
    from genzoo.config import parse_overrides
    from genzoo.errors import ConfigError
    from genzoo.train import train
    from genzoo.train.config import resolve_run_config, run_config_from_dict
    from genzoo.config import load_yaml

    if args.resume and args.model and not args.out and Path(args.model).is_dir():
        args.out, args.model = args.model, None
    if args.resume:
        if not args.out:
            raise ConfigError("--resume needs the run directory: genzoo train --resume --out RUN_DIR")
        config_path = Path(args.out) / "config.yaml"
        if not config_path.exists():
            raise ConfigError(f"cannot resume: {config_path} not found; start a new run without --resume")
        saved = run_config_from_dict(load_yaml(str(config_path))).to_dict()
        overrides = parse_overrides(args.overrides)
        flags = _train_flags(args)
        config = resolve_run_config(base=saved, overrides=overrides, flags=flags)
        if args.model and args.model != config.model:
            raise ConfigError(f"--resume: run {args.out} trains {config.model!r}, not {args.model!r}")
        run_dir = Path(args.out)
    else:
        if not args.model:
            raise ConfigError("no model given: e.g. `genzoo train ae --data fashion-mnist` (see `genzoo models`)")
        preset, preset_path = resolve_preset(args.config, args.model, args.data)
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
    from genzoo.errors import ConfigError
    from genzoo.explore.sampling import sample_images
    from genzoo.train import load_model

    if args.n < 1:
        raise ConfigError(f"-n must be >= 1, got {args.n}")
    model, info = load_model(args.path, which=args.which, device=args.device)
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
    images = sample_images(model, args.n, labels=labels, temperature=args.temperature, seed=args.seed, **options)
    out = Path(args.out) if args.out else _run_dir_of(info.path) / "samples" / "sample.png"
    save_image_grid(images, out, nrow=args.nrow)
    print(f"wrote {args.n} samples of {model.name} (step {info.step}) to {out}")
    return 0


def _run_dir_of(checkpoint: Path) -> Path:
    from genzoo.train import run_dir_of

    return run_dir_of(checkpoint)


def command_info(args: argparse.Namespace) -> int:
    from genzoo.train import load_model

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
                      models=tuple(args.models) if args.models else None, with_sample_quality=args.with_sample_quality,
                      num_samples=args.num_samples)
    print(f"report: {report}")
    return 0


def _load_for_exploring(args: argparse.Namespace, need: str):
    from genzoo.errors import ConfigError
    from genzoo.train import load_model

    model, info = load_model(args.path, which=args.which, device=args.device)
    if need and not getattr(model.capabilities, need):
        raise ConfigError(f"model {model.name!r} has no {need.replace('_', ' ')}: `genzoo {args.command}` needs one (see `genzoo models`)")
    return model, info


def _write_grid(images, out: str | None, info, default_name: str, nrow: int | None) -> Path:
    from genzoo.data.grid import save_image_grid

    path = Path(out) if out else _run_dir_of(info.path) / default_name
    return save_image_grid(images, path, nrow=nrow)


def command_reconstruct(args: argparse.Namespace) -> int:
    from genzoo.explore.inputs import test_images
    from genzoo.explore.reconstruction import reconstruction_rows

    model, info = _load_for_exploring(args, "encoder")
    x, y = test_images(info, range(args.n), data_dir=args.data_dir, seed=args.seed)
    images, per_row = reconstruction_rows(model, x, y, per_row=args.per_row)
    path = _write_grid(images, args.out, info, "reconstructions.png", per_row)
    print(f"wrote {args.n} test images (odd rows) and their reconstructions (even rows) to {path}")
    return 0


def command_traverse(args: argparse.Namespace) -> int:
    from genzoo.errors import ConfigError
    from genzoo.explore.inputs import test_images
    from genzoo.explore.traversal import latent_manifold, traverse_latents

    model, info = _load_for_exploring(args, "latent_decoder")
    try:
        if args.manifold:
            grid = latent_manifold(model, steps=args.steps, label=args.label)
        else:
            dims = [int(d) for d in args.dims.split(",")] if args.dims else None
            x = test_images(info, [args.from_test], data_dir=args.data_dir)[0] if args.from_test is not None else None
            grid = traverse_latents(model, x=x, label=args.label, dims=dims, steps=args.steps)
    except ValueError as error:
        raise ConfigError(str(error).splitlines()[0]) from None
    path = _write_grid(grid.images, args.out, info, "traversal.png", grid.nrow)
    print(f"wrote a {'manifold' if args.manifold else 'latent traversal'} grid ({len(grid.images)} images) to {path}")
    return 0


def command_interpolate(args: argparse.Namespace) -> int:
    import torch

    from genzoo.errors import ConfigError
    from genzoo.explore.inputs import image_files, test_images
    from genzoo.explore.interpolation import decode_path, interpolate_images
    from genzoo.explore.sampling import to_display

    model, info = _load_for_exploring(args, "latent_decoder")
    if (args.a is None) != (args.b is None):
        raise ConfigError("give both --a and --b image files (or --from-test A B)")
    if args.a or args.from_test:
        if not model.capabilities.encoder:
            raise ConfigError(f"model {model.name!r} has no encoder to place images in latent space: drop --a/--b/--from-test")
        if args.a:
            x_a, x_b = image_files(info, [args.a]), image_files(info, [args.b])
            labels = None
        else:
            x, labels = test_images(info, args.from_test, data_dir=args.data_dir)
            x_a, x_b = x[:1], x[1:]
            labels = labels[:1] if labels is not None and model.capabilities.label_conditional else None
        images = interpolate_images(model, x_a, x_b, args.steps, args.kind, labels)
    else:
        generator = torch.Generator(device=model.device).manual_seed(args.seed)
        z = model.sample_latent(2 * args.pairs, generator=generator)  # (2P, D)
        images = decode_path(model, z[: args.pairs], z[args.pairs :], args.steps, args.kind)
    path = _write_grid(to_display(images, model.data_format), args.out, info, "interpolation.png", args.steps)
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
    rows = transfer_table(model, train_x, train_set.labels, test_x, test_set.labels, shots=tuple(args.labels_per_class), settings=settings)
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
    from genzoo.explore.completion import complete, keep_mask
    from genzoo.explore.inputs import image_files, test_images
    from genzoo.explore.sampling import to_display

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
    keep = keep_mask(args.keep, model.data_format.image_shape)  # (C, H, W) bool
    generator = torch.Generator(device=model.device).manual_seed(args.seed)
    completions = complete(model, x, keep, n=args.n, labels=labels, temperature=args.temperature, generator=generator, method=args.sampler)
    low, high = model.data_format.value_range
    masked = torch.where(keep.to(x.device), x, torch.full_like(x, (low + high) / 2))  # hidden part shown mid-gray
    rows = torch.cat([x[:, None], masked[:, None], completions.to(x.device)], dim=1)  # (B, 2 + n, C, H, W)
    images = to_display(rows.flatten(0, 1), model.data_format)
    path = _write_grid(images, args.out, info, "completions.png", 2 + args.n)
    print(f"wrote {len(x)} rows (original, masked input, {args.n} completions) to {path}")
    return 0


def command_arithmetic(args: argparse.Namespace) -> int:
    from genzoo.errors import ConfigError
    from genzoo.explore.arithmetic import arithmetic_success_rate, latent_arithmetic
    from genzoo.metrics.attributes import attribute_accuracy, fit_attribute_classifier
    from genzoo.train import build_run

    model, info = _load_for_exploring(args, "latent_decoder")
    config = info.run_config
    if args.data_dir:
        from dataclasses import replace

        config = replace(config, data=replace(config.data, data_dir=args.data_dir))
    run = build_run(config)
    classifier = None
    if args.source == "classify" or args.score:
        print("fitting the attribute classifier on the training split ...")
        classifier = fit_attribute_classifier(run.train_set)
        if run.test_set is not None:
            accuracy = attribute_accuracy(classifier, run.test_set)
            print("attribute classifier test accuracy: " + ", ".join(f"{k}={v:.3f}" for k, v in accuracy.items()))
    options = dict(dataset=run.train_set, preprocessor=run.preprocessor, classifier=classifier, source=args.source,
                   exemplars=args.exemplars, results=args.results, noise=args.noise)
    try:
        result = latent_arithmetic(model, args.expr, seed=args.seed, **options)
        score = arithmetic_success_rate(model, classifier, args.expr, trials=args.trials, seed=args.seed, **options) if args.score else None
    except ValueError as error:
        raise ConfigError(str(error).splitlines()[0]) from None
    path = _write_grid(result.grid, args.out, info, "arithmetic.png", result.nrow)
    print(f"wrote exemplars (one row per concept, its mean last) and {args.results} results to {path}")
    if score is not None:
        expected = ", ".join(f"{k}={v}" for k, v in score.expected.items())
        print(f"success rate {score.success_rate:.3f} over {score.images} result images ({score.trials} trials); expected {expected}")
    return 0


def command_eval(args: argparse.Namespace) -> int:
    from genzoo.metrics.evaluate import evaluate_run, summary_lines, write_metrics_json
    from genzoo.train import find_checkpoint

    metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
    result = evaluate_run(
        args.path, metrics=metrics, num_samples=args.num_samples, iwae_k=args.iwae_k, test_images=args.test_images,
        batch_size=args.batch_size, device=args.device, seed=args.seed, which=args.which,
        inception_weights=args.inception_weights, cache=not args.no_cache, progress=not args.no_progress,
    )
    for line in result.get("summary") or summary_lines(result):
        print(line)
    out = Path(args.out) if args.out else _run_dir_of(find_checkpoint(args.path, args.which)) / "evaluation.json"
    print(f"metrics written to {write_metrics_json(result, out)}")
    return 0


def command_features(args: argparse.Namespace) -> int:
    import torch

    from genzoo.config import parse_overrides
    from genzoo.metrics.features import train_feature_classifier

    if args.threads:
        torch.set_num_threads(args.threads)
    extractor = train_feature_classifier(args.data, data_dir=args.data_dir, dataset_options=parse_overrides(args.overrides),
                                         epochs=args.epochs, seed=args.seed, device=args.device)
    print(extractor.training_summary())
    return 0


def command_report(args: argparse.Namespace) -> int:
    from genzoo.errors import ConfigError
    from genzoo.report.runs import run_summary
    from genzoo.report.summary import write_report

    summaries, rows, properties = [], [], []
    for run in args.runs:
        run_dir = Path(run)
        if not run_dir.is_dir():
            raise ConfigError(f"run directory {run!r} not found: pass directories written by `genzoo train`")
        evaluation = run_dir / "evaluation.json"
        result = json.loads(evaluation.read_text()) if evaluation.is_file() else None
        summary, row, properties_row = run_summary(run_dir, result, which=args.which, data_dir=args.data_dir)
        summaries.append(summary)
        rows.append(row)
        properties.append(properties_row)
    intro = "Metrics from each run's evaluation.json (`genzoo eval`); figures drawn from its checkpoint."
    page = write_report(summaries, Path(args.out), title=args.title, intro=intro, comparison=rows, properties=properties)
    print(f"report: {page}")
    return 0


COMMANDS = {
    "report": command_report,
    "eval": command_eval,
    "features": command_features,
    "arithmetic": command_arithmetic,
    "complete": command_complete,
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
