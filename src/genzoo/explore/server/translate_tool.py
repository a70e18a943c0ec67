"""Image-to-image models on the page: a sketch, an upload or a test image in, the model's output out.

For models that declare `image_to_image` (genzoo.models.translation: `model.task`,
`model.translate(condition)`): the input is the task's condition (genzoo.data.tasks) built
from what the page sends. A sketch (task `edges`) is thresholded into the two values of an
edge map; an upload becomes the low-resolution input of `superres:F` (fitted to H/F x W/F)
or, for `colorize` and `edges`, an image of the target's size whose condition is computed;
a test image is split as in training, so its target is shown beside the output. The task's
training-free baseline (bicubic upsampling, the gray image) is shown where it has one.
"""

from __future__ import annotations

from typing import Any

import torch

from genzoo.explore.sampling import to_display
from genzoo.explore.server.images import data_url_bytes, fit_upload, png_url, png_urls
from genzoo.explore.server.run_state import ExploreRun
from genzoo.explore.server.uploads import UploadStore
from genzoo.explore.server.validation import RequestError, integer, mapping

MAX_OUTPUTS = 4


def describe_task(model: Any) -> dict[str, Any]:
    task = model.task
    return {"spec": task.spec, "name": task.name, "condition_shape": list(model.condition_shape),
            "target_shape": list(model.target_shape), "baseline": task.baseline_name, "stochastic": bool(model.stochastic),
            "sketch": task.name == "edges"}


def upload_shape(model: Any) -> tuple[int, int, int]:
    """What an upload is fitted to: the condition itself (superres, paired), else an image of the target's shape."""
    return model.condition_shape if model.task.name in ("superres", "paired") else model.target_shape


def condition_from_image(run: ExploreRun, x: torch.Tensor) -> torch.Tensor:
    """A preprocessed upload (1, C, H, W) of `upload_shape` -> the model's condition."""
    model = run.model
    return x if model.task.name in ("superres", "paired") else model.task.condition_of(x)


def sketch_condition(run: ExploreRun, data_url: str) -> tuple[torch.Tensor, str]:
    """A drawn edge map (PNG, light strokes on dark) -> condition (1, 1, H, W) in the two values of an edge map."""
    fitted = fit_upload(data_url_bytes(data_url, name="source.png (the sketch)"), tuple(run.model.condition_shape), name="sketch")
    low, high = run.data_format.value_range
    strokes = (fitted.image[None].float() > 127.5).to(torch.float32)  # (1, 1, H, W)
    return (low + (high - low) * strokes).to(run.model.device), fitted.note


def translate(run: ExploreRun, body: dict[str, Any], uploads: UploadStore) -> dict[str, Any]:
    """{"source": {"kind": "test"|"upload"|"sketch", ...}, "outputs", "seed"} -> input, outputs, baseline, target."""
    model = run.model
    source = mapping(body, "source")
    outputs = integer(body, "outputs", 1 if not model.stochastic else 3, low=1, high=MAX_OUTPUTS)
    seed = integer(body, "seed", 0, low=0)
    target = None
    kind = source.get("kind")
    if kind == "sketch":
        if model.task.name != "edges":
            raise RequestError(f"sketches are inputs of the edges task; this model's task is {model.task.spec}: upload an image")
        condition, note = sketch_condition(run, source.get("png"))
    elif kind == "upload":
        upload = uploads.get(run.index, source.get("id"))
        condition, note = upload.x.to(model.device), upload.note
    elif kind == "test":
        x, _ = run.test_batch([integer(source, "index", low=0)])
        condition, target = model.split(x)
        note = f"test image {source['index']}"
    else:
        raise RequestError(f"source kind must be sketch, upload or test, got {kind!r}")
    generator = torch.Generator(device=model.device).manual_seed(seed)
    with torch.no_grad():
        produced = torch.cat([model.translate(condition, generator=generator) for _ in range(outputs)])  # (n, C, H, W)
        shown = model.task.as_image(condition, tuple(model.target_shape))
        baseline = model.task.baseline(condition) if model.task.baseline_name else None
    display = lambda images: to_display(images, run.data_format)  # noqa: E731
    return {
        "input": png_url(display(shown)[0]),
        "outputs": png_urls(display(produced)),
        "baseline": None if baseline is None else png_url(display(baseline)[0]),
        "baseline_name": model.task.baseline_name,
        "target": None if target is None else png_url(display(target)[0]),
        "note": note,
    }
