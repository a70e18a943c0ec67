"""The explore server's JSON endpoints on tiny trained runs: each answer checked against the library it wraps.

Decodes equal the model's own decoder, slider coordinates rebuild the code, path ends are the
end points, a manifold point lands where latent_manifold puts that cell, encodings are the
encoder's; bad requests get a 4xx with one line, never a 500, and no request reaches a file.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from genzoo_testing.explore_server import pixels_of

from genzoo.explore.sampling import to_display
from genzoo.explore.traversal import latent_manifold


def state(client):
    return client.app.state.explore


def run_of(client, name: str):
    return state(client).runs[client.runs[name]]


def decoded(run, z: list[float]) -> np.ndarray:
    """What the model itself draws for z, as the page would show it (uint8, (H, W))."""
    with torch.no_grad():
        image = to_display(run.model.decode(torch.tensor([z])), run.data_format)[0]
    return image[0].numpy()


def test_the_listing_gives_each_run_the_tools_its_capabilities_allow(client):
    listed = client.get("/api/runs").json()["runs"]
    assert [run["id"] for run in listed] == [0, 1, 2, 3]  # the demo-like report/ folder is not among them
    tools = {run["name"]: run["tools"] for run in listed}
    assert tools == {"vae": ["sliders", "interpolate", "manifold", "arithmetic"], "dcgan": ["sliders", "interpolate", "arithmetic"],
                     "pixelcnn": ["draw", "complete"], "toy": ["points"]}
    vae, dcgan = listed[0], listed[1]
    assert vae["sliders"]["kind"] == "dimensions" and np.array_equal(np.abs(vae["sliders"]["directions"]).sum(0), [1, 1])
    assert {label.split()[0] for label in vae["sliders"]["labels"]} == {"z0", "z1"} and "KL" in vae["sliders"]["labels"][0]
    kls = [float(label.split()[-1]) for label in vae["sliders"]["labels"]]
    assert kls == sorted(kls, reverse=True)  # most used first
    assert dcgan["sliders"]["kind"] == "principal" and len(dcgan["sliders"]["labels"]) == 10 and "GANSpace" in dcgan["sliders"]["note"]
    assert np.array(dcgan["sliders"]["directions"]).shape == (10, 20)
    assert dcgan["encoding"].startswith("generator inversion") and vae["encoding"] == "encoder"
    assert listed[3]["game"] == {"mixture": "ring", "g_loss": "minimax", "d_steps": 2}


@pytest.mark.parametrize("name, z", [("vae", [0.3, -1.2]), ("dcgan", [0.1 * k - 1 for k in range(20)])])
def test_a_decode_is_the_models_own_decoding(client, name, z):
    run = run_of(client, name)
    answer = client.post(f"/api/runs/{client.runs[name]}/decode", json={"z": z}).json()
    assert np.array_equal(pixels_of(answer["image"]), decoded(run, z)) and answer["ms"] >= 0


def test_slider_coordinates_rebuild_the_code(client):
    for name in ("vae", "dcgan"):
        basis = run_of(client, name).basis
        answer = client.post(f"/api/runs/{client.runs[name]}/random", json={"seed": 5}).json()
        rebuilt = np.array(answer["base"]) + np.array(answer["coefficients"]) @ basis.directions.numpy()
        assert np.allclose(rebuilt, answer["z"], atol=1e-4)
        assert np.array_equal(pixels_of(answer["image"]), decoded(run_of(client, name), answer["z"]))
    again = client.post(f"/api/runs/{client.runs['vae']}/random", json={"seed": 5}).json()
    other = client.post(f"/api/runs/{client.runs['vae']}/random", json={"seed": 6}).json()
    assert again["z"] == client.post(f"/api/runs/{client.runs['vae']}/random", json={"seed": 5}).json()["z"] != other["z"]


def test_encoding_a_test_image_is_the_encoders_code(client):
    run = run_of(client, "vae")
    answer = client.post("/api/runs/0/encode", json={"source": {"kind": "test", "index": 3}}).json()
    x, _ = run.test_batch([3])
    with torch.no_grad():
        expected = run.model.encode(x)[0]
    assert np.allclose(answer["z"], expected.numpy(), atol=1e-5) and answer["note"] == "test image 3"
    assert np.array_equal(pixels_of(answer["input"]), to_display(x, run.data_format)[0, 0].numpy())


def test_a_gan_starts_from_an_image_by_inversion(client):
    answer = client.post("/api/runs/1/encode", json={"source": {"kind": "test", "index": 0}}).json()
    assert len(answer["z"]) == 20 and "inverted through the generator" in answer["note"] and "error" in answer["note"]
    assert np.array_equal(pixels_of(answer["image"]), decoded(run_of(client, "dcgan"), answer["z"]))


def test_interpolation_runs_from_a_to_b(client):
    run = run_of(client, "vae")
    a, b = [1.5, -0.5], [-1.0, 2.0]
    for kind in ("linear", "slerp"):
        ends = [client.post("/api/runs/0/interpolate", json={"a": a, "b": b, "t": t, "kind": kind}).json() for t in (0.0, 1.0)]
        assert np.allclose(ends[0]["z"], a, atol=1e-5) and np.allclose(ends[1]["z"], b, atol=1e-5)
        strip = client.post("/api/runs/0/interpolation-strip", json={"a": a, "b": b, "kind": kind, "steps": 5}).json()
        assert len(strip["images"]) == 5 and strip["t"] == [0.0, 0.25, 0.5, 0.75, 1.0]
        assert np.array_equal(pixels_of(strip["images"][0]), decoded(run, a)) and np.array_equal(pixels_of(strip["images"][-1]), decoded(run, b))


def test_slerp_keeps_the_norm_between_codes_of_equal_norm(client):
    a, b = [2.0, 0.0], [0.0, 2.0]
    linear = client.post("/api/runs/0/interpolate", json={"a": a, "b": b, "t": 0.5, "kind": "linear"}).json()["z"]
    spherical = client.post("/api/runs/0/interpolate", json={"a": a, "b": b, "t": 0.5, "kind": "slerp"}).json()["z"]
    assert np.linalg.norm(linear) == pytest.approx(2**0.5, rel=1e-5) and np.linalg.norm(spherical) == pytest.approx(2.0, rel=1e-5)


def test_a_manifold_point_is_where_latent_manifold_puts_that_cell(client):
    run = run_of(client, "vae")
    grid_answer = client.post("/api/runs/0/manifold", json={}).json()
    steps = grid_answer["steps"]
    assert pixels_of(grid_answer["image"]).shape == (steps * 28, steps * 28)
    grid = latent_manifold(run.model, steps=steps, low=grid_answer["range"][0], high=grid_answer["range"][1])
    for row, column in ((0, 0), (3, 7), (steps - 1, 2)):
        u, v = (column + 0.5) / steps, (row + 0.5) / steps  # the centre of that cell of the mosaic
        answer = client.post("/api/runs/0/manifold-point", json={"u": u, "v": v}).json()
        assert np.allclose(answer["z"], grid.latents[row * steps + column].numpy(), atol=1e-5)
        cell = pixels_of(grid_answer["image"])[row * 28 : (row + 1) * 28, column * 28 : (column + 1) * 28]
        assert np.array_equal(pixels_of(answer["image"]), cell)


def test_test_images_are_paged_with_their_labels(client):
    first = client.get("/api/runs/2/test-images?start=0&count=4").json()["images"]
    later = client.get("/api/runs/2/test-images?start=30&count=4").json()["images"]
    assert [item["index"] for item in first] == [0, 1, 2, 3] and [item["index"] for item in later] == [30, 31]  # 32 test images
    assert all(item["label"] in ("circle", "square", "triangle", "diamond", "cross") for item in first)
    stored = run_of(client, "pixelcnn").test_set().images
    assert np.array_equal(pixels_of(first[2]["image"]), stored[2, 0].numpy())  # as stored; the model's binarized input shows once chosen
    assert not set(np.unique(stored[2].numpy())) <= {0, 255}  # gray levels: not the pixelcnn's binarized input


def test_a_toy_run_shows_its_samples_over_the_modes(client):
    answer = client.post("/api/runs/3/points", json={"n": 300, "seed": 1}).json()
    assert len(answer["fake"]) == len(answer["real"]) == 300 and len(answer["modes"]) == 8
    assert answer["num_modes"] == 8 and "of 8 modes covered" in answer["stats"]
    assert max(abs(c) for point in answer["real"] for c in point) < answer["extent"]


# ---- what requests cannot do -------------------------------------------------------------------------------
@pytest.mark.parametrize("method, path, body, status, message", [
    ("post", "/api/runs/9/decode", {"z": [0, 0]}, 404, "no run 9: this server explores runs 0..3"),
    ("post", "/api/runs/2/decode", {"z": [0, 0]}, 404, "run 2 (pixelcnn) has no sliders tool: its tools are draw, complete"),
    ("post", "/api/runs/0/decode", {"z": [0]}, 400, "field 'z' must be a list of 2 numbers (the latent size), got a list of 1"),
    ("post", "/api/runs/0/decode", {"z": [0, "x"]}, 400, "field 'z' must hold finite numbers only, got 'x'"),
    ("post", "/api/runs/0/interpolate", {"a": [0, 0], "b": [1, 1], "t": 2}, 400, "field 't' must lie in [0, 1], got 2"),
    ("post", "/api/runs/0/interpolate", {"a": [0, 0], "b": [1, 1], "t": 0.5, "kind": "cubic"}, 400,
     "field 'kind' must be one of linear, slerp, got 'cubic'"),
    ("post", "/api/runs/0/encode", {"source": {"kind": "file", "path": "/etc/passwd"}}, 400, "source kind must be test or upload, got 'file'"),
    ("post", "/api/runs/0/encode", {"source": {"kind": "test", "index": 99}}, 404, "test image 99 does not exist: this run has test images 0..31"),
    ("post", "/api/runs/0/encode", {"source": {"kind": "upload", "id": "../../etc/passwd"}}, 404, None),
    ("get", "/api/runs/0/test-images?count=500", None, 400, "query parameter 'count' must be an integer in 1..48, got '500'"),
    ("post", "/api/runs/0/nowhere", {}, 404, "not found: /api/runs/0/nowhere"),
    ("get", "/api/runs/0/decode", None, 405, "GET is not allowed on /api/runs/0/decode"),
])
def test_bad_requests_get_a_4xx_with_one_line(client, method, path, body, status, message):
    response = getattr(client, method)(path, **({} if body is None else {"json": body}))
    assert response.status_code == status
    error = response.json()["error"]
    assert "\n" not in error and (message is None or error == message)


def test_a_body_that_is_not_json_or_not_finite_is_refused(client):
    for content in (b"{not json", b"[1, 2]", b'{"z": [NaN, 0]}'):
        response = client.post("/api/runs/0/decode", content=content, headers={"content-type": "application/json"})
        assert response.status_code == 400 and response.json()["error"].startswith(("the body", "field 'z'"))
    huge = b'{"z": [' + b"0," * 200_000 + b"0]}"
    assert client.post("/api/runs/0/decode", content=huge).status_code == 413


@pytest.mark.parametrize("path", ["/static/../../pyproject.toml", "/static/%2e%2e/%2e%2e/%2e%2e/pyproject.toml",
                                  "/api/runs/..%2F..%2Fpyproject.toml", "/api/runs/%2Fetc%2Fpasswd/decode", "/static/..%2F..%2Fapp.py"])
def test_no_path_from_a_request_opens_a_file(client, path):
    response = client.get(path)
    assert response.status_code == 404 and b"[build-system]" not in response.content and b"import" not in response.content


def test_every_route_addresses_runs_by_index_and_games_by_token(client):
    parameters = {name for route in client.app.routes for name in getattr(route, "param_convertors", {})}
    assert parameters == {"run", "game", "path"}  # path: StaticFiles' own, inside the package's static/ folder
    convertors = {name: type(convertor).__name__ for route in client.app.routes
                  for name, convertor in getattr(route, "param_convertors", {}).items()}
    assert convertors["run"] == "IntegerConvertor"
    assert client.get("/static/app.js").status_code == 200 and client.get("/").text.startswith("<!doctype html>")
