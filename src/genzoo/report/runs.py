"""What the report shows for one trained run: its family, a comparison row, a properties row and its figures.

The family follows the lecture's taxonomy (CS231n lecture 13) and is read from the model's
declared capabilities, never from its name (`genzoo.report.properties.lecture_family`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import torch

from genzoo.report.properties import lecture_family, number, property_row
from genzoo.report.summary import RunSummary, read_metrics, training_curve

_FAMILY_NAMES = {
    "autoregressive": "explicit density (autoregressive)",
    "latent variable": "approximate density (latent variable)",
    "autoencoder": "latent variable, no prior (autoencoder)",
    "adversarial": "implicit density (adversarial)",
}


class RunReport(NamedTuple):
    """One run's part of the report: its section, its comparison row and its properties row."""

    summary: RunSummary
    comparison: dict[str, Any]
    properties: dict[str, str]


def family_of(capabilities: Any) -> str:
    return _FAMILY_NAMES[lecture_family(capabilities)]


def comparison_row(model_name: str, capabilities: Any, result: dict[str, Any]) -> dict[str, Any]:
    """One row of the comparison table from an `evaluate_run` result ("-" where not measured)."""
    likelihood = result.get("likelihood") or {}
    if likelihood.get("available"):
        exact = likelihood["kind"] == "exact"
        nll = likelihood["nll_nats"] if exact else likelihood["nll_iwae_nats"]
        bits = likelihood["bits_per_dim"] if exact else likelihood["bits_per_dim_iwae"]
        density = f"{'exact' if exact else 'bound'}: {number(nll, '.1f')} nats ({number(bits, '.3f')} bits/dim)"
    elif likelihood:
        density = "none"
    else:
        density = "-"
    quality = result.get("sample_quality") or {}
    speed = result.get("speed") or {}
    sampling = speed.get("sampling_seconds_per_image")
    training = speed.get("training_images_per_s")
    return {
        "family": family_of(capabilities),
        "model": model_name,
        "test NLL per image": density,
        "FID": number(quality["fid"], ".1f") if "fid" in quality else "-",
        "precision / recall": f"{number(quality['precision'], '.2f')} / {number(quality['recall'], '.2f')}" if "precision" in quality else "-",
        "sampling ms/image": f"{sampling * 1000:.2f}" if sampling is not None else "-",
        "training images/s": f"{training:.0f}" if training is not None else "-",
    }


def run_figures(run_dir: Path, *, which: str = "last", seed: int = 0, data_dir: str | None = None) -> tuple[Any, dict[str, Path]]:
    """Write the run's figures (samples, and what its family can show) into RUN_DIR; (model, {caption: png})."""
    from genzoo.data.grid import save_image_grid
    from genzoo.explore.completion import complete, keep_mask
    from genzoo.explore.inputs import test_images
    from genzoo.explore.interpolation import decode_path
    from genzoo.explore.reconstruction import reconstruction_rows
    from genzoo.explore.sampling import sample_images, to_display
    from genzoo.train import load_model

    run_dir = Path(run_dir)
    model, info = load_model(run_dir, which=which)
    images = {"samples": save_image_grid(sample_images(model, 64, seed=seed), run_dir / "samples.png", nrow=8)}
    caps = model.capabilities
    if caps.encoder:
        x, y = test_images(info, range(16), data_dir=data_dir)
        grid, per_row = reconstruction_rows(model, x, y, per_row=8)
        images["test images (odd rows) over reconstructions (even rows)"] = save_image_grid(grid, run_dir / "reconstructions.png", nrow=per_row)
    if caps.exact_likelihood:
        x, _ = test_images(info, range(4), data_dir=data_dir)
        keep = keep_mask("top-half", model.data_format.image_shape)  # (C, H, W)
        completions = complete(model, x, keep, n=4, generator=torch.Generator().manual_seed(seed))  # (4, 4, C, H, W)
        low, high = model.data_format.value_range
        masked = torch.where(keep, x, torch.full_like(x, (low + high) / 2))
        rows = torch.cat([x[:, None], masked[:, None], completions], 1).flatten(0, 1)
        images["completions: original, top half kept, 4 samples of the rest"] = save_image_grid(
            to_display(rows, model.data_format), run_dir / "completions.png", nrow=6)
    if caps.latent_decoder:
        z = model.sample_latent(8, generator=torch.Generator().manual_seed(seed + 1))  # (8, D)
        path = decode_path(model, z[:4], z[4:], steps=8, kind="slerp")
        images["latent interpolations (slerp)"] = save_image_grid(to_display(path, model.data_format), run_dir / "interpolations.png", nrow=8)
    curve = training_curve(read_metrics(run_dir), run_dir / "training_curve.png", key="loss", title=f"{model.name} on {info.run_config.data.name}")
    if curve:
        images["training loss"] = curve
    return model, images


def run_summary(run_dir: Path, result: dict[str, Any] | None, *, which: str = "last", data_dir: str | None = None) -> RunReport:
    """The report section, comparison row and properties row of one run (result: its `evaluate_run` dict, or None)."""
    model, images = run_figures(run_dir, which=which, data_dir=data_dir)
    notes = list((result or {}).get("summary") or ["not evaluated: run `genzoo eval RUN_DIR` to add its metrics"])
    summary = RunSummary(title=f"{family_of(model.capabilities)}: {model.name}", run_dir=Path(run_dir), metrics={}, images=images, notes=notes)
    return RunReport(summary, comparison_row(model.name, model.capabilities, result or {}), property_row(model.name, model.capabilities, result or {}))
