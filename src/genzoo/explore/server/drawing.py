"""Watching an autoregressive model draw: sampling and completion streamed pixel by pixel.

The model's own fast sampler (`AutoregressiveModel.complete` with its incremental stepper)
does the work; `watching` wraps the stepper it builds so that, each time the sampler asks for
the parameters of pixel (r, c), every pixel before (r, c) in raster order is final and the
canvas can be shown. Frames go out as lines of JSON (one object per line) at most every
FRAME_INTERVAL_S, so the page shows the image filling in at the sampler's real speed:
    {"type": "start", ...}  {"type": "frame", "pixel": [r, c], "images": [...]}  {"type": "done", ...}
Pixels not drawn yet (and not given, for a completion) are shown mid-gray. A client that goes
away stops the sampler at its next pixel.

Completion reuses genzoo.explore.completion (`complete`, `keep_mask`): kept sub-pixels are
forced, the others drawn from p(x_i | x_<i); a painted mask may hide any pixels, and the
page says that the model only sees kept pixels before the one it draws.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from genzoo.explore.completion import REGIONS, complete, keep_mask
from genzoo.explore.sampling import to_display
from genzoo.explore.server.images import png_url, png_urls
from genzoo.explore.server.run_state import ExploreRun
from genzoo.explore.server.uploads import UploadStore
from genzoo.explore.server.validation import RequestError, choice, integer, number
from genzoo.models.autoregressive import AutoregressiveModel

FRAME_INTERVAL_S = 0.04
MAX_DRAWINGS = 4
MAX_COMPLETIONS = 8
TEMPERATURE_RANGE = (0.05, 2.0)


class Cancelled(Exception):
    """The page stopped watching: the sampler stops at its next pixel."""


class WatchedStepper:
    """A model's stepper that calls `on_pixel(canvas, row, col)` before each pixel's parameters."""

    def __init__(self, inner: Any, canvas: torch.Tensor, on_pixel: Callable[[torch.Tensor, int, int], None]) -> None:
        self.inner, self.canvas, self.on_pixel = inner, canvas, on_pixel

    def begin_row(self, row: int) -> None:
        self.inner.begin_row(row)

    def params_at(self, row: int, col: int) -> torch.Tensor:
        self.on_pixel(self.canvas, row, col)
        return self.inner.params_at(row, col)


@contextmanager
def watching(model: AutoregressiveModel, on_pixel: Callable[[torch.Tensor, int, int], None]) -> Iterator[None]:
    """Within the block, the fast sampler's steppers report each pixel (the run's drawing lock is held)."""
    build = model.stepper
    model.stepper = lambda canvas, labels=None: WatchedStepper(build(canvas, labels), canvas, on_pixel)  # type: ignore[method-assign]
    try:
        yield
    finally:
        del model.stepper


class FrameMaker:
    """Turns the canvas (B, C, H, W, scaled to [-1, 1]) at pixel (r, c) into a frame, at most every FRAME_INTERVAL_S."""

    def __init__(self, run: ExploreRun, keep: torch.Tensor, emit: Callable[[dict], None], cancel: threading.Event) -> None:
        self.run, self.keep, self.emit, self.cancel = run, keep.cpu(), emit, cancel  # keep (B, C, H, W) bool
        self.last = 0.0
        _, _, height, width = keep.shape
        self.order = torch.arange(height * width).view(height, width)  # raster index of each pixel

    def __call__(self, canvas: torch.Tensor, row: int, col: int) -> None:
        if self.cancel.is_set():
            raise Cancelled
        now = time.perf_counter()
        if now - self.last < FRAME_INTERVAL_S:
            return
        self.last = now
        self.emit({"type": "frame", "pixel": [row, col], "images": png_urls(self.shown(canvas, row, col))})

    def shown(self, canvas: torch.Tensor, row: int, col: int) -> torch.Tensor:
        """uint8 (B, C, H, W): drawn and kept pixels as they are, the rest mid-gray."""
        model = self.run.model
        values = model.from_scaled(canvas.detach().cpu().float())  # (B, C, H, W)
        drawn = (self.order < row * self.order.shape[1] + col)[None, None]  # (1, 1, H, W)
        low, high = self.run.data_format.value_range
        values = torch.where(drawn | self.keep, values, torch.full_like(values, (low + high) / 2))
        return to_display(values, self.run.data_format)


def draw_job(run: ExploreRun, body: dict[str, Any]) -> tuple[dict[str, Any], Callable[[Callable], torch.Tensor]]:
    """{"count", "temperature", "seed", "label"} -> the start message and the sampling job."""
    count = integer(body, "count", 1, low=1, high=MAX_DRAWINGS)
    temperature = number(body, "temperature", 1.0, low=TEMPERATURE_RANGE[0], high=TEMPERATURE_RANGE[1])
    seed = integer(body, "seed", 0, low=0)
    label = run.label_of(body)
    shape = (count, *run.data_format.image_shape)
    blank = torch.zeros(shape, device=run.model.device)
    keep = torch.zeros(shape, dtype=torch.bool)

    def job(watch: Callable) -> torch.Tensor:
        generator = torch.Generator(device=run.model.device).manual_seed(seed)
        with watch(keep):
            return run.model.complete(blank, keep.to(run.model.device), labels=run.labels_tensor(label, count),
                                      temperature=temperature, generator=generator, method="fast")

    start = {"type": "start", "count": count, "temperature": temperature, "seed": seed,
             "label": None if label is None else run.class_names[label]}
    return start, job


def completion_job(run: ExploreRun, body: dict[str, Any], uploads: UploadStore) -> tuple[dict[str, Any], Callable[[Callable], torch.Tensor]]:
    """{"source", "mask" ("0"/"1" per pixel, 1 = draw again) or "region", "n", "temperature", "seed"}."""
    source = run.source_image(body, uploads)
    keep = completion_mask(run, body)  # (C, H, W) bool
    n = integer(body, "n", 4, low=1, high=MAX_COMPLETIONS)
    temperature = number(body, "temperature", 1.0, low=TEMPERATURE_RANGE[0], high=TEMPERATURE_RANGE[1])
    seed = integer(body, "seed", 0, low=0)
    label = run.label_of(body, source.label)
    labels = run.labels_tensor(label)
    repeated_keep = keep[None].expand(n, *keep.shape)

    def job(watch: Callable) -> torch.Tensor:
        generator = torch.Generator(device=run.model.device).manual_seed(seed)
        with watch(repeated_keep):
            completed = complete(run.model, source.x, keep, n=n, labels=labels, temperature=temperature, generator=generator, method="fast")
        return completed[0]  # (n, C, H, W)

    low, high = run.data_format.value_range
    masked = torch.where(keep.to(source.x.device), source.x[0], torch.full_like(source.x[0], (low + high) / 2))
    start = {"type": "start", "count": n, "temperature": temperature, "seed": seed, "input": png_url(source.shown),
             "masked": png_url(to_display(masked[None], run.data_format)[0]), "note": source.note,
             "hidden_pixels": int((~keep[0]).sum()), "label": None if label is None else run.class_names[label]}
    return start, job


def completion_mask(run: ExploreRun, body: dict[str, Any]) -> torch.Tensor:
    """The kept sub-pixels (C, H, W) bool: from a painted mask string, or a named region (keep_mask)."""
    shape = run.data_format.image_shape
    channels, height, width = shape
    if body.get("mask") is None:
        return keep_mask(choice(body, "region", REGIONS, "top-half"), shape)
    mask = body["mask"]
    if not isinstance(mask, str) or len(mask) != height * width or set(mask) - {"0", "1"}:
        raise RequestError(f"field 'mask' must be a string of {height * width} characters 0/1 (1: draw this pixel again), row by row")
    redraw = torch.tensor([c == "1" for c in mask]).view(height, width)
    if not bool(redraw.any()):
        raise RequestError("the mask hides no pixel: paint over the part the model should draw")
    return (~redraw)[None].expand(channels, height, width).clone()


async def stream(run: ExploreRun, start: dict[str, Any], job: Callable[[Callable], torch.Tensor]) -> AsyncIterator[str]:
    """Run `job` in the long pool under the run's drawing lock; yield its frames as JSON lines."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    cancel = threading.Event()

    def emit(message: dict[str, Any]) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, message)

    def work() -> None:
        while not run.drawing.acquire(timeout=0.1):  # another page is watching this model draw
            if cancel.is_set():
                return
        started = time.perf_counter()
        try:
            @contextmanager
            def watch(keep: torch.Tensor) -> Iterator[None]:
                with watching(run.model, FrameMaker(run, keep, emit, cancel)):
                    yield

            images = job(watch)  # (B, C, H, W) in the model's value space
            emit({"type": "done", "images": png_urls(to_display(images, run.data_format)), "seconds": round(time.perf_counter() - started, 3)})
        except Cancelled:
            pass
        except Exception as error:  # reported to the page; the server carries on
            emit({"type": "error", "error": f"{error.__class__.__name__}: {str(error).splitlines()[0] if str(error) else ''}"})
        finally:
            run.drawing.release()

    yield json.dumps(start) + "\n"
    task = asyncio.ensure_future(run.workers.long(work))
    try:
        while True:
            message = await queue.get()
            yield json.dumps(message) + "\n"
            if message["type"] in ("done", "error"):
                break
    finally:
        cancel.set()
        if not task.done():
            task.add_done_callback(lambda finished: finished.exception() if not finished.cancelled() else None)
