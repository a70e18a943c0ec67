"""`genzoo demo`: the lecture's generative models trained on real data with their CPU presets, measured and compared.

The lecture's three families side by side (CS231n lecture 13, summary slide): an explicit
tractable density (the class-conditional Gated PixelCNN, exact NLL), an approximate density with a latent variable (VAE,
ELBO and IWAE bound) and an implicit density (DCGAN, samples only), each trained with its
CPU preset (`genzoo/presets/MODEL-fashion-mnist-cpu.yaml`, sized so that a person recognises
the samples) on Fashion-MNIST; and the GAN game on 2-D toy data with the minimax and the
non-saturating generator loss side by side (mode collapse); and one application, super-resolution
x4 by a regression U-Net beside the bicubic baseline (pix2pix and the conditional PixelCNN on
request: --models superres-pix2pix superres-pixelcnn). When Fashion-MNIST cannot be had
the image models fall back, with a clear message, to the procedural `shapes` dataset.

Every run is evaluated with the same yardsticks (likelihood, FID/KID/precision-recall and the
recognised share next to real images' own figures, latent usage, speed; modes covered for the
toy runs), each run's evaluation.json written, and one HTML/Markdown report drawn from them.
`steps_scale` multiplies every budget (0.25: a quick look with less recognisable samples).

The feature classifier behind the sample-quality figures: the one cached for the dataset, else
the default recipe is trained first (about a minute of CPU) and the demo says so.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genzoo.errors import ConfigError, DataError, GenzooError
from genzoo.runs import RunDir


@dataclass(frozen=True)
class DemoRun:
    """One run of the demo: a preset, what it is called, and settings over the preset."""

    name: str  # run directory (and --models name of its group)
    preset: str  # shipped preset; "{data}" becomes the demo's image dataset preset name
    overrides: dict[str, Any] = field(default_factory=dict)  # {"model": {...}, "train": {...}}
    image_data: bool = True  # trains on the demo's image dataset (fashion-mnist, or shapes as a fallback)


TOY_GAME = {"d_steps": 5, "seed": 0}  # 5 D steps a G step: where minimax collapses and non-saturating covers the ring
DEMO_GROUPS: dict[str, tuple[DemoRun, ...]] = {
    "pixelcnn": (DemoRun("pixelcnn", "pixelcnn-fashion-mnist-cpu"),),
    "vae": (DemoRun("vae", "vae-fashion-mnist-cpu"),),
    "dcgan": (DemoRun("dcgan", "dcgan-fashion-mnist-cpu"),),
    "ae": (DemoRun("ae", "ae-fashion-mnist-cpu"),),
    "gated-pixelcnn": (DemoRun("gated-pixelcnn", "gated-pixelcnn-fashion-mnist-cpu"),),
    "pixelrnn-row": (DemoRun("pixelrnn-row", "pixelrnn-row-fashion-mnist-cpu"),),
    "pixelrnn-diag": (DemoRun("pixelrnn-diag", "pixelrnn-diag-fashion-mnist-cpu"),),
    "gan": (DemoRun("gan", "gan-fashion-mnist-cpu"),),
    # The applications slide: super-resolution x4, beside the bicubic baseline that `genzoo eval` scores with it.
    "superres": (DemoRun("superres-regress", "regress-fashion-mnist-cpu"),),
    "superres-pix2pix": (DemoRun("superres-pix2pix", "pix2pix-fashion-mnist-cpu"),),
    "superres-pixelcnn": (DemoRun("superres-conditional-pixelcnn", "conditional-pixelcnn-fashion-mnist-cpu"),),
    "toy2d": tuple(
        DemoRun(f"gan-toy2d-{g_loss}", "gan-toy2d", {"model": {"g_loss": g_loss, "d_steps": TOY_GAME["d_steps"]}, "train": {"seed": TOY_GAME["seed"]}},
                image_data=False)
        for g_loss in ("minimax", "non-saturating")
    ),
}
DEFAULT_GROUPS = ("gated-pixelcnn", "vae", "dcgan", "toy2d", "superres")  # the conditional Gated PixelCNN draws recognisable garments sooner than PixelCNN
TOY_SAMPLES = 2500  # points drawn to count the toy runs' modes
IMAGE_METRICS = ("likelihood", "fid", "kid", "pr", "recognised", "latent_usage", "speed", "sharpness")


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


def chosen_runs(groups: tuple[str, ...] | None) -> list[DemoRun]:
    """The runs of the named groups (default: one model per family and the toy GAN game), in the demo's order."""
    names = groups or DEFAULT_GROUPS
    unknown = sorted(set(names) - set(DEMO_GROUPS))
    if unknown:
        raise ConfigError(f"demo --models: unknown {', '.join(unknown)}; choose from {', '.join(DEMO_GROUPS)}")
    return [run for name in DEMO_GROUPS if name in names for run in DEMO_GROUPS[name]]


