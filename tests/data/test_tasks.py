"""Paired tasks (genzoo.data.tasks): the conditions they compute, their shapes, baselines and errors."""

from __future__ import annotations

import pytest
import torch

from genzoo.data.dataset import DatasetInfo, ImageDataset, keep_classes
from genzoo.data.tasks import parse_task
from genzoo.errors import ConfigError, DataError
from genzoo.runs.config import DataConfig, RunConfig
from genzoo.train.run import build_run


def images(shape=(4, 3, 8, 8), seed=0):
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("spec", ["superres:2", "superres:4", "colorize", "edges", "edges:0.05:0.3", "paired", "paired:BtoA"])
def test_spec_round_trips(spec):
    assert parse_task(spec).spec == spec.replace("paired:AtoB", "paired")


@pytest.mark.parametrize("spec, message", [
    ("blur", "unknown task 'blur': choose one of superres:F"),
    ("superres", "write superres:F"),
    ("superres:1", "F >= 2"),
    ("superres:2.5", "integer factor"),
    ("edges:0.3:0.1", "0 < LOW <= HIGH < 1"),
    ("edges:0.1", "edges:LOW:HIGH"),
    ("paired:sideways", "paired:AtoB or paired:BtoA"),
    ("colorize:2", "takes no argument"),
])
def test_bad_specs_are_one_line_errors(spec, message):
    with pytest.raises(ConfigError, match=message) as error:
        parse_task(spec)
    assert "\n" not in str(error.value)


def test_superres_condition_is_the_block_average():
    x = images((2, 1, 8, 8))
    condition, target = parse_task("superres:4").split(x)
    assert condition.shape == (2, 1, 2, 2) and target is x
    assert torch.allclose(condition[0, 0, 1, 0], x[0, 0, 4:8, 0:4].mean())


def test_colorize_condition_is_bt601_luma():
    x = images()
    condition, _ = parse_task("colorize").split(x)
    expected = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
    assert condition.shape == (4, 1, 8, 8) and torch.allclose(condition[:, 0], expected)


def test_edges_outline_a_square_and_nothing_else():
    x = torch.zeros(1, 1, 16, 16)
    x[:, :, 4:12, 4:12] = 1.0
    condition, _ = parse_task("edges").split(x)
    assert set(condition.unique().tolist()) <= {0.0, 1.0}
    border = torch.zeros(16, 16, dtype=torch.bool)
    border[3:13, 3:13] = True
    border[6:10, 6:10] = False  # the ring around the square's outline
    on = condition[0, 0] > 0.5
    assert on.sum() >= 16 and not (on & ~border).any(), "edges only along the square's outline"
    assert not parse_task("edges").split(torch.full((1, 1, 16, 16), 0.7))[0].any(), "a flat image has no edges"


@pytest.mark.parametrize("spec", ["superres:2", "colorize", "edges"])
def test_conditions_commute_with_the_symmetric_value_range(spec):
    x = images()
    plain, _ = parse_task(spec).split(x)
    symmetric, _ = parse_task(spec, value_range=(-1.0, 1.0)).split(2 * x - 1)
    assert torch.allclose(symmetric, 2 * plain - 1, atol=1e-5)


def test_paired_halves_and_direction():
    a, b = images((2, 3, 4, 4), 1), images((2, 3, 4, 4), 2)
    x = torch.cat([a, b], dim=3)  # (2, 3, 4, 8) A|B
    assert all(torch.equal(u, v) for u, v in zip(parse_task("paired").split(x), (a, b)))
    assert all(torch.equal(u, v) for u, v in zip(parse_task("paired:BtoA").split(x), (b, a)))
    assert parse_task("paired").target_shape((3, 4, 8)) == (3, 4, 4)
    with pytest.raises(ConfigError, match="condition from the data"):
        parse_task("paired").condition_of(a)


