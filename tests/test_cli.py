"""The command line, run for real in subprocesses on tiny data: files written, one-line errors."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from genzoo_testing.cli import run_genzoo

TINY_SHAPES = ["--set", "data.options.n_train=256", "--set", "data.options.n_test=64", "--set", "data.options.size=32", "--set", "data.options.channels=1"]
TINY_TRAIN = ["--set", "model.latent_dim=4", "--set", "model.channels=8", "--batch-size", "32", "--set", "train.eval_every=4",
              "--set", "train.sample_every=4", "--set", "train.checkpoint_every=4", "--set", "train.sample_count=16",
              "--set", "train.log_every=2", "--no-progress"]


genzoo = run_genzoo


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got: {result.stderr!r}"
    assert lines[0].startswith("genzoo: error: ")
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    genzoo("train", "ae", "--data", "shapes", "--steps", "8", "--out", "run", "--seed", "3", *TINY_SHAPES, *TINY_TRAIN, cwd=root)
    return root, root / "run"


def test_train_writes_the_run_directory(trained_run):
    _, run = trained_run
    for name in ("config.yaml", "run.json", "metrics.jsonl", "checkpoints/last.safetensors", "checkpoints/best.safetensors", "samples/final.png"):
        assert (run / name).exists(), name
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert {r["split"] for r in records} == {"train", "test"}
    assert max(r["step"] for r in records) == 8
    assert all(isinstance(r["loss"], float) and math.isfinite(r["loss"]) for r in records)  # NaN would be logged as null


def test_sample_writes_a_grid_of_n_images(trained_run):
    root, run = trained_run
    result = genzoo("sample", "run", "-n", "9", "--out", "grid.png", "--nrow", "3", cwd=root)
    assert "grid.png" in result.stdout
    with Image.open(root / "grid.png") as image:
        # 3x3 cells of 32 px, enlarged 3x by default (readable_scale), with 2 px padding around and between
        assert image.size == (3 * (96 + 2) + 2, 3 * (96 + 2) + 2)


def test_sample_is_reproducible_with_a_seed(trained_run):
    root, _ = trained_run
    genzoo("sample", "run", "-n", "4", "--out", "a.png", "--seed", "5", cwd=root)
    genzoo("sample", "run/checkpoints/last.safetensors", "--which", "last", "-n", "4", "--out", "b.png", "--seed", "5", cwd=root)
    genzoo("sample", "run", "--which", "last", "-n", "4", "--out", "c.png", "--seed", "6", cwd=root)
    a, b, c = ((root / f"{n}.png").read_bytes() for n in "abc")
    assert a == b
    assert a != c


def test_info_reports_step_metrics_and_size(trained_run):
    root, _ = trained_run
    text = genzoo("info", "run", cwd=root).stdout
    assert "model:        ae" in text and "step:         8" in text and "parameters" in text
    summary = json.loads(genzoo("info", "run", "--json", cwd=root).stdout)
    assert summary["step"] == 8 and summary["model"] == "ae" and summary["parameters"] > 0
    assert summary["config"]["model"]["latent_dim"] == 4


def test_resume_continues_to_a_larger_budget(trained_run):
    root, _ = trained_run
    genzoo("train", "--resume", "--out", "run", "--steps", "12", "--no-progress", cwd=root)
    summary = json.loads(genzoo("info", "run", "--json", "--which", "last", cwd=root).stdout)
    assert summary["step"] == 12


def test_models_and_datasets_listings(tmp_path):
    assert "ae" in genzoo("models", cwd=tmp_path).stdout
    listing = genzoo("datasets", cwd=tmp_path).stdout
    for name in ("fashion-mnist", "mnist", "cifar10", "shapes", "folder", "npz"):
        assert name in listing
    genzoo("datasets", "show", "shapes", "--set", "n_train=64", "--set", "n_test=16", "-n", "16", "--out", "shapes.png", cwd=tmp_path)
    assert (tmp_path / "shapes.png").exists()


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["train", "nosuch", "--data", "shapes", "--steps", "1"], ["unknown model 'nosuch'", "ae"]),
        (["train", "ae", "--data", "nosuch", "--steps", "1"], ["unknown dataset 'nosuch'", "shapes"]),
        (["train", "ae", "--data", "shapes", "--steps", "1", "--set", "train.optimizer=adamx"], ["train.optimizer", "adamw"]),
        (["train", "ae", "--data", "shapes", "--steps", "1", "--set", "model.latent=3"], ["unknown option 'latent'", "latent_dim"]),
        (["train", "ae", "--data", "shapes", "--steps", "1", "--set", "lr"], ["key=value"]),
        (["train", "ae", "--data", "shapes", "--config", "no-budget.yaml"], ["no training budget"]),
        (["train", "ae", "--data", "shapes", "--steps", "1", "--config", "nope"], ["neither a file nor a preset"]),
        (["sample", "missing-run"], ["missing-run"]),
        (["info", "missing-run"], ["missing-run"]),
        (["train", "--resume", "--out", "missing-run"], ["cannot resume"]),
        (["datasets", "show", "folder"], ["path"]),
    ],
)
def test_bad_input_is_one_line(tmp_path, args, fragments):
    (tmp_path / "no-budget.yaml").write_text("model: {name: ae}\n")
    assert_one_line_error(genzoo(*args, cwd=tmp_path, check=False), *fragments)


def test_missing_dataset_names_where_it_looked(tmp_path):
    result = genzoo("train", "ae", "--data", "mnist", "--steps", "1", "--set", "data.download=false", cwd=tmp_path, check=False)
    assert_one_line_error(result, "mnist")
    assert str(tmp_path / "data") in result.stderr or "GENZOO_DATA" in result.stderr


def test_pickled_checkpoint_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    payload = tmp_path / "evil.safetensors"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    import pickle

    payload.write_bytes(pickle.dumps(Exploit()))
    result = genzoo("sample", str(payload), cwd=tmp_path, check=False)
    assert_one_line_error(result)
    assert not marker.exists()


def test_eval_states_what_it_measured(trained_run):
    root, run = trained_run
    result = genzoo("eval", "run", "--metrics", "likelihood,speed", "--test-images", "16", "--no-progress", "--out", "eval.json", cwd=root)
    assert "eval.json" in result.stdout
    measured = json.loads((root / "eval.json").read_text())
    assert measured["likelihood"]["available"] is False  # an autoencoder has no likelihood, and says so
    assert measured["speed"]["sampling_seconds_per_image"] > 0


@pytest.mark.slow  # trains five runs and a classifier, evaluates and reports them
def test_demo_writes_a_comparison_report(tmp_path):
    genzoo("features", "train", "--data", "fashion-mnist", "--epochs", "0.01", cwd=tmp_path)  # a tiny cached classifier: no minute-long training here
    result = genzoo("demo", "--out", "demo", "--steps-scale", "0.01", "--models", "pixelcnn", "ae", "toy2d", "superres", "--num-samples", "16",
                    "--test-images", "64", "--threads", "1", cwd=tmp_path, timeout=900)
    report = tmp_path / "demo" / "report"
    assert f"report: {Path('demo') / 'report' / 'index.html'}" in result.stdout
    assert "\r" not in result.stdout + result.stderr  # no progress bars redrawn into a log
    assert "demo: training pixelcnn (pixelcnn-fashion-mnist-cpu) for 12 steps" in result.stdout  # the CPU preset, x 0.01
    markdown = (report / "report.md").read_text()
    assert "## Comparison" in markdown and "| explicit density (autoregressive) | pixelcnn | exact:" in markdown
    assert "Sample quality: N=16 samples vs 16 test images" in markdown
    assert re.search(r"\| pixelcnn \| exact: [\d.]+ nats \([\d.]+ bits/dim\) \| [\d.]+ \([\d.]+\) \|", markdown)  # FID beside the real floor
    assert re.search(r"\| pixelcnn \| autoregressive \| exact — [\d.]+ nats \([\d.]+ bits/dim\) \| no \| sequential — [\d.]+ ms/image "
                     r"\| good — .*FID [\d.]+ \(real [\d.]+\), recognised \d+% \(real \d+%\), N=16 \|", markdown)
    assert "| gan (gan-toy2d-minimax) |" in markdown and "| gan (gan-toy2d-non-saturating) |" in markdown
    assert "## Side by side" in markdown
    assert "## Applications" in markdown and "### super-resolution: superres:4 on fashion-mnist" in markdown
    assert re.search(r"\| bicubic \(baseline, no training\) \| [\d.]+ \([\d.]+\) \|", markdown)
    assert re.search(r"\| regress \(superres-regress, step \d+\) \| [\d.]+ \([\d.]+\) \|", markdown)
    assert "| regress |" not in markdown.split("## Applications")[0], "an application is not in the unconditional models' tables"
    for run in ("pixelcnn", "ae", "gan-toy2d-minimax", "gan-toy2d-non-saturating", "superres-regress"):
        assert (tmp_path / "demo" / run / "evaluation.json").is_file()
    assert "modes covered" in json.dumps(json.loads((tmp_path / "demo" / "gan-toy2d-minimax" / "evaluation.json").read_text())["summary"])
    page = (report / "index.html").read_text()
    for image in sorted((report / "assets").glob("*.png")):
        assert f'src="assets/{image.name}"' in page
    assert len(list((report / "assets").glob("*completions*.png"))) == 1
    assert len(list((report / "assets").glob("*reconstructions*.png"))) == 1


def test_report_compares_runs_with_their_evaluations(trained_run):
    root, run = trained_run
    genzoo("eval", "run", "--metrics", "likelihood,speed,sharpness", "--test-images", "16", "--no-progress", cwd=root)  # -> run/evaluation.json
    result = genzoo("report", "run", "--out", "rep", cwd=root)
    assert "rep" in result.stdout
    markdown = (root / "rep" / "report.md").read_text()
    assert "| latent variable, no prior (autoencoder) | ae | none | - | - |" in markdown
    evaluation = json.loads((run / "evaluation.json").read_text())
    ratio, per_image = evaluation["sharpness"]["ratio"], evaluation["speed"]["sampling_seconds_per_image"]
    assert (f"| ae | autoencoder | none (no prior) — none | yes: deterministic z = encode(x) | one pass — {per_image * 1000:.2f} ms/image "
            f"| not on the slide — not measured | {ratio:.2f}x | reconstruction — ") in markdown  # quality not measured: no FID asked
    assert {"0-samples.png", "0-training-loss.png"} <= {p.name for p in (root / "rep" / "assets").iterdir()}
    assert_one_line_error(genzoo("report", "no-such-run", cwd=root, check=False), "no-such-run")


def test_budget_cpu_picks_the_cpu_preset_or_says_which_exist():
    from genzoo.presets import PRESET_DIR, resolve_preset
    from genzoo.errors import ConfigError

    cpu_pair = sorted(PRESET_DIR.glob("*-fashion-mnist-cpu.yaml"))[0].name.removesuffix("-fashion-mnist-cpu.yaml")
    preset, path = resolve_preset(None, cpu_pair, "fashion-mnist", "cpu")
    assert path.name == f"{cpu_pair}-fashion-mnist-cpu.yaml" and preset["model"]["name"] == cpu_pair
    assert resolve_preset(None, cpu_pair, "fashion-mnist")[1].name == f"{cpu_pair}-fashion-mnist.yaml"
    with pytest.raises(ConfigError, match="no CPU preset for ae on mnist; CPU presets exist for .*fashion-mnist"):
        resolve_preset(None, "ae", "mnist", "cpu")


def test_budget_and_config_together_is_one_line_error(tmp_path):
    result = genzoo("train", "ae", "--data", "shapes", "--budget", "cpu", "--config", "ae-shapes", "--steps", "1", cwd=tmp_path, check=False)
    assert_one_line_error(result, "--budget", "--config")


def test_train_guards_the_run_directory_and_the_saved_dataset(trained_run):
    root, run = trained_run
    assert_one_line_error(genzoo("train", "--resume", "--out", "run", "--data", "fashion-mnist", "--steps", "20", cwd=root, check=False),
                          "cannot change data.name when resuming ('shapes' -> 'fashion-mnist')")
    (root / "mine").mkdir(exist_ok=True)
    (root / "mine" / "config.yaml").write_text("my: settings\n")
    assert_one_line_error(genzoo("train", "ae", "--data", "shapes", "--steps", "1", "--out", "mine", cwd=root, check=False),
                          "mine is not empty and holds no genzoo run (it holds: config.yaml)")
    assert (root / "mine" / "config.yaml").read_text() == "my: settings\n"
    assert_one_line_error(genzoo("train", "ae", "--data", "shapes", "--steps", "1", "--out", "mine/config.yaml", cwd=root, check=False),
                          "is a file, not a directory")
    assert_one_line_error(genzoo("train", "ae", "--data", "shapes", "--steps", "1", "--lr", "nan", "--out", "new", cwd=root, check=False),
                          "train.lr must be > 0 and finite, got nan")
    assert not (root / "new").exists()
