"""`genzoo traverse` / `sample` with --scale, run for real in subprocesses on a tiny VAE: PNG sizes and printed usage."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image
from genzoo_testing.cli import run_genzoo

TINY_SHAPES = ["--set", "data.options.n_train=128", "--set", "data.options.n_test=32", "--set", "data.options.size=32",
               "--set", "data.options.channels=1"]
TINY_VAE = ["--set", "model.latent_dim=4", "--set", "model.channels=8", "--set", "model.iwae_samples=0", "--batch-size", "32",
            "--set", "train.eval_every=0", "--set", "train.sample_every=0", "--set", "train.sample_count=4", "--no-progress"]


genzoo = run_genzoo


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("explore-cli")
    genzoo("train", "vae", "--data", "shapes", "--steps", "6", "--out", "run", "--seed", "1", *TINY_SHAPES, *TINY_VAE, cwd=root)
    return root


def test_traverse_scale_enlarges_the_cells_and_says_which_dims_it_shows(vae_run):
    root = vae_run
    outputs = {}
    for scale in (1, 2):
        result = genzoo("traverse", "run", "--steps", "3", "--usage-images", "32", "--scale", str(scale), "--out", f"t{scale}.png", cwd=root)
        outputs[scale] = result.stdout
    assert re.search(r"^\d of 4 latent dims active \(Cov_x E_q\[z_u\] > 0\.01, 32 test images\)", outputs[1], re.M), outputs[1]
    shown = re.search(r"^rows shown \(most used first\): (.+)$", outputs[1], re.M).group(1).split(", ")
    kls = [float(re.fullmatch(r"z[0-3] KL (\d+\.\d\d)", label).group(1)) for label in shown]
    assert kls == sorted(kls, reverse=True)
    with Image.open(root / "t1.png") as small, Image.open(root / "t2.png") as large:
        assert large.mode == "L" and large.width - small.width == 3 * 32  # 3 columns, each 32 px wider; label bands unchanged
        assert large.height > small.height + 32  # (the wrapped title's height also changes with the width)
        cells = {1: last_cell(np.asarray(small), 32), 2: last_cell(np.asarray(large), 64)}
    assert np.array_equal(cells[2], cells[1].repeat(2, axis=0).repeat(2, axis=1))  # the same decoded image, each pixel 2x2


def last_cell(figure: np.ndarray, size: int) -> np.ndarray:
    """The bottom-right cell of a labelled grid: the last non-white pixel closes it (labels are top and left)."""
    quadrant = figure[figure.shape[0] // 2 :, figure.shape[1] // 2 :]  # (H/2, W/2) gray
    rows, columns = np.nonzero(quadrant < 255)
    bottom, right = rows.max() + figure.shape[0] // 2 + 1, columns.max() + figure.shape[1] // 2 + 1
    assert (figure[bottom:, right - size : right] == 255).all() and (figure[bottom - size : bottom, right:] == 255).all()
    return figure[bottom - size : bottom, right - size : right]


def test_traverse_dims_keeps_the_given_order_and_a_bad_scale_is_one_line(vae_run):
    root = vae_run
    result = genzoo("traverse", "run", "--dims", "2,0", "--steps", "2", "--usage-images", "32", "--out", "d.png", cwd=root)
    assert re.search(r"^rows shown \(--dims\): z2 KL [\d.]+, z0 KL [\d.]+$", result.stdout, re.M), result.stdout
    bad = genzoo("reconstruct", "run", "--scale", "0", "--out", "x.png", cwd=root, check=False)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == ["genzoo: error: --scale must be an integer >= 1, got 0"]


def test_sample_scale_multiplies_the_cell_size(vae_run):
    root = vae_run
    genzoo("sample", "run", "-n", "4", "--nrow", "2", "--scale", "3", "--out", "s.png", cwd=root)
    with Image.open(root / "s.png") as image:
        assert image.size == (2 * (96 + 2) + 2, 2 * (96 + 2) + 2)


def test_complete_draws_original_masked_input_and_completions_per_test_image(tmp_path):
    genzoo("train", "pixelcnn", "--data", "shapes", "--steps", "2", "--out", "run", *TINY_SHAPES, "--set", "model.hidden=8",
           "--set", "model.residual_blocks=1", "--set", "model.output_hidden=8", "--batch-size", "32", "--set", "train.eval_every=0",
           "--set", "train.sample_every=0", "--set", "train.sample_count=4", "--no-progress", cwd=tmp_path)
    result = genzoo("complete", "run", "--from-test", "0", "1", "-n", "2", "--scale", "1", "--out", "c.png", cwd=tmp_path)
    assert "wrote 2 rows (original, masked input, 2 completions) to c.png" in result.stdout
    with Image.open(tmp_path / "c.png") as figure:
        assert figure.width > 4 * 32 and figure.height > 2 * 32  # 4 columns and 2 rows of 32-px cells, with their labels
    bad = genzoo("complete", "run", "-n", "0", cwd=tmp_path, check=False)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == ["genzoo: error: -n must be >= 1, got 0"]