def _feature_extractor(dataset: str, options: dict) -> tuple[Any | None, str]:
    """(the extractor FID/KID/P&R use, or None, and why): cached, else the default trained now (announced)."""
    from genzoo.metrics.features import choose_feature_extractor

    try:
        choice = choose_feature_extractor(dataset, dataset_options=options, say=lambda line: print(f"demo: {line}", flush=True))
    except GenzooError as error:
        return None, str(error).splitlines()[0]
    return choice.extractor, choice.note


def run_demo(out_dir: Path, *, steps_scale: float = 1.0, data_dir: str | None = None, device: str | None = None,
             models: tuple[str, ...] | None = None, num_samples: int = 500, test_images: int = 1000, threads: int | None = None) -> Path:
    """Train, evaluate and compare the chosen runs; returns the path of the HTML report.

    threads: torch's CPU threads for training and evaluation (None: torch's default; 1 on a busy machine).
    """
    from genzoo.metrics.evaluate import evaluate_run, write_metrics_json
    from genzoo.report.runs import report_runs

    if not steps_scale > 0:
        raise ConfigError(f"--steps-scale must be > 0, got {steps_scale}")
    out_dir = Path(out_dir)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    runs = chosen_runs(models)
    dataset, options, data_note = pick_dataset(data_dir) if any(run.image_data for run in runs) else (None, {}, "")
    extractor, why = _feature_extractor(dataset, options) if dataset else (None, "")
    run_dirs = []
    for demo_run in runs:
        run_dir = out_dir / demo_run.name
        _train(demo_run, run_dir, dataset, options, data_dir, device, steps_scale, threads)
        metrics = IMAGE_METRICS if demo_run.image_data else ("modes", "speed")
        print(f"demo: evaluating {demo_run.name}", flush=True)
        result = evaluate_run(run_dir, metrics=[m for m in metrics if extractor is not None or m not in ("fid", "kid", "pr", "recognised")],
                              num_samples=num_samples if demo_run.image_data else max(num_samples, TOY_SAMPLES), iwae_k=100,
                              test_images=test_images, feature_extractor=extractor, progress=True, which="last")
        write_metrics_json(result, RunDir(run_dir).evaluation)
        print("\n".join(result.get("summary", [])), flush=True)
        run_dirs.append(run_dir)
    quality_note = (
        f"Sample quality: N={num_samples} samples vs {num_samples} test images (shown through each run's preprocessing) in the "
        f"features of {extractor.identifier}; beside each figure the same figure for real images the classifier never saw; "
        "'recognised': the share of images the classifier names with p(y|x) >= 0.9."
        if extractor is not None else (f"Sample quality (FID/KID/P&R) skipped: {why}." if why else "")
    )
    budget = "the CPU presets' budgets" + (f" x {steps_scale:g}" if steps_scale != 1 else "")
    intro = " ".join(filter(None, [data_note, quality_note, f"Trained with {budget} (minutes on 2 CPU cores, far from the papers'):",
                                   "compare the families, not the numbers with published ones."]))
    return report_runs(run_dirs, out_dir / "report", title="genzoo demo: three families of generative models", intro=intro, data_dir=data_dir)


def demo_config(demo_run: DemoRun, dataset: str | None, options: dict, data_dir: str | None, device: str | None, steps_scale: float,
                threads: int | None = None) -> Any:
    """The run config of one demo run: its preset, the demo's dataset, its overrides, the scaled budget.

    The trainer's own end-of-run evaluation of the whole test split is off: the demo evaluates every run itself.
    """
    from genzoo.config import deep_merge
    from genzoo.presets import resolve_preset
    from genzoo.runs.config import resolve_run_config

    preset, _ = resolve_preset(demo_run.preset, None, None)
    train_section = {"progress": True, "final_eval": False, **({"device": device} if device else {}), **({"threads": threads} if threads else {})}
    steps = (preset.get("train") or {}).get("steps")
    if steps:
        train_section["steps"] = max(1, round(steps * steps_scale))
    layers = [demo_run.overrides, {"train": train_section}]
    if demo_run.image_data:
        layers.append({"data": {"name": dataset, "options": options, "data_dir": data_dir}})
    for layer in layers:
        preset = deep_merge(preset, layer)
    return resolve_run_config(preset=preset)


def _train(demo_run: DemoRun, run_dir: Path, dataset: str | None, options: dict, data_dir: str | None, device: str | None, steps_scale: float,
           threads: int | None) -> None:
    from genzoo.train import train

    config = demo_config(demo_run, dataset, options, data_dir, device, steps_scale, threads)
    if RunDir(run_dir).config.exists():
        shutil.rmtree(run_dir)  # the demo's own earlier output: start afresh
    print(f"demo: training {demo_run.name} ({demo_run.preset}) for {config.train.steps} steps", flush=True)
    result = train(config, run_dir)
    if result.status != "finished":
        raise SystemExit(f"demo: training {demo_run.name} {result.status}: {result.message}")
