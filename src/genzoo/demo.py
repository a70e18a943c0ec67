"""`genzoo demo`: one small model of each family on real data, measured and compared in a report.

The lecture's three families side by side (CS231n lecture 13, summary slide): an explicit
tractable density (PixelCNN, exact NLL), an approximate density with a latent variable (VAE,
ELBO and IWAE bound; and the plain autoencoder it grows from) and an implicit density
(DCGAN, samples only). Each trains for a short budget on Fashion-MNIST (the Debian package, a
--data-dir, the cache, or a download), falling back with a clear message to the procedural
`shapes` dataset when Fashion-MNIST cannot be had. Then every run is evaluated with the same
yardsticks and one HTML/Markdown report is written. Budget: about 5 minutes on 2 CPU cores.

FID/KID/precision-recall and the recognised share need genzoo's feature classifier for the
dataset: the demo uses the one cached (default recipe first, else the most accurate), else
trains the default one (about a minute on Fashion-MNIST) and says so in one line first
(`choose_feature_extractor`). `with_sample_quality` no longer changes anything: sample quality
is always measured.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genzoo.errors import DataError, GenzooError

COMMON_TRAIN = {"batch_size": 64, "eval_every": 0, "eval_batches": 20, "sample_every": 0, "sample_count": 64,
                "checkpoint_every": 1000, "log_every": 25}


@dataclass(frozen=True)
class DemoRun:
    """One model of the demo: model options, preprocessing and budget."""

    model: str
    options: dict[str, Any]
    preprocess: tuple[str, ...] | None
    steps: int
    train: dict[str, Any] = field(default_factory=dict)


DEMO_RUNS = (
    DemoRun("pixelcnn",
            {"hidden": 32, "residual_blocks": 4, "output_hidden": 32}, ("binarize-dynamic",), 400, {"lr": 2e-3, "grad_clip": 1.0}),
    DemoRun("vae",
            {"latent_dim": 16, "channels": 32, "iwae_samples": 0}, ("binarize-dynamic",), 600, {"lr": 2e-3}),
    DemoRun("ae", {"latent_dim": 16, "channels": 32}, None, 600, {"lr": 2e-3}),
    DemoRun("dcgan",
            {"latent_dim": 32, "generator_channels": 32, "discriminator_channels": 32}, None, 400, {}),
)


def pick_dataset(data_dir: str | None) -> tuple[str, dict, str]:
    """('fashion-mnist', {}, note) when it loads, else ('shapes', {...}, why)."""
    from genzoo.data import load_dataset

    try:
        load_dataset("fashion-mnist", "test", data_dir=data_dir, download=True, progress=True)
        return "fashion-mnist", {}, "Data: Fashion-MNIST (70k real images, 28x28 gray)."
    except DataError as error:
        reason = str(error).splitlines()[0]
        print(f"demo: Fashion-MNIST is unavailable ({reason}); falling back to the procedural `shapes` dataset", file=sys.stderr)
        return "shapes", {"size": 28, "channels": 1}, f"Data: `shapes` (Fashion-MNIST was unavailable: {reason})."


def _feature_extractor(dataset: str, options: dict) -> tuple[Any | None, str]:
    """(the extractor FID/KID/P&R use, or None, and why): cached, else the default trained now (announced)."""
    from genzoo.metrics.features import choose_feature_extractor

    try:
        choice = choose_feature_extractor(dataset, dataset_options=options, say=lambda line: print(f"demo: {line}", flush=True))
    except GenzooError as error:
        return None, str(error).splitlines()[0]
    return choice.extractor, choice.note


def run_demo(out_dir: Path, *, steps_scale: float = 1.0, data_dir: str | None = None, device: str | None = None,
             models: tuple[str, ...] | None = None, with_sample_quality: bool = False, num_samples: int = 500) -> Path:
    """Train, evaluate and compare one model per family; returns the path of the HTML report."""
    from genzoo.metrics.evaluate import evaluate_run
    from genzoo.metrics.features import describe_recipe
    from genzoo.report.runs import run_summary
    from genzoo.report.summary import write_report

    out_dir = Path(out_dir)
    dataset, options, data_note = pick_dataset(data_dir)
    extractor, why = _feature_extractor(dataset, options)
    quality_note = (
        f"Sample quality: N={num_samples} samples vs {num_samples} test images in the features of {extractor.identifier} "
        f"({describe_recipe(extractor.metadata)}); "
        "the test images shown through each run's preprocessing (binarized for PixelCNN and the VAE). Beside each figure, the same "
        f"figure for up to {num_samples} real training images the classifier never saw; 'recognised': the share of images the "
        "classifier names with p(y|x) >= 0.9."
        if extractor is not None
        else f"Sample quality (FID/KID/P&R) skipped: {why}."
    )
    chosen = [run for run in DEMO_RUNS if models is None or run.model in models]
    summaries, rows, properties = [], [], []
    for demo_run in chosen:
        run_dir = out_dir / f"{demo_run.model}-{dataset}"
        _train(demo_run, run_dir, dataset, options, data_dir, device, steps_scale)
        metrics = ["likelihood", "speed", "sharpness"] + (["fid", "kid", "pr", "recognised"] if extractor is not None else [])
        result = evaluate_run(run_dir, metrics=metrics, num_samples=num_samples, iwae_k=100, test_images=1000,
                              feature_extractor=extractor, progress=False, which="last")
        summary, row, properties_row = run_summary(run_dir, result, data_dir=data_dir)
        summaries.append(summary)
        rows.append(row)
        properties.append(properties_row)
        print("\n".join(result.get("summary", [])))
    intro = " ".join([data_note, quality_note, "Budgets are minutes on a CPU, far from the papers': compare the families, not the numbers with published ones."])
    return write_report(summaries, out_dir / "report", title="genzoo demo: three families of generative models", intro=intro,
                        comparison=rows, properties=properties)


def _train(demo_run: DemoRun, run_dir: Path, dataset: str, options: dict, data_dir: str | None, device: str | None, steps_scale: float) -> None:
    from genzoo.train import train
    from genzoo.train.config import resolve_run_config

    train_section = {**COMMON_TRAIN, **demo_run.train, "steps": max(1, round(demo_run.steps * steps_scale))}
    if device:
        train_section["device"] = device
    data_section: dict[str, Any] = {"name": dataset, "options": options, "data_dir": data_dir}
    if demo_run.preprocess is not None:
        data_section["preprocess"] = list(demo_run.preprocess)
    config = resolve_run_config(preset={"model": {"name": demo_run.model, **demo_run.options}, "data": data_section, "train": train_section})
    if (run_dir / "config.yaml").exists():
        shutil.rmtree(run_dir)  # the demo's own earlier output: start afresh
    print(f"demo: training {demo_run.model} for {config.train.steps} steps")
    result = train(config, run_dir)
    if result.status != "finished":
        raise SystemExit(f"demo: training {demo_run.model} {result.status}: {result.message}")
