"""A small comparison report built without training: generated image grids, a matplotlib curve,
`evaluate_run`-shaped results and the registry's declared capabilities."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

from genzoo.data.grid import save_image_grid
from genzoo.models.registry import model_class
from genzoo.report.properties import property_row
from genzoo.report.runs import comparison_row
from genzoo.report.summary import RunSummary, training_curve, write_report

HOSTILE_TITLE = "<script>document.title='pwned'</script> genzoo & co"

# evaluate_run results, shaped as genzoo.metrics.evaluate writes them (only the keys the report reads)
EVALUATIONS: dict[str, dict[str, Any]] = {
    "pixelcnn": {
        "likelihood": {"available": True, "kind": "exact", "nll_nats": 253.64, "bits_per_dim": 0.4667},
        "sample_quality": {"available": True, "num_samples": 500, "fid": 31.24, "precision": 0.614, "recall": 0.452,
                           "reference": {"num_images": 500, "feature_total_variance": 311.3},
                           "real_reference": {"num_images": 500, "fid": 3.87, "precision": 0.892, "recall": 0.9},
                           "recognised": {"threshold": 0.9, "samples": 0.55, "test_images": 0.706, "other_real_images": 0.668}},
        "speed": {"sampling_seconds_per_image": 5.081e-3, "training_images_per_s": 812.4},
        "sharpness": {"available": True, "ratio": 1.071, "num_samples": 500, "num_test_images": 500},
    },
    "vae": {
        "likelihood": {"available": True, "kind": "bound", "nll_iwae_nats": 246.43, "bits_per_dim_iwae": 0.4535,
                       "nll_elbo_nats": 250.14, "bits_per_dim_elbo": 0.4603, "iwae_k": 100},
        "speed": {"sampling_seconds_per_image": 0.152e-3, "training_images_per_s": 4120.0},
        "sharpness": {"available": True, "ratio": 0.423, "num_samples": 256, "num_test_images": 256},
    },
    "ae": {"likelihood": {"available": False, "reason": "model ae has no likelihood"},
           "speed": {"sampling_seconds_per_image": 0.101e-3, "training_images_per_s": None}},
    "dcgan": {},  # not evaluated
}


@dataclass
class SmallReport:
    title: str
    out_dir: Path
    index: Path
    sources: dict[str, Path]  # caption -> original PNG
    properties: list[dict[str, str]]


def _images(kind: str, n: int = 16, size: int = 16) -> torch.Tensor:
    """Distinct uint8 (n, C, H, W) images per run: stripes, blobs, noise, checkers."""
    rows, columns = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    shift = torch.arange(n)[:, None, None]  # (n, 1, 1)
    patterns = {
        "pixelcnn": ((rows + shift) % 4 < 2),
        "vae": (((rows - size / 2) ** 2 + (columns - size / 2) ** 2) < (shift + 4) ** 2 / 2),
        "ae": torch.rand(n, size, size, generator=torch.Generator().manual_seed(0)) > 0.5,
        "dcgan": ((rows // 4 + columns // 4 + shift) % 2 == 0),
    }
    gray = patterns[kind].to(torch.uint8)[:, None] * 255  # (n, 1, H, W)
    return gray.expand(n, 3, size, size).contiguous() if kind == "dcgan" else gray


def build_small_report(out_dir: Path, *, title: str = HOSTILE_TITLE) -> SmallReport:
    sources_dir = out_dir.parent / f"{out_dir.name}-runs"
    runs, rows, properties, sources = [], [], [], {}
    for name, result in EVALUATIONS.items():
        capabilities = model_class(name).capabilities
        images = {"samples": save_image_grid(_images(name), sources_dir / name / "samples.png", nrow=4)}
        records = [{"split": "train", "step": step, "loss": 300 * math.exp(-step / 40) + 90} for step in range(0, 200, 10)]
        records += [{"split": "test", "step": step, "loss": 310 * math.exp(-step / 40) + 95} for step in (50, 100, 150)]
        images["training loss"] = training_curve(records, sources_dir / name / "curve.png", title=f"{name} <loss>")
        images["never written"] = sources_dir / name / "missing.png"  # a figure the run lacks: left out, not a broken link
        sources.update({f"{name}: {caption}": path for caption, path in images.items()})
        runs.append(RunSummary(title=f"{name} | run <{name}>", run_dir=sources_dir / name, metrics={"steps": 200, "loss": 91.25},
                               images=images, notes=[f"notes for {name}: a < b & c"]))
        rows.append(comparison_row(name, capabilities, result))
        properties.append(property_row(name, capabilities, result))
    index = write_report(runs, out_dir, title=title, intro="Intro with <b>markup</b> | pipes.", comparison=rows, properties=properties)
    return SmallReport(title=title, out_dir=out_dir, index=index, sources=sources, properties=properties)


@pytest.fixture(scope="module")
def small_report(tmp_path_factory) -> SmallReport:
    return build_small_report(tmp_path_factory.mktemp("report") / "out")
