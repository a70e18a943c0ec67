"""`genzoo report` on image-to-image runs: one Applications section per task with the baseline and every run on
the yardstick, and one labelled figure of the same test images through every model. Tiny runs on 28 px `shapes`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from PIL import Image

from genzoo.report.applications import AUTOREGRESSIVE_SAMPLES, FIGURE_INPUTS

DATA = {"n_train": 64, "n_test": 32, "size": 28, "channels": 1}
MODELS = {
    "regress": {"width": 4, "max_depth": 2},
    "pix2pix": {"width": 4, "max_depth": 2, "discriminator_width": 4},
    "conditional-pixelcnn": {"hidden": 4, "layers": 2, "output_hidden": 8, "condition_features": 4, "condition_width": 4},
}


@pytest.fixture(scope="module")
def app_runs(tmp_path_factory) -> dict[str, Path]:
    from genzoo.metrics.evaluate import evaluate_run, write_metrics_json
    from genzoo.train import train
    from genzoo.runs.config import DataConfig, RunConfig, TrainConfig

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("applications")
    runs = {}
    for name, options in MODELS.items():
        config = RunConfig(name, options, DataConfig(name="shapes", options=DATA, task="superres:4"),
                           TrainConfig(steps=3, batch_size=8, progress=False, eval_every=0, sample_every=0, checkpoint_every=0, sample_count=4))
        runs[name] = root / name
        assert train(config, runs[name]).status == "finished"
        if name != "pix2pix":  # one run stays unevaluated: the section says how to evaluate it
            result = evaluate_run(runs[name], metrics=("likelihood", "speed"), num_samples=8, samples_per_input=2, progress=False, device="cpu")
            write_metrics_json(result, runs[name] / "evaluation.json")
    torch.set_num_threads(threads)
    return runs


@pytest.fixture(scope="module")
def report(app_runs, tmp_path_factory) -> Path:
    from genzoo.report.runs import report_runs

    out = tmp_path_factory.mktemp("report")
    return report_runs(list(app_runs.values()), out, title="applications", intro="")


def test_one_applications_section_with_the_baseline_and_every_run(report, app_runs):
    markdown = (report.parent / "report.md").read_text()
    section = markdown.split("## Applications")[1]
    assert "### super-resolution: superres:4 on shapes" in section
    assert re.search(r"\| bicubic \(baseline, no training\) \| [\d.]+ \([\d.]+\) \| [\d.]+ \| PSNR [\d.]+ dB \| 0\.000 \|", section)
    assert re.search(r"\| regress \(regress, step 3\) \| [\d.]+ \([\d.]+\) \| [\d.]+ \| PSNR [\d.]+ dB \| 0\.000 \|", section)
    assert re.search(r"\| conditional-pixelcnn \(conditional-pixelcnn, step 3\) \|.*\| [\d.]+ \| [\d.]+ \|$", section, re.M), "NLL and speed"
    assert "| pix2pix (pix2pix, step 3) | - |" in section
    assert f"`genzoo eval {app_runs['pix2pix']}`" in section, "the unevaluated run is named with its command"
    assert "N=8 test images, k=1 or 2 outputs per input" in section
    assert "## Comparison" not in markdown, "no unconditional model among the runs: no comparison table"


def test_the_figure_shows_the_same_inputs_through_every_model(report):
    page = (report.parent / "index.html").read_text()
    figures = dict((caption, src) for src, caption in re.findall(r'<figure><img src="([^"]+)"[^>]*><figcaption>([^<]+)</figcaption>', page))
    caption = next(c for c in figures if c.startswith(f"The same {FIGURE_INPUTS} test images through every model"))
    with Image.open(report.parent / figures[caption]) as image:
        width, height = image.size
    columns = 1 + 1 + 1 + 1 + AUTOREGRESSIVE_SAMPLES + 1  # input, bicubic, regress, pix2pix, 3 samples, target
    assert width >= columns * 28 * 2 and height >= FIGURE_INPUTS * 28 * 2, "cells upscaled to a readable size"
    assert page.index("<h2>Applications</h2>") < page.index("<h2>application (image-to-image): regress</h2>")
