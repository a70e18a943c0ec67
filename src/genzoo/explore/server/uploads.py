"""Uploaded images, kept in memory under random ids: requests name an upload by its id, never by a path."""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass

import torch

from genzoo.explore.server.validation import RequestError

MAX_UPLOADS = 256  # uploads kept in memory (oldest forgotten first)


@dataclass
class Upload:
    run: int  # the index of the run it was fitted to
    x: torch.Tensor  # (1, C, H, W) as the model takes it
    shown: torch.Tensor  # uint8 (C, H, W)
    note: str


class UploadStore:
    """Uploaded images by random id, per run; the oldest are forgotten past MAX_UPLOADS."""

    def __init__(self, limit: int = MAX_UPLOADS) -> None:
        self.limit = limit
        self.items: OrderedDict[str, Upload] = OrderedDict()
        self.lock = threading.Lock()

    def add(self, run: int, x: torch.Tensor, shown: torch.Tensor, note: str) -> str:
        key = secrets.token_hex(8)
        with self.lock:
            self.items[key] = Upload(run, x, shown, note)
            while len(self.items) > self.limit:
                self.items.popitem(last=False)
        return key

    def get(self, run: int, key: object) -> Upload:
        with self.lock:
            upload = self.items.get(key) if isinstance(key, str) else None
        if upload is None or upload.run != run:
            raise RequestError(f"no upload {key!r} for this run (the server keeps the latest {self.limit}): upload it again", 404)
        return upload
