"""`genzoo report` on toy2d runs: each run's scatter over the true modes with its figures, and two runs
that differ only in the generator loss side by side. Two tiny GANs are trained in a temporary directory."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genzoo.data.toy2d import RECOMMENDED_PREPROCESS
from genzoo.explore.scatter import figure_size_pixels
from genzoo.report.runs import SCATTER_CAPTION

TINY_GAN = {"latent_dim": 2, "generator_hidden": [16], "discriminator_hidden": [16], "discriminator_activation": "leaky-relu",
            "dropout": 0.0, "output": "linear", "lr": 2e-3}


@pytest.fixture(scope="module")
def toy_runs(tmp_path_factory) -> dict[str, Path]:
    from genzoo.metrics.evaluate import evaluate_run, write_metrics_json
    from genzoo.train import train
    from genzoo.runs.config import DataConfig, RunConfig, TrainConfig

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("toy2d-report")
    runs = {}
    for g_loss in ("minimax", "non-saturating"):
        config = RunConfig(
            model="gan", model_options={**TINY_GAN, "g_loss": g_loss},
            data=DataConfig(name="toy2d", preprocess=RECOMMENDED_PREPROCESS, options={"mixture": "ring", "n_train": 512, "n_test": 128}),
            train=TrainConfig(steps=20, batch_size=64, progress=False, log_every=10, eval_every=10, sample_every=0,
                              checkpoint_every=0, sample_count=4, seed=0),
        )
        runs[g_loss] = root / g_loss
        assert train(config, runs[g_loss]).status == "finished"
    result = evaluate_run(runs["minimax"], num_samples=200, progress=False, device="cpu")  # the other run stays unevaluated
    write_metrics_json(result, runs["minimax"] / "evaluation.json")
    torch.set_num_threads(threads)
    return runs


def _figures(page: str) -> dict[str, str]:
    """caption -> img src of every <figure> of the page."""
    return {caption: src for src, caption in re.findall(r'<figure><img src="([^"]+)"[^>]*><figcaption>([^<]+)</figcaption>', page)}


def test_report_of_two_toy2d_runs_shows_scatters_side_by_side(toy_runs, tmp_path, capsys):
    from genzoo.cli import main

    out = tmp_path / "report"
    assert main(["report", str(toy_runs["minimax"]), str(toy_runs["non-saturating"]), "--out", str(out)]) == 0
    page = (out / "index.html").read_text(encoding="utf-8")
    figures = _figures(page)
    side = figures.pop("toy2d runs: samples over the true modes")
    assert page.index("<h2>Side by side</h2>") < page.index(side) < page.index(f"Run directory: <code>{toy_runs['minimax']}")
    side_png = Image.open(out / side)
    assert side_png.size == figure_size_pixels(2, 4.7)
    halves = np.asarray(side_png.convert("L"))
    left, right = halves[:, : halves.shape[1] // 2], halves[:, halves.shape[1] // 2 :]
    assert np.abs(left.astype(int) - right.astype(int)).mean() > 1.0  # two different runs, not one panel twice

    scatters = re.findall(rf'<img src="([^"]+)" alt="{re.escape(SCATTER_CAPTION)}"', page)  # one per run
    assert len(scatters) == 2 and len(set(scatters)) == 2
    for src in scatters:
        assert Image.open(out / src).size == figure_size_pixels(1)
    assert set(figures) == {SCATTER_CAPTION, "training loss"}
    assert "latent interpolations" not in page  # no grids of 1x2 "images" for points
    # the evaluated run's figures are printed with it; the other says how to add them
    assert re.search(r"modes covered: \d of 8 \(ring\), high-quality share [0-9.]+ \[N=200 samples", page)
    assert "not evaluated: run `genzoo eval " in page
    assert "report:" in capsys.readouterr().out


def test_one_toy2d_run_has_no_side_by_side_section(toy_runs, tmp_path):
    from genzoo.cli import main

    out = tmp_path / "one"
    assert main(["report", str(toy_runs["non-saturating"]), "--out", str(out)]) == 0
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "Side by side" not in page and f">{SCATTER_CAPTION}</figcaption>" in page