def test_baselines():
    flat = torch.full((1, 1, 4, 4), 0.25)
    assert torch.allclose(parse_task("superres:4").baseline(flat), torch.full((1, 1, 16, 16), 0.25), atol=1e-6)
    luma = images((2, 1, 8, 8))
    grey = parse_task("colorize").baseline(luma)
    assert grey.shape == (2, 3, 8, 8) and torch.equal(grey[:, 2], luma[:, 0])
    assert parse_task("edges").baseline_name is None
    with pytest.raises(ConfigError, match="no baseline"):
        parse_task("edges").baseline(luma)


def test_bicubic_baseline_stays_in_the_value_range():
    x = (images((8, 1, 16, 16)) > 0.5).float()
    task = parse_task("superres:4")
    upsampled = task.baseline(task.condition_of(x))
    assert upsampled.min() >= 0 and upsampled.max() <= 1
    assert upsampled.shape == x.shape


@pytest.mark.parametrize("spec, shape, message", [
    ("superres:3", (1, 28, 28), "divisible by 3, got 28x28"),
    ("colorize", (1, 28, 28), "needs RGB images, the data has 1 channel"),
    ("paired", (3, 8, 9), "even width"),
])
def test_tasks_refuse_images_they_do_not_fit(spec, shape, message):
    with pytest.raises(ConfigError, match=message):
        parse_task(spec).check(shape)


def test_shapes_and_condition_as_image():
    task = parse_task("superres:4")
    assert task.condition_shape((1, 28, 28)) == (1, 7, 7)
    shown = task.as_image(torch.rand(2, 1, 7, 7), (1, 28, 28))
    assert shown.shape == (2, 1, 28, 28) and torch.equal(shown[:, :, :4, :4], shown[:, :, :1, :1].expand(-1, -1, 4, 4))
    assert parse_task("colorize").as_image(torch.rand(2, 1, 8, 8), (3, 8, 8)).shape == (2, 3, 8, 8)


def labelled(count=12):
    info = DatasetInfo("toy", (1, 4, 4), 256, 3, ("train",), None, "")
    return ImageDataset(info, "train", torch.arange(count, dtype=torch.uint8).view(-1, 1, 1, 1).expand(-1, 1, 4, 4).clone(),
                        torch.arange(count) % 3)


def test_keep_classes_keeps_labels_and_order():
    kept = keep_classes(labelled(), (2,))
    assert kept.labels.tolist() == [2, 2, 2, 2] and kept.images[:, 0, 0, 0].tolist() == [2, 5, 8, 11]


@pytest.mark.parametrize("classes, message", [((3,), "classes 0..2"), ((0,), None)])
def test_keep_classes_errors(classes, message):
    if message is None:
        assert len(keep_classes(labelled(), classes)) == 4
        return
    with pytest.raises(DataError, match=message):
        keep_classes(labelled(), classes)


def test_data_config_refuses_bad_task_and_classes():
    with pytest.raises(ConfigError, match="unknown task"):
        DataConfig(task="sharpen")
    with pytest.raises(ConfigError, match="data.classes must list"):
        DataConfig(classes=())


def test_a_task_needs_an_image_to_image_model():
    config = RunConfig("ae", data=DataConfig(name="shapes", options={"n_train": 8, "n_test": 8, "size": 28}, task="superres:2"))
    with pytest.raises(ConfigError, match="needs an image-to-image model"):
        build_run(config, progress=False)


def test_classes_filter_the_splits_of_a_run():
    config = RunConfig("ae", data=DataConfig(name="shapes", options={"n_train": 64, "n_test": 32, "size": 28}, classes=(1,)))
    run = build_run(config, progress=False)
    assert run.train_set.labels.unique().tolist() == [1] and run.test_set.labels.unique().tolist() == [1]


def test_the_test_split_of_a_run_keeps_its_classes():
    from genzoo.runs.test_split import load_test_split

    split = load_test_split(DataConfig(name="shapes", options={"n_train": 8, "n_test": 64, "size": 28}, classes=(2, 3)))
    assert set(split.labels.unique().tolist()) == {2, 3}
