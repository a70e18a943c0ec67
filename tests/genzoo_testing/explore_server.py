"""Helpers of the explore server's tests: PNG data URLs read back, PNG files made, the app served on a free port."""

from __future__ import annotations

import base64
import io
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from PIL import Image

with warnings.catch_warnings():  # starlette asks for httpx2 in a deprecation warning; httpx is what the project uses
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: F401  (the tests' client)


def pixels_of(data_url: str) -> np.ndarray:
    """A PNG data URL -> uint8 array (H, W) or (H, W, 3)."""
    assert data_url.startswith("data:image/png;base64,")
    with Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))) as image:
        return np.asarray(image).copy()


def png_file(size: tuple[int, int], mode: str = "RGB", colour: object = (200, 30, 30), fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, colour).save(buffer, format=fmt)
    return buffer.getvalue()


@contextmanager
def live_server(app) -> Iterator[str]:
    """`app` served by uvicorn on a free 127.0.0.1 port in a daemon thread; yields its address, stops it after."""
    import uvicorn

    from genzoo.explore.server.command import bind

    listener = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
