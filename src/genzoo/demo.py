"""`genzoo demo`: a short training on real data that writes samples, reconstructions and a report.

Trains the reference convolutional autoencoder on Fashion-MNIST (the Debian package, a
--data-dir, the cache, or a download), falling back with a clear message to the procedural
`shapes` dataset when Fashion-MNIST cannot be had. Budget: a couple of minutes on 2 CPU cores.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from genzoo.errors import DataError

# The demo's own budget; `configs/ae-fashion-mnist.yaml` is the preset for a full run.
DEMO_PRESET = {
    "model": {"name": "ae", "architecture": "conv", "latent_dim": 16, "channels": 32},
    "data": {"name": "fashion-mnist"},
    "train": {"steps": 1500, "batch_size": 128, "lr": 2e-3, "schedule": "cosine", "warmup_steps": 50,
              "eval_every": 500, "eval_batches": 20, "sample_every": 500, "checkpoint_every": 500, "log_every": 50},
}


def pick_dataset(data_dir: str | None) -> tuple[str, dict, str]:
    """('fashion-mnist', {}, note) when it loads, else ('shapes', {...}, why)."""
    from genzoo.data import load_dataset

    try:
        load_dataset("fashion-mnist", "test", data_dir=data_dir, download=True, progress=True)
        return "fashion-mnist", {}, "Fashion-MNIST (70k real images, 28x28 gray)."
    except DataError as error:
        reason = str(error).splitlines()[0]
        print(f"demo: Fashion-MNIST is unavailable ({reason}); falling back to the procedural `shapes` dataset", file=sys.stderr)
        return "shapes", {"size": 28, "channels": 1}, f"Fashion-MNIST was unavailable ({reason}); used `shapes` instead."


def run_demo(out_dir: Path, *, steps: int | None = None, data_dir: str | None = None, device: str | None = None) -> Path:
    """Train, sample, reconstruct, report. Returns the path of the HTML report."""
    import torch

    from genzoo.data import Preprocessor, load_dataset
    from genzoo.data.grid import save_image_grid
    from genzoo.explore.reconstruction import reconstruction_rows
    from genzoo.report.summary import RunSummary, read_metrics, training_curve, write_report
    from genzoo.train import load_model, train
    from genzoo.train.config import resolve_run_config

    out_dir = Path(out_dir)
    dataset, options, data_note = pick_dataset(data_dir)
    flags: dict = {"data": {"name": dataset, "options": options}}
    if data_dir:
        flags["data"]["data_dir"] = data_dir
    if steps is not None:
        flags["train"] = {"steps": steps}
    if device:
        flags.setdefault("train", {})["device"] = device
    config = resolve_run_config(preset=DEMO_PRESET, flags=flags)

    run_dir = out_dir / f"{config.model}-{dataset}"
    if (run_dir / "config.yaml").exists():
        shutil.rmtree(run_dir)  # the demo's own earlier output: start afresh
    result = train(config, run_dir)
    if result.status != "finished":
        raise SystemExit(f"demo: training {result.status}; see {run_dir}")

    model, info = load_model(run_dir, which="best", device="cpu")
    test = load_dataset(dataset, "test", data_dir=data_dir, download=False, **options)
    preprocessor = Preprocessor(info.preprocess)
    generator = torch.Generator().manual_seed(0)
    x = preprocessor(test.images[:32], generator=generator)  # (32, C, H, W)
    images, per_row = reconstruction_rows(model, x, per_row=8)
    recon_path = save_image_grid(images, run_dir / "reconstructions.png", nrow=per_row)

    records = read_metrics(run_dir)
    curve = training_curve(records, run_dir / "training_curve.png", key="loss", title=f"{config.model} on {dataset}")
    last_test = next((r for r in reversed(records) if r.get("split") == "test"), {})
    train_speed = [r["images_per_s"] for r in records if r.get("split") == "train" and "images_per_s" in r]
    metrics = {
        "dataset": dataset,
        "steps": result.step,
        "test recon (sum sq. error / image)": last_test.get("recon"),
        "test mse / sub-pixel": last_test.get("mse"),
        "training images/s": (sum(train_speed) / len(train_speed)) if train_speed else None,
        "parameters": sum(p.numel() for p in model.parameters()),
        "device": str(config.train.device),
    }
    images_shown = {"samples (latent Gaussian fitted to the codes)": run_dir / "samples" / "final.png", "test images (odd rows) and reconstructions (even rows)": recon_path}
    if curve:
        images_shown["training curve"] = curve
    summary = RunSummary(title=f"Autoencoder on {dataset}", run_dir=run_dir, metrics={k: v for k, v in metrics.items() if v is not None}, images=images_shown, notes=[data_note])
    return write_report([summary], out_dir / "report", title="genzoo demo", intro="A short training of the reference convolutional autoencoder, measured on the test split.")
