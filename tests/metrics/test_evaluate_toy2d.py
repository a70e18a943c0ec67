"""`genzoo eval` and `genzoo sample` on a toy2d run: mode coverage instead of image metrics, a scatter
instead of an image grid. One tiny GAN trained in a temporary directory serves every test."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import torch
from PIL import Image

from genzoo.data.toy2d import RECOMMENDED_PREPROCESS
from genzoo.metrics.results import EvaluationSections
from genzoo.metrics.evaluate import IMAGE_METRICS, POINT_DATA_REASON, _choose_point_metrics, evaluate_run, summary_lines
from genzoo.metrics.modes import sampled_mode_statistics
from genzoo_testing.cli import run_genzoo

TINY_GAN = {"latent_dim": 2, "generator_hidden": [16], "discriminator_hidden": [16], "discriminator_activation": "leaky-relu",
            "dropout": 0.0, "output": "linear", "lr": 2e-3}


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory) -> Path:
    from genzoo.train import train
    from genzoo.runs.config import DataConfig, RunConfig, TrainConfig

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    config = RunConfig(
        model="gan", model_options=TINY_GAN,
        data=DataConfig(name="toy2d", preprocess=RECOMMENDED_PREPROCESS, options={"mixture": "ring", "n_train": 512, "n_test": 128}),
        train=TrainConfig(steps=20, batch_size=64, progress=False, log_every=10, eval_every=10, sample_every=0,
                          checkpoint_every=0, sample_count=4, seed=0),
    )
    run_dir = tmp_path_factory.mktemp("toy2d") / "gan"
    assert train(config, run_dir).status == "finished"
    torch.set_num_threads(threads)
    return run_dir


def genzoo(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_genzoo(*args, cwd=cwd, check=False)


def test_default_evaluation_of_a_toy2d_run_scores_modes_and_skips_image_metrics(toy_run):
    result = evaluate_run(toy_run, num_samples=400, seed=3, progress=False, device="cpu")  # every default metric
    assert result["metrics"][-1] == "modes" and {"likelihood", "speed"} <= set(result["metrics"])
    assert not set(result["metrics"]) & set(IMAGE_METRICS)  # FID, KID, P&R, classifier score, sharpness, ...
    assert result["sharpness"] == {"available": False, "reason": POINT_DATA_REASON}
    assert result["likelihood"]["available"] is False  # a GAN has none; stated, not a crash
    modes = result["modes"]
    from genzoo.runs.model import load_model

    model, _ = load_model(toy_run, which="last")
    expected = sampled_mode_statistics(model, "ring", n=400, seed=3)  # the same seeded samples
    assert modes["counts"] == list(expected.counts) and modes["modes_covered"] == expected.modes_covered
    assert modes["num_modes"] == 8 and modes["num_samples"] == 400 and modes["mixture"] == "ring"
    assert modes["high_quality_fraction"] == pytest.approx(sum(modes["counts"]) / 400)
    assert modes["samples_needed_per_mode"] == 10  # ceil(0.2 * 400 / 8)
    assert modes["quality_radius"] == pytest.approx(0.06)  # 3 std of 0.02
    assert result["sample_quality"]["available"] is False  # FID & co skipped; the figures stand in their place
    assert result["sample_quality"]["reason"] == (
        f"{expected.modes_covered} of 8 modes covered, high-quality share {expected.high_quality_fraction:.2f} (N=400); "
        "FID/KID/P&R skipped: toy2d points are not images"
    )
    line = next(line for line in result["summary"] if line.startswith("modes covered"))
    assert f"{expected.modes_covered} of 8 (ring)" in line and "N=400 samples" in line
    assert summary_lines(result) == result["summary"]
    typed = EvaluationSections.of(result)
    assert (typed.modes.to_dict(), typed.sharpness.to_dict(), typed.sample_quality.to_dict()) == (
        result["modes"], result["sharpness"], result["sample_quality"])


def test_a_perfect_sampler_scores_every_mode_through_evaluate_run(toy_run, monkeypatch):
    """G replaced by draws from the ring itself, in model space (x = p / E): the evaluation must find
    8 of 8 modes and about 99% high quality, and the counts must follow the sampling seed."""
    from genzoo.data.toy2d import mixture_extent, mixture_modes
    from genzoo.models.gan import GAN

    def ring_sample(self, n, *, labels=None, temperature=1.0, generator=None):
        centres, std = mixture_modes("ring")
        modes = torch.randint(0, 8, (n,), generator=generator)
        points = centres[modes] + std * torch.randn(n, 2, generator=generator)  # (n, 2)
        return (points / mixture_extent("ring")).view(n, 1, 1, 2)

    monkeypatch.setattr(GAN, "sample", ring_sample)
    first = evaluate_run(toy_run, metrics=("modes",), num_samples=800, seed=1, progress=False, device="cpu")["modes"]
    second = evaluate_run(toy_run, metrics=("modes",), num_samples=800, seed=2, progress=False, device="cpu")["modes"]
    assert first["modes_covered"] == 8 and first["high_quality_fraction"] == pytest.approx(0.989, abs=0.015)
    assert first["counts"] != second["counts"]  # the seed reaches the sampler
    assert sum(first["counts"]) == round(first["high_quality_fraction"] * 800)


def test_modes_alone_and_modes_on_image_data():
    result = {"dataset": {"name": "toy2d", "options": {"mixture": "grid"}}}
    assert _choose_point_metrics(result, ("modes",)) == ("modes",) and "sample_quality" not in result
    assert _choose_point_metrics(result, ("speed",)) == ("speed",)  # no image metric asked: nothing stands in
    images = {"dataset": {"name": "shapes", "options": {}}}
    assert _choose_point_metrics(images, ("fid", "modes")) == ("fid",)
    assert images["modes"] == {"available": False, "reason": "skipped: modes needs toy2d points, dataset is shapes"}
    assert summary_lines({"model": "dcgan", "step": 1, "checkpoint": "c", **images})[-1] == f"modes: {images['modes']['reason']}"


def test_cli_eval_on_a_toy2d_run_prints_modes_without_a_traceback(toy_run, tmp_path):
    evaluation = genzoo("eval", str(toy_run), "--num-samples", "300", "--no-progress", "--device", "cpu", cwd=tmp_path)
    assert evaluation.returncode == 0, evaluation.stderr
    assert "Traceback" not in evaluation.stderr
    assert "modes covered: " in evaluation.stdout and "of 8 (ring)" in evaluation.stdout
    assert "FID/KID/P&R skipped: toy2d points are not images" in evaluation.stdout
    written = json.loads((toy_run / "evaluation.json").read_text())
    assert written["modes"]["num_samples"] == 300 and len(written["modes"]["counts"]) == 8


def test_cli_sample_on_a_toy2d_run_draws_a_scatter(toy_run, tmp_path, capsys):
    from genzoo.cli import main

    assert main(["sample", str(toy_run), "-n", "300", "--out", str(tmp_path / "scatter.png")]) == 0
    printed = capsys.readouterr().out
    assert "modes covered" in printed and "(N=300)" in printed
    assert Image.open(tmp_path / "scatter.png").size == (600, 660)  # a scatter plot, not a 300-cell grid of 1x2 images
    assert main(["sample", str(toy_run)]) == 0  # default: 2500 points into RUN_DIR/samples/sample.png
    assert "(N=2500)" in capsys.readouterr().out and Image.open(toy_run / "samples" / "sample.png").size == (600, 660)

    assert main(["sample", str(toy_run), "--nrow", "4"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("genzoo: error: --nrow and --scale lay out image grids")
