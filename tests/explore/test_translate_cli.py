"""`genzoo translate` and `genzoo eval` on a tiny regress run (superres:4 on 28 px `shapes`), run for real in subprocesses:
the figure is exactly the library's (cells and labels), user images are converted with notes, bad files are one line."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from genzoo_testing.cli import run_genzoo
from PIL import Image

from genzoo.data.tasks import Task
from genzoo.errors import DataError
from genzoo.explore.figure import labelled_grid
from genzoo.explore.translation import condition_files, pairs_of_test_images, translation_figure, translation_title
from genzoo.runs.model import load_model

TINY_RUN = ["--set", "data.options.n_train=64", "--set", "data.options.n_test=32", "--set", "data.options.size=28",
            "--set", "data.options.channels=1", "--set", "data.task=superres:4", "--set", "model.width=4", "--set", "model.max_depth=2",
            "--batch-size", "8", "--set", "train.eval_every=0", "--set", "train.sample_every=0", "--set", "train.sample_count=4", "--no-progress"]

genzoo = run_genzoo


@pytest.fixture(scope="module")
def regress_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("translate-cli")
    genzoo("train", "regress", "--data", "shapes", "--steps", "4", "--out", "run", *TINY_RUN, cwd=root)
    return root


def expected_figure(root, condition, target, row_labels) -> np.ndarray:
    """The figure `genzoo translate --scale 1` should write, drawn here through the library."""
    model, info = load_model(root / "run")
    figure = translation_figure(model, condition, target, n=4, generator=torch.Generator().manual_seed(0))
    grid = labelled_grid(figure.images, nrow=len(figure.column_labels), row_labels=row_labels, column_labels=figure.column_labels,
                         title=translation_title(model, info.step, 1.0), scale=1)  # (H, W, 1): grey
    return grid[..., 0]


def read_png(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.array(image)


def test_from_test_figure_has_input_baseline_output_and_target_columns(regress_run):
    root = regress_run
    result = genzoo("translate", "run", "--from-test", "0", "1", "2", "-n", "4", "--scale", "1", "--out", "test.png", cwd=root)
    assert "note: regress is deterministic: one output per input (-n 4 ignored)" in result.stdout
    assert "wrote 3 rows (input 7x7, bicubic, output, target) to test.png" in result.stdout
    model, info = load_model(root / "run")
    condition, target = pairs_of_test_images(info, model.task, [0, 1, 2])
    figure = translation_figure(model, condition, target, n=4)
    cells = figure.images.view(3, 4, 1, 28, 28)  # (rows, columns, C, H, W) uint8
    assert torch.equal(cells[:, 3], (target * 255).round().to(torch.uint8))  # the target column shows the test images
    assert torch.equal(cells[:, 0], (condition.repeat_interleave(4, 2).repeat_interleave(4, 3) * 255).round().to(torch.uint8))
    assert np.array_equal(read_png(root / "test.png"), expected_figure(root, condition, target, ["test 0", "test 1", "test 2"]))


def write_png(path, array: np.ndarray, mode: str) -> None:
    Image.fromarray(array.astype(np.uint8), mode=mode).save(path)


def test_input_files_are_converted_resized_with_a_note_and_drawn_without_a_target(regress_run):
    root = regress_run
    generator = np.random.default_rng(0)
    write_png(root / "grey.png", generator.integers(0, 256, (7, 7)), "L")
    write_png(root / "colour.png", generator.integers(0, 256, (7, 7, 3)), "RGB")
    write_png(root / "large.png", generator.integers(0, 256, (21, 14)), "L")
    result = genzoo("translate", "run", "--input", "grey.png", "colour.png", "large.png", "--scale", "1", "--out", "mine.png", cwd=root)
    notes = [line for line in result.stdout.splitlines() if line.startswith("note: ")]
    assert notes == ["note: colour.png: colour converted to grey (luma) for a grey input",
                     "note: large.png: resized from 21x14 to 7x7, the model's input size"]
    assert "wrote 3 rows (input 7x7, bicubic, output) to mine.png" in result.stdout
    model, _ = load_model(root / "run")
    condition, _ = condition_files([root / name for name in ("grey.png", "colour.png", "large.png")], model.task, model.condition_shape)
    assert torch.equal((condition[0, 0] * 255).round().to(torch.uint8), torch.from_numpy(read_png(root / "grey.png")))
    assert np.array_equal(read_png(root / "mine.png"), expected_figure(root, condition, None, ["grey.png", "colour.png", "large.png"]))


def test_an_unreadable_file_a_bad_test_index_or_sampling_is_one_line_and_exit_2(regress_run):
    root = regress_run
    (root / "garbage.png").write_bytes(b"this is not an image")
    bad = genzoo("translate", "run", "--input", "garbage.png", cwd=root, check=False)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == ["genzoo: error: cannot read image 'garbage.png' (UnidentifiedImageError): give a PNG or JPEG file"]
    outside = genzoo("translate", "run", "--from-test", "32", cwd=root, check=False)
    assert outside.returncode == 2
    assert outside.stderr.strip().splitlines() == ["genzoo: error: test image index 32 out of range: the run's test split has 32 images (0..31)"]
    sampled = genzoo("sample", "run", cwd=root, check=False)
    assert sampled.returncode == 2
    assert sampled.stderr.strip().splitlines() == [
        "genzoo: error: regress translates inputs, it draws nothing from nothing: use `genzoo translate run --from-test 0 1 2`"]


def test_eval_prints_the_translation_yardstick_of_model_and_baseline(regress_run):
    root = regress_run
    result = genzoo("eval", "run", "--num-samples", "16", "--batch-size", "16", "--metrics", "likelihood,fid,kid,speed", "--no-progress", cwd=root)
    lines = result.stdout.splitlines()
    assert lines[1] == "translation superres:4: N=16 test images, 1 output per input"
    assert re.fullmatch(r"  regress: PSNR \d+\.\d\d dB, SSIM -?\d\.\d{3}; consistency: downscaled output vs input PSNR \d+\.\d\d dB; "
                        r"diversity 0 \(one output per input\); \d+ outputs/s \(batch 16\)", lines[2]), lines[2]
    assert lines[3].startswith("    regress realism: FID ") and "classifier accuracy" in lines[3]
    assert lines[4].startswith("  bicubic: PSNR ") and lines[5].startswith("    bicubic realism: FID ")
    assert lines[6].startswith("speed: translation ")
    section = json.loads((root / "run" / "evaluation.json").read_text())["translation"]
    assert section["model"]["name"] == "regress" and section["baseline"]["name"] == "bicubic" and section["test_images"] == 16


# ---- user images, in process -----------------------------------------------------------------------
def test_a_sketch_drawn_dark_on_light_becomes_bright_edges_on_dark_and_thin_lines_survive_shrinking(tmp_path):
    paper = np.full((56, 56), 255)
    paper[8:48, 20] = 0  # a 1-pixel pen line, dark on white
    write_png(tmp_path / "sketch.png", paper, "L")
    condition, notes = condition_files([tmp_path / "sketch.png"], Task("edges"), (1, 28, 28))
    assert notes[0] == "sketch.png: dark lines on a light background inverted to the task's bright edges on dark"
    assert notes[-1] == "sketch.png: resized from 56x56 to 28x28, the model's input size"
    edges = condition[0, 0]  # (28, 28) with values 0 and 1
    assert set(edges.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(edges.nonzero()[:, 1].unique(), torch.tensor([10])) and int(edges.sum()) == 20  # rows 4..23 of column 10
    write_png(tmp_path / "chalk.png", 255 - paper, "L")  # already bright on dark: kept
    chalk, chalk_notes = condition_files([tmp_path / "chalk.png"], Task("edges", value_range=(-1.0, 1.0)), (1, 28, 28))
    assert not any("inverted" in note for note in chalk_notes) and torch.equal(chalk[0, 0], 2 * edges - 1)


def test_grey_files_become_rgb_for_a_colour_input_and_16_bit_images_are_refused(tmp_path):
    write_png(tmp_path / "grey.png", np.arange(49).reshape(7, 7) * 5, "L")
    condition, notes = condition_files([tmp_path / "grey.png"], Task("superres", factor=4), (3, 7, 7))
    assert notes == ["grey.png: grey image copied to R, G and B for a colour input"]
    assert condition.shape == (1, 3, 7, 7) and torch.equal(condition[0, 0], condition[0, 2])
    Image.fromarray(np.full((7, 7), 40000, dtype=np.uint16)).save(tmp_path / "deep.png")
    with pytest.raises(DataError, match=r"^image .*deep\.png' has 'I;16' pixels \(more than 8 bits\): save it as an 8-bit grey or RGB PNG$"):
        condition_files([tmp_path / "deep.png"], Task("superres", factor=4), (1, 7, 7))
