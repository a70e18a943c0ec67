"""A toy2d run logs mode coverage at every evaluation and draws its samples as a scatter over the modes."""

from __future__ import annotations

import json

from PIL import Image

from genzoo.data.toy2d_scatter import figure_size_pixels
from genzoo.train import train
from genzoo.runs.config import DataConfig, RunConfig, TrainConfig

GAN = {"latent_dim": 2, "generator_hidden": [16], "discriminator_hidden": [16], "dropout": 0.0, "output": "linear"}


def test_toy2d_run_logs_modes_and_draws_a_scatter(tmp_path):
    config = RunConfig(
        "gan", GAN,
        DataConfig(name="toy2d", preprocess=("dequantize", "scale-symmetric"), options={"n_train": 512, "n_test": 256}),
        TrainConfig(steps=6, batch_size=64, eval_every=3, sample_every=0, checkpoint_every=0, progress=False, threads=1),
    )
    assert train(config, tmp_path / "run").status == "finished"
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    evaluations = [r for r in records if r.get("split") == "test"]
    assert [r["step"] for r in evaluations] == [3, 6]
    for record in evaluations:
        assert 0 <= record["modes_covered"] <= 8 and 0.0 <= record["high_quality_fraction"] <= 1.0
    with Image.open(tmp_path / "run" / "samples" / "final.png") as image:
        assert image.size == figure_size_pixels(1), "a scatter plot, not a grid of 1x2 images"
