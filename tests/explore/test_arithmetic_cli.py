"""`genzoo arithmetic --score` end to end in subprocesses on a tiny VAE run: output, cache, Ctrl-C, one-line errors."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import pytest
from PIL import Image
from genzoo_testing.cli import cli_environment, run_genzoo

TINY_SHAPES = ["--set", "data.options.n_train=600", "--set", "data.options.n_test=64", "--set", "data.options.size=28"]
TINY_VAE = ["--set", "model.latent_dim=4", "--set", "model.channels=8", "--set", "model.iwae_samples=0", "--batch-size", "32",
            "--set", "train.eval_every=0", "--set", "train.final_eval=false", "--set", "train.sample_every=0",
            "--set", "train.checkpoint_every=20", "--no-progress"]
TIGHT_SCORE = ["--score", "--trials", "2", "--results", "4", "--candidates", "64", "--classifier-steps", "30"]


environment = cli_environment


genzoo = run_genzoo


def error_line(result: subprocess.CompletedProcess) -> str:
    """The one-line error of a failed command (exit 2): stderr's last line; progress bars before it erase themselves."""
    assert result.returncode == 2 and "Traceback" not in result.stderr, (result.returncode, result.stderr)
    line = re.split(r"[\r\n]+", result.stderr.strip())[-1]
    assert line.startswith("genzoo: error: "), result.stderr
    return line


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("arithmetic")
    genzoo("train", "vae", "--data", "shapes", "--steps", "20", "--out", "run", *TINY_SHAPES, *TINY_VAE, cwd=root)
    return root


def test_score_prints_method_success_and_chance_and_caches_the_classifier(vae_run):
    first = genzoo("arithmetic", "run", *TIGHT_SCORE, "--out", "first.png", cwd=vae_run)
    assert "method: encode (the default for this model)" in first.stdout
    assert "expression: red circle - red square + blue square  (expected: colour=blue, shape=circle)" in first.stdout
    assert "fitting the attribute classifier (30 steps" in first.stdout
    success = re.search(r"success rate (\d\.\d+) \(colour (\d\.\d+), shape (\d\.\d+)\) over 8 result images \(2 trials x 4\)", first.stdout)
    chance = re.search(r"chance rate +(\d\.\d+) .* over 64 plain prior samples; uniform guess 0\.029; scored in", first.stdout)
    assert success and chance, first.stdout
    assert 0 <= float(success.group(1)) <= min(float(success.group(2)), float(success.group(3))) <= 1
    assert list((vae_run / "cache" / "genzoo" / "attributes").glob("shapes-3x28x28-*.safetensors"))
    with Image.open(vae_run / "first.png") as image:
        assert image.mode == "RGB" and image.width > 4 * 30 and image.height > 5 * 30  # 3 concept rows + result row, labelled

    second = genzoo("arithmetic", "run", *TIGHT_SCORE, "--out", "second.png", cwd=vae_run)
    assert "fitting" not in second.stdout and "attribute classifier (cached," in second.stdout
    assert success.group(0) in second.stdout  # same seed, same cached classifier: the same measurement


def test_other_sources_and_expressions_run(vae_run):
    result = genzoo("arithmetic", "run", "--expr", "green,triangle - green + yellow", "--source", "classify", "--candidates", "256",
                    "--classifier-steps", "30", "--out", "classify.png", check=False, cwd=vae_run)
    # a 20-step VAE may draw no green triangle at all: then the error says so in one line
    if result.returncode:
        assert "samples show it by the classifier" in error_line(result)
    else:
        assert "method: classify (--source)" in result.stdout and (vae_run / "classify.png").exists()


def test_a_gan_run_defaults_to_classified_prior_samples(vae_run):
    """The README's command on a (tiny, 10-step) DCGAN: classify is the default; a measurement or a one-line error."""
    genzoo("train", "dcgan", "--data", "shapes", "--steps", "10", "--out", "gan", *TINY_SHAPES, "--set", "model.latent_dim=8",
           "--set", "model.generator_channels=8", "--set", "model.discriminator_channels=8", "--batch-size", "32",
           "--set", "train.eval_every=0", "--set", "train.final_eval=false", "--set", "train.sample_every=0", "--no-progress", cwd=vae_run)
    result = genzoo("arithmetic", "gan", *TIGHT_SCORE, "--candidates", "256", "--out", "gan.png", check=False, cwd=vae_run)
    assert "method: classify (the default for this model): the mean code of 3 prior samples" in result.stdout, result.stdout
    if result.returncode:
        assert error_line(result).startswith("genzoo: error: concept 'red,circle': only")
    else:
        assert "success rate" in result.stdout and "over 256 plain prior samples" in result.stdout and (vae_run / "gan.png").exists()


@pytest.mark.parametrize("args, fragment", [
    (["--expr", "colour=purple - colour=red"], "unknown colour 'purple'"),
    (["--expr", "red,circle - red,square + blue,square", "--source", "encode", "--no-match", "--exemplars", "500"], "need 500"),
    (["--expr", "red - blue", "--score"], "does not resolve to one value"),
    (["--trials", "0", "--score"], "must be >= 1"),
])
def test_bad_input_is_one_line(vae_run, args, fragment):
    result = genzoo("arithmetic", "run", "--classifier-steps", "30", *args, check=False, cwd=vae_run)
    assert fragment in error_line(result)


def test_ctrl_c_while_fitting_the_classifier_exits_130_and_caches_nothing(vae_run, tmp_path):
    env = {**environment(vae_run), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    process = subprocess.Popen([sys.executable, "-m", "genzoo", "arithmetic", "run", "--score", "--classifier-steps", "1000000"],
                               cwd=vae_run, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in process.stdout:
            if line.startswith("fitting the attribute classifier"):
                break
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "genzoo: interrupted"
    assert not list((tmp_path / "cache").rglob("*.safetensors"))
