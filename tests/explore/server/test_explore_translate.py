"""Image-to-image models on the page (capabilities.image_to_image): sketch, upload and test image in, the
model's translate() out, beside the task's baseline and the target. Two tiny translation models, made here
and never registered, stand in for the applications family."""

from __future__ import annotations

import base64
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from genzoo_testing.explore_server import pixels_of, png_file
from PIL import Image
from torch import nn

from genzoo.data.format import DataFormat
from genzoo.explore.server.app import create_app
from genzoo.explore.server.compute import Workers
from genzoo.explore.server.run_state import prepare_run
from genzoo.explore.sampling import to_display
from genzoo.models.translation.base import TranslationModel
from genzoo.runs.checkpoint import CheckpointInfo
from genzoo_testing.training import make_config

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


@dataclass(frozen=True)
class NoOptions:
    pass


class Doubler(TranslationModel):
    """superres:2 by nearest upsampling times a learnable gain (1 at init): output = gain * up(c)."""

    name = "test-doubler"
    stochastic = False

    def __init__(self, config: NoOptions, data_format: DataFormat) -> None:
        super().__init__(config, data_format)
        self.gain = nn.Parameter(torch.ones(()))

    def translate(self, condition, *, temperature=1.0, generator=None):  # noqa: ANN001
        self.check_condition(condition)
        return (self.gain * F.interpolate(condition, scale_factor=self.task.factor, mode="nearest")).clamp(0, 1)


class Filler(TranslationModel):
    """edges: paints every pixel within one step of an edge; stochastic (a random gray level per call)."""

    name = "test-filler"

    def __init__(self, config: NoOptions, data_format: DataFormat) -> None:
        super().__init__(config, data_format)
        self.anchor = nn.Parameter(torch.zeros(()))

    def translate(self, condition, *, temperature=1.0, generator=None):  # noqa: ANN001
        self.check_condition(condition)
        level = torch.rand((), generator=generator) * 0.5 + 0.5
        return level * F.max_pool2d(condition, 3, stride=1, padding=1)


def translation_run(index: int, model_class: type, task: str):
    data_format = DataFormat(image_shape=(1, 28, 28), levels=256, value_range=(0.0, 1.0), num_classes=5, task=task)
    model = model_class(NoOptions(), data_format)
    config = make_config("ae")
    info = CheckpointInfo(path=Path("none"), step=0, epoch=0, run_config=config, data_format=data_format, preprocess=(), metrics={},
                          versions={}, dataset={"levels": 256, "class_names": ["circle", "square", "triangle", "diamond", "cross"]})
    return prepare_run(index, model.name, model, info, Workers())


@pytest.fixture(scope="module")
def client():
    app = create_app([translation_run(0, Doubler, "superres:2"), translation_run(1, Filler, "edges")])
    with TestClient(app) as test_client:
        yield test_client


