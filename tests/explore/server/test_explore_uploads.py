"""Uploads: checked for size and format (a 4xx line each, never a 500), fitted to the model with a note, then usable."""

from __future__ import annotations

import io

import numpy as np
import pytest
from genzoo_testing.explore_server import pixels_of, png_file
from PIL import Image

from genzoo.explore.server.images import UPLOAD_LIMIT_BYTES


def upload(client, run: int, data: bytes, name: str = "image.png", kind: str = "image/png"):
    return client.post(f"/api/runs/{run}/uploads", files={"file": (name, data, kind)})


def truncated_png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()[:400]


@pytest.mark.parametrize("data, name, status, start", [
    (b"hello, not an image", "notes.txt", 415, "notes.txt is not an image genzoo can read: send a PNG or JPEG file"),
    (b"", "empty.png", 400, "empty.png is empty: choose a PNG or JPEG image"),
    (png_file((8, 8), fmt="TIFF"), "scan.tiff", 415, "scan.tiff is a TIFF image: send one of PNG, JPEG, GIF, BMP, WEBP"),
    (truncated_png(), "cut.png", 400, "cut.png could not be decoded"),
    (png_file((9000, 5000), mode="L", colour=0), "huge.png", 413, "huge.png is 9000x5000 pixels, more than 40 megapixels"),
    (b"\x89PNG" + b"0" * (UPLOAD_LIMIT_BYTES + 10), "big.png", 413, "big.png is larger than the 4.0 MB limit (4,000,014 bytes)"),
    (b"\x89PNG" + b"0" * (3 * UPLOAD_LIMIT_BYTES), "bigger.png", 413, "request too large (12.0 MB): the limit is 4.1 MB"),
])
def test_a_bad_upload_is_one_4xx_line(client, data, name, status, start):
    response = upload(client, 0, data, name)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error.startswith(start) and "\n" not in error


def test_an_upload_that_is_not_a_form_or_has_no_file_is_refused(client):
    raw = client.post("/api/runs/0/uploads", content=png_file((28, 28)), headers={"content-type": "image/png"})
    assert raw.status_code == 415 and raw.json()["error"] == "send the image as multipart/form-data with a field named 'file'"
    empty_form = client.post("/api/runs/0/uploads", data={"other": "x"}, files={"x": ("a.png", b"1", "image/png")})
    assert empty_form.status_code == 400 and empty_form.json()["error"] == "no file in the upload: send the image in a field named 'file'"
    no_tool = upload(client, 3, png_file((28, 28)))  # the toy run takes no images
    assert no_tool.status_code == 404


def test_a_wrongly_sized_colour_image_is_fitted_and_the_note_says_how(client):
    image = np.zeros((48, 64, 3), dtype=np.uint8)
    image[:, 32:] = 255  # right half white
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    answer = upload(client, 0, buffer.getvalue(), "halves.png").json()
    assert answer["note"] == "halves.png: resized from 64x48 to 28x28 (shorter side scaled, centre crop), colour to gray"
    shown = pixels_of(answer["image"])
    assert shown.shape == (28, 28) and shown[:, :10].max() < 40 and shown[:, -10:].min() > 215  # centre crop keeps both halves
    same_size = upload(client, 0, png_file((28, 28), mode="L", colour=90), "gray.png").json()
    assert same_size["note"] == "gray.png"


def test_an_uploaded_image_is_encoded_and_completed(client):
    answer = upload(client, 0, png_file((28, 28), mode="L", colour=255)).json()
    encoded = client.post("/api/runs/0/encode", json={"source": {"kind": "upload", "id": answer["upload"]}}).json()
    assert len(encoded["z"]) == 2 and encoded["note"] == "image.png"
    assert client.post("/api/runs/1/encode", json={"source": {"kind": "upload", "id": answer["upload"]}}).status_code == 404  # another run's

    binary = upload(client, 2, png_file((40, 40), mode="L", colour=255)).json()
    assert set(np.unique(pixels_of(binary["image"]))) == {255}  # binarized for the pixelcnn
    with client.stream("POST", "/api/runs/2/complete", json={"source": {"kind": "upload", "id": binary["upload"]}, "region": "top-half", "n": 2}) as lines:
        messages = [line for line in lines.iter_lines() if line]
    assert '"type": "done"' in messages[-1]
