"""Images on the wire: uint8 tensors out as PNG data URLs, uploaded bytes in as checked uint8 tensors.

An upload is read from memory, never from a path: its size, format and pixel count are
checked first (413 / 415 / 400 with one line each), then it is fitted to the shape the model
takes by `genzoo.data.folder.read_image` (shorter side resized, centre cropped), and the
response says what was changed ("resized from 640x480 to 28x28, colour to gray").
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from genzoo.data.folder import read_image
from genzoo.explore.server.validation import RequestError, megabytes

UPLOAD_LIMIT_BYTES = 4_000_000
UPLOAD_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")
MAX_UPLOAD_PIXELS = 40_000_000  # e.g. 8000 x 5000; more is refused before decoding (decompression bombs)
PNG_PREFIX = "data:image/png;base64,"


def png_bytes(image: torch.Tensor) -> bytes:
    """uint8 (C, H, W) with C = 1 or 3 -> PNG file bytes."""
    array = image.detach().cpu().numpy()
    pixels = array[0] if array.shape[0] == 1 else np.ascontiguousarray(array.transpose(1, 2, 0))
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def png_url(image: torch.Tensor) -> str:
    """uint8 (C, H, W) -> "data:image/png;base64,..." for an <img src>."""
    return PNG_PREFIX + base64.b64encode(png_bytes(image)).decode("ascii")


def png_urls(images: torch.Tensor) -> list[str]:
    """uint8 (N, C, H, W) -> N data URLs."""
    return [png_url(image) for image in images]


@dataclass(frozen=True)
class FittedUpload:
    """An uploaded image fitted to a model's input: uint8 (C, H, W) and what fitting changed ("" if nothing)."""

    image: torch.Tensor
    note: str


def fit_upload(data: bytes, shape: tuple[int, int, int], *, name: str = "upload") -> FittedUpload:
    """Uploaded file bytes -> uint8 (C, H, W) of `shape`; RequestError 413 / 415 / 400 naming the problem."""
    channels, height, width = shape
    if len(data) > UPLOAD_LIMIT_BYTES:
        raise RequestError(f"{name} is larger than the {megabytes(UPLOAD_LIMIT_BYTES)} limit ({len(data):,} bytes): send a smaller image", 413)
    if not data:
        raise RequestError(f"{name} is empty: choose a PNG or JPEG image", 400)
    if height != width:
        raise RequestError(f"this model takes {height}x{width} images: uploads can only be fitted to square models; use a test image", 400)
    try:
        with Image.open(io.BytesIO(data)) as probe:
            found_format, size, mode = probe.format, probe.size, probe.mode
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise RequestError(f"{name} is not an image genzoo can read: send a PNG or JPEG file", 415) from None
    if found_format not in UPLOAD_FORMATS:
        raise RequestError(f"{name} is a {found_format} image: send one of {', '.join(UPLOAD_FORMATS)}", 415)
    if size[0] * size[1] > MAX_UPLOAD_PIXELS:
        raise RequestError(f"{name} is {size[0]}x{size[1]} pixels, more than {MAX_UPLOAD_PIXELS // 1_000_000} megapixels: send a smaller image", 413)
    try:
        pixels = read_image(io.BytesIO(data), height, channels)  # uint8 (C, H, W), shorter side resized, centre cropped
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise RequestError(f"{name} could not be decoded ({error.__class__.__name__}): the file may be truncated; send it again", 400) from None
    return FittedUpload(torch.from_numpy(pixels), fitting_note(size, mode, (height, width), channels))


def fitting_note(size: tuple[int, int], mode: str, target: tuple[int, int], channels: int) -> str:
    """What fitting changed, e.g. "resized from 640x480 to 28x28 (centre crop), colour to gray"; "" if nothing."""
    changes = []
    if size != (target[1], target[0]):
        crop = " (shorter side scaled, centre crop)" if size[0] != size[1] else ""
        changes.append(f"resized from {size[0]}x{size[1]} to {target[1]}x{target[0]}{crop}")
    grey_modes = ("L", "1", "I", "I;16", "F")
    if channels == 1 and mode not in grey_modes:
        changes.append("colour to gray")
    elif channels == 3 and mode in grey_modes:
        changes.append("gray to RGB")
    return ", ".join(changes)


def data_url_bytes(value: str, *, name: str) -> bytes:
    """The bytes of a "data:image/png;base64,..." string (a sketch drawn in the page)."""
    if not isinstance(value, str) or not value.startswith(PNG_PREFIX):
        raise RequestError(f"{name} must be a PNG data URL (data:image/png;base64,...)")
    try:
        return base64.b64decode(value[len(PNG_PREFIX):], validate=True)
    except ValueError:
        raise RequestError(f"{name} holds invalid base64") from None