def sketch_url(strokes: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(strokes).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_the_task_is_described(client):
    runs = client.get("/api/runs").json()["runs"]
    assert [run["tools"] for run in runs] == [["translate"], ["translate"]]
    assert runs[0]["task"] == {"spec": "superres:2", "name": "superres", "condition_shape": [1, 14, 14], "target_shape": [1, 28, 28],
                               "baseline": "bicubic", "stochastic": False, "sketch": False}
    assert runs[1]["task"]["sketch"] and runs[1]["task"]["stochastic"]


def test_a_test_image_is_split_as_in_training_and_shown_with_baseline_and_target(client):
    run = client.app.state.explore.runs[0]
    answer = client.post("/api/runs/0/translate", json={"source": {"kind": "test", "index": 2}}).json()
    x, _ = run.test_batch([2])
    condition, target = run.model.split(x)
    assert np.array_equal(pixels_of(answer["target"]), to_display(target, run.data_format)[0, 0].numpy())
    assert np.array_equal(pixels_of(answer["outputs"][0]), to_display(run.model.translate(condition), run.data_format)[0, 0].numpy())
    assert np.array_equal(pixels_of(answer["baseline"]), to_display(run.model.task.baseline(condition), run.data_format)[0, 0].numpy())
    assert len(answer["outputs"]) == 1 and answer["baseline_name"] == "bicubic"  # one output: the model is deterministic


def test_an_upload_for_superresolution_becomes_the_small_input(client):
    upload = client.post("/api/runs/0/uploads", files={"file": ("big.png", png_file((40, 40), mode="L", colour=200), "image/png")}).json()
    assert upload["note"] == "big.png: resized from 40x40 to 14x14" and pixels_of(upload["image"]).shape == (28, 28)
    answer = client.post("/api/runs/0/translate", json={"source": {"kind": "upload", "id": upload["upload"]}}).json()
    assert answer["target"] is None and np.unique(pixels_of(answer["outputs"][0])).tolist() == [200]


def test_a_sketch_becomes_an_edge_map_and_a_stochastic_model_draws_several(client):
    strokes = np.zeros((28, 28), dtype=np.uint8)
    strokes[5:20, 10] = 255
    strokes[3, 3] = 90  # too faint to count as a stroke
    answer = client.post("/api/runs/1/translate", json={"source": {"kind": "sketch", "png": sketch_url(strokes)}, "outputs": 3}).json()
    edge_map = pixels_of(answer["input"])
    assert np.array_equal(edge_map, np.where(strokes > 127, 255, 0))
    outputs = [pixels_of(url) for url in answer["outputs"]]
    assert len(outputs) == 3 and len({int(image.max()) for image in outputs}) == 3  # three draws
    assert all((image[4:21, 9:12] > 0).all() and image[:, 14:].max() == 0 for image in outputs)


@pytest.mark.parametrize("run, source, message", [
    (0, {"kind": "sketch", "png": "data:image/png;base64,AAAA"}, "sketches are inputs of the edges task; this model's task is superres:2: upload an image"),
    (1, {"kind": "sketch", "png": "http://example.com/a.png"}, "source.png (the sketch) must be a PNG data URL (data:image/png;base64,...)"),
    (1, {"kind": "sketch", "png": "data:image/png;base64,!!!"}, "source.png (the sketch) holds invalid base64"),
    (1, {"kind": "sketch", "png": "data:image/png;base64,aGVsbG8="}, "sketch is not an image genzoo can read: send a PNG or JPEG file"),
    (1, {"kind": "camera"}, "source kind must be sketch, upload or test, got 'camera'"),
])
def test_a_bad_input_is_one_line(client, run, source, message):
    response = client.post(f"/api/runs/{run}/translate", json={"source": source})
    assert 400 <= response.status_code < 500 and response.json()["error"] == message


# ---- the applications family itself: tiny trained regress (edges) and conditional-pixelcnn (superres:2) runs ------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from dataclasses import replace

    from genzoo.train import train

    root = tmp_path_factory.mktemp("translation-runs")
    specs = {"regress": ({"width": 8}, "edges"),
             "conditional-pixelcnn": ({"hidden": 8, "layers": 2, "output_hidden": 8, "condition_features": 8, "condition_width": 8}, "superres:2")}
    for name, (options, task) in specs.items():
        config = make_config(name, options, steps=3)
        train(replace(config, data=replace(config.data, task=task)), root / name)
    app = create_app([root / name for name in specs], log=lambda line: None)
    with TestClient(app) as test_client:
        yield test_client


def test_trained_translation_runs_get_the_translate_tool_only(trained):
    runs = trained.get("/api/runs").json()["runs"]
    assert [(run["model"], run["tools"], run["task"]["spec"]) for run in runs] == [
        ("regress", ["translate"], "edges"), ("conditional-pixelcnn", ["translate"], "superres:2")]  # no unconditional drawing


def test_a_sketch_through_a_trained_regress_run_is_its_translate(trained):
    run = trained.app.state.explore.runs[0]
    strokes = np.zeros((28, 28), dtype=np.uint8)
    strokes[8:20, 6:22][::3] = 255
    answer = trained.post("/api/runs/0/translate", json={"source": {"kind": "sketch", "png": sketch_url(strokes)}}).json()
    condition = torch.from_numpy((strokes > 127).astype(np.float32))[None, None]
    assert np.array_equal(pixels_of(answer["outputs"][0]), to_display(run.model.translate(condition), run.data_format)[0, 0].numpy())
    assert answer["baseline"] is None and len(answer["outputs"]) == 1


def test_a_conditional_pixelcnn_draws_several_outputs_for_one_test_image(trained):
    answer = trained.post("/api/runs/1/translate", json={"source": {"kind": "test", "index": 0}, "outputs": 2}).json()
    assert len(answer["outputs"]) == 2 and answer["baseline_name"] == "bicubic" and answer["target"] is not None
