"""Reading requests: bodies under a size limit, JSON fields checked one by one, errors as 4xx lines.

Every problem a request can cause is a `RequestError` carrying an HTTP status and one line
that names the field and what would be accepted; the app answers it as {"error": line}.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.requests import Request

from genzoo.errors import GenzooError

JSON_LIMIT_BYTES = 256 * 1024  # a sketch or a mask travels as JSON: a few kB


class RequestError(GenzooError):
    """A request the server cannot answer: `status` (4xx) and a one-line message."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.0f} kB"


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it (or its declared length) passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise RequestError(f"request too large ({megabytes(int(declared))}): the limit is {megabytes(limit)}", 413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise RequestError(f"request too large (over {megabytes(limit)}): send a smaller one", 413)
    return bytes(body)


async def read_json(request: Request, limit: int = JSON_LIMIT_BYTES) -> dict[str, Any]:
    """The JSON object of a POST body ({} when empty)."""
    body = await read_body(request, limit)
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RequestError(f"the body is not JSON ({error.__class__.__name__}): send a JSON object") from None
    if not isinstance(value, dict):
        raise RequestError("the body must be a JSON object, e.g. {\"z\": [0.1, 0.2]}")
    return value


def number(body: Mapping[str, Any], name: str, default: float | None = None, *, low: float = -math.inf, high: float = math.inf) -> float:
    """A finite float field within [low, high]."""
    value = body.get(name, default)
    if value is None:
        raise RequestError(f"missing field {name!r}: a number")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RequestError(f"field {name!r} must be a finite number, got {value!r}")
    if not low <= value <= high:
        raise RequestError(f"field {name!r} must lie in [{low:g}, {high:g}], got {value:g}")
    return float(value)


def integer(body: Mapping[str, Any], name: str, default: int | None = None, *, low: int = -(2**31), high: int = 2**31) -> int:
    """An integer field within [low, high]."""
    value = body.get(name, default)
    if value is None:
        raise RequestError(f"missing field {name!r}: an integer")
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(f"field {name!r} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise RequestError(f"field {name!r} must lie in {low}..{high}, got {value}")
    return value


def choice(body: Mapping[str, Any], name: str, choices: Sequence[str], default: str | None = None) -> str:
    """A string field that is one of `choices`."""
    value = body.get(name, default)
    if value not in choices:
        raise RequestError(f"field {name!r} must be one of {', '.join(choices)}, got {value!r}")
    return value


def text(body: Mapping[str, Any], name: str, *, max_length: int = 500) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise RequestError(f"field {name!r} must be a non-empty string")
    if len(value) > max_length:
        raise RequestError(f"field {name!r} is longer than {max_length} characters")
    return value


def vector(body: Mapping[str, Any], name: str, length: int) -> list[float]:
    """A list of `length` finite numbers (a latent code)."""
    value = body.get(name)
    if not isinstance(value, list) or len(value) != length:
        got = f"a list of {len(value)}" if isinstance(value, list) else repr(type(value).__name__)
        raise RequestError(f"field {name!r} must be a list of {length} numbers (the latent size), got {got}")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, (int, float)) or not math.isfinite(item):
            raise RequestError(f"field {name!r} must hold finite numbers only, got {item!r}")
    return [float(item) for item in value]


def mapping(body: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    if not isinstance(value, dict):
        raise RequestError(f"field {name!r} must be an object, e.g. {{\"kind\": \"test\", \"index\": 0}}")
    return value
