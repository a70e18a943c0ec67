"""Autoregressive drawing streamed pixel by pixel: the frames advance in raster order, the result is the
model's own sample for the seed, a completion keeps every kept pixel, and a client that leaves stops the sampler."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch
from genzoo_testing.explore_server import pixels_of

from genzoo.explore.completion import keep_mask
from genzoo.explore.sampling import to_display


def messages(client, path: str, body: dict) -> list[dict]:
    with client.stream("POST", path, json=body) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("application/x-ndjson")
        return [json.loads(line) for line in response.iter_lines() if line]


def test_a_drawing_streams_frames_in_raster_order_and_ends_with_the_models_sample(client, monkeypatch):
    monkeypatch.setattr("genzoo.explore.server.drawing.FRAME_INTERVAL_S", 0.0)  # a frame at every pixel
    stream = messages(client, "/api/runs/2/draw", {"count": 2, "seed": 7, "temperature": 1.0})
    kinds = [message["type"] for message in stream]
    assert kinds[0] == "start" and kinds[-1] == "done" and set(kinds[1:-1]) == {"frame"}
    pixels = [tuple(message["pixel"]) for message in stream[1:-1]]
    assert pixels == sorted(pixels) and len(set(pixels)) == 28 * 28  # every pixel, top-left to bottom-right
    middle = stream[1 + 14 * 28 + 3]  # the frame shown before pixel (14, 3) is drawn
    shown = pixels_of(middle["images"][0])
    assert set(np.unique(shown[15:])) == {128} and set(np.unique(shown[:14])) <= {0, 255}  # undrawn: gray; drawn: binary

    run = client.app.state.explore.runs[2]
    with torch.no_grad():
        expected = to_display(run.model.sample(2, generator=torch.Generator().manual_seed(7)), run.data_format)
    final = [pixels_of(url) for url in stream[-1]["images"]]
    assert all(np.array_equal(image, expected[k, 0].numpy()) for k, image in enumerate(final))


def test_a_completion_keeps_the_kept_pixels_and_draws_the_rest_several_times(client):
    mask = np.zeros((28, 28), dtype=int)
    mask[10:20, 5:25] = 1  # 1: draw again
    body = {"source": {"kind": "test", "index": 4}, "mask": "".join(map(str, mask.ravel())), "n": 3, "seed": 1}
    stream = messages(client, "/api/runs/2/complete", body)
    start, done = stream[0], stream[-1]
    assert start["hidden_pixels"] == 200 and start["count"] == 3 and len(done["images"]) == 3
    original = pixels_of(start["input"])
    masked = pixels_of(start["masked"])
    assert np.array_equal(masked[mask == 0], original[mask == 0]) and set(np.unique(masked[mask == 1])) == {128}
    completions = [pixels_of(url) for url in done["images"]]
    for image in completions:
        assert np.array_equal(image[mask == 0], original[mask == 0])
    assert len({image[mask == 1].tobytes() for image in completions}) > 1  # drawn independently


def test_named_regions_are_keep_mask(client):
    stream = messages(client, "/api/runs/2/complete", {"source": {"kind": "test", "index": 0}, "region": "center", "n": 1})
    hidden = stream[0]["hidden_pixels"]
    assert hidden == int((~keep_mask("center", (1, 28, 28))[0]).sum())


@pytest.mark.parametrize("body, message", [
    ({"source": {"kind": "test", "index": 0}, "mask": "01"}, "field 'mask' must be a string of 784 characters 0/1"),
    ({"source": {"kind": "test", "index": 0}, "mask": "0" * 784}, "the mask hides no pixel: paint over the part the model should draw"),
    ({"source": {"kind": "test", "index": 0}, "region": "bottom"}, "field 'region' must be one of top-half, left-half, center, got 'bottom'"),
    ({"source": {"kind": "test", "index": 0}, "n": 50}, "field 'n' must lie in 1..8, got 50"),
    ({"source": {"kind": "test", "index": 0}, "temperature": 0}, "field 'temperature' must lie in [0.05, 2], got 0"),
])
def test_a_bad_completion_request_is_refused_before_any_drawing(client, body, message):
    response = client.post("/api/runs/2/complete", json=body)
    assert response.status_code == 400 and response.json()["error"].startswith(message)


def test_a_client_that_stops_watching_stops_the_sampler(client, monkeypatch):
    from genzoo.explore.server import drawing

    monkeypatch.setattr(drawing, "FRAME_INTERVAL_S", 0.0)
    reached = []
    watch = drawing.FrameMaker.__call__
    monkeypatch.setattr(drawing.FrameMaker, "__call__", lambda self, canvas, row, col: (reached.append((row, col)), watch(self, canvas, row, col)))
    run = client.app.state.explore.runs[2]
    with client.stream("POST", "/api/runs/2/draw", json={"count": 4}) as response:
        lines = response.iter_lines()
        assert json.loads(next(lines))["type"] == "start" and json.loads(next(lines))["type"] == "frame"
    deadline = time.monotonic() + 10
    while run.drawing.locked() and time.monotonic() < deadline:  # the sampler notices at its next pixel
        time.sleep(0.01)
    assert not run.drawing.locked() and max(reached) < (27, 27)  # stopped before the last pixel
    reached.clear()
    assert messages(client, "/api/runs/2/draw", {"count": 1})[-1]["type"] == "done"


def test_a_class_conditional_model_draws_the_asked_class_and_completes_with_the_images_label(tmp_path):
    from genzoo_testing.explore_server import TestClient

    from genzoo.explore.server.app import create_app
    from genzoo.train import train
    from genzoo_testing.training import make_config

    options = {"hidden": 8, "layers": 2, "output_hidden": 8, "conditional": True}
    train(make_config("gated-pixelcnn", options, preprocess=("binarize-static:0.5",), steps=3), tmp_path / "gated")
    with TestClient(create_app([tmp_path / "gated"], log=lambda line: None)) as client:
        described = client.get("/api/runs").json()["runs"][0]
        assert described["tools"] == ["draw", "complete"] and described["classes"][:2] == ["circle", "square"]
        stream = messages(client, "/api/runs/0/draw", {"count": 2, "seed": 4, "label": 3})
        assert stream[0]["label"] == "diamond"
        run = client.app.state.explore.runs[0]
        with torch.no_grad():
            expected = run.model.sample(2, labels=torch.tensor([3, 3]), generator=torch.Generator().manual_seed(4))
        shown = to_display(expected, run.data_format)
        assert all(np.array_equal(pixels_of(url), shown[k, 0].numpy()) for k, url in enumerate(stream[-1]["images"]))
        completion = messages(client, "/api/runs/0/complete", {"source": {"kind": "test", "index": 5}, "n": 1})
        assert completion[0]["label"] == run.class_names[int(run.test_set().labels[5])]  # the test image's own class
        assert client.post("/api/runs/0/draw", json={"label": 9}).json()["error"] == "field 'label' must lie in 0..4, got 9"
